import { createHmac } from 'node:crypto';

/** What an audit device's HMAC looks like on the wire: `hmac-sha256:<lowercase hex>`. */
export function identifiedHmac(salt: Uint8Array, value: string): string {
  return `hmac-sha256:${createHmac('sha256', salt).update(value, 'utf8').digest('hex')}`;
}

/** RFC3339 (Go's `time.RFC3339` parse): left in clear in audit data, as Vault does. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function isRfc3339(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value.toUpperCase()));
}

/**
 * Replaces every string value of `value` (map values and array elements, at any depth) by its HMAC under `salt`.
 * Map keys, RFC3339 timestamps, numbers, booleans and nulls stay as they are. The input is first round-tripped
 * through JSON, so what is hashed is exactly what a client sent or receives; the input is never modified.
 */
export function hashStructure(value: unknown, salt: Uint8Array): unknown {
  if (value === undefined) return undefined;
  return walk(JSON.parse(JSON.stringify(value)) as unknown, salt);
}

function walk(value: unknown, salt: Uint8Array): unknown {
  if (typeof value === 'string') return isRfc3339(value) ? value : identifiedHmac(salt, value);
  if (Array.isArray(value)) return value.map((v) => walk(v, salt));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, salt);
    return out;
  }
  return value;
}
