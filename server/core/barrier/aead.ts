import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CofferError } from '../errors.js';

/**
 * The one AEAD module: AES-256-GCM with a random 96-bit nonce and a 128-bit tag.
 * Sealed layout: `nonce (12) | ciphertext | tag (16)`. No knobs; lengths are checked first and every failure is
 * the same opaque `integrity` error, so callers cannot learn why a value was rejected.
 */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const AEAD_OVERHEAD = NONCE_BYTES + TAG_BYTES;

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new CofferError('internal', `AES-256-GCM keys must be exactly ${KEY_BYTES} bytes`);
  }
}

/**
 * Nonces are taken from a pool filled by the CSPRNG 512 nonces at a time: one `randomBytes(12)` call costs more than
 * the AES-GCM encryption of a 1 KiB value, and a rewrap makes one per entry. Every nonce is fresh random bytes,
 * handed out once (the offset only moves forward; the pool is refilled, never re-read).
 */
const noncePool = new Uint8Array(NONCE_BYTES * 512);
let nonceOffset = noncePool.length;

function freshNonce(): Uint8Array {
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  const nonce = noncePool.slice(nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

/**
 * Encrypts and authenticates `plaintext`, binding `aad` (the storage path, for barrier entries). `reserve` leading
 * bytes are left zero in front of the sealed value for the caller's header (one buffer instead of a copy).
 */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, reserve = 0): Uint8Array {
  assertKey(key);
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(reserve + NONCE_BYTES + head.length + tail.length + TAG_BYTES);
  out.set(nonce, reserve);
  out.set(head, reserve + NONCE_BYTES);
  out.set(tail, reserve + NONCE_BYTES + head.length);
  out.set(tag, out.length - TAG_BYTES);
  return out;
}

/**
 * Authenticates and decrypts a value made by `aeadSeal` with the same key and `aad`.
 * @throws CofferError `integrity` for a short value, a wrong key, a wrong `aad` or any tampering.
 */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  assertKey(key);
  if (!(sealed instanceof Uint8Array) || sealed.length < AEAD_OVERHEAD) {
    throw new CofferError('integrity', 'ciphertext is too short');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
    const tail = decipher.final();
    // GCM releases everything on update: the plaintext is `head`, handed out as a plain view (no copy to zero).
    if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    head.fill(0);
    return out;
  } catch {
    throw new CofferError('integrity', 'message authentication failed');
  }
}

/** `version (u8) | nonce | ciphertext | tag`: the self-describing form of the seal's small key blobs. */
export function sealVersioned(version: number, key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const sealed = aeadSeal(key, plaintext, aad);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = version;
  out.set(sealed, 1);
  return out;
}

/**
 * Opens a `sealVersioned` blob. @returns undefined when the key does not authenticate it (a wrong key is a normal
 * outcome for callers that prove combined shares). @throws CofferError `integrity` for a missing blob or another
 * version.
 */
export function openVersioned(version: number, key: Uint8Array, blob: Uint8Array | undefined, aad: Uint8Array, what: string): Uint8Array | undefined {
  if (!blob || blob.length < 2 || blob[0] !== version) throw new CofferError('integrity', `${what} is missing or malformed`);
  if (key.length !== KEY_BYTES) return undefined;
  try {
    return aeadOpen(key, blob.subarray(1), aad);
  } catch {
    return undefined;
  }
}
