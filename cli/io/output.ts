import { stringify } from 'yaml';
import { goCell } from './go-format.js';

/** Where a command writes. Injected so tests capture output instead of printing it. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Whether standard output is a terminal (Vault prints a raw `-field` value without a newline into a pipe). */
  isTTY?: boolean;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
};

/** The formats `-format` / `VAULT_FORMAT` accept, as in Vault. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * Vault's key/value table: a `Key  Value` header, a dashed underline, columns padded to the widest cell and
 * separated by four spaces; an empty value prints as `n/a`.
 */
export function formatKeyValueTable(rows: ReadonlyArray<readonly [string, string | number | boolean]>): string {
  const all: Array<[string, string]> = [
    ['Key', 'Value'],
    ['---', '-----'],
    ...rows.map(([k, v]) => [k, v === '' ? 'n/a' : String(v)] as [string, string]),
  ];
  const width = Math.max(...all.map(([k]) => k.length));
  return all.map(([k, v]) => `${k.padEnd(width)}    ${v}`.trimEnd()).join('\n') + '\n';
}

/** A data map as Vault's tables print it: sorted keys, values as Go's `%v`, duration-like keys humanised. */
export function dataTable(data: Record<string, unknown>): string {
  const keys = Object.keys(data).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return formatKeyValueTable(keys.map((k) => [k, goCell(k, data[k])] as [string, string]));
}

/** Columns separated by four spaces, each padded to its widest cell (the last one is not padded). */
export function formatColumns(rows: ReadonlyArray<readonly string[]>): string {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c))
          .join('    ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** JSON the way `vault ... -format=json` prints it: indented by four spaces. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + '\n';
}

/** YAML the way `vault ... -format=yaml` prints it: Vault converts its JSON to YAML, so map keys come out sorted. */
export function formatYaml(value: unknown): string {
  return stringify(sortKeys(JSON.parse(JSON.stringify(value ?? null))), { lineWidth: 0 });
}

/** `value` as JSON or YAML (for the non-table formats). */
export function formatStructured(format: OutputFormat, value: unknown): string {
  return format === 'yaml' ? formatYaml(value) : formatJson(value);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
