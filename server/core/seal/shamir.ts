import { combine, split } from 'shamir-secret-sharing';
import { CofferError } from '../errors.js';
import { toPlainBytes, wipe } from '../secret-bytes.js';

/**
 * The only importer of `shamir-secret-sharing`. Its shares are Vault's layout (`y_1 … y_n | x`), so shares interoperate
 * with Vault's. Two things the library does not do are done here: the 1-of-1 case (the share *is* the key) and
 * refusing malformed shares. It never checks that a combination is right: callers must authenticate the result.
 */

/** Splits `key` into `shares` pieces, any `threshold` of which rebuild it. 1-of-1 returns a copy of the key. */
export async function splitKey(key: Uint8Array, shares: number, threshold: number): Promise<Uint8Array[]> {
  if (shares === 1 && threshold === 1) return [toPlainBytes(key)];
  const secret = toPlainBytes(key); // the library rejects Buffers (subclasses of Uint8Array)
  try {
    return await split(secret, shares, threshold);
  } finally {
    wipe(secret);
  }
}

/**
 * Rebuilds a key from `parts` collected for a configuration of `threshold`. The result is a candidate only.
 * @throws CofferError `invalid_key` for parts that cannot be combined (mixed lengths, x = 0, duplicate x).
 */
export async function combineShares(parts: readonly Uint8Array[], threshold: number): Promise<Uint8Array> {
  if (threshold === 1) {
    if (parts.length !== 1) throw new CofferError('invalid_key', 'failed to compute combined key: expected exactly one key');
    return toPlainBytes(parts[0]!);
  }
  const length = parts[0]?.length ?? 0;
  for (const part of parts) {
    if (part.length !== length) throw new CofferError('invalid_key', 'failed to compute combined key: all shares must have the same byte length');
    // The last byte is the x coordinate; x = 0 would be the secret itself and is never produced by a split.
    if (part[part.length - 1] === 0) throw new CofferError('invalid_key', 'failed to compute combined key: invalid share');
  }
  const copies = parts.map(toPlainBytes);
  try {
    return await combine(copies);
  } catch (err) {
    const reason = err instanceof Error ? err.message : 'invalid shares';
    throw new CofferError('invalid_key', `failed to compute combined key: ${reason}`);
  } finally {
    wipe(...copies);
  }
}
