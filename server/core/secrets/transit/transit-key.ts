import { aeadOpen, aeadSeal } from '../../barrier/aead.js';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';

/** The only key type Coffer's transit engine offers: AES-256-GCM with a 96-bit random nonce, as Vault's default. */
export const KEY_TYPE = 'aes256-gcm96';

/** One named key as stored (behind the barrier) at `policy/<name>` in the mount: every version's key material. */
export interface StoredTransitKey {
  name: string;
  type: typeof KEY_TYPE;
  latest_version: number;
  min_decryption_version: number;
  /** 0 means "the latest version". */
  min_encryption_version: number;
  /** Versions below this were trimmed and are gone; 0 until the first trim (as Vault reports it). */
  min_available_version: number;
  deletion_allowed: boolean;
  /** version → base64 key and creation time (unix seconds). */
  versions: Record<string, { key: string; time: number }>;
}

const EMPTY_AAD = new Uint8Array(0);
const PREFIX = 'vault:v';

export function newKey(name: string, key: Uint8Array, now: Date): StoredTransitKey {
  return {
    name,
    type: KEY_TYPE,
    latest_version: 1,
    min_decryption_version: 1,
    min_encryption_version: 0,
    min_available_version: 0,
    deletion_allowed: false,
    versions: { '1': { key: Buffer.from(key).toString('base64'), time: Math.floor(now.getTime() / 1000) } },
  };
}

/** A copy with one more version, which becomes the latest. */
export function withNewVersion(stored: StoredTransitKey, key: Uint8Array, now: Date): StoredTransitKey {
  const version = stored.latest_version + 1;
  return {
    ...stored,
    latest_version: version,
    versions: { ...stored.versions, [version]: { key: Buffer.from(key).toString('base64'), time: Math.floor(now.getTime() / 1000) } },
  };
}

/** What `GET keys/:name` shows: never key material. */
export function describeKey(stored: StoredTransitKey): Record<string, unknown> {
  return {
    allow_plaintext_backup: false,
    auto_rotate_period: 0,
    deletion_allowed: stored.deletion_allowed,
    derived: false,
    exportable: false,
    imported_key: false,
    keys: Object.fromEntries(Object.entries(stored.versions).map(([v, info]) => [v, info.time])),
    latest_version: stored.latest_version,
    min_available_version: stored.min_available_version,
    min_decryption_version: stored.min_decryption_version,
    min_encryption_version: stored.min_encryption_version,
    name: stored.name,
    supports_decryption: true,
    supports_derivation: true,
    supports_encryption: true,
    supports_signing: false,
    type: stored.type,
  };
}

function keyBytes(stored: StoredTransitKey, version: number): Uint8Array {
  const info = stored.versions[String(version)];
  if (!info) throw new CofferError('invalid_request', `invalid ciphertext: key version ${version} is not available`);
  return new Uint8Array(Buffer.from(info.key, 'base64'));
}

/**
 * Encrypts with `version` (default: the latest), refusing versions below `min_encryption_version`.
 * @returns Vault's `vault:vN:<base64(nonce | ciphertext | tag)>` form.
 */
export function encryptWith(stored: StoredTransitKey, plaintext: Uint8Array, version = 0): { ciphertext: string; version: number } {
  const v = version === 0 ? stored.latest_version : version;
  if (v < 0 || v > stored.latest_version) throw new CofferError('invalid_request', 'requested version for encryption is higher than the latest key version');
  if (stored.min_encryption_version > 0 && v < stored.min_encryption_version) {
    throw new CofferError('invalid_request', 'requested version for encryption is less than the minimum encryption key version');
  }
  const key = keyBytes(stored, v);
  try {
    return { ciphertext: `${PREFIX}${v}:${Buffer.from(aeadSeal(key, plaintext, EMPTY_AAD)).toString('base64')}`, version: v };
  } finally {
    wipe(key);
  }
}

/** The version named in a ciphertext, checked against the key's decryption window. */
export function ciphertextVersion(stored: StoredTransitKey, ciphertext: string): { version: number; body: Uint8Array } {
  if (!ciphertext.startsWith(PREFIX)) throw new CofferError('invalid_request', 'invalid ciphertext: no prefix');
  const rest = ciphertext.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon < 0) throw new CofferError('invalid_request', 'invalid ciphertext: wrong number of fields');
  const versionText = rest.slice(0, colon);
  if (!/^\d{1,9}$/.test(versionText)) throw new CofferError('invalid_request', 'invalid ciphertext: version number could not be decoded');
  const version = Math.max(1, Number(versionText));
  if (version > stored.latest_version) throw new CofferError('invalid_request', 'invalid ciphertext: version is too new');
  if (version < stored.min_decryption_version) throw new CofferError('invalid_request', 'ciphertext or signature version is disallowed by policy (too old)');
  const encoded = rest.slice(colon + 1);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw new CofferError('invalid_request', 'invalid ciphertext: could not decode base64');
  return { version, body: new Uint8Array(Buffer.from(encoded, 'base64')) };
}

/** @throws CofferError `invalid_request` for malformed, too old, too new or tampered ciphertext. */
export function decryptWith(stored: StoredTransitKey, ciphertext: string): { plaintext: Uint8Array; version: number } {
  const { version, body } = ciphertextVersion(stored, ciphertext);
  const key = keyBytes(stored, version);
  try {
    return { plaintext: aeadOpen(key, body, EMPTY_AAD), version };
  } catch {
    throw new CofferError('invalid_request', 'invalid ciphertext: unable to decrypt');
  } finally {
    wipe(key);
  }
}

/** A copy without the versions below `minAvailable` (their keys are gone for good once this is persisted). */
export function trimmed(stored: StoredTransitKey, minAvailable: number): StoredTransitKey {
  return {
    ...stored,
    min_available_version: minAvailable,
    versions: Object.fromEntries(Object.entries(stored.versions).filter(([v]) => Number(v) >= minAvailable)),
  };
}
