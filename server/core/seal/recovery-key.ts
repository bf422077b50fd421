import { aeadOpen, aeadSeal } from '../barrier/aead.js';
import { CofferError } from '../errors.js';
import { constantTimeEqual } from '../secret-bytes.js';

/** Share configuration of the recovery key (plaintext JSON, like `core/seal-config`). */
export const RECOVERY_CONFIG_PATH = 'core/recovery-config';
/** Proof of the recovery key: a known text encrypted under it. It decrypts nothing else. */
export const RECOVERY_KEY_PATH = 'core/recovery-key';
/** Left by a recovery rekey until its new shares have reached the client; either set is accepted meanwhile. */
export const PREVIOUS_RECOVERY_KEY_PATH = 'core/recovery-key-previous';
export const RECOVERY_KEYS_BACKUP_PATH = 'core/recovery-keys-backup';

const CHECK_TEXT = new TextEncoder().encode('coffer recovery key v1');
const AAD = new TextEncoder().encode(RECOVERY_KEY_PATH);
const FORMAT_VERSION = 1;

export interface RecoveryConfig {
  readonly secretShares: number;
  readonly secretThreshold: number;
}

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

export function encodeRecoveryConfig(config: RecoveryConfig): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ type: 'shamir', secret_shares: config.secretShares, secret_threshold: config.secretThreshold }));
}

export function decodeRecoveryConfig(raw: Uint8Array): RecoveryConfig {
  try {
    const j = JSON.parse(new TextDecoder().decode(raw)) as { secret_shares?: number; secret_threshold?: number };
    return { secretShares: j.secret_shares ?? 0, secretThreshold: j.secret_threshold ?? 0 };
  } catch {
    throw new CofferError('integrity', 'stored recovery configuration is unreadable');
  }
}

export interface PreviousRecovery {
  nonce: string;
  secretShares: number;
  secretThreshold: number;
  check: Uint8Array;
}

export function encodePreviousRecovery(p: PreviousRecovery): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ nonce: p.nonce, secret_shares: p.secretShares, secret_threshold: p.secretThreshold, check: Buffer.from(p.check).toString('base64') }),
  );
}

export function decodePreviousRecovery(raw: Uint8Array): PreviousRecovery {
  const j = JSON.parse(new TextDecoder().decode(raw)) as { nonce: string; secret_shares: number; secret_threshold: number; check: string };
  return { nonce: j.nonce, secretShares: j.secret_shares, secretThreshold: j.secret_threshold, check: new Uint8Array(Buffer.from(j.check, 'base64')) };
}
