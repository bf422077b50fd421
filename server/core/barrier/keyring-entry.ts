import { CofferError } from '../errors.js';
import type { StorageOp } from '../storage/storage-backend.js';
import { aeadOpen, aeadSeal } from './aead.js';
import type { BarrierOp } from './barrier.js';
import { ENTRY_VERSION, entryTerm, HEADER_BYTES, ROOT_KEY_TERM } from './entry-header.js';
import { Keyring } from './keyring.js';

/** Where the keyring lives: one entry, encrypted with the root key (header term `ROOT_KEY_TERM`). */
export const KEYRING_PATH = 'core/keyring';

const encoder = new TextEncoder();

/** The additional authenticated data of the entry stored at `path`: the path's UTF-8 bytes. */
export function entryAad(path: string): Uint8Array {
  return encoder.encode(path);
}

/** `term | version | nonce | ciphertext | tag`, authenticated with `path` (`aad`: its {@link entryAad}, if at hand). */
export function encryptEntry(key: Uint8Array, term: number, path: string, plaintext: Uint8Array, aad = entryAad(path)): Uint8Array {
  const out = aeadSeal(key, plaintext, aad, HEADER_BYTES);
  new DataView(out.buffer, out.byteOffset, HEADER_BYTES).setUint32(0, term);
  out[4] = ENTRY_VERSION;
  return out;
}

/**
 * The plaintext of an entry written by `encryptEntry` for `path` with `key`. The caller has read the term from the
 * header and chosen the key; this only authenticates and decrypts.
 * @throws when `key` or `path` does not authenticate the entry.
 */
export function decryptEntry(key: Uint8Array, path: string, entry: Uint8Array, aad = entryAad(path)): Uint8Array {
  return aeadOpen(key, entry.subarray(HEADER_BYTES), aad);
}

/** The keyring entry, encrypted with the root key. */
export function encryptKeyring(rootKey: Uint8Array, keyring: Keyring): StorageOp & { type: 'put' } {
  const plain = keyring.serialize();
  try {
    return { type: 'put', key: KEYRING_PATH, value: encryptEntry(rootKey, ROOT_KEY_TERM, KEYRING_PATH, plain) };
  } finally {
    plain.fill(0);
  }
}

/**
 * @throws CofferError `invalid_key` when `rootKey` does not authenticate the stored keyring, `integrity` when it
 * is missing or malformed.
 */
export function decryptKeyring(rootKey: Uint8Array, entry: Uint8Array | undefined): Keyring {
  if (!entry) throw new CofferError('integrity', 'keyring is missing from storage');
  if (entryTerm(entry) !== ROOT_KEY_TERM) throw new CofferError('integrity', 'keyring entry has a wrong term');
  let plain: Uint8Array;
  try {
    plain = decryptEntry(rootKey, KEYRING_PATH, entry);
  } catch (err) {
    throw new CofferError('invalid_key', 'root key does not decrypt the keyring', { cause: err });
  }
  try {
    return Keyring.deserialize(plain);
  } finally {
    plain.fill(0);
  }
}

/** Encrypts a barrier op under the active term of `keyring`: for init, which commits before the barrier is live. */
export function encryptOpWith(keyring: Keyring, op: BarrierOp): StorageOp {
  if (op.type === 'delete') return { type: 'delete', key: op.path };
  const term = keyring.activeTerm;
  return { type: 'put', key: op.path, value: encryptEntry(keyring.keyFor(term)!, term, op.path, op.value) };
}
