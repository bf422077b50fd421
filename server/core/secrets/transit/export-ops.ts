import { CofferError } from '../../errors.js';
import type { LogicalResponse } from '../secret-engine.js';
import { boolField, bytesFromBase64, optionalString, type Item } from './fields.js';
import { exportPrivateKey, exportPublicKey, type ExportFormat } from './key-objects.js';
import { checkKeyName } from './key-management.js';
import type { KeyStore } from './key-store.js';
import { KEY_TYPE_INFO } from './key-types.js';
import { decodeKey, destroyKey, encodeKey, type KeyVersion, type TransitKey } from './transit-key.js';

const EXPORT_TYPES = ['encryption-key', 'signing-key', 'hmac-key', 'public-key'] as const;
type ExportType = (typeof EXPORT_TYPES)[number];

function exportOne(key: TransitKey, entry: KeyVersion, type: ExportType, format: ExportFormat): string {
  const info = KEY_TYPE_INFO[key.type];
  if (type === 'hmac-key' || (type === 'encryption-key' && info.symmetric)) {
    if (format === 'der' || format === 'pem')
      throw new CofferError('invalid_request', 'unknown format for HMAC key; supported values are `` or `raw`');
    return Buffer.from(type === 'hmac-key' ? entry.hmacKey : entry.material).toString('base64');
  }
  if (type === 'public-key') return exportPublicKey(key.type, entry.material, format);
  return exportPrivateKey(key.type, entry.material, format);
}

/**
 * `GET export/:type/:name[/:version]`: key material in Vault's encodings. Private material (every type but
 * `public-key`) needs `exportable`; `version` is a number, `vN` or `latest`.
 * @returns undefined (404) when the key does not exist.
 */
export async function exportOp(
  store: KeyStore,
  type: string,
  name: string,
  version: string | undefined,
  data: Item,
): Promise<LogicalResponse | undefined> {
  if (!(EXPORT_TYPES as readonly string[]).includes(type)) throw new CofferError('invalid_request', `invalid export type: ${type}`);
  const format = optionalString(data, 'format') ?? '';
  if (!['', 'raw', 'der', 'pem'].includes(format)) throw new CofferError('invalid_request', `invalid format: ${format}`);
  const key = await store.load(name);
  if (!key) return undefined;
  try {
    const info = KEY_TYPE_INFO[key.type];
    if (!key.exportable && type !== 'public-key') throw new CofferError('invalid_request', 'private key material is not exportable');
    if (type === 'encryption-key' && !info.encryption) throw new CofferError('invalid_request', 'encryption not supported for the key');
    if (type === 'signing-key' && !info.signing) throw new CofferError('invalid_request', 'signing not supported for the key');
    if (type === 'public-key' && info.symmetric) throw new CofferError('invalid_request', `unknown key type ${key.type} for export type public-key`);
    const keys: Record<string, string> = {};
    if (version === undefined || version === '') {
      for (const [v, entry] of [...key.versions.entries()].sort(([a], [b]) => a - b))
        keys[v] = exportOne(key, entry, type as ExportType, format as ExportFormat);
    } else {
      const text = version === 'latest' ? String(key.latestVersion) : version.replace(/^v/, '');
      if (!/^\d{1,9}$/.test(text)) throw new CofferError('invalid_request', 'invalid key version');
      const v = Number(text);
      if (v < key.minDecryptionVersion) throw new CofferError('invalid_request', 'version for export is below minimum decryption version');
      const entry = key.versions.get(v);
      if (!entry) throw new CofferError('invalid_request', 'version does not exist or cannot be found');
      keys[v] = exportOne(key, entry, type as ExportType, format as ExportFormat);
    }
    return { data: { name: key.name, type: key.type, keys } };
  } finally {
    destroyKey(key);
  }
}

/**
 * `GET backup/:name`: the whole key (every version, its settings and encryption counts) as base64, for `restore`.
 * Needs both `exportable` and `allow_plaintext_backup` (as Vault); records the backup in `backup_info`.
 */
export async function backupOp(store: KeyStore, name: string): Promise<LogicalResponse> {
  return store.exclusive(name, async () => {
    const found = await store.read(name);
    if (!found) throw new CofferError('invalid_request', `key "${name}" not found`);
    const key = found.key;
    try {
      if (!key.exportable) throw new CofferError('invalid_request', 'exporting is disallowed on the policy');
      if (!key.allowPlaintextBackup) throw new CofferError('invalid_request', 'plaintext backup is disallowed on the policy');
      key.backupInfo = { time: store.clock.now().toISOString(), version: key.latestVersion };
      await store.save(key);
      const encoded = encodeKey(key);
      try {
        return { data: { backup: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('base64') } };
      } finally {
        encoded.fill(0);
      }
    } finally {
      destroyKey(key);
    }
  });
}

/**
 * `restore[/:name]`: writes a key from `backup`, under `name` when given. An existing key is replaced only with
 * `force`. The restored key keeps its versions' encryption counts, so a restore cannot reset the GCM budget.
 * @throws CofferError `invalid_request` for a malformed backup or an existing key without `force`.
 */
export async function restoreOp(store: KeyStore, urlName: string | undefined, data: Item): Promise<undefined> {
  const backup = optionalString(data, 'backup');
  if (!backup) throw new CofferError('invalid_request', "'backup' must be supplied");
  const force = boolField(data, 'force') ?? false;
  const compact = backup.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw new CofferError('invalid_request', 'invalid backup: not base64');
  const raw = bytesFromBase64(compact);
  let key: TransitKey;
  try {
    key = decodeKey(raw, 'invalid_request').key;
  } finally {
    raw.fill(0);
  }
  try {
    const bodyName = optionalString(data, 'name');
    const name = urlName || bodyName || key.name;
    if (name.includes('/')) throw new CofferError('invalid_request', 'key names cannot be paths');
    checkKeyName(name);
    key.name = name;
    key.restoreInfo = { time: store.clock.now().toISOString(), version: key.latestVersion };
    await store.exclusive(name, async () => {
      const existing = await store.read(name);
      if (existing) {
        destroyKey(existing.key);
        if (!force) throw new CofferError('invalid_request', `key "${name}" already exists`);
      }
      await store.replace(key);
    });
    return undefined;
  } finally {
    destroyKey(key);
  }
}
