import { CofferError } from './errors.js';
import { parseGoDurationMs } from './go-duration.js';

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
