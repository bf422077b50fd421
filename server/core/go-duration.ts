import { CofferError } from './errors.js';

const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A duration as Vault accepts it: a Go duration string (`4320h`, `1h30m`), a number of seconds, or a numeric
 * string of seconds. Returns whole seconds.
 * @throws CofferError `invalid_request`.
 */
export function parseDurationSeconds(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
      let seconds = 0;
      for (const [, amount, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) seconds += Number(amount) * UNITS[unit!]!;
      return Math.floor(seconds);
    }
  }
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
