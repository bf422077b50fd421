import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { CoreObserver } from '../observer.js';
import { combineQuorum } from '../quorum/quorum.js';
import { wipe } from '../secret-bytes.js';
import type { StorageBackend } from '../storage/storage-backend.js';
import { isAutoSeal, SHAMIR, type SealSetup } from './auto-seal.js';
import type { SealConfig } from './seal-config.js';
import { stageMigration, type SealMigration } from './seal-migration.js';
import { KEY_TARGETS, proveWith, type KeyTarget, type PendingRekey, type SealStore } from './seal-store.js';
import { addPart, clearProgress, IDLE, type UnsealProgress } from './unseal-progress.js';

const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 33;

/** How the stored seal and the configured seals fit together. */
export interface SealPlan {
  readonly config: SealConfig | undefined;
  /** A pending migration (the old seal is the stored one). */
  readonly migration?: SealMigration;
  /** A mismatch the operator must fix in the configuration. */
  readonly mismatch?: string;
}

export interface UnsealerDeps {
  storage: StorageBackend;
  store: SealStore;
  barrier: AesGcmBarrier;
  lifecycle: Lifecycle;
  seals: SealSetup;
  random: Random;
  logger: Logger;
  observer: CoreObserver;
}

/** One way the submitted shares may open the root key. */
interface Candidate {
  readonly threshold: number;
  /** The root key if the combined key is right. @throws CofferError `invalid_key` otherwise. */
  open(combined: Uint8Array): Promise<Uint8Array>;
  /** The unconfirmed rekey this candidate settles, and whether it is that rekey's OLD set. */
  readonly settles?: { pending: PendingRekey; oldSet: boolean };
}

/**
 * Opens the barrier: with a quorum of unseal shares (Shamir), recovery shares (auto seal after `sys/seal`), or the
 * auto seal's key service. Every path runs under the lifecycle's write side and proves the key by authenticated
 * decryption before anything is written.
 */
export class Unsealer {
  readonly #d: UnsealerDeps;
  #progress: UnsealProgress = IDLE;

  constructor(deps: UnsealerDeps) {
    this.#d = deps;
    deps.lifecycle.onSealing(() => {
      this.#progress = clearProgress(this.#progress);
    });
  }

  get progress(): UnsealProgress {
    return this.#progress;
  }

  async plan(): Promise<SealPlan> {
    const config = await this.#d.store.config();
    const { active, disabled } = this.#d.seals;
    if (!config || config.type === active.type) return { config };
    if (disabled && config.type === disabled.type) return { config, migration: { from: disabled, to: active } };
    // Vault's rule: moving from Shamir to an auto seal needs no `seal "shamir"` stanza.
    if (config.type === 'shamir' && !disabled) return { config, migration: { from: SHAMIR, to: active } };
    return {
      config,
      mismatch: `the stored data is sealed with a ${config.type} seal but the configuration enables a ${active.type} seal: to migrate, keep a seal "${config.type}" stanza with disabled = "true"`,
    };
  }

  /**
   * Checked at start-up: refuses a configuration that cannot unseal the stored data, says what happens next, and
   * makes an unconfirmed rekey loud.
   * @throws CofferError `config` for a seal mismatch.
   */
  async checkSetup(): Promise<void> {
    const plan = await this.plan();
    if (plan.mismatch) throw new CofferError('config', plan.mismatch);
    const log = this.#d.logger;
    if (plan.migration) {
      log.warn(
        { from: plan.migration.from.type, to: plan.migration.to.type },
        'seal migration pending: unseal with the old seal\'s shares and "migrate" set (coffer operator unseal -migrate)',
      );
    } else if (this.#d.seals.disabled && plan.config) {
      log.warn({ disabled: this.#d.seals.disabled.type }, 'the disabled seal stanza is not needed any more: the data already uses the enabled seal');
    }
    await this.reportPending();
  }

  /**
   * Logs (and reports to the observer) every rekey whose result was never confirmed delivered: until one set of
   * shares is used, BOTH the old and the new set open the server. @returns whether one exists.
   */
  async reportPending(): Promise<boolean> {
    let any = false;
    for (const target of KEY_TARGETS) {
      const pending = await this.#d.store.pending(target);
      this.#d.observer.unconfirmedRekey(target, pending !== undefined);
      if (!pending) continue;
      any = true;
      this.#d.logger.warn(
        { target, nonce: pending.nonce },
        `a ${target === 'barrier' ? 'rekey' : 'recovery rekey'} result may have been lost: the server stopped (or the client went away) before the new shares were delivered. Both the old and the new shares are accepted until one set is used; using the OLD set rolls the rekey back.`,
      );
    }
    return any;
  }

  /** Discards the shares of the current attempt. @throws CofferError `unsealed` when unsealed. */
  async reset(): Promise<void> {
    await this.#d.lifecycle.exclusive(async () => {
      if (!this.#d.barrier.sealed) throw new CofferError('unsealed', 'vault is unsealed');
      this.#progress = clearProgress(this.#progress);
    });
  }

  /**
   * Adds one unseal share (Shamir) or recovery share (auto seal). At the threshold the shares are combined and the
   * result is proven by authenticated decryption; the attempt is cleared whatever the outcome. With `migrate` the
   * shares belong to the old seal of a pending migration, which completes in one batch.
   * @throws CofferError `not_initialized`, `invalid_request`, `invalid_key`, `seal_unavailable`, `seal_failed`.
   */
  async submit(key: Uint8Array, migrate: boolean): Promise<void> {
    const { lifecycle, barrier, store, observer, logger } = this.#d;
    await lifecycle.exclusive(async () => {
      store.invalidate(); // the threshold comes from storage, which may have changed
      const plan = await this.plan();
      const config = plan.config;
      if (!config) throw new CofferError('not_initialized', 'Vault is not initialized');
      if (!barrier.sealed) return;
      if (plan.mismatch) throw new CofferError('seal_failed', plan.mismatch);
      if (migrate && !plan.migration) throw new CofferError('invalid_request', "can't perform a seal migration, no migration seal found");
      if (!migrate && plan.migration) throw new CofferError('invalid_request', 'migrate option not provided and seal migration is pending');
      if (key.length < MIN_KEY_BYTES) throw new CofferError('invalid_request', `key is shorter than minimum ${MIN_KEY_BYTES} bytes`);
      if (key.length > MAX_KEY_BYTES) throw new CofferError('invalid_request', `key is longer than maximum ${MAX_KEY_BYTES} bytes`);
      // Normally one candidate; two while a rekey's new shares may not have reached their holders.
      const candidates = await this.#candidates(config, plan.migration);
      if (candidates.length === 0) throw new CofferError('invalid_request', 'this server has no recovery keys: it unseals only through its seal');

      this.#progress = addPart(this.#progress, key, () => this.#d.random.uuid());
      if (this.#progress.kind !== 'collecting') return;
      const quorum = this.#progress;
      let lastError: unknown;
      for (const candidate of candidates.filter((c) => quorum.parts.length >= c.threshold)) {
        let combined: Uint8Array | undefined;
        let rootKey: Uint8Array | undefined;
        try {
          combined = await combineQuorum(quorum, candidate.threshold);
          rootKey = await candidate.open(combined);
          if (plan.migration) {
            const { ops } = await stageMigration(store, plan.migration, config, combined, rootKey);
            await this.#d.storage.batch(ops);
            store.invalidate();
            logger.info(
              { from: plan.migration.from.type, to: plan.migration.to.type },
              'seal migrated: remove the disabled seal stanza from the configuration',
            );
          }
          await barrier.unseal(rootKey);
          if (candidate.settles) await this.#settle(candidate.settles.pending, candidate.settles.oldSet);
          await lifecycle.completeUnseal();
          this.#progress = clearProgress(this.#progress);
          observer.unsealAttempt('shares', 'success');
          logger.info('unsealed');
          return;
        } catch (err) {
          if (!barrier.sealed) await lifecycle.sealHeld();
          if (!(err instanceof CofferError && err.code === 'invalid_key')) {
            this.#progress = clearProgress(this.#progress);
            observer.unsealAttempt('shares', 'failure', err instanceof CofferError ? err.code : 'internal');
            throw err;
          }
          lastError = err;
        } finally {
          wipe(combined, rootKey);
        }
      }
      if (quorum.parts.length >= Math.max(...candidates.map((c) => c.threshold))) {
        // Every candidate had its threshold and none worked: the attempt is over.
        this.#progress = clearProgress(this.#progress);
        observer.unsealAttempt('shares', 'failure', 'invalid_key');
        logger.warn('unseal attempt failed: the shares do not combine to the key');
        throw lastError;
      }
    });
  }

  /**
   * Unseals through the configured auto seal: at start-up and from the retry loop. Does nothing for Shamir,
   * during a migration, or when already unsealed. @returns whether the server is unsealed afterwards.
   * @throws CofferError `seal_unavailable` (try again later), `seal_failed`, `integrity`.
   */
  async unsealWithSeal(): Promise<boolean> {
    const { lifecycle, barrier, store, observer, logger } = this.#d;
    return lifecycle.exclusive(async () => {
      store.invalidate();
      const plan = await this.plan();
      if (!plan.config) return false;
      if (!barrier.sealed) return true;
      if (plan.mismatch) throw new CofferError('seal_failed', plan.mismatch);
      const seal = this.#d.seals.active;
      if (plan.migration || !isAutoSeal(seal)) return false;
      let rootKey: Uint8Array | undefined;
      try {
        rootKey = await store.unwrapWithSeal(seal);
        await barrier.unseal(rootKey);
      } catch (err) {
        const failure =
          err instanceof CofferError && err.code === 'invalid_key'
            ? new CofferError('seal_failed', `${seal.description} returned a key that does not open the keyring`)
            : err;
        observer.unsealAttempt('seal', 'failure', failure instanceof CofferError ? failure.code : 'internal');
        throw failure;
      } finally {
        wipe(rootKey);
      }
      observer.unsealAttempt('seal', 'success');
      await lifecycle.completeUnseal();
      logger.info({ seal: seal.type }, 'unsealed through the seal');
      return true;
    });
  }

  /**
   * The ways the submitted shares may open the root key: the current proof of the target people hold shares of,
   * plus the previous one an unconfirmed rekey left. With an auto seal a proven recovery key lets the key service
   * unwrap the root key. During a migration the old seal is the one used and no pending rekey counts.
   */
  async #candidates(config: SealConfig, migration: SealMigration | undefined): Promise<Candidate[]> {
    const { store } = this.#d;
    const target: KeyTarget = config.type === 'shamir' ? 'barrier' : 'recovery';
    const threshold = (await store.shareConfig(target))?.secretThreshold ?? 0;
    if (threshold === 0) return [];
    let toRootKey: (proven: Uint8Array) => Promise<Uint8Array> = async (rootKey) => rootKey;
    if (target === 'recovery') {
      const seal = migration?.from ?? this.#d.seals.active;
      if (!isAutoSeal(seal) || seal.type !== config.type)
        throw new CofferError('seal_failed', `no ${config.type} seal is configured to unwrap the root key`);
      toRootKey = () => store.unwrapWithSeal(seal);
    }
    const current = await store.currentProof(target);
    const pending = migration ? undefined : await store.pending(target);
    const candidates: Candidate[] = [
      { threshold, open: async (key) => toRootKey(proveWith(target, key, current)), ...(pending ? { settles: { pending, oldSet: false } } : {}) },
    ];
    if (pending) {
      candidates.push({
        threshold: pending.secretThreshold,
        open: async (key) => toRootKey(proveWith(target, key, pending.proof)),
        settles: { pending, oldSet: true },
      });
    }
    return candidates;
  }

  /**
   * An unconfirmed rekey, settled by the set that just proved itself: the new set makes the rekey final; the OLD set
   * rolls it back (its configuration and proof return). A rollback is logged as such, never silently.
   */
  async #settle(pending: PendingRekey, oldSetWon: boolean): Promise<void> {
    await this.#d.storage.batch(this.#d.store.stageResolve(pending, oldSetWon));
    this.#d.store.invalidate();
    this.#d.observer.unconfirmedRekey(pending.target, false);
    const what = pending.target === 'barrier' ? 'rekey' : 'recovery rekey';
    if (oldSetWon) {
      this.#d.observer.rekeyRollback(pending.target);
      this.#d.logger.error(
        { target: pending.target, nonce: pending.nonce },
        `ROLLBACK: the shares from before an unconfirmed ${what} were used, so that ${what} is rolled back and its new shares no longer work`,
      );
    } else {
      this.#d.logger.warn(
        { target: pending.target, nonce: pending.nonce },
        `the shares of an unconfirmed ${what} were used: they are now the only valid shares`,
      );
    }
  }

  /**
   * Proves a combined recovery key against the current proof or the previous one an unconfirmed recovery rekey
   * left, settling that rekey when it matters. Called under the lifecycle's read side (rekey of an auto seal).
   * @throws CofferError `invalid_key`.
   */
  async proveRecovery(key: Uint8Array): Promise<void> {
    const { store } = this.#d;
    const pending = await store.pending('recovery');
    try {
      await store.prove('recovery', key);
      if (pending) await this.#settle(pending, false);
    } catch (err) {
      if (!pending || !(err instanceof CofferError && err.code === 'invalid_key')) throw err;
      proveWith('recovery', key, pending.proof);
      await this.#settle(pending, true);
    }
  }
}
