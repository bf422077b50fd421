import type { AuditBroker } from './audit/audit-broker.js';
import type { AuthTable } from './auth/auth-table.js';
import type { AesGcmBarrier } from './barrier/aes-gcm-barrier.js';
import type { RotationConfig, TermInfo } from './barrier/keyring.js';
import type { Clock } from './clock.js';
import { assembleCore, type CoreOptions } from './core-assembly.js';
import { CofferError } from './errors.js';
import type { GenerateRoot } from './generate-root/generate-root.js';
import type { ClusterIdentity } from './lifecycle/cluster-identity.js';
import { initialize, type InitRequest, type InitResult } from './lifecycle/initializer.js';
import type { Lifecycle } from './lifecycle/lifecycle.js';
import type { MountTable } from './mounts/mount-table.js';
import type { PolicyStore } from './policy/policy-store.js';
import type { RekeyEngine } from './rekey/rekey-engine.js';
import type { RewrapService } from './rotation/job-runner.js';
import type { RetirementService } from './rotation/retirement.js';
import type { RotationService } from './rotation/rotation-service.js';
import { isAutoSeal, type SealSetup } from './seal/auto-seal.js';
import { readSealStatus, type SealStatus } from './seal/seal-status.js';
import type { SealStore } from './seal/seal-store.js';
import type { Unsealer } from './seal/unsealer.js';
import type { Cubbyhole } from './secrets/cubbyhole.js';
import type { TokenRoles } from './token/token-roles.js';
import type { TokenStore } from './token/token-store.js';
import type { ResponseWrapping } from './wrapping/response-wrapping.js';

// Construction and wiring live in core-assembly, the seal-status view in seal/seal-status; their types are
// re-exported so callers keep importing them from here.
export type { CoreOptions, CoreServices } from './core-assembly.js';
export type { SealStatus } from './seal/seal-status.js';
export type { InitRequest, InitResult };

/**
 * The core's façade: holds each service `assembleCore` built and wired, and offers the few operations that span
 * several of them (seal status, init, maintenance). The delegating methods keep callers (the process entry point,
 * tests, the bench) short. HTTP routes receive the individual services, never this object.
 */
export class CofferCore {
  readonly barrier: AesGcmBarrier;
  readonly lifecycle: Lifecycle;
  readonly sealStore: SealStore;
  readonly unsealer: Unsealer;
  readonly rotation: RotationService;
  readonly rekey: RekeyEngine;
  readonly generateRoot: GenerateRoot;
  readonly rewrap: RewrapService;
  readonly retirement: RetirementService;
  readonly tokens: TokenStore;
  readonly tokenRoles: TokenRoles;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;
  readonly auth: AuthTable;
  readonly cubbyhole: Cubbyhole;
  readonly wrapping: ResponseWrapping;
  readonly cluster: ClusterIdentity;
  readonly audit: AuditBroker;
  readonly clock: Clock;
  readonly #options: CoreOptions;
  readonly #seals: SealSetup;

  constructor(options: CoreOptions) {
    const services = assembleCore(options);
    this.#options = options;
    this.#seals = services.seals;
    this.clock = options.clock;
    this.barrier = services.barrier;
    this.lifecycle = services.lifecycle;
    this.sealStore = services.sealStore;
    this.unsealer = services.unsealer;
    this.rotation = services.rotation;
    this.rekey = services.rekey;
    this.generateRoot = services.generateRoot;
    this.rewrap = services.rewrap;
    this.retirement = services.retirement;
    this.tokens = services.tokens;
    this.tokenRoles = services.tokenRoles;
    this.policies = services.policies;
    this.mounts = services.mounts;
    this.auth = services.auth;
    this.cubbyhole = services.cubbyhole;
    this.wrapping = services.wrapping;
    this.cluster = services.cluster;
    this.audit = services.audit;
  }

  /** Whether the server unseals itself through a key service (after start; not after `sys/seal`). */
  get autoUnseal(): boolean {
    return isAutoSeal(this.#seals.active);
  }

  /** Initialised means the seal configuration exists; init writes it in the same batch as everything else. */
  async initialized(): Promise<boolean> {
    return (await this.sealStore.config()) !== undefined;
  }

  /** @see readSealStatus */
  sealStatus(): Promise<SealStatus> {
    return readSealStatus({
      unsealer: this.unsealer,
      sealStore: this.sealStore,
      barrier: this.barrier,
      cluster: this.cluster,
      seals: this.#seals,
      storageType: this.#options.storageType,
    });
  }

  /** @see initialize */
  async initialize(request: InitRequest): Promise<InitResult> {
    const { storage, random, logger, clusterName } = this.#options;
    const { barrier, lifecycle, sealStore: store, clock } = this;
    const seal = this.#seals.active;
    return initialize({ storage, store, barrier, lifecycle, seal, clock, random, logger, ...(clusterName ? { clusterName } : {}) }, request);
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
    if (wasUnsealed) this.#options.logger.info('sealed');
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

  /** Rotation maintenance, then the revocation of expired tokens (whose cubbyholes and wrapped responses go too). */
  async maintenance(): Promise<string | undefined> {
    const reason = await this.rotation.maintenance();
    if (!this.lifecycle.sealed) {
      for (const err of await this.mounts.maintenance()) this.#options.logger.error({ err: (err as Error).message }, 'engine maintenance failed');
      try {
        await this.lifecycle.whileUnsealed((signal) => this.tokens.tidyExpired(signal));
      } catch (err) {
        if (!(err instanceof CofferError && err.code === 'sealed')) throw err;
      }
    }
    return reason;
  }
}
