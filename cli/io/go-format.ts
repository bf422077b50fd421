/**
 * Values printed the way Vault's Go CLI prints them: `fmt`'s `%v` (maps as `map[k:v]` with sorted keys, lists as
 * `[a b]`, null as `<nil>`) and `time.Duration` strings without trailing zero units (`768h`, `1h30m`, `30s`).
 */
export function goValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goValue).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goValue(v)}`).join(' ')}]`;
  }
  return String(value);
}

/** A list of strings as Go's `%q` prints it: `["a" "b"]`. */
export function goQuotedList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;
}

/** Whole seconds as Vault prints a duration: Go's `Duration.String()` with `h0m` and `m0s` trimmed; `0s` for zero. */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || !Number.isInteger(seconds)) return String(seconds);
  if (seconds === 0) return '0s';
  const sign = seconds < 0 ? '-' : '';
  let rest = Math.abs(seconds);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  let text = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  if (text.endsWith('m0s')) text = text.slice(0, -2);
  text = text.replace(/h0m/, 'h');
  return sign + text;
}

/** Keys whose integer values Vault's tables print as durations. */
export function looksLikeDuration(key: string): boolean {
  if (key === 'lease_max' || key === 'ttl_max') return true;
  return ['period', 'ttl', 'duration'].some((unit) => key === unit || key.endsWith(`_${unit}`));
}

/** A table cell for `key`: durations humanised when the value is a whole number, everything else as `%v`. */
export function goCell(key: string, value: unknown): string {
  if (looksLikeDuration(key) && typeof value === 'number' && Number.isInteger(value)) return humanDuration(value);
  return goValue(value);
}

/** `== Title ==` padded with equal signs to `width` characters, as Vault heads its KV sections. */
export function padEqualSigns(title: string, width: number): string {
  let signs = width - (title.length + 2);
  if (signs <= 0) signs = 4;
  if (signs % 2 !== 0) signs += 1;
  return `${'='.repeat(signs / 2)} ${title} ${'='.repeat(signs / 2)}`;
}

/** The section header over a key/value table: as wide as the longest key plus the `    Value` column head. */
export function headerForMap(title: string, data: Record<string, unknown>): string {
  const widest = Math.max(0, ...Object.keys(data).map((k) => k.length));
  return padEqualSigns(title, widest + 4 + 5);
}
