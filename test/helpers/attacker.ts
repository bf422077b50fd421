import { decryptKeyring, entryTerm } from '../../server/core/barrier/aes-gcm-barrier.js';
import { aeadOpen } from '../../server/core/barrier/aead.js';
import type { Keyring } from '../../server/core/barrier/keyring.js';
import { unwrapRootKey } from '../../server/core/seal/shamir-seal.js';
import type { StorageBackend } from '../../server/core/storage/storage-backend.js';

/** Every raw entry of a backend: what an attacker holding a copy of the data directory has. */
export async function rawCopy(storage: StorageBackend): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (prefix: string): Promise<void> => {
    for (const child of await storage.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else out.set(prefix + child, (await storage.get(prefix + child))!);
    }
  };
  await walk('');
  return out;
}

/**
 * Everything the attacker can decrypt from `current` with a quorum of old shares and an old storage copy: every
 * root key the old unseal key unwraps (from any copy), every keyring those open, then every entry of `current`
 * under a term those keyrings hold.
 */
export function attackerReads(oldUnsealKey: Uint8Array, copies: Array<Map<string, Uint8Array>>, current: Map<string, Uint8Array>): Set<string> {
  const rootKeys: Uint8Array[] = [];
  for (const copy of copies) {
    for (const path of ['core/sealed-root-key', 'core/sealed-root-key-previous']) {
      const raw = copy.get(path);
      if (!raw) continue;
      const wrapped = path.endsWith('previous') ? new Uint8Array(Buffer.from(JSON.parse(new TextDecoder().decode(raw)).wrapped, 'base64')) : raw;
      try {
        rootKeys.push(unwrapRootKey(oldUnsealKey, wrapped));
      } catch {
        // not this copy
      }
    }
  }
  const keyrings: Keyring[] = [];
  for (const root of rootKeys) {
    for (const copy of [...copies, current]) {
      try {
        keyrings.push(decryptKeyring(root, copy.get('core/keyring')));
      } catch {
        // this root key does not open this keyring
      }
    }
  }
  const readable = new Set<string>();
  for (const [path, entry] of current) {
    if (path.startsWith('core/')) continue;
    for (const keyring of keyrings) {
      const key = keyring.keyFor(entryTerm(entry));
      if (!key) continue;
      try {
        aeadOpen(key, entry.subarray(5), new TextEncoder().encode(path));
        readable.add(path);
      } catch {
        // wrong key
      }
    }
  }
  return readable;
}
