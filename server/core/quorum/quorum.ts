import { CofferError } from '../errors.js';
import { constantTimeEqual, toPlainBytes, wipe } from '../secret-bytes.js';
import { combineShares } from '../seal/shamir.js';

/**
 * Share collection, the same for every ceremony that needs a quorum of key holders: unseal, rekey `update`, rekey
 * `verify` (and generate-root). A quorum is an immutable value: every change returns a new one, and the shares it
 * holds are owned copies that `wipeQuorum` zeroes. It never decides whether a combined key is right — callers prove
 * it by authenticated decryption.
 */
export interface Quorum {
  readonly nonce: string;
  readonly parts: readonly Uint8Array[];
}

/** A quorum with no share yet. */
export function openQuorum(nonce: string): Quorum {
  return { nonce, parts: [] };
}

/** Whether `share` was already submitted (each stored share is compared in constant time). */
export function holdsShare(quorum: Quorum, share: Uint8Array): boolean {
  let found = false;
  for (const part of quorum.parts) found = constantTimeEqual(part, share) || found;
  return found;
}

/** A new quorum with a copy of `share` added. The caller decides what a duplicate means (`holdsShare`). */
export function addShare(quorum: Quorum, share: Uint8Array): Quorum {
  return { nonce: quorum.nonce, parts: [...quorum.parts, toPlainBytes(share)] };
}

/** Whether enough shares were collected for `threshold`. */
export function reached(quorum: Quorum, threshold: number): boolean {
  return quorum.parts.length >= threshold;
}

/**
 * The candidate key from the collected shares. With a threshold of 1 the most recent share is the key itself (a
 * 1-of-1 configuration may still have collected more than one attempt's share for another candidate).
 * @throws CofferError `invalid_key` when the shares cannot be combined, `internal` before the threshold.
 */
export async function combineQuorum(quorum: Quorum, threshold: number): Promise<Uint8Array> {
  if (!reached(quorum, threshold)) throw new CofferError('internal', 'combining a quorum below its threshold');
  return combineShares(threshold === 1 ? quorum.parts.slice(-1) : quorum.parts, threshold);
}

/** Zeroes every share the quorum holds. */
export function wipeQuorum(quorum: Quorum | undefined): void {
  if (quorum) wipe(...quorum.parts);
}
