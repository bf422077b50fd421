import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { StorageBackend, StorageOp } from '../storage/storage-backend.js';
import { openVersioned, sealVersioned } from './aead.js';
import type { Keyring } from './keyring.js';
import { decryptKeyring, KEYRING_PATH } from './keyring-entry.js';

const encoder = new TextEncoder();

/**
 * HA: where an active node that replaced the root key leaves the NEW root key encrypted under the OLD one, in the
 * same batch as the new keyring, so a standby holding the old root key can follow (Vault's `core/upgrade/`). The
 * name is a one-way fingerprint of the old key. Deleted after a grace period (the HA coordinator does it): until
 * then, whoever can combine the OLD shares and read storage can follow the chain, as with Vault's upgrade keys.
 */
export const ROOT_UPGRADE_PREFIX = 'core/upgrade/root/';
const ROOT_UPGRADE_VERSION = 1;

/** The path of the upgrade entry left for standbys that hold `oldRootKey`. */
export function rootUpgradePath(oldRootKey: Uint8Array): string {
  const fingerprint = createHash('sha256').update('coffer root key upgrade\0').update(oldRootKey).digest('hex').slice(0, 32);
  return ROOT_UPGRADE_PREFIX + fingerprint;
}

/** The upgrade entry leading from `oldRootKey` to `newRootKey`, for the batch that replaces the root key. */
export function rootUpgradeOp(oldRootKey: Uint8Array, newRootKey: Uint8Array): StorageOp {
  const path = rootUpgradePath(oldRootKey);
  return { type: 'put', key: path, value: sealVersioned(ROOT_UPGRADE_VERSION, oldRootKey, newRootKey, encoder.encode(path)) };
}

/**
 * The stored keyring, opened with `rootKey` or, after a rekey elsewhere, with the key its upgrade chain leads to.
 * The returned `rootKey` is the caller's own when no upgrade was followed, else a new copy the caller owns; keys of
 * intermediate hops are zeroed.
 * @throws CofferError `invalid_key` when no upgrade entry leads from `rootKey` to the key of the stored keyring,
 *   `integrity` when the keyring is missing or malformed.
 */
export async function loadFollowingUpgrades(storage: StorageBackend, rootKey: Uint8Array): Promise<{ keyring: Keyring; rootKey: Uint8Array }> {
  const entry = await storage.get(KEYRING_PATH);
  let key = rootKey;
  for (let hops = 0; ; hops++) {
    try {
      return { keyring: decryptKeyring(key, entry), rootKey: key };
    } catch (err) {
      if (!(err instanceof CofferError && err.code === 'invalid_key') || hops >= 64) throw err;
    }
    const path = rootUpgradePath(key);
    const blob = await storage.get(path);
    const next = blob === undefined ? undefined : openVersioned(ROOT_UPGRADE_VERSION, key, blob, encoder.encode(path), 'root key upgrade');
    if (key !== rootKey) key.fill(0);
    if (!next)
      throw new CofferError('invalid_key', 'the root key changed and no upgrade entry leads to it: unseal this node with the current shares');
    key = next;
  }
}
