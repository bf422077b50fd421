import { createHmac, randomInt } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)]!;
  return out;
}

/** Service tokens look like Vault's: `hvs.` + 24 base62 characters (~143 bits). */
export function generateToken(): string {
  return `hvs.${randomBase62(24)}`;
}

/** A new accessor: 24 base62 characters, unrelated to the token it names. */
export function newAccessor(): string {
  return randomBase62(24);
}

/**
 * HMAC-SHA256 of `value` under `key`, hex: the name under which a token (or an accessor, a secret id) is stored, so
 * a lookup compares no secrets and a storage dump reveals no usable token.
 */
export function keyedHash(key: Uint8Array, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}
