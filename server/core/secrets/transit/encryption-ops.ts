import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import type { LogicalResponse } from '../secret-engine.js';
import { decrypt, encrypt, encryptionVersion, requireContext, checkPlaintextSize, type CipherOptions } from './ciphers.js';
import { batchItems, batchResponse, decodeBase64, intField, stringOf, type Item } from './fields.js';
import { checkKeyName, createKey } from './key-management.js';
import type { KeyStore } from './key-store.js';
import { KEY_TYPE_INFO, parseKeyType } from './key-types.js';
import { destroyKey, type TransitKey } from './transit-key.js';

/** `context` and `associated_data` of one item (falling back to the request's), decoded. */
function cipherOptions(item: Item, data: Item): CipherOptions {
  if ((item.nonce ?? data.nonce) !== undefined && (item.nonce ?? data.nonce) !== '')
    throw new CofferError('invalid_request', 'nonce provided when not allowed');
  return {
    context: decodeBase64(item.context ?? data.context, 'failed to base64-decode context'),
    associatedData: decodeBase64(item.associated_data ?? data.associated_data, 'failed to base64-decode associated_data'),
  };
}

/** One item that passed every check that can fail, ready to encrypt. */
interface Prepared {
  version: number;
  plaintext: Uint8Array;
  options: CipherOptions;
}

type Outcome<T> = { ok: T } | { error: CofferError };

/**
 * Runs every check that can fail per item before anything is counted or written, so a refused request (a single
 * bad item, or a batch whose items all fail) changes nothing. Items that fail keep their error for the response.
 */
function prepareAll<T>(batch: boolean, items: Item[], prepare: (item: Item) => T): Array<Outcome<T>> {
  const outcomes = items.map((item): Outcome<T> => {
    try {
      return { ok: prepare(item) };
    } catch (err) {
      if (err instanceof CofferError && err.code === 'invalid_request') return { error: err };
      throw err;
    }
  });
  const firstError = outcomes.find((o): o is { error: CofferError } => 'error' in o);
  if (firstError && (!batch || outcomes.every((o) => 'error' in o))) {
    wipePrepared(outcomes);
    throw firstError.error;
  }
  return outcomes;
}

function wipePrepared(outcomes: Array<Outcome<Prepared>> | Array<Outcome<unknown>>): void {
  for (const o of outcomes) if ('ok' in o && o.ok && typeof o.ok === 'object' && 'plaintext' in o.ok) wipe((o.ok as Prepared).plaintext);
}

/** Counts the encryptions about to be made, per version (refused as a whole at a version's limit). */
async function reserve(store: KeyStore, key: TransitKey, outcomes: Array<Outcome<Prepared>>): Promise<void> {
  const counts = new Map<number, number>();
  for (const o of outcomes) if ('ok' in o) counts.set(o.ok.version, (counts.get(o.ok.version) ?? 0) + 1);
  for (const [version, count] of counts) await store.reserveEncryptions(key, version, count);
}

/** Encrypts the prepared items and answers in Vault's single or batch shape (references echoed). */
function encryptAll(key: TransitKey, batch: boolean, items: Item[], outcomes: Array<Outcome<Prepared>>): LogicalResponse {
  const results = outcomes.map((o, i) => {
    const reference = typeof items[i]!.reference === 'string' ? { reference: items[i]!.reference } : {};
    if ('error' in o) return { error: o.error.message, ...reference };
    return { ciphertext: encrypt(key, o.ok.version, o.ok.plaintext, o.ok.options), key_version: o.ok.version, ...reference };
  });
  return { data: batch ? { batch_results: results } : results[0]! };
}

function versionFor(key: TransitKey, item: Item, data: Item): number {
  return encryptionVersion(key, intField(item, 'key_version') ?? intField(data, 'key_version') ?? 0);
}

/**
 * Encrypts each item. An unknown key is created first with the request's `type` (Vault's upsert; the ACL asked
 * for `create` in that case) — but only once at least one item is valid.
 */
export async function encryptOp(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  checkKeyName(name);
  const { items, batch } = batchItems(data, 'plaintext', 'missing plaintext to encrypt');
  let key = await store.load(name);
  if (!key) {
    const type = parseKeyType(data.type);
    if (!KEY_TYPE_INFO[type].encryption) throw new CofferError('invalid_request', `key type ${type} does not support encryption`);
    wipePrepared(
      prepareAll(batch, items, (item) => ({
        plaintext: decodeBase64(item.plaintext, 'failed to base64-decode plaintext'),
        options: cipherOptions(item, data),
      })),
    );
    const upsert = { ...data };
    // A derived key is created for a request that carries a context, as Vault does on upsert.
    const hasContext = [data, ...items].some((i) => typeof i.context === 'string' && i.context !== '');
    if (hasContext && upsert.derived === undefined) upsert.derived = true;
    await createKey(store, name, upsert);
    key = await store.load(name);
    if (!key) throw new CofferError('invalid_request', 'encryption key not found');
  }
  const loaded = key;
  let outcomes: Array<Outcome<Prepared>> = [];
  try {
    outcomes = prepareAll(batch, items, (item) => {
      const version = versionFor(loaded, item, data);
      const options = cipherOptions(item, data);
      requireContext(loaded, options.context);
      const plaintext = decodeBase64(item.plaintext, 'failed to base64-decode plaintext');
      try {
        checkPlaintextSize(loaded, plaintext);
      } catch (err) {
        wipe(plaintext);
        throw err;
      }
      return { version, options, plaintext };
    });
    await reserve(store, loaded, outcomes);
    return encryptAll(loaded, batch, items, outcomes);
  } finally {
    wipePrepared(outcomes);
    destroyKey(loaded);
  }
}

export function decryptOp(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  const { items, batch } = batchItems(data, 'ciphertext', 'missing ciphertext to decrypt');
  return store.use(name, 'encryption key not found', (key) =>
    batchResponse(batch, items, (item) => {
      const { plaintext } = decrypt(key, stringOf(item.ciphertext, 'ciphertext'), cipherOptions(item, data));
      try {
        return { plaintext: Buffer.from(plaintext).toString('base64') };
      } finally {
        wipe(plaintext);
      }
    }),
  );
}

/** Decrypts and re-encrypts with the latest version (or `key_version`); the plaintext never leaves the server. */
export function rewrapOp(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  const { items, batch } = batchItems(data, 'ciphertext', 'missing ciphertext to rewrap');
  return store.use(name, 'encryption key not found', async (key) => {
    let outcomes: Array<Outcome<Prepared>> = [];
    try {
      outcomes = prepareAll(batch, items, (item) => {
        const options = cipherOptions(item, data);
        const version = versionFor(key, item, data);
        return { version, options, plaintext: decrypt(key, stringOf(item.ciphertext, 'ciphertext'), options).plaintext };
      });
      await reserve(store, key, outcomes);
      return encryptAll(key, batch, items, outcomes);
    } finally {
      wipePrepared(outcomes);
    }
  });
}

/** A fresh data key encrypted under the named key; `plaintext` also returns it in the clear, `wrapped` does not. */
export function datakeyOp(store: KeyStore, kind: string, name: string, data: Item): Promise<LogicalResponse> {
  if (kind !== 'plaintext' && kind !== 'wrapped') throw new CofferError('invalid_request', "Invalid path, must be 'plaintext' or 'wrapped'");
  const requested = intField(data, 'bits') ?? 256;
  const bits = requested === 0 ? 256 : requested;
  if (![128, 256, 512].includes(bits)) throw new CofferError('invalid_request', 'invalid bit length');
  return store.use(name, 'encryption key not found', async (key) => {
    const version = encryptionVersion(key, intField(data, 'key_version') ?? 0);
    const options = cipherOptions(data, data);
    requireContext(key, options.context);
    await store.reserveEncryptions(key, version, 1);
    const dataKey = store.random.bytes(bits / 8);
    try {
      return {
        data: {
          ciphertext: encrypt(key, version, dataKey, options),
          key_version: version,
          ...(kind === 'plaintext' ? { plaintext: Buffer.from(dataKey).toString('base64') } : {}),
        },
      };
    } finally {
      wipe(dataKey);
    }
  });
}
