import type { StorageOp } from '../storage/storage-backend.js';
import { isAutoSeal, type SealChoice } from './auto-seal.js';
import type { SealConfig } from './seal-config.js';
import type { SealStore } from './seal-store.js';

/** A pending change of seal: the stored data uses `from`, the configuration enables `to`. */
export interface SealMigration {
  readonly from: SealChoice;
  readonly to: SealChoice;
}

/**
 * The ops that complete a seal migration, for ONE batch written before the barrier is unsealed:
 * - Shamir → auto: the key service wraps the root key; the old unseal key becomes the recovery key, so the same
 *   shares (same threshold) are now recovery shares.
 * - auto → Shamir: the recovery key becomes the unseal key, so the recovery shares are now unseal shares.
 * - auto → auto: the new key service wraps the root key; recovery shares are unchanged.
 * A crash before the batch leaves the migration pending; after it, the new seal is in use.
 * @param humanKey the key the submitted shares combined to (unseal key or recovery key).
 */
export async function stageMigration(
  store: SealStore,
  migration: SealMigration,
  current: SealConfig,
  humanKey: Uint8Array,
  rootKey: Uint8Array,
): Promise<{ ops: StorageOp[]; next: SealConfig }> {
  const { from, to } = migration;
  if (!isAutoSeal(to)) {
    const recovery = await store.recoveryConfig();
    const next: SealConfig = { type: 'shamir', secretShares: recovery?.secretShares ?? 0, secretThreshold: recovery?.secretThreshold ?? 0 };
    return { ops: [...store.stageShamirWrapping(humanKey, rootKey), ...store.stageDropRecovery(), ...store.stageConfig(next)], next };
  }
  const next: SealConfig = { type: to.type, secretShares: 1, secretThreshold: 1 };
  const ops = store.stageAutoWrapping(to.type, await to.encrypt(rootKey));
  if (!isAutoSeal(from)) {
    ops.push(...store.stageRecovery(current, humanKey), ...store.stageDropPending('barrier'));
  }
  ops.push(...store.stageConfig(next));
  return { ops, next };
}
