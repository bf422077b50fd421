/** Where a command writes. Injected so tests capture output instead of printing it. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Vault's key/value table: a `Key  Value` header, a dashed underline, columns padded to the widest cell and
 * separated by four spaces; an empty value prints as `n/a`.
 */
export function formatKeyValueTable(rows: ReadonlyArray<readonly [string, string | number | boolean]>): string {
  const all: Array<[string, string]> = [['Key', 'Value'], ['---', '-----'], ...rows.map(([k, v]) => [k, v === '' ? 'n/a' : String(v)] as [string, string])];
  const width = Math.max(...all.map(([k]) => k.length));
  return all.map(([k, v]) => `${k.padEnd(width)}    ${v}`.trimEnd()).join('\n') + '\n';
}

/** JSON the way `vault ... -format=json` prints it: indented by four spaces. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + '\n';
}
