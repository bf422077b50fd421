import { CofferError } from './errors.js';

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

/**
 * A duration as Vault accepts it: a Go duration string (`4320h`, `1h30m`), a number of seconds, or a numeric
 * string of seconds. Returns whole seconds.
 * @throws CofferError `invalid_request`.
 */
export function parseDurationSeconds(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  const ms = typeof value === 'string' ? parseGoDurationMs(value) : undefined;
  if (ms !== undefined) return Math.floor(ms / 1000);
  throw new CofferError('invalid_request', `invalid value for "${field}": expected a duration such as "24h" or a number of seconds`);
}

/** Go's `time.Duration.String()` for whole seconds: `24h0m0s`, `1m30s`, `45s`, `0s`. */
export function formatGoDuration(totalSeconds: number): string {
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
