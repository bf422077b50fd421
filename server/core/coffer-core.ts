import type { Logger } from 'pino';
import { AesGcmBarrier } from './barrier/aes-gcm-barrier.js';
import type { RotationConfig, TermInfo } from './barrier/keyring.js';
import type { Clock, Random } from './clock.js';
import { ClusterIdentity, type ClusterInfo } from './lifecycle/cluster-identity.js';
import { initialize, type InitRequest, type InitResult } from './lifecycle/initializer.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { MountTable } from './mounts/mount-table.js';
import { NO_OBSERVER, type CoreObserver } from './observer.js';
import { PolicyStore } from './policy/policy-store.js';
import { RekeyEngine } from './rekey/rekey-engine.js';
import { RotationService } from './rotation/rotation-service.js';
import { isAutoSeal, SHAMIR, type SealSetup } from './seal/auto-seal.js';
import { SealStore } from './seal/seal-store.js';
import { Unsealer } from './seal/unsealer.js';
import { progressCount, progressNonce } from './seal/unseal-progress.js';
import type { StorageBackend } from './storage/storage-backend.js';
import { TokenStore } from './token/token-store.js';

export type { InitRequest, InitResult };

export interface CoreOptions {
  storage: StorageBackend;
  /** Reported as `storage_type` in seal-status. */
  storageType: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The configured seal(s); Shamir when absent. */
  seal?: SealSetup;
  /** Receives unseal, rekey and decryption events (metrics). */
  observer?: CoreObserver;
  /** Config `cluster_name`: the name given to the cluster at init. */
  clusterName?: string;
}

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

/**
 * The core's composition: builds each service once and wires the stores to the lifecycle's hooks. It holds no
 * logic of its own beyond the seal-status view; the delegating methods keep callers (the process entry point,
 * tests, the bench) short. HTTP routes receive the individual services, never this object.
 */
export class CofferCore {
  readonly barrier: AesGcmBarrier;
  readonly lifecycle: Lifecycle;
  readonly sealStore: SealStore;
  readonly unsealer: Unsealer;
  readonly rotation: RotationService;
  readonly rekey: RekeyEngine;
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;
  readonly cluster: ClusterIdentity;
  readonly clock: Clock;
  readonly #storage: StorageBackend;
  readonly #storageType: string;
  readonly #seals: SealSetup;
  readonly #random: Random;
  readonly #log: Logger;
  readonly #clusterName: string | undefined;

  constructor(options: CoreOptions) {
    const { storage, clock, random, logger } = options;
    const observer = options.observer ?? NO_OBSERVER;
    this.#storage = storage;
    this.#storageType = options.storageType;
    this.#seals = options.seal ?? { active: SHAMIR };
    this.#random = random;
    this.#log = logger;
    this.#clusterName = options.clusterName;
    this.clock = clock;
    this.barrier = new AesGcmBarrier(storage, {
      decryptFailure: (reason) => observer.decryptFailure(reason),
      backgroundError: (err) => logger.error({ err: (err as Error).message }, 'could not persist encryption counts'),
      uncleanStop: (o) =>
        logger.warn(
          { term: o.term, encryptions: o.encryptions, margin: o.marginAdded },
          "the last stop was not clean (crash or kill): encryption counts since the last flush were lost, so the active term's count was raised by the safety margin",
        ),
    });
    this.lifecycle = new Lifecycle(this.barrier);
    // Sealing hooks run in subscription order: the encryption counts are flushed first, while the keys still exist.
    this.rotation = new RotationService({ barrier: this.barrier, lifecycle: this.lifecycle, clock, random, logger });
    this.sealStore = new SealStore(storage);
    const sealDeps = { storage, store: this.sealStore, barrier: this.barrier, lifecycle: this.lifecycle, random, logger, observer };
    this.unsealer = new Unsealer({ ...sealDeps, seals: this.#seals });
    this.rekey = new RekeyEngine({ ...sealDeps, seal: this.#seals.active, clock, unsealer: this.unsealer });
    this.tokens = new TokenStore(this.barrier, clock);
    this.policies = new PolicyStore(this.barrier);
    this.mounts = new MountTable(this.barrier, clock, random);
    this.cluster = new ClusterIdentity(this.barrier);
    this.lifecycle.onUnsealed(() => this.tokens.load());
    this.lifecycle.onUnsealed(() => this.mounts.load());
    this.lifecycle.onUnsealed(() => this.cluster.load());
    this.lifecycle.onSealing(() => {
      this.tokens.unload();
      this.policies.clear();
      this.mounts.clear();
      this.cluster.clear();
    });
  }

  /** Whether the server unseals itself through a key service (after start; not after `sys/seal`). */
  get autoUnseal(): boolean {
    return isAutoSeal(this.#seals.active);
  }

  /** Initialised means the seal configuration exists; init writes it in the same batch as everything else. */
  async initialized(): Promise<boolean> {
    return (await this.sealStore.config()) !== undefined;
  }

  async sealStatus(): Promise<SealStatus> {
    const plan = await this.unsealer.plan();
    const config = plan.config;
    const auto = config ? config.type !== 'shamir' : isAutoSeal(this.#seals.active);
    const shares = auto && config ? await this.sealStore.recoveryConfig() : config;
    const sealed = this.barrier.sealed;
    const cluster = sealed ? undefined : this.cluster.info;
    const progress = this.unsealer.progress;
    return {
      type: config?.type ?? this.#seals.active.type,
      recoverySeal: auto,
      migration: plan.migration !== undefined,
      initialized: config !== undefined,
      sealed,
      threshold: shares?.secretThreshold ?? 0,
      shares: shares?.secretShares ?? 0,
      progress: progressCount(progress),
      nonce: progressNonce(progress),
      storageType: this.#storageType,
      ...(cluster ? { cluster } : {}),
    };
  }

  /** @see initialize */
  async initialize(request: InitRequest): Promise<InitResult> {
    const { barrier, lifecycle, sealStore: store, clock } = this;
    const clusterName = this.#clusterName;
    return initialize(
      {
        storage: this.#storage,
        store,
        barrier,
        lifecycle,
        seal: this.#seals.active,
        clock,
        random: this.#random,
        logger: this.#log,
        ...(clusterName ? { clusterName } : {}),
      },
      request,
    );
  }

  /** @see Unsealer.submit */
  async submitUnsealKey(key: Uint8Array, migrate = false): Promise<SealStatus> {
    await this.unsealer.submit(key, migrate);
    return this.sealStatus();
  }

  /** @see Unsealer.reset */
  async resetUnseal(): Promise<SealStatus> {
    await this.unsealer.reset();
    return this.sealStatus();
  }

  /** @see Unsealer.unsealWithSeal */
  unsealWithSeal(): Promise<boolean> {
    return this.unsealer.unsealWithSeal();
  }

  /** @see Unsealer.checkSetup */
  checkSealSetup(): Promise<void> {
    return this.unsealer.checkSetup();
  }

  /** @see Unsealer.reportPending */
  pendingRekeyWarning(): Promise<boolean> {
    return this.unsealer.reportPending();
  }

  /** Drops every key from memory and ends every in-flight operation. Idempotent. Flushes encryption counts first. */
  async seal(): Promise<void> {
    const wasUnsealed = !this.barrier.sealed;
    await this.lifecycle.seal();
    if (wasUnsealed) this.#log.info('sealed');
  }

  rotate(reason?: string): Promise<TermInfo> {
    return this.rotation.rotate(reason);
  }

  rotationConfig(): RotationConfig {
    return this.rotation.config();
  }

  setRotationConfig(update: Partial<RotationConfig>): Promise<void> {
    return this.rotation.setConfig(update);
  }

  /** The periodic work: barrier rotation policy and count flush, then the engines' own (transit auto-rotation). */
  async maintenance(): Promise<string | undefined> {
    const reason = await this.rotation.maintenance();
    if (!this.lifecycle.sealed) {
      for (const err of await this.mounts.maintenance()) this.#log.error({ err: (err as Error).message }, 'engine maintenance failed');
    }
    return reason;
  }
}
