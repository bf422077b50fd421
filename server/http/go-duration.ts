import { CofferError } from '../core/errors.js';
import { parseGoDurationMs } from '../core/go-duration.js';

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
