import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import type { LogicalResponse } from '../secret-engine.js';
import { decrypt, encrypt, encryptionVersion, type CipherOptions } from './ciphers.js';
import { batchItems, batchResponse, decodeBase64, intField, stringOf, type Item } from './fields.js';
import { checkKeyName, createKey } from './key-management.js';
import type { KeyStore } from './key-store.js';
import { KEY_TYPE_INFO, parseKeyType } from './key-types.js';
import { destroyKey, type TransitKey } from './transit-key.js';

/** `context` and `associated_data` of one item (falling back to the request's), decoded. */
function cipherOptions(item: Item, data: Item): CipherOptions {
  if ((item.nonce ?? data.nonce) !== undefined && (item.nonce ?? data.nonce) !== '') throw new CofferError('invalid_request', 'nonce provided when not allowed');
  return {
    context: decodeBase64(item.context ?? data.context, 'failed to base64-decode context'),
    associatedData: decodeBase64(item.associated_data ?? data.associated_data, 'failed to base64-decode associated_data'),
  };
}

/** The version each item will use, so encryptions can be counted before any is made. */
function plannedVersions(key: TransitKey, items: Item[], data: Item): Map<number, number> {
  const counts = new Map<number, number>();
  for (const item of items) {
    try {
      const v = encryptionVersion(key, intField(item, 'key_version') ?? intField(data, 'key_version') ?? 0);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    } catch {
      // The item fails on its own below.
    }
  }
  return counts;
}

async function reserve(store: KeyStore, key: TransitKey, items: Item[], data: Item): Promise<void> {
  for (const [version, count] of plannedVersions(key, items, data)) await store.reserveEncryptions(key, version, count);
}

/**
 * Encrypts each item. An unknown key is created first with the request's `type` (Vault's upsert; the ACL asked
 * for `create` in that case).
 */
export async function encryptOp(store: KeyStore, name: string, data: Item): Promise<LogicalResponse> {
  checkKeyName(name);
  const { items, batch } = batchItems(data, 'plaintext', 'missing plaintext to encrypt');
  let key = await store.load(name);
  if (!key) {
    parseKeyType(data.type);
    const upsert = { ...data };
    if (!KEY_TYPE_INFO[parseKeyType(data.type)].encryption) throw new CofferError('invalid_request', `key type ${String(data.type)} does not support encryption`);
    // A derived key is created for a request that carries a context, as Vault does on upsert.
    const hasContext = [data, ...items].some((i) => typeof i.context === 'string' && i.context !== '');
    if (hasContext && upsert.derived === undefined) upsert.derived = true;
    await createKey(store, name, upsert);
    key = await store.load(name);
    if (!key) throw new CofferError('invalid_request', 'encryption key not found');
  }
  const loaded = key;
  try {
    await reserve(store, loaded, items, data);
    return batchResponse(batch, items, (item) => {
      const plaintext = decodeBase64(item.plaintext, 'failed to base64-decode plaintext');
      try {
        const version = encryptionVersion(loaded, intField(item, 'key_version') ?? intField(data, 'key_version') ?? 0);
        return { ciphertext: encrypt(loaded, version, plaintext, cipherOptions(item, data)), key_version: version };
      } finally {
        wipe(plaintext);
      }
    });
  } finally {
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
    await reserve(store, key, items, data);
    return batchResponse(batch, items, (item) => {
      const options = cipherOptions(item, data);
      const { plaintext } = decrypt(key, stringOf(item.ciphertext, 'ciphertext'), options);
      try {
        const version = encryptionVersion(key, intField(item, 'key_version') ?? intField(data, 'key_version') ?? 0);
        return { ciphertext: encrypt(key, version, plaintext, options), key_version: version };
      } finally {
        wipe(plaintext);
      }
    });
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
