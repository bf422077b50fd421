import { CofferError, type ErrorCode } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import { isKeyType, KEY_TYPE_INFO, type KeyType } from './key-types.js';
import { formattedPublicKey } from './key-objects.js';

/** One version of a named key. Key material is held as bytes only, and zeroed by `destroyKey`. */
export interface KeyVersion {
  /** Creation time, unix seconds. */
  time: number;
  /** Raw key (symmetric), 32-byte seed (ed25519) or PKCS#8 DER (ECDSA, RSA). */
  material: Uint8Array;
  /** The version's HMAC key (32 bytes), used by `hmac/` and to derive convergent nonces. */
  hmacKey: Uint8Array;
  /** Encryptions reserved for this version so far (a persisted upper bound of those made; see the engine). */
  encryptions: number;
}

export interface TransitKey {
  name: string;
  type: KeyType;
  derived: boolean;
  convergent: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  /** Seconds; 0 = never. */
  autoRotatePeriod: number;
  deletionAllowed: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
  /** 0 means "the latest version". */
  minEncryptionVersion: number;
  /** Versions below this were trimmed and are gone; 0 until the first trim (as Vault reports it). */
  minAvailableVersion: number;
  versions: Map<number, KeyVersion>;
  backupInfo?: { time: string; version: number };
  restoreInfo?: { time: string; version: number };
}

/** The convergent scheme Coffer implements: Vault's version 3 (nonce = HMAC of the plaintext). */
export const CONVERGENT_VERSION = 3;

/** Overwrites every version's key material. The key must not be used afterwards. */
export function destroyKey(key: TransitKey | undefined): void {
  if (!key) return;
  for (const v of key.versions.values()) wipe(v.material, v.hmacKey);
}

/** The version's entry. @throws CofferError `invalid_request` when it does not exist (trimmed or never made). */
export function versionOf(key: TransitKey, version: number): KeyVersion {
  const entry = key.versions.get(version);
  if (!entry) throw new CofferError('invalid_request', 'no such key version');
  return entry;
}

/**
 * Stored form: `CTK1`, a 4-byte big-endian header length, a JSON header (settings and per-version metadata with
 * material lengths), then each version's key material and HMAC key as raw bytes, in header order. Key material
 * never passes through a string, so it can be zeroed after use.
 */
interface StoredHeader {
  name: string;
  type: KeyType;
  derived: boolean;
  convergent: boolean;
  exportable: boolean;
  allow_plaintext_backup: boolean;
  auto_rotate_period: number;
  deletion_allowed: boolean;
  latest_version: number;
  min_decryption_version: number;
  min_encryption_version: number;
  min_available_version: number;
  versions: Array<{ version: number; time: number; encryptions: number; key_length: number; hmac_length: number }>;
  backup_info?: { time: string; version: number };
  restore_info?: { time: string; version: number };
}

const MAGIC = new TextEncoder().encode('CTK1');

export function encodeKey(key: TransitKey): Uint8Array {
  const versions = [...key.versions.entries()].sort(([a], [b]) => a - b);
  const header: StoredHeader = {
    name: key.name,
    type: key.type,
    derived: key.derived,
    convergent: key.convergent,
    exportable: key.exportable,
    allow_plaintext_backup: key.allowPlaintextBackup,
    auto_rotate_period: key.autoRotatePeriod,
    deletion_allowed: key.deletionAllowed,
    latest_version: key.latestVersion,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: key.minEncryptionVersion,
    min_available_version: key.minAvailableVersion,
    versions: versions.map(([version, v]) => ({
      version,
      time: v.time,
      encryptions: v.encryptions,
      key_length: v.material.length,
      hmac_length: v.hmacKey.length,
    })),
    ...(key.backupInfo ? { backup_info: key.backupInfo } : {}),
    ...(key.restoreInfo ? { restore_info: key.restoreInfo } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const materialLength = versions.reduce((n, [, v]) => n + v.material.length + v.hmacKey.length, 0);
  const out = new Uint8Array(MAGIC.length + 4 + json.length + materialLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length);
  out.set(json, MAGIC.length + 4);
  let offset = MAGIC.length + 4 + json.length;
  for (const [, v] of versions) {
    out.set(v.material, offset);
    offset += v.material.length;
    out.set(v.hmacKey, offset);
    offset += v.hmacKey.length;
  }
  return out;
}

/**
 * Parses a stored key (or a restored backup) and checks its whole shape. The result owns copies of the material.
 * Keys stored by earlier Coffer versions (JSON with base64 keys and no HMAC keys) are read too; `legacy` is set
 * so the engine can add HMAC keys and store the new form.
 * @throws CofferError with `code` (`integrity` for storage, `invalid_request` for a backup) on any malformation.
 */
export function decodeKey(raw: Uint8Array, code: ErrorCode): { key: TransitKey; legacy: boolean } {
  const bad = (what: string) => new CofferError(code, code === 'integrity' ? `stored transit key is malformed: ${what}` : `invalid backup: ${what}`);
  if (raw.length > 0 && raw[0] === 0x7b) return { key: decodeLegacy(raw, bad), legacy: true };
  if (raw.length < MAGIC.length + 4 || MAGIC.some((b, i) => raw[i] !== b)) throw bad('unknown format');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const headerLength = view.getUint32(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > raw.length) throw bad('truncated header');
  let header: StoredHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw.subarray(start, start + headerLength))) as StoredHeader;
  } catch {
    throw bad('header is not JSON');
  }
  checkHeader(header, bad);
  const versions = new Map<number, KeyVersion>();
  let offset = start + headerLength;
  for (const v of header.versions) {
    if (offset + v.key_length + v.hmac_length > raw.length) throw bad('truncated key material');
    const material = raw.slice(offset, offset + v.key_length);
    offset += v.key_length;
    const hmacKey = raw.slice(offset, offset + v.hmac_length);
    offset += v.hmac_length;
    versions.set(v.version, { time: v.time, encryptions: v.encryptions, material, hmacKey });
  }
  const key: TransitKey = {
    name: header.name,
    type: header.type,
    derived: header.derived,
    convergent: header.convergent,
    exportable: header.exportable,
    allowPlaintextBackup: header.allow_plaintext_backup,
    autoRotatePeriod: header.auto_rotate_period,
    deletionAllowed: header.deletion_allowed,
    latestVersion: header.latest_version,
    minDecryptionVersion: header.min_decryption_version,
    minEncryptionVersion: header.min_encryption_version,
    minAvailableVersion: header.min_available_version,
    versions,
    ...(header.backup_info ? { backupInfo: header.backup_info } : {}),
    ...(header.restore_info ? { restoreInfo: header.restore_info } : {}),
  };
  if (offset !== raw.length) {
    destroyKey(key);
    throw bad('trailing bytes');
  }
  try {
    checkMaterial(key, bad);
  } catch (err) {
    destroyKey(key);
    throw err;
  }
  return { key, legacy: false };
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isInfo = (i: unknown) =>
  i === undefined ||
  (typeof i === 'object' && i !== null && typeof (i as { time?: unknown }).time === 'string' && isCount((i as { version?: unknown }).version));

function checkHeader(h: StoredHeader, bad: (what: string) => CofferError): void {
  if (typeof h !== 'object' || h === null) throw bad('header');
  if (typeof h.name !== 'string' || h.name === '' || h.name.includes('/')) throw bad('name');
  if (!isKeyType(h.type)) throw bad('type');
  for (const flag of ['derived', 'convergent', 'exportable', 'allow_plaintext_backup', 'deletion_allowed'] as const) {
    if (typeof h[flag] !== 'boolean') throw bad(flag);
  }
  for (const n of ['auto_rotate_period', 'latest_version', 'min_decryption_version', 'min_encryption_version', 'min_available_version'] as const) {
    if (!isCount(h[n])) throw bad(n);
  }
  if (!isInfo(h.backup_info) || !isInfo(h.restore_info)) throw bad('backup/restore info');
  if (!Array.isArray(h.versions) || h.versions.length === 0) throw bad('versions');
  const seen = new Set<number>();
  for (const v of h.versions) {
    if (typeof v !== 'object' || v === null) throw bad('version entry');
    if (!isCount(v.version) || v.version < 1 || v.version > h.latest_version || seen.has(v.version)) throw bad('version number');
    seen.add(v.version);
    if (!isCount(v.time) || !isCount(v.encryptions) || !isCount(v.key_length) || !isCount(v.hmac_length)) throw bad('version fields');
  }
  if (!seen.has(h.latest_version)) throw bad('latest version is missing');
  if (h.convergent && !h.derived) throw bad('convergent without derived');
}

function checkMaterial(key: TransitKey, bad: (what: string) => CofferError): void {
  const info = KEY_TYPE_INFO[key.type];
  for (const v of key.versions.values()) {
    if (info.keyBytes !== undefined && v.material.length !== info.keyBytes) throw bad('key length');
    if (info.keyBytes === undefined && v.material.length === 0) throw bad('key length');
    if (v.hmacKey.length !== 32) throw bad('HMAC key length');
    if (!info.symmetric) {
      try {
        formattedPublicKey(key.type, v.material);
      } catch {
        throw bad('private key does not parse');
      }
    }
  }
}

interface LegacyStored {
  name: string;
  type: string;
  latest_version: number;
  min_decryption_version: number;
  min_encryption_version: number;
  min_available_version: number;
  deletion_allowed: boolean;
  versions: Record<string, { key: string; time: number }>;
}

/** Earlier Coffer stored only aes256-gcm96 keys as JSON; their versions get HMAC keys on first load. */
function decodeLegacy(raw: Uint8Array, bad: (what: string) => CofferError): TransitKey {
  let stored: LegacyStored;
  try {
    stored = JSON.parse(new TextDecoder().decode(raw)) as LegacyStored;
  } catch {
    throw bad('legacy entry is not JSON');
  }
  if (stored.type !== 'aes256-gcm96' || typeof stored.versions !== 'object' || stored.versions === null) throw bad('legacy entry');
  const versions = new Map<number, KeyVersion>();
  for (const [v, info] of Object.entries(stored.versions)) {
    if (!/^\d+$/.test(v) || typeof info?.key !== 'string' || !isCount(info.time)) throw bad('legacy version');
    versions.set(Number(v), {
      time: info.time,
      encryptions: 0,
      material: new Uint8Array(Buffer.from(info.key, 'base64')),
      hmacKey: new Uint8Array(0),
    });
  }
  return {
    name: stored.name,
    type: 'aes256-gcm96',
    derived: false,
    convergent: false,
    exportable: false,
    allowPlaintextBackup: false,
    autoRotatePeriod: 0,
    deletionAllowed: stored.deletion_allowed === true,
    latestVersion: stored.latest_version,
    minDecryptionVersion: stored.min_decryption_version,
    minEncryptionVersion: stored.min_encryption_version,
    minAvailableVersion: stored.min_available_version,
    versions,
  };
}

/**
 * What `GET keys/:name` shows, in Vault's shape: creation times for symmetric keys, public keys for asymmetric
 * ones (an ed25519 derived key shows its public key only for a given `context`). Never private material.
 */
export function describeKey(key: TransitKey, derivedPublicKey?: (version: number) => string): Record<string, unknown> {
  const info = KEY_TYPE_INFO[key.type];
  const keys: Record<string, unknown> = {};
  for (const [v, entry] of [...key.versions.entries()].sort(([a], [b]) => a - b)) {
    if (info.symmetric) {
      keys[v] = entry.time;
      continue;
    }
    const publicKey = key.derived ? (derivedPublicKey ? derivedPublicKey(v) : '') : formattedPublicKey(key.type, entry.material);
    keys[v] = {
      certificate_chain: '',
      creation_time: new Date(entry.time * 1000).toISOString(),
      name: info.curve?.vault ?? (key.type === 'ed25519' ? 'ed25519' : key.type),
      public_key: publicKey,
    };
  }
  return {
    allow_plaintext_backup: key.allowPlaintextBackup,
    auto_rotate_period: key.autoRotatePeriod,
    ...(key.backupInfo ? { backup_info: key.backupInfo } : {}),
    ...(key.derived ? { convergent_encryption: key.convergent, kdf: 'hkdf_sha256' } : {}),
    ...(key.convergent ? { convergent_encryption_version: CONVERGENT_VERSION } : {}),
    deletion_allowed: key.deletionAllowed,
    derived: key.derived,
    exportable: key.exportable,
    imported_key: false,
    keys,
    latest_version: key.latestVersion,
    min_available_version: key.minAvailableVersion,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: key.minEncryptionVersion,
    name: key.name,
    ...(key.restoreInfo ? { restore_info: key.restoreInfo } : {}),
    soft_deleted: false,
    supports_decryption: info.encryption,
    supports_derivation: info.derivation,
    supports_encryption: info.encryption,
    supports_signing: info.signing,
    type: key.type,
  };
}
