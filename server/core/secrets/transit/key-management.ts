import { createPublicKey } from 'node:crypto';
import { parseDurationSeconds } from '../../duration.js';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import type { LogicalResponse } from '../secret-engine.js';
import { derivedKeyBytes } from './ciphers.js';
import { boolField, decodeBase64, intField, type Item } from './fields.js';
import { ed25519PublicBytes, privateKeyObject } from './key-objects.js';
import type { KeyStore } from './key-store.js';
import { KEY_TYPE_INFO, parseKeyType } from './key-types.js';
import { describeKey, destroyKey, type TransitKey } from './transit-key.js';

const MIN_AUTO_ROTATE_SECONDS = 3600;

export function checkKeyName(name: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new CofferError('invalid_request', 'invalid key name');
}

/** `auto_rotate_period`: a Go duration or seconds; 0 disables, otherwise at least an hour (Vault's rule). */
function autoRotatePeriod(data: Item): number | undefined {
  if (data.auto_rotate_period === undefined || data.auto_rotate_period === null) return undefined;
  const seconds = parseDurationSeconds(data.auto_rotate_period, 'auto_rotate_period');
  if (seconds !== 0 && seconds < MIN_AUTO_ROTATE_SECONDS)
    throw new CofferError('invalid_request', 'auto rotate period must be 0 to disable or at least an hour');
  return seconds;
}

/** `GET keys/:name`; a derived ed25519 key shows the public keys derived from `context` when one is given. */
export function describe(key: TransitKey, context?: Uint8Array): Record<string, unknown> {
  if (!(key.derived && key.type === 'ed25519' && context && context.length > 0)) return describeKey(key);
  return describeKey(key, (version) => {
    const seed = derivedKeyBytes(key, version, context, 32);
    try {
      return ed25519PublicBytes(createPublicKey(privateKeyObject(key.type, seed))).toString('base64');
    } finally {
      wipe(seed);
    }
  });
}

export async function readKey(store: KeyStore, name: string, data: Item): Promise<LogicalResponse | undefined> {
  const key = await store.load(name);
  if (!key) return undefined;
  try {
    return { data: describe(key, decodeBase64(data.context, 'failed to base64-decode context')) };
  } finally {
    destroyKey(key);
  }
}

/**
 * Creates the key if it does not exist, with the type and options given; writing an existing key changes nothing
 * and says so in a warning (as Vault).
 * @throws CofferError `invalid_request` for an unknown type or an invalid combination of options.
 */
export async function createKey(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  checkKeyName(name);
  const type = parseKeyType(data.type);
  const derived = boolField(data, 'derived') ?? false;
  const convergent = boolField(data, 'convergent_encryption') ?? false;
  const exportable = boolField(data, 'exportable') ?? false;
  const allowPlaintextBackup = boolField(data, 'allow_plaintext_backup') ?? false;
  const rotatePeriod = autoRotatePeriod(data) ?? 0;
  if (convergent && !derived) throw new CofferError('invalid_request', 'convergent encryption requires derivation to be enabled');
  if (derived && !KEY_TYPE_INFO[type].derivation) throw new CofferError('invalid_request', `key derivation is not supported for key type ${type}`);
  if (convergent && !KEY_TYPE_INFO[type].symmetric)
    throw new CofferError('invalid_request', `convergent encryption is not supported for key type ${type}`);
  if (data.key_size !== undefined && data.key_size !== null && data.key_size !== 0)
    throw new CofferError('invalid_request', `key_size is not valid for algorithm ${type}`);
  const kdf = data.kdf;
  if (kdf !== undefined && kdf !== null && kdf !== '' && kdf !== 'hkdf_sha256')
    throw new CofferError('invalid_request', 'kdf: only hkdf_sha256 is supported');
  return store.exclusive(name, async () => {
    const existing = await store.read(name);
    if (existing) {
      try {
        return { data: describeKey(existing.key), warnings: [`key ${name} already existed`] };
      } finally {
        destroyKey(existing.key);
      }
    }
    const key: TransitKey = {
      name,
      type,
      derived,
      convergent,
      exportable,
      allowPlaintextBackup,
      autoRotatePeriod: rotatePeriod,
      deletionAllowed: false,
      latestVersion: 1,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      minAvailableVersion: 0,
      versions: new Map([[1, await store.newVersion(type)]]),
    };
    try {
      await store.save(key);
      return { data: describeKey(key) };
    } finally {
      destroyKey(key);
    }
  });
}

export async function deleteKey(store: KeyStore, name: string): Promise<undefined> {
  await store.exclusive(name, async () => {
    const found = await store.read(name);
    if (!found) return;
    destroyKey(found.key);
    if (!found.key.deletionAllowed) throw new CofferError('invalid_request', 'deletion is not allowed for this key');
    await store.delete(name);
  });
  return undefined;
}

/** Runs `change` on the stored key under its lock and saves it; `change` throws to save nothing. */
export async function modify(
  store: KeyStore,
  name: string,
  missing: string,
  change: (key: TransitKey) => string[] | void | Promise<void>,
): Promise<LogicalResponse> {
  return store.exclusive(name, async () => {
    const found = await store.read(name);
    if (!found) throw new CofferError('invalid_request', missing);
    try {
      const warnings = (await change(found.key)) ?? [];
      await store.save(found.key);
      return { data: describeKey(found.key), ...(warnings.length > 0 ? { warnings } : {}) };
    } finally {
      destroyKey(found.key);
    }
  });
}

export function rotateKey(store: KeyStore, name: string): Promise<LogicalResponse> {
  return modify(store, name, 'key not found', (key) => store.addVersion(key));
}

/**
 * `keys/:name/config`, with Vault's checks in its order; nothing is saved unless every field is valid.
 * `exportable` and `allow_plaintext_backup` can be turned on, never off: turning them off is refused (Vault
 * ignores it silently).
 */
export function configureKey(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  return modify(store, name, 'key not found', (key) => {
    const warnings: string[] = [];
    const minDecryption = intField(data, 'min_decryption_version');
    if (minDecryption !== undefined) {
      if (minDecryption < 0 || minDecryption > key.latestVersion) {
        throw new CofferError('invalid_request', `cannot set min decryption version of ${minDecryption}, latest key version is ${key.latestVersion}`);
      }
      const effective = Math.max(1, minDecryption);
      if (effective < key.minAvailableVersion) {
        throw new CofferError(
          'invalid_request',
          `cannot set min decryption version of ${minDecryption}: versions below ${key.minAvailableVersion} were trimmed`,
        );
      }
      key.minDecryptionVersion = effective;
      if (minDecryption === 0) warnings.push('since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1');
    }
    const minEncryption = intField(data, 'min_encryption_version');
    if (minEncryption !== undefined) {
      if (minEncryption < 0 || minEncryption > key.latestVersion) {
        throw new CofferError('invalid_request', `cannot set min encryption version of ${minEncryption}, latest key version is ${key.latestVersion}`);
      }
      key.minEncryptionVersion = minEncryption;
    }
    if (key.minEncryptionVersion > 0 && key.minEncryptionVersion < key.minDecryptionVersion) {
      throw new CofferError(
        'invalid_request',
        `cannot set min encryption/decryption values; min encryption version of ${key.minEncryptionVersion} must be greater than or equal to min decryption version of ${key.minDecryptionVersion}`,
      );
    }
    const deletionAllowed = boolField(data, 'deletion_allowed');
    if (deletionAllowed !== undefined) key.deletionAllowed = deletionAllowed;
    const exportable = boolField(data, 'exportable');
    if (exportable === false && key.exportable) throw new CofferError('invalid_request', 'exportable cannot be disabled once enabled');
    if (exportable) key.exportable = true;
    const backup = boolField(data, 'allow_plaintext_backup');
    if (backup === false && key.allowPlaintextBackup)
      throw new CofferError('invalid_request', 'allow_plaintext_backup cannot be disabled once enabled');
    if (backup) key.allowPlaintextBackup = true;
    const period = autoRotatePeriod(data);
    if (period !== undefined) key.autoRotatePeriod = period;
    return warnings;
  });
}

/**
 * Deletes the key material of versions below `min_available_version` for good. Refused above
 * `min_decryption_version` (and above `min_encryption_version` when set): trimmed versions must be unused.
 */
export function trimKey(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  return modify(store, name, 'invalid key name', (key) => {
    const minAvailable = intField(data, 'min_available_version');
    if (minAvailable === undefined) throw new CofferError('invalid_request', 'missing min_available_version');
    if (minAvailable < key.minAvailableVersion) throw new CofferError('invalid_request', 'minimum available version cannot be decremented');
    if (minAvailable < 1) throw new CofferError('invalid_request', 'minimum available version must be at least 1');
    if (key.minEncryptionVersion > 0 && minAvailable > key.minEncryptionVersion) {
      throw new CofferError('invalid_request', 'minimum available version cannot be greater than minimum encryption version');
    }
    if (minAvailable > key.minDecryptionVersion)
      throw new CofferError('invalid_request', 'minimum available version cannot be greater than minimum decryption version');
    key.minAvailableVersion = minAvailable;
    for (const [v, entry] of key.versions) {
      if (v < minAvailable) {
        wipe(entry.material, entry.hmacKey);
        key.versions.delete(v);
      }
    }
  });
}
