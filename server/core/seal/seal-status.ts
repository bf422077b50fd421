import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { ClusterIdentity, ClusterInfo } from '../lifecycle/cluster-identity.js';
import { isAutoSeal, type SealSetup } from './auto-seal.js';
import type { SealStore } from './seal-store.js';
import type { Unsealer } from './unsealer.js';
import { progressCount, progressNonce } from './unseal-progress.js';

export interface SealStatus {
  type: string;
  /** True with an auto seal: `threshold`/`shares` are then the recovery key's. */
  recoverySeal: boolean;
  /** A seal migration is pending: unseal with `migrate`. */
  migration: boolean;
  initialized: boolean;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
  nonce: string;
  storageType: string;
  cluster?: ClusterInfo;
}

/** What the seal-status view reads. */
export interface SealStatusDeps {
  readonly unsealer: Unsealer;
  readonly sealStore: SealStore;
  readonly barrier: AesGcmBarrier;
  readonly cluster: ClusterIdentity;
  readonly seals: SealSetup;
  /** Reported as `storage_type`. */
  readonly storageType: string;
}

/**
 * The seal status as `sys/seal-status` reports it: the stored seal configuration (the configured seal's type before
 * init), the recovery key's shares with an auto seal, the unseal progress, and the cluster once unsealed. Changes
 * nothing. @throws what reading the seal entries from storage throws.
 */
export async function readSealStatus(deps: SealStatusDeps): Promise<SealStatus> {
  const plan = await deps.unsealer.plan();
  const config = plan.config;
  const auto = config ? config.type !== 'shamir' : isAutoSeal(deps.seals.active);
  const shares = auto && config ? await deps.sealStore.recoveryConfig() : config;
  const sealed = deps.barrier.sealed;
  const cluster = sealed ? undefined : deps.cluster.info;
  const progress = deps.unsealer.progress;
  return {
    type: config?.type ?? deps.seals.active.type,
    recoverySeal: auto,
    migration: plan.migration !== undefined,
    initialized: config !== undefined,
    sealed,
    threshold: shares?.secretThreshold ?? 0,
    shares: shares?.secretShares ?? 0,
    progress: progressCount(progress),
    nonce: progressNonce(progress),
    storageType: deps.storageType,
    ...(cluster ? { cluster } : {}),
  };
}
