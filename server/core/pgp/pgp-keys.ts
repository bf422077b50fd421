import * as openpgp from 'openpgp';
import { CofferError } from '../errors.js';

/** A validated OpenPGP public key with an encryption-capable (sub)key. */
export interface PgpRecipient {
  readonly fingerprint: string; // lowercase hex, as Vault prints it
  readonly key: openpgp.PublicKey;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parses Vault-style `pgp_keys` entries: base64 of a binary public key. An armored key (raw, or base64 of the
 * armor) is accepted too. Each key must be public and able to encrypt.
 * @throws CofferError `invalid_seal_config` with Vault's `error decoding/parsing given PGP key` messages.
 */
export async function parsePgpKeys(entries: readonly string[]): Promise<PgpRecipient[]> {
  const recipients: PgpRecipient[] = [];
  for (const entry of entries) recipients.push(await parsePgpKey(entry));
  return recipients;
}

export async function parsePgpKey(entry: string): Promise<PgpRecipient> {
  const trimmed = entry.trim();
  let key: openpgp.Key;
  try {
    if (trimmed.startsWith('-----BEGIN PGP')) {
      key = await openpgp.readKey({ armoredKey: trimmed });
    } else {
      const compact = trimmed.replace(/\s+/g, '');
      if (!STRICT_BASE64.test(compact) || compact.length === 0) {
        throw new CofferError('invalid_seal_config', 'error decoding given PGP key: illegal base64 data');
      }
      const bytes = Buffer.from(compact, 'base64');
      const text = bytes.subarray(0, 14).toString('latin1');
      key = text.startsWith('-----BEGIN PGP')
        ? await openpgp.readKey({ armoredKey: bytes.toString('utf8') })
        : await openpgp.readKey({ binaryKey: new Uint8Array(bytes) });
    }
  } catch (err) {
    if (err instanceof CofferError) throw err;
    throw new CofferError('invalid_seal_config', `error parsing given PGP key: ${(err as Error).message}`);
  }
  if (key.isPrivate()) {
    throw new CofferError('invalid_seal_config', 'error parsing given PGP key: expected a public key, got a private key');
  }
  const fingerprint = key.getFingerprint().toLowerCase();
  try {
    await key.getEncryptionKey();
  } catch {
    throw new CofferError('invalid_seal_config', `error parsing given PGP key: key ${fingerprint} has no usable encryption subkey`);
  }
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- readKey() built it; isPrivate() narrowed Key to PublicKey
  return { fingerprint, key };
}

/** Encrypts `plaintext` to one recipient as a binary (non-armored), unsigned OpenPGP message. */
export async function encryptTo(recipient: PgpRecipient, plaintext: Uint8Array): Promise<Uint8Array> {
  const message = await openpgp.createMessage({ binary: plaintext });
  return (await openpgp.encrypt({ message, encryptionKeys: recipient.key, format: 'binary' })) as Uint8Array;
}

/**
 * Encrypts each share's lowercase hex string to the recipient at the same index — what `gpg -d` gives back is the
 * hex share that `sys/unseal` accepts.
 */
export async function encryptShares(shares: readonly Uint8Array[], recipients: readonly PgpRecipient[]): Promise<Uint8Array[]> {
  if (shares.length !== recipients.length) throw new CofferError('internal', 'share and PGP key counts differ');
  const out: Uint8Array[] = [];
  for (let i = 0; i < shares.length; i++) {
    const hex = new TextEncoder().encode(Buffer.from(shares[i]!).toString('hex'));
    try {
      out.push(await encryptTo(recipients[i]!, hex));
    } finally {
      hex.fill(0);
    }
  }
  return out;
}
