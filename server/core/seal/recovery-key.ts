import { aeadOpen, aeadSeal } from '../barrier/aead.js';
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
  const sealed = aeadSeal(recoveryKey, CHECK_TEXT, AAD);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = FORMAT_VERSION;
  out.set(sealed, 1);
  return out;
}

/** @throws CofferError `invalid_key` unless `candidate` is the recovery key proven by `stored`. */
export function verifyRecoveryKey(candidate: Uint8Array, stored: Uint8Array | undefined): void {
  if (!stored || stored[0] !== FORMAT_VERSION) throw new CofferError('integrity', 'the stored recovery key proof is missing or malformed');
  let text: Uint8Array | undefined;
  try {
    if (candidate.length === 32) text = aeadOpen(candidate, stored.subarray(1), AAD);
  } catch {
    text = undefined;
  }
  // The tag check above is constant-time; the comparison of the known text is too.
  if (!text || !constantTimeEqual(text, CHECK_TEXT)) throw new CofferError('invalid_key', 'recovery key verification failed: the shares do not combine to the recovery key');
}
