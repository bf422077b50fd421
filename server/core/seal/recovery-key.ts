import { openVersioned, sealVersioned } from '../barrier/aead.js';
import { CofferError } from '../errors.js';
import { constantTimeEqual } from '../secret-bytes.js';

const CHECK_TEXT = new TextEncoder().encode('coffer recovery key v1');
/** Associated data: the name of the entry the proof is stored in (SealStore owns the entry itself). */
const AAD = new TextEncoder().encode('core/recovery-key');
const FORMAT_VERSION = 1;

/**
 * The stored proof for `recoveryKey`. Verifying a combination of recovery shares is an authenticated decryption
 * of it, so it works without the key service (Vault compares against a KMS-wrapped copy instead).
 */
export function recoveryCheck(recoveryKey: Uint8Array): Uint8Array {
  return sealVersioned(FORMAT_VERSION, recoveryKey, CHECK_TEXT, AAD);
}

/** @throws CofferError `invalid_key` unless `candidate` is the recovery key proven by `stored`. */
export function verifyRecoveryKey(candidate: Uint8Array, stored: Uint8Array | undefined): void {
  const text = openVersioned(FORMAT_VERSION, candidate, stored, AAD, 'the stored recovery key proof');
  // The tag check above is constant-time; the comparison of the known text is too.
  if (!text || !constantTimeEqual(text, CHECK_TEXT))
    throw new CofferError('invalid_key', 'recovery key verification failed: the shares do not combine to the recovery key');
}
