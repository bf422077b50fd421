import { aeadOpen, aeadSeal } from '../barrier/aead.js';
import { CofferError } from '../errors.js';

/** Where the root key is stored, wrapped by the unseal key (outside the barrier: it is what opens it). */
export const SEALED_ROOT_KEY_PATH = 'core/sealed-root-key';
const FORMAT_VERSION = 1;
const aad = new TextEncoder().encode(SEALED_ROOT_KEY_PATH);

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

/**
 * Written by a rekey commit next to the new wrapping: the old wrapping and the configuration of the old shares. It
 * is deleted once the new shares have reached the client; while it exists either set of shares unseals.
 */
export const PREVIOUS_SEALED_ROOT_KEY_PATH = 'core/sealed-root-key-previous';

export interface PreviousWrapping {
  nonce: string;
  secretShares: number;
  secretThreshold: number;
  wrapped: Uint8Array;
}

export function encodePrevious(p: PreviousWrapping): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ nonce: p.nonce, secret_shares: p.secretShares, secret_threshold: p.secretThreshold, wrapped: Buffer.from(p.wrapped).toString('base64') }),
  );
}

export function decodePrevious(raw: Uint8Array): PreviousWrapping {
  const j = JSON.parse(new TextDecoder().decode(raw)) as { nonce: string; secret_shares: number; secret_threshold: number; wrapped: string };
  return { nonce: j.nonce, secretShares: j.secret_shares, secretThreshold: j.secret_threshold, wrapped: new Uint8Array(Buffer.from(j.wrapped, 'base64')) };
}
