const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration string (`4320h`, `1h30m`, `300ms`, `0.5s`) or a string of whole seconds (`30`), as Vault accepts
 * durations, in milliseconds (fractions of a millisecond are dropped). Returns `undefined` for anything else, so
 * each caller reports the error its own way (an HTTP 400, a config error naming the line).
 */
export function parseGoDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(trimmed)) return undefined;
  let ms = 0;
  for (const [, amount, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(amount) * UNIT_MS[unit!]!;
  return Math.floor(ms);
}
