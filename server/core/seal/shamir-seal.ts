import { aeadOpen, aeadSeal } from '../barrier/aead.js';
import { CofferError } from '../errors.js';

const FORMAT_VERSION = 1;
/** Associated data: the name of the entry the wrapping is stored in (SealStore owns the entry itself). */
const aad = new TextEncoder().encode('core/sealed-root-key');

/** `version (u8) | nonce | ciphertext | tag`, authenticated with the entry's path. */
export function wrapRootKey(unsealKey: Uint8Array, rootKey: Uint8Array): Uint8Array {
  const sealed = aeadSeal(unsealKey, rootKey, aad);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = FORMAT_VERSION;
  out.set(sealed, 1);
  return out;
}

/**
 * The root key, if `unsealKey` is the right one. This authenticated decryption is what proves a combination of
 * shares correct: the Shamir library returns garbage, not an error, for a wrong set.
 * @throws CofferError `invalid_key` for a wrong unseal key, `integrity` for a missing or malformed entry.
 */
export function unwrapRootKey(unsealKey: Uint8Array, wrapped: Uint8Array | undefined): Uint8Array {
  if (!wrapped || wrapped.length < 2 || wrapped[0] !== FORMAT_VERSION) {
    throw new CofferError('integrity', 'sealed root key is missing or malformed');
  }
  if (unsealKey.length !== 32) {
    throw new CofferError('invalid_key', 'unable to retrieve stored keys: failed to decrypt keys from storage: cipher: message authentication failed');
  }
  try {
    return aeadOpen(unsealKey, wrapped.subarray(1), aad);
  } catch {
    throw new CofferError('invalid_key', 'unable to retrieve stored keys: failed to decrypt keys from storage: cipher: message authentication failed');
  }
}
