import { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import { AesGcmBarrier, encryptKeyring, encryptOpWith } from './barrier/aes-gcm-barrier.js';
import type { BarrierOp } from './barrier/barrier.js';
import { Keyring, MAX_OPERATIONS_LIMIT, type RotationConfig, type TermInfo } from './barrier/keyring.js';
import type { Clock, Random } from './clock.js';
import { CofferError } from './errors.js';
import { encryptShares, encryptTo, parsePgpKeys } from './pgp/pgp-keys.js';
import { wipe } from './secret-bytes.js';
import {
  assertValidSealConfig,
  decodeSealConfig,
  encodeSealConfig,
  SEAL_CONFIG_PATH,
  type SealConfig,
} from './seal/seal-config.js';
import { combineShares, splitKey } from './seal/shamir.js';
import { SEALED_ROOT_KEY_PATH, unwrapRootKey, wrapRootKey } from './seal/shamir-seal.js';
import { addPart, clearProgress, IDLE, progressCount, progressNonce, type UnsealProgress } from './seal/unseal-progress.js';
import type { StorageBackend, StorageOp } from './storage/storage-backend.js';
import { MountTable } from './mounts/mount-table.js';
import { PolicyStore } from './policy/policy-store.js';
import { TokenStore } from './token/token-store.js';

export const CLUSTER_PATH = 'core/cluster';
export const MIN_MAX_OPERATIONS = 1_000_000;
export const MIN_ROTATION_INTERVAL_SECONDS = 24 * 3600;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 33;

export interface CoreOptions {
  storage: StorageBackend;
  /** Reported as `storage_type` in seal-status. */
  storageType: string;
  clock: Clock;
  random: Random;
  logger: Logger;
}

export interface InitRequest {
  secretShares: number;
  secretThreshold: number;
  pgpKeys: readonly string[];
  rootTokenPgpKey: string;
  recoveryShares: number;
  recoveryThreshold: number;
  recoveryPgpKeys: readonly string[];
}

export interface InitResult {
  /** Shares, or PGP messages when `pgpKeys` were given, in request order. */
  keys: Uint8Array[];
  /** The root token, or base64 of its PGP message when `rootTokenPgpKey` was given. */
  rootToken: string;
}

export interface SealStatus {
  type: 'shamir';
  initialized: boolean;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
  nonce: string;
  storageType: string;
  cluster?: { name: string; id: string };
}

/**
 * The server's state: init, unseal, seal, and the barrier and token store behind them. State changes (init,
 * unseal, seal) are serialised by one mutex; reads of the barrier are not blocked by them.
 */
export class CofferCore {
  readonly barrier: AesGcmBarrier;
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;
  readonly #storage: StorageBackend;
  readonly #storageType: string;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #log: Logger;
  readonly #stateLock = new Mutex();
  #progress: UnsealProgress = IDLE;
  /** Cached seal configuration; re-read from storage before every unseal attempt. */
  #sealConfig: SealConfig | undefined;
  #cluster: { name: string; id: string } | undefined;

  constructor(options: CoreOptions) {
    this.#storage = options.storage;
    this.#storageType = options.storageType;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#log = options.logger;
    this.barrier = new AesGcmBarrier(options.storage);
    this.tokens = new TokenStore(this.barrier, options.clock);
    this.policies = new PolicyStore(this.barrier);
    this.mounts = new MountTable(this.barrier, options.clock, options.random);
    this.barrier.onBackgroundError = (err) => this.#log.error({ err: (err as Error).message }, 'could not persist encryption counts');
  }

  get clock(): Clock {
    return this.#clock;
  }

  /** Initialised means the seal configuration exists; init writes it in the same batch as everything else. */
  async initialized(): Promise<boolean> {
    return (await this.#loadSealConfig()) !== undefined;
  }

  async sealStatus(): Promise<SealStatus> {
    const config = await this.#loadSealConfig();
    const sealed = this.barrier.sealed;
    return {
      type: 'shamir',
      initialized: config !== undefined,
      sealed,
      threshold: config?.secretThreshold ?? 0,
      shares: config?.secretShares ?? 0,
      progress: progressCount(this.#progress),
      nonce: progressNonce(this.#progress),
      storageType: this.#storageType,
      ...(sealed || !this.#cluster ? {} : { cluster: { ...this.#cluster } }),
    };
  }

  /**
   * Creates the root key, the unseal key and its shares, keyring term 1 and the root token, and persists them in one
   * atomic batch. Everything that can fail (validation, PGP encryption) happens before that batch, so a failed
   * init writes nothing and a crash leaves the server either uninitialised or fully initialised. Stays sealed.
   * @throws CofferError `invalid_request`, `invalid_seal_config`, `already_initialized`.
   */
  async initialize(request: InitRequest): Promise<InitResult> {
    const offending = (
      [
        ['recovery_shares', request.recoveryShares !== 0],
        ['recovery_threshold', request.recoveryThreshold !== 0],
        ['recovery_pgp_keys', request.recoveryPgpKeys.length > 0],
      ] as const
    )
      .filter(([, set]) => set)
      .map(([name]) => name);
    if (offending.length > 0) {
      throw new CofferError('invalid_request', `parameters ${offending.join(',')} not applicable to seal type shamir`);
    }
    assertValidSealConfig(request.secretShares, request.secretThreshold, request.pgpKeys.length);
    const recipients = await parsePgpKeys(request.pgpKeys);
    const rootTokenRecipient = request.rootTokenPgpKey ? (await parsePgpKeys([request.rootTokenPgpKey]))[0] : undefined;

    return this.#stateLock.runExclusive(async () => {
      if (await this.initialized()) throw new CofferError('already_initialized', 'Vault is already initialized');

      const rootKey = this.#random.bytes(32);
      const unsealKey = this.#random.bytes(32);
      const termKey = this.#random.bytes(32);
      const now = this.#clock.now();
      let shares: Uint8Array[] = [];
      let keyring: Keyring | undefined;
      try {
        shares = await splitKey(unsealKey, request.secretShares, request.secretThreshold);
        const { token, ops: tokenOps } = TokenStore.initialEntries(this.#random, now);
        const cluster = { name: `coffer-cluster-${Buffer.from(this.#random.bytes(4)).toString('hex')}`, id: this.#random.uuid() };
        const barrierOps: BarrierOp[] = [
          { type: 'put', path: CLUSTER_PATH, value: new TextEncoder().encode(JSON.stringify(cluster)) },
          ...tokenOps,
        ];
        keyring = Keyring.create(termKey, now).withEncryptions(1, barrierOps.length);
        const config: SealConfig = { type: 'shamir', secretShares: request.secretShares, secretThreshold: request.secretThreshold };

        // Encrypt for the key holders before anything is written: a PGP failure must leave the server uninitialised.
        const keys = recipients.length > 0 ? await encryptShares(shares, recipients) : shares.map((s) => s.slice());
        const rootToken = rootTokenRecipient
          ? Buffer.from(await encryptTo(rootTokenRecipient, new TextEncoder().encode(token))).toString('base64')
          : token;

        const batch: StorageOp[] = [
          { type: 'put', key: SEAL_CONFIG_PATH, value: encodeSealConfig(config) },
          { type: 'put', key: SEALED_ROOT_KEY_PATH, value: wrapRootKey(unsealKey, rootKey) },
          encryptKeyring(rootKey, keyring),
          ...barrierOps.map((op) => encryptOpWith(keyring!, op)),
        ];
        for (const op of barrierOps) if (op.type === 'put') wipe(op.value);
        await this.#storage.batch(batch);
        this.#sealConfig = config;
        this.#log.info({ shares: config.secretShares, threshold: config.secretThreshold, pgp: recipients.length > 0 }, 'initialized');
        return { keys, rootToken };
      } finally {
        wipe(rootKey, unsealKey, termKey, ...shares);
        keyring?.destroy();
      }
    });
  }

  /**
   * Adds one unseal share. At the threshold the shares are combined and the result is proven by authenticated
   * decryption of the sealed root key; the attempt is cleared whatever the outcome.
   * @throws CofferError `not_initialized`, `invalid_request` (length), `invalid_key` (wrong set of shares).
   */
  async submitUnsealKey(key: Uint8Array): Promise<SealStatus> {
    await this.#stateLock.runExclusive(async () => {
      // Re-read the configuration: it is what decides the threshold, and it may have changed on disk.
      this.#sealConfig = undefined;
      const config = await this.#loadSealConfig();
      if (!config) throw new CofferError('not_initialized', 'Vault is not initialized');
      if (!this.barrier.sealed) return;
      if (key.length < MIN_KEY_BYTES) throw new CofferError('invalid_request', `key is shorter than minimum ${MIN_KEY_BYTES} bytes`);
      if (key.length > MAX_KEY_BYTES) throw new CofferError('invalid_request', `key is longer than maximum ${MAX_KEY_BYTES} bytes`);

      this.#progress = addPart(this.#progress, key, () => this.#random.uuid());
      if (this.#progress.kind !== 'collecting' || this.#progress.parts.length < config.secretThreshold) return;

      const parts = this.#progress.parts;
      let unsealKey: Uint8Array | undefined;
      let rootKey: Uint8Array | undefined;
      try {
        unsealKey = await combineShares(parts, config.secretThreshold);
        rootKey = unwrapRootKey(unsealKey, await this.#storage.get(SEALED_ROOT_KEY_PATH));
        await this.barrier.unseal(rootKey);
        try {
          await this.#afterUnseal();
        } catch (err) {
          this.#sealInternal();
          throw err;
        }
        this.#log.info('unsealed');
      } catch (err) {
        if (err instanceof CofferError && err.code === 'invalid_key') this.#log.warn('unseal attempt failed: the shares do not combine to the unseal key');
        throw err;
      } finally {
        this.#progress = clearProgress(this.#progress);
        wipe(unsealKey, rootKey);
      }
    });
    return this.sealStatus();
  }

  /** Discards the shares of the current unseal attempt. @throws CofferError `unsealed` when unsealed. */
  async resetUnseal(): Promise<SealStatus> {
    await this.#stateLock.runExclusive(async () => {
      if (!this.barrier.sealed) throw new CofferError('unsealed', 'vault is unsealed');
      this.#progress = clearProgress(this.#progress);
    });
    return this.sealStatus();
  }

  /** Drops every key from memory and ends every in-flight operation. Idempotent. Flushes encryption counts first. */
  async seal(): Promise<void> {
    await this.#stateLock.runExclusive(async () => {
      if (this.barrier.sealed) return this.#sealInternal();
      try {
        await this.barrier.persistEncryptions(true);
      } catch (err) {
        // Sealing must not fail; the next unseal then treats the stop as unclean and adds the safety margin.
        this.#log.error({ err: (err as Error).message }, 'could not persist encryption counts before sealing');
      }
      this.#sealInternal();
      this.#log.info('sealed');
    });
  }

  /**
   * Adds a keyring term: new writes use it, every older term keeps decrypting. Online: readers and writers are
   * not blocked; the cost is one keyring write whatever the amount of data.
   * @throws CofferError `sealed`.
   */
  async rotate(reason = 'requested'): Promise<TermInfo> {
    const key = this.#random.bytes(32);
    try {
      const info = await this.barrier.rotate(key, this.#clock.now());
      this.#log.info({ term: info.term, reason }, 'rotated the barrier key');
      return info;
    } finally {
      wipe(key);
    }
  }

  rotationConfig(): RotationConfig {
    return this.barrier.activeKeyring.rotation;
  }

  /**
   * Updates the automatic-rotation settings; fields left undefined keep their value. A change of `enabled` alone
   * is honoured (Vault drops it).
   * @throws CofferError `invalid_request` with Vault's messages.
   */
  async setRotationConfig(update: Partial<RotationConfig>): Promise<void> {
    const next: RotationConfig = { ...this.rotationConfig(), ...update };
    if (next.maxOperations < MIN_MAX_OPERATIONS || next.maxOperations > MAX_OPERATIONS_LIMIT) {
      throw new CofferError('invalid_request', `max_operations must be in the range [${MIN_MAX_OPERATIONS},${MAX_OPERATIONS_LIMIT}]`);
    }
    if (next.intervalSeconds > 0 && next.intervalSeconds < MIN_ROTATION_INTERVAL_SECONDS) {
      throw new CofferError('invalid_request', 'interval must be greater or equal to 24h0m0s');
    }
    const current = this.rotationConfig();
    if (current.maxOperations === next.maxOperations && current.intervalSeconds === next.intervalSeconds && current.enabled === next.enabled) return;
    await this.barrier.setRotationConfig(next);
    this.#log.info({ max_operations: next.maxOperations, interval_seconds: next.intervalSeconds, enabled: next.enabled }, 'rotation config updated');
  }

  /**
   * Periodic work, run by the server's scheduler (and directly by tests): rotates when the active term reached
   * `max_operations` encryptions or is older than `interval` (by the injected clock) and rotation is enabled;
   * otherwise persists the encryption count. Returns the rotation reason, if it rotated.
   */
  async maintenance(): Promise<string | undefined> {
    if (this.barrier.sealed) return undefined;
    const { rotation } = this.barrier.activeKeyring;
    const status = this.barrier.keyStatus();
    const age = (this.#clock.now().getTime() - status.installTime.getTime()) / 1000;
    let reason: string | undefined;
    if (rotation.enabled && status.encryptions >= rotation.maxOperations) reason = 'reached max operations';
    else if (rotation.enabled && rotation.intervalSeconds > 0 && age >= rotation.intervalSeconds) reason = 'rotation interval reached';
    if (reason) {
      await this.rotate(reason);
      return reason;
    }
    await this.barrier.persistEncryptions();
    return undefined;
  }

  async #afterUnseal(): Promise<void> {
    await this.tokens.load();
    await this.mounts.load();
    const raw = await this.barrier.get(CLUSTER_PATH);
    this.#cluster = raw ? (JSON.parse(new TextDecoder().decode(raw)) as { name: string; id: string }) : undefined;
  }

  #sealInternal(): void {
    this.#progress = clearProgress(this.#progress);
    this.tokens.unload();
    this.policies.clear();
    this.mounts.clear();
    this.barrier.seal();
    this.#cluster = undefined;
  }

  async #loadSealConfig(): Promise<SealConfig | undefined> {
    if (this.#sealConfig) return this.#sealConfig;
    const raw = await this.#storage.get(SEAL_CONFIG_PATH);
    if (!raw) return undefined;
    this.#sealConfig = decodeSealConfig(raw);
    return this.#sealConfig;
  }
}
