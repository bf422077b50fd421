import { createHash, timingSafeEqual } from 'node:crypto';

/** Overwrites key material in place. Best effort: copies made by the runtime cannot be reached. */
export function wipe(...buffers: Array<Uint8Array | undefined | null>): void {
  for (const b of buffers) b?.fill(0);
}

/** Constant-time equality of two byte strings of any length (lengths are compared via fixed-size digests). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === b.length) return timingSafeEqual(a, b);
  // Different lengths are never equal; still spend the same kind of work so length is all that leaks.
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
  return false;
}

/** A plain Uint8Array copy (never a pooled Buffer slice), which libraries such as shamir-secret-sharing require. */
export function toPlainBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}
