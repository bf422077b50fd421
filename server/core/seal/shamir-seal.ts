import { openVersioned, sealVersioned } from '../barrier/aead.js';
import { CofferError } from '../errors.js';

const FORMAT_VERSION = 1;
/** Associated data: the name of the entry the wrapping is stored in (SealStore owns the entry itself). */
const aad = new TextEncoder().encode('core/sealed-root-key');

/** `version (u8) | nonce | ciphertext | tag`, authenticated with the entry's path. */
export function wrapRootKey(unsealKey: Uint8Array, rootKey: Uint8Array): Uint8Array {
  return sealVersioned(FORMAT_VERSION, unsealKey, rootKey, aad);
}

/**
 * The root key, if `unsealKey` is the right one. This authenticated decryption is what proves a combination of
 * shares correct: the Shamir library returns garbage, not an error, for a wrong set.
 * @throws CofferError `invalid_key` for a wrong unseal key, `integrity` for a missing or malformed entry.
 */
export function unwrapRootKey(unsealKey: Uint8Array, wrapped: Uint8Array | undefined): Uint8Array {
  const rootKey = openVersioned(FORMAT_VERSION, unsealKey, wrapped, aad, 'sealed root key');
  if (!rootKey)
    throw new CofferError(
      'invalid_key',
      'unable to retrieve stored keys: failed to decrypt keys from storage: cipher: message authentication failed',
    );
  return rootKey;
}
