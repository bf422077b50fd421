import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { CoreObserver } from '../observer.js';
import { isAutoSeal, type SealChoice } from '../seal/auto-seal.js';
import { SealStore, type BackupRecord, type KeyTarget, type ShareConfig } from '../seal/seal-store.js';
import { wipe } from '../secret-bytes.js';
import type { StorageBackend } from '../storage/storage-backend.js';
import type { PendingCommit } from './rekey-state.js';
import type { UnsealKeyHolder } from '../seal/unseal-key-holder.js';

export interface RekeyCommitDeps {
  storage: StorageBackend;
  store: SealStore;
  barrier: AesGcmBarrier;
  /** The enabled seal (an auto seal wraps the new root key of a barrier rekey). */
  seal: SealChoice;
  clock: Clock;
  random: Random;
  logger: Logger;
  observer: CoreObserver;
  unsealKey: UnsealKeyHolder;
}

/**
 * Installs a rekey, for either target through one path, in ONE atomic batch:
 * - the new share configuration, the new key's proof and the pending entry that keeps the old set working until
 *   the new shares are confirmed delivered (a lost response must never lock the operators out);
 * - for the barrier target, a NEW ROOT KEY: the keyring, with a new active term, re-encrypted under it. The old
 *   shares then open nothing written after the rekey, even with an old copy of the storage (the pending entry holds
 *   the new root key wrapped by the old unseal key, and is dropped once delivery is confirmed).
 * Must run under the lifecycle's read side (the caller checked "unsealed" inside it).
 * @returns the finaliser to call once the new shares have been delivered.
 */
export async function commitRekey(
  d: RekeyCommitDeps,
  args: { target: KeyTarget; nonce: string; config: ShareConfig; pending: PendingCommit; backup: BackupRecord | undefined },
): Promise<() => Promise<void>> {
  const { target, nonce, config, pending, backup } = args;
  const ops = d.store.stageRekey(target, {
    config,
    newProof: SealStore.proofFor(target, pending.newKey, pending.newRootKey),
    previous: { nonce, ...pending.oldConfig, proof: pending.previousProof },
  });
  if (backup) ops.push(d.barrier.encryptOp(SealStore.backupOp(target, backup)));
  if (target === 'barrier') {
    const termKey = d.random.bytes(32);
    try {
      await d.barrier.rotateRootKey(pending.newRootKey, ops, { key: termKey, installTime: d.clock.now() });
      d.unsealKey.set(pending.newKey);
    } finally {
      wipe(termKey);
    }
  } else {
    await d.storage.batch(ops);
  }
  d.store.invalidate();
  d.observer.unconfirmedRekey(target, true);
  d.logger.info(
    { nonce, shares: config.secretShares, threshold: config.secretThreshold },
    target === 'barrier' ? 'rekeyed the unseal key: new root key and keyring term' : 'rekeyed the recovery key',
  );
  return async () => {
    const drop = await d.store.stageConfirm(target, nonce);
    if (drop.length === 0) return;
    await d.storage.batch(drop);
    d.observer.unconfirmedRekey(target, false);
    d.logger.info({ nonce, target }, 'the new shares were delivered: the old shares no longer open anything');
  };
}

/**
 * Barrier rekey on an auto seal (Vault's behaviour): a new root key, wrapped by the key service, written in one
 * batch with the keyring (and a new term) re-encrypted under it. The key service is asked first; if it fails
 * nothing changes. Must run under the lifecycle's read side.
 */
export async function rotateRootKeyThroughSeal(d: RekeyCommitDeps): Promise<void> {
  const seal = d.seal;
  if (!isAutoSeal(seal)) throw new CofferError('internal', 'root key rotation through the seal needs an auto seal');
  const newRoot = d.random.bytes(32);
  const termKey = d.random.bytes(32);
  try {
    const blob = await seal.encrypt(newRoot);
    await d.barrier.rotateRootKey(newRoot, d.store.stageAutoWrapping(seal.type, blob), { key: termKey, installTime: d.clock.now() });
    d.logger.info({ seal: seal.type }, 'rotated the root key');
  } finally {
    wipe(newRoot, termKey);
  }
}

/**
 * `sys/rotate/root`: a new root key, the keyring (with a new term) re-encrypted under it, and its wrapping by the
 * current unseal key (Shamir, held since the last unseal) or by the key service (auto seal) — one atomic batch, no
 * shares needed. Refused while a rekey is unconfirmed: its fallback entry wraps the current root key, which this
 * would orphan. Must run under the lifecycle's read side.
 * @throws CofferError `invalid_request` (unconfirmed rekey, unseal key unknown), `seal_unavailable`.
 */
export async function rotateRootKey(d: RekeyCommitDeps): Promise<void> {
  if (isAutoSeal(d.seal)) return rotateRootKeyThroughSeal(d);
  if (await d.store.pending('barrier')) {
    throw new CofferError(
      'invalid_request',
      'a rekey is not yet confirmed delivered: unseal with one set of shares (or finish the rekey) before rotating the root key',
    );
  }
  const newRoot = d.random.bytes(32);
  const termKey = d.random.bytes(32);
  try {
    const wrapping = d.unsealKey.with((unsealKey) => d.store.stageShamirWrapping(unsealKey, newRoot));
    await d.barrier.rotateRootKey(newRoot, wrapping, { key: termKey, installTime: d.clock.now() });
    d.logger.info('rotated the root key');
  } finally {
    wipe(newRoot, termKey);
  }
}
