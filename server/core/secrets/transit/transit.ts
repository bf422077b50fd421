import { Mutex } from 'async-mutex';
import type { Clock, Random } from '../../clock.js';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import { BarrierView, decodeJson, encodeJson, type LogicalRequest, type LogicalResponse, type SecretEngine } from '../secret-engine.js';
import {
  decryptWith,
  describeKey,
  encryptWith,
  KEY_TYPE,
  newKey,
  trimmed,
  withNewVersion,
  type StoredTransitKey,
} from './transit-key.js';

const KEY_PREFIX = 'policy/';

type Item = Record<string, unknown>;

/**
 * The transit secrets engine: named AES-256-GCM keys that never leave the server, used to encrypt, decrypt,
 * rewrap and make data keys (envelope encryption), and as another server's auto-unseal key service. Keys live
 * behind the barrier at `policy/<name>`; changes to one key are serialised by that key's lock.
 */
export class TransitEngine implements SecretEngine {
  readonly #locks = new Map<string, Mutex>();

  constructor(
    private readonly view: BarrierView,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async exists(path: string): Promise<boolean> {
    const [kind, name, sub] = path.split('/');
    // Writing keys/<name> or encrypting with an unknown key creates it (Vault's upsert): that is `create`.
    if ((kind === 'keys' && sub === undefined) || kind === 'encrypt') return name !== undefined && name !== '' && (await this.#load(name)) !== undefined;
    return true;
  }

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const parts = req.path.split('/');
    const [kind, a, b] = parts;
    const op = req.operation === 'create' ? 'update' : req.operation;
    if (kind === 'keys' && (a === undefined || a === '')) {
      if (op === 'list') return this.#listKeys();
    } else if (kind === 'keys' && parts.length === 2) {
      if (op === 'read') return this.#readKey(a!);
      if (op === 'update') return this.#createKey(a!, req.data);
      if (op === 'delete') return this.#deleteKey(a!);
    } else if (kind === 'keys' && parts.length === 3 && op === 'update') {
      if (b === 'rotate') return this.#rotate(a!);
      if (b === 'config') return this.#configure(a!, req.data);
      if (b === 'trim') return this.#trim(a!, req.data);
    } else if (parts.length === 2 && op === 'update' && a) {
      if (kind === 'encrypt') return this.#encrypt(a, req.data);
      if (kind === 'decrypt') return this.#decrypt(a, req.data);
      if (kind === 'rewrap') return this.#rewrap(a, req.data);
    } else if (kind === 'datakey' && parts.length === 3 && op === 'update' && b) {
      return this.#datakey(a!, b, req.data);
    }
    throw new CofferError('unsupported_path', 'unsupported path');
  }

  async #load(name: string): Promise<StoredTransitKey | undefined> {
    const raw = await this.view.get(KEY_PREFIX + name);
    return raw ? decodeJson<StoredTransitKey>(raw) : undefined;
  }

  async #require(name: string, message = 'encryption key not found'): Promise<StoredTransitKey> {
    const stored = await this.#load(name);
    if (!stored) throw new CofferError('invalid_request', message);
    return stored;
  }

  async #save(stored: StoredTransitKey): Promise<void> {
    await this.view.put(KEY_PREFIX + stored.name, encodeJson(stored));
  }

  /** Read-modify-write of one key, serialised with every other change to it. */
  #exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    let lock = this.#locks.get(name);
    if (!lock) this.#locks.set(name, (lock = new Mutex()));
    return lock.runExclusive(fn);
  }

  async #listKeys(): Promise<LogicalResponse | undefined> {
    const keys = await this.view.list(KEY_PREFIX);
    return keys.length === 0 ? undefined : { data: { keys } };
  }

  async #readKey(name: string): Promise<LogicalResponse | undefined> {
    const stored = await this.#load(name);
    return stored ? { data: describeKey(stored) } : undefined;
  }

  /** Creates the key if it does not exist; writing an existing key changes nothing (as in Vault). */
  async #createKey(name: string, data: Item): Promise<LogicalResponse> {
    checkKeyName(name);
    checkCreateOptions(data);
    return this.#exclusive(name, async () => {
      const stored = (await this.#load(name)) ?? (await this.#create(name));
      return { data: describeKey(stored) };
    });
  }

  async #create(name: string): Promise<StoredTransitKey> {
    const key = this.random.bytes(32);
    try {
      const stored = newKey(name, key, this.clock.now());
      await this.#save(stored);
      return stored;
    } finally {
      wipe(key);
    }
  }

  async #deleteKey(name: string): Promise<undefined> {
    await this.#exclusive(name, async () => {
      const stored = await this.#load(name);
      if (!stored) return;
      if (!stored.deletion_allowed) throw new CofferError('invalid_request', 'deletion is not allowed for this key');
      await this.view.delete(KEY_PREFIX + name);
    });
    return undefined;
  }

  async #rotate(name: string): Promise<LogicalResponse> {
    return this.#exclusive(name, async () => {
      const stored = await this.#require(name, 'key not found');
      const key = this.random.bytes(32);
      try {
        const next = withNewVersion(stored, key, this.clock.now());
        await this.#save(next);
        return { data: describeKey(next) };
      } finally {
        wipe(key);
      }
    });
  }

  /** Vault's checks, in its order; nothing is saved unless every field is valid. */
  async #configure(name: string, data: Item): Promise<LogicalResponse> {
    return this.#exclusive(name, async () => {
      const stored = await this.#require(name, 'key not found');
      const next = { ...stored };
      const warnings: string[] = [];
      const minDecryption = intField(data, 'min_decryption_version');
      if (minDecryption !== undefined) {
        if (minDecryption < 0 || minDecryption > stored.latest_version) {
          throw new CofferError('invalid_request', `cannot set min decryption version of ${minDecryption}, latest key version is ${stored.latest_version}`);
        }
        next.min_decryption_version = Math.max(1, minDecryption);
        if (next.min_decryption_version < stored.min_available_version) {
          throw new CofferError('invalid_request', `cannot set min decryption version of ${minDecryption}: versions below ${stored.min_available_version} were trimmed`);
        }
        if (minDecryption === 0) warnings.push('since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1');
      }
      const minEncryption = intField(data, 'min_encryption_version');
      if (minEncryption !== undefined) {
        if (minEncryption < 0 || minEncryption > stored.latest_version) {
          throw new CofferError('invalid_request', `cannot set min encryption version of ${minEncryption}, latest key version is ${stored.latest_version}`);
        }
        next.min_encryption_version = minEncryption;
      }
      if (next.min_encryption_version > 0 && next.min_encryption_version < next.min_decryption_version) {
        throw new CofferError(
          'invalid_request',
          `cannot set min encryption/decryption values; min encryption version of ${next.min_encryption_version} must be greater than or equal to min decryption version of ${next.min_decryption_version}`,
        );
      }
      const deletionAllowed = boolField(data, 'deletion_allowed');
      if (deletionAllowed !== undefined) next.deletion_allowed = deletionAllowed;
      if (boolField(data, 'exportable') === true) throw new CofferError('invalid_request', 'exportable keys are not supported');
      if (boolField(data, 'allow_plaintext_backup') === true) throw new CofferError('invalid_request', 'plaintext backups of keys are not supported');
      if (data.auto_rotate_period !== undefined && data.auto_rotate_period !== 0 && data.auto_rotate_period !== '0') {
        throw new CofferError('invalid_request', 'auto_rotate_period is not supported');
      }
      await this.#save(next);
      return { data: describeKey(next), ...(warnings.length > 0 ? { warnings } : {}) };
    });
  }

  /**
   * Deletes the key material of versions below `min_available_version` for good. Refused above
   * `min_decryption_version` (and above `min_encryption_version` when set): trimmed versions must be ones that
   * are no longer used.
   */
  async #trim(name: string, data: Item): Promise<LogicalResponse> {
    return this.#exclusive(name, async () => {
      const stored = await this.#require(name, 'invalid key name');
      const minAvailable = intField(data, 'min_available_version');
      if (minAvailable === undefined) throw new CofferError('invalid_request', 'missing min_available_version');
      if (minAvailable < stored.min_available_version) throw new CofferError('invalid_request', 'minimum available version cannot be decremented');
      if (minAvailable < 1) throw new CofferError('invalid_request', 'minimum available version must be at least 1');
      if (stored.min_encryption_version > 0 && minAvailable > stored.min_encryption_version) {
        throw new CofferError('invalid_request', 'minimum available version cannot be greater than minimum encryption version');
      }
      if (minAvailable > stored.min_decryption_version) {
        throw new CofferError('invalid_request', 'minimum available version cannot be greater than minimum decryption version');
      }
      const next = trimmed(stored, minAvailable);
      await this.#save(next);
      return { data: describeKey(next) };
    });
  }

  async #encrypt(name: string, data: Item): Promise<LogicalResponse> {
    checkKeyName(name);
    if (data.type !== undefined && data.type !== KEY_TYPE) throw new CofferError('invalid_request', `unknown key type: ${String(data.type)}`);
    const { items, batch } = batchItems(data, 'plaintext', 'missing plaintext to encrypt');
    // Encrypting with an unknown key creates it (the ACL asked for `create` in that case).
    const stored = (await this.#load(name)) ?? (await this.#exclusive(name, async () => (await this.#load(name)) ?? this.#create(name)));
    return batchResponse(batch, items, (item) => {
      const plaintext = decodeBase64(item.plaintext, 'failed to base64-decode plaintext');
      try {
        const out = encryptWith(stored, plaintext, intField(item, 'key_version') ?? 0);
        return { ciphertext: out.ciphertext, key_version: out.version };
      } finally {
        wipe(plaintext);
      }
    });
  }

  async #decrypt(name: string, data: Item): Promise<LogicalResponse> {
    const { items, batch } = batchItems(data, 'ciphertext', 'missing ciphertext to decrypt');
    const stored = await this.#require(name);
    return batchResponse(batch, items, (item) => {
      const { plaintext } = decryptWith(stored, stringOf(item.ciphertext, 'ciphertext'));
      try {
        return { plaintext: Buffer.from(plaintext).toString('base64') };
      } finally {
        wipe(plaintext);
      }
    });
  }

  /** Decrypts and re-encrypts with the latest version (or `key_version`); the plaintext never leaves the server. */
  async #rewrap(name: string, data: Item): Promise<LogicalResponse> {
    const { items, batch } = batchItems(data, 'ciphertext', 'missing ciphertext to rewrap');
    const stored = await this.#require(name);
    return batchResponse(batch, items, (item) => {
      const { plaintext } = decryptWith(stored, stringOf(item.ciphertext, 'ciphertext'));
      try {
        const out = encryptWith(stored, plaintext, intField(item, 'key_version') ?? intField(data, 'key_version') ?? 0);
        return { ciphertext: out.ciphertext, key_version: out.version };
      } finally {
        wipe(plaintext);
      }
    });
  }

  /** A fresh data key encrypted under the named key; `plaintext` also returns it in the clear, `wrapped` does not. */
  async #datakey(kind: string, name: string, data: Item): Promise<LogicalResponse> {
    if (kind !== 'plaintext' && kind !== 'wrapped') throw new CofferError('invalid_request', "Invalid path, must be 'plaintext' or 'wrapped'");
    refuseUnsupported(data);
    const bits = intField(data, 'bits') ?? 256;
    if (![128, 256, 512].includes(bits === 0 ? 256 : bits)) throw new CofferError('invalid_request', 'invalid bit length');
    const stored = await this.#require(name);
    const dataKey = this.random.bytes((bits === 0 ? 256 : bits) / 8);
    try {
      const out = encryptWith(stored, dataKey, intField(data, 'key_version') ?? 0);
      return {
        data: {
          ciphertext: out.ciphertext,
          key_version: out.version,
          ...(kind === 'plaintext' ? { plaintext: Buffer.from(dataKey).toString('base64') } : {}),
        },
      };
    } finally {
      wipe(dataKey);
    }
  }
}

function checkKeyName(name: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new CofferError('invalid_request', 'invalid key name');
}

function checkCreateOptions(data: Item): void {
  const type = data.type ?? KEY_TYPE;
  if (type !== KEY_TYPE) throw new CofferError('invalid_request', `unknown key type ${String(type)}`);
  if (boolField(data, 'derived') === true) throw new CofferError('invalid_request', 'derived keys are not supported');
  if (boolField(data, 'convergent_encryption') === true) throw new CofferError('invalid_request', 'convergent encryption is not supported');
  if (boolField(data, 'exportable') === true) throw new CofferError('invalid_request', 'exportable keys are not supported');
  if (boolField(data, 'allow_plaintext_backup') === true) throw new CofferError('invalid_request', 'plaintext backups of keys are not supported');
}

/**
 * Fields Vault's transit takes that Coffer's keys cannot honour: a context (derived keys only), a nonce (convergent
 * keys only), associated data (not bound by Coffer's ciphertexts), batch failure codes. Refused rather than ignored:
 * a client passing associated data must not believe it is authenticated.
 */
const UNSUPPORTED = ['context', 'nonce', 'associated_data', 'partial_failure_response_code'];

function refuseUnsupported(item: Item): void {
  for (const field of UNSUPPORTED) {
    if (item[field] !== undefined && item[field] !== null && item[field] !== '') throw new CofferError('invalid_request', `"${field}" is not supported by Coffer's transit keys`);
  }
}

/** The items to process: `batch_input`, or the request itself as a single item. */
function batchItems(data: Item, field: string, missing: string): { items: Item[]; batch: boolean } {
  refuseUnsupported(data);
  if (data.batch_input !== undefined) {
    if (!Array.isArray(data.batch_input) || data.batch_input.some((i) => typeof i !== 'object' || i === null || Array.isArray(i))) {
      throw new CofferError('invalid_request', 'batch_input must be a list of objects');
    }
    if (data.batch_input.length === 0) throw new CofferError('invalid_request', 'missing batch input to process');
    for (const item of data.batch_input as Item[]) refuseUnsupported(item);
    return { items: data.batch_input as Item[], batch: true };
  }
  if (data[field] === undefined) throw new CofferError('invalid_request', missing);
  return { items: [data], batch: false };
}

/**
 * Runs `fn` per item. A single request fails as a whole; a batch reports errors per item (with each item's
 * `reference` echoed) and fails as a whole only when every item failed.
 */
function batchResponse(batch: boolean, items: Item[], fn: (item: Item) => Item): LogicalResponse {
  if (!batch) return { data: fn(items[0]!) };
  const results: Item[] = [];
  let failures = 0;
  for (const item of items) {
    const reference = typeof item.reference === 'string' ? { reference: item.reference } : {};
    try {
      results.push({ ...fn(item), ...reference });
    } catch (err) {
      if (!(err instanceof CofferError) || err.code !== 'invalid_request') throw err;
      failures += 1;
      results.push({ error: err.message, ...reference });
    }
  }
  if (failures === items.length) throw new CofferError('invalid_request', String(results[0]!.error));
  return { data: { batch_results: results } };
}

function stringOf(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new CofferError('invalid_request', `missing ${field}`);
  return value;
}

function decodeBase64(value: unknown, message: string): Uint8Array {
  if (value === undefined || value === null || value === '') return new Uint8Array(0);
  if (typeof value !== 'string') throw new CofferError('invalid_request', message);
  const compact = value.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw new CofferError('invalid_request', message);
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** Vault's field parser takes numbers and numeric strings for integer fields. */
function intField(data: Item, name: string): number | undefined {
  const value = data[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new CofferError('invalid_request', `error converting input for field "${name}": expected an integer`);
  return n;
}

function boolField(data: Item, name: string): boolean | undefined {
  const value = data[name];
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true' || value === 1 || value === '1') return true;
  if (value === false || value === 'false' || value === 0 || value === '0') return false;
  throw new CofferError('invalid_request', `error converting input for field "${name}": expected a boolean`);
}
