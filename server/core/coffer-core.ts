import { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import { AesGcmBarrier, encryptKeyring, encryptOpWith, type EntryCipher } from './barrier/aes-gcm-barrier.js';
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
import {
  decodeAutoWrapped,
  encodeAutoWrapped,
  isAutoSeal,
  SHAMIR,
  type AutoSeal,
  type SealChoice,
  type SealSetup,
} from './seal/auto-seal.js';
import {
  decodePreviousRecovery,
  decodeRecoveryConfig,
  encodePreviousRecovery,
  encodeRecoveryConfig,
  PREVIOUS_RECOVERY_KEY_PATH,
  RECOVERY_CONFIG_PATH,
  RECOVERY_KEY_PATH,
  RECOVERY_KEYS_BACKUP_PATH,
  recoveryCheck,
  verifyRecoveryKey,
  type RecoveryConfig,
} from './seal/recovery-key.js';
import {
  decodePrevious,
  encodePrevious,
  PREVIOUS_SEALED_ROOT_KEY_PATH,
  SEALED_ROOT_KEY_PATH,
  unwrapRootKey,
  wrapRootKey,
} from './seal/shamir-seal.js';
import { RekeyManager, type BackupRecord, type RekeyHost, type RekeyTarget } from './rekey/rekey-manager.js';
import { addPart, clearProgress, IDLE, progressCount, progressNonce, type UnsealProgress } from './seal/unseal-progress.js';
import { shareConfigProblem } from './seal/seal-config.js';
import type { StorageBackend, StorageOp } from './storage/storage-backend.js';
import { MountTable } from './mounts/mount-table.js';
import { PolicyStore } from './policy/policy-store.js';
import { TokenStore } from './token/token-store.js';
import { NO_OBSERVER, type CoreObserver } from './observer.js';

export const CLUSTER_PATH = 'core/cluster';
export const UNSEAL_KEYS_BACKUP_PATH = 'core/unseal-keys-backup';
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
  /** The configured seal(s); Shamir when absent. */
  seal?: SealSetup;
  /** Receives unseal, rekey and decryption events (metrics). */
  observer?: CoreObserver;
  /** Bench only: the AEAD under barrier entries (default AES-256-GCM). */
  barrierCipher?: EntryCipher;
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
  /** Unseal shares, or PGP messages when `pgpKeys` were given, in request order. Empty with an auto seal. */
  keys: Uint8Array[];
  /** Recovery shares (or PGP messages) with an auto seal; undefined when none were made. */
  recoveryKeys?: Uint8Array[];
  /** The root token, or base64 of its PGP message when `rootTokenPgpKey` was given. */
  rootToken: string;
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
  readonly rekey: RekeyManager;
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
  readonly #seals: SealSetup;
  readonly #observer: CoreObserver;

  constructor(options: CoreOptions) {
    this.#seals = options.seal ?? { active: SHAMIR };
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#storage = options.storage;
    this.#storageType = options.storageType;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#log = options.logger;
    this.barrier = new AesGcmBarrier(options.storage, options.barrierCipher);
    this.tokens = new TokenStore(this.barrier, options.clock);
    this.policies = new PolicyStore(this.barrier);
    this.mounts = new MountTable(this.barrier, options.clock, options.random);
    this.rekey = new RekeyManager(this.#rekeyHost(), options.clock, options.random, this.#observer);
    this.barrier.onDecryptFailure = (reason) => this.#observer.decryptFailure(reason);
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
    const plan = await this.#sealPlan();
    const config = plan.config;
    const auto = config ? config.type !== 'shamir' : isAutoSeal(this.#seals.active);
    const recovery = auto && config ? await this.#loadRecoveryConfig() : undefined;
    const sealed = this.barrier.sealed;
    return {
      type: config?.type ?? this.#seals.active.type,
      recoverySeal: auto,
      migration: plan.migration !== undefined,
      initialized: config !== undefined,
      sealed,
      threshold: (auto ? recovery?.secretThreshold : config?.secretThreshold) ?? 0,
      shares: (auto ? recovery?.secretShares : config?.secretShares) ?? 0,
      progress: progressCount(this.#progress),
      nonce: progressNonce(this.#progress),
      storageType: this.#storageType,
      ...(sealed || !this.#cluster ? {} : { cluster: { ...this.#cluster } }),
    };
  }

  /**
   * How the stored seal type and the configured seals fit together: the normal case, a pending migration (the old
   * seal is the stored one), or a mismatch the operator must fix in the configuration.
   */
  async #sealPlan(): Promise<{ config: SealConfig | undefined; migration?: { from: SealChoice; to: SealChoice }; mismatch?: string }> {
    const config = await this.#loadSealConfig();
    const { active, disabled } = this.#seals;
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
   * Checked at start-up: refuses a configuration that cannot unseal the stored data, and says what happens.
   * @throws CofferError `config` for a seal mismatch.
   */
  async checkSealSetup(): Promise<void> {
    const plan = await this.#sealPlan();
    if (plan.mismatch) throw new CofferError('config', plan.mismatch);
    if (plan.migration) {
      this.#log.warn(
        { from: plan.migration.from.type, to: plan.migration.to.type },
        'seal migration pending: unseal with the old seal\'s shares and "migrate" set (coffer operator unseal -migrate)',
      );
    } else if (this.#seals.disabled && plan.config) {
      this.#log.warn({ disabled: this.#seals.disabled.type }, 'the disabled seal stanza is not needed any more: the data already uses the enabled seal');
    }
  }

  /** Whether the server unseals itself through a key service (after start; not after `sys/seal`). */
  get autoUnseal(): boolean {
    return isAutoSeal(this.#seals.active);
  }

  /**
   * Creates the root key, the unseal key (Shamir) or the recovery key (auto seal) and its shares, keyring term 1
   * and the root token, and persists them in one atomic batch. Everything that can fail (validation, PGP
   * encryption, the key service wrapping the root key) happens before that batch, so a failed init writes nothing
   * and a crash leaves the server either uninitialised or fully initialised. With Shamir the server stays sealed;
   * with an auto seal it is unsealed before answering, as Vault does.
   * @throws CofferError `invalid_request`, `invalid_seal_config`, `already_initialized`, `seal_unavailable`.
   */
  async initialize(request: InitRequest): Promise<InitResult> {
    const seal = this.#seals.active;
    const auto = isAutoSeal(seal) ? seal : undefined;
    const notApplicable = auto
      ? ([
          ['secret_shares', request.secretShares !== 0],
          ['secret_threshold', request.secretThreshold !== 0],
          ['pgp_keys', request.pgpKeys.length > 0],
        ] as const)
      : ([
          ['recovery_shares', request.recoveryShares !== 0],
          ['recovery_threshold', request.recoveryThreshold !== 0],
          ['recovery_pgp_keys', request.recoveryPgpKeys.length > 0],
        ] as const);
    const offending = notApplicable.filter(([, set]) => set).map(([name]) => name);
    if (offending.length > 0) {
      throw new CofferError('invalid_request', `parameters ${offending.join(',')} not applicable to seal type ${seal.type}`);
    }
    const shareCount = auto ? request.recoveryShares : request.secretShares;
    const threshold = auto ? request.recoveryThreshold : request.secretThreshold;
    const pgpKeys = auto ? request.recoveryPgpKeys : request.pgpKeys;
    if (!auto) assertValidSealConfig(shareCount, threshold, pgpKeys.length);
    else if (shareCount !== 0 || threshold !== 0 || pgpKeys.length > 0) {
      // Vault's recovery rules: 0 of 0 (no recovery key) is allowed, anything else follows the Shamir rules.
      const problem = shareConfigProblem(shareCount, threshold, pgpKeys.length);
      if (problem) throw new CofferError('invalid_seal_config', `invalid recovery configuration: ${problem}`);
    }
    const recipients = await parsePgpKeys(pgpKeys);
    const rootTokenRecipient = request.rootTokenPgpKey ? (await parsePgpKeys([request.rootTokenPgpKey]))[0] : undefined;

    return this.#stateLock.runExclusive(async () => {
      if (await this.initialized()) throw new CofferError('already_initialized', 'Vault is already initialized');

      const rootKey = this.#random.bytes(32);
      // The key people hold shares of: the unseal key (Shamir) or the recovery key (auto seal).
      const humanKey = this.#random.bytes(32);
      const termKey = this.#random.bytes(32);
      const now = this.#clock.now();
      let shares: Uint8Array[] = [];
      let keyring: Keyring | undefined;
      try {
        if (shareCount > 0) shares = await splitKey(humanKey, shareCount, threshold);
        const { token, ops: tokenOps } = TokenStore.initialEntries(this.#random, now);
        const cluster = { name: `coffer-cluster-${Buffer.from(this.#random.bytes(4)).toString('hex')}`, id: this.#random.uuid() };
        const barrierOps: BarrierOp[] = [
          { type: 'put', path: CLUSTER_PATH, value: new TextEncoder().encode(JSON.stringify(cluster)) },
          ...tokenOps,
        ];
        keyring = Keyring.create(termKey, now).withEncryptions(1, barrierOps.length);

        // Encrypt for the key holders before anything is written: a PGP failure must leave the server uninitialised.
        const keys = recipients.length > 0 ? await encryptShares(shares, recipients) : shares.map((s) => s.slice());
        const rootToken = rootTokenRecipient
          ? Buffer.from(await encryptTo(rootTokenRecipient, new TextEncoder().encode(token))).toString('base64')
          : token;

        const config: SealConfig = auto
          ? { type: auto.type, secretShares: 1, secretThreshold: 1 }
          : { type: 'shamir', secretShares: shareCount, secretThreshold: threshold };
        const sealOps: StorageOp[] = [{ type: 'put', key: SEAL_CONFIG_PATH, value: encodeSealConfig(config) }];
        if (auto) {
          // The key service is asked before the batch: if it is unreachable, nothing is written.
          const blob = await auto.encrypt(rootKey);
          sealOps.push(
            { type: 'put', key: SEALED_ROOT_KEY_PATH, value: encodeAutoWrapped(auto.type, blob) },
            { type: 'put', key: RECOVERY_CONFIG_PATH, value: encodeRecoveryConfig({ secretShares: shareCount, secretThreshold: threshold }) },
          );
          if (shareCount > 0) sealOps.push({ type: 'put', key: RECOVERY_KEY_PATH, value: recoveryCheck(humanKey) });
        } else {
          sealOps.push({ type: 'put', key: SEALED_ROOT_KEY_PATH, value: wrapRootKey(humanKey, rootKey) });
        }
        const batch: StorageOp[] = [...sealOps, encryptKeyring(rootKey, keyring), ...barrierOps.map((op) => encryptOpWith(keyring!, op, this.barrier.cipher))];
        for (const op of barrierOps) if (op.type === 'put') wipe(op.value);
        await this.#storage.batch(batch);
        this.#sealConfig = config;
        this.#log.info({ seal: config.type, shares: shareCount, threshold, pgp: recipients.length > 0 }, 'initialized');
        if (auto) {
          await this.barrier.unseal(rootKey);
          await this.#afterUnseal();
          this.#log.info({ seal: auto.type }, 'unsealed');
          return { keys: [], ...(shareCount > 0 ? { recoveryKeys: keys } : {}), rootToken };
        }
        return { keys, rootToken };
      } finally {
        wipe(rootKey, humanKey, termKey, ...shares);
        keyring?.destroy();
      }
    });
  }

  /**
   * Adds one unseal share (Shamir) or recovery share (auto seal, after `sys/seal`). At the threshold the shares are
   * combined and the result is proven by authenticated decryption; the attempt is cleared whatever the outcome.
   * With `migrate` the shares belong to the old seal of a pending migration, which completes in one batch.
   * @throws CofferError `not_initialized`, `invalid_request` (length, migrate flag), `invalid_key` (wrong set of
   * shares), `seal_unavailable` / `seal_failed` (the key service).
   */
  async submitUnsealKey(key: Uint8Array, migrate = false): Promise<SealStatus> {
    await this.#stateLock.runExclusive(async () => {
      // Re-read the configuration: it is what decides the threshold, and it may have changed on disk.
      this.#sealConfig = undefined;
      const plan = await this.#sealPlan();
      const config = plan.config;
      if (!config) throw new CofferError('not_initialized', 'Vault is not initialized');
      if (!this.barrier.sealed) return;
      if (plan.mismatch) throw new CofferError('seal_failed', plan.mismatch);
      if (migrate && !plan.migration) throw new CofferError('invalid_request', "can't perform a seal migration, no migration seal found");
      if (!migrate && plan.migration) throw new CofferError('invalid_request', 'migrate option not provided and seal migration is pending');
      if (key.length < MIN_KEY_BYTES) throw new CofferError('invalid_request', `key is shorter than minimum ${MIN_KEY_BYTES} bytes`);
      if (key.length > MAX_KEY_BYTES) throw new CofferError('invalid_request', `key is longer than maximum ${MAX_KEY_BYTES} bytes`);
      // Normally one candidate; two while a rekey's new shares may not have reached their holders.
      const candidates = await this.#unsealCandidates(config, plan.migration);
      if (candidates.length === 0) {
        throw new CofferError('invalid_request', 'this server has no recovery keys: it unseals only through its seal');
      }

      this.#progress = addPart(this.#progress, key, () => this.#random.uuid());
      if (this.#progress.kind !== 'collecting') return;
      const parts = this.#progress.parts;
      const ready = candidates.filter((c) => parts.length >= c.threshold);
      if (ready.length === 0) return;
      let lastError: unknown;
      for (const candidate of ready) {
        let combined: Uint8Array | undefined;
        let rootKey: Uint8Array | undefined;
        try {
          combined = await combineShares(candidate.threshold === 1 ? parts.slice(-1) : parts, candidate.threshold);
          rootKey = await candidate.open(combined);
          if (plan.migration) await this.#migrate(plan.migration, config, combined, rootKey);
          await this.barrier.unseal(rootKey);
          try {
            if (candidates.length > 1) await candidate.resolve();
            await this.#afterUnseal();
          } catch (err) {
            this.#sealInternal();
            throw err;
          }
          this.#progress = clearProgress(this.#progress);
          this.#observer.unsealAttempt('shares', 'success');
          this.#log.info('unsealed');
          return;
        } catch (err) {
          if (!(err instanceof CofferError && err.code === 'invalid_key')) {
            this.#progress = clearProgress(this.#progress);
            this.#observer.unsealAttempt('shares', 'failure', err instanceof CofferError ? err.code : 'internal');
            throw err;
          }
          lastError = err;
        } finally {
          wipe(combined, rootKey);
        }
      }
      if (parts.length >= Math.max(...candidates.map((c) => c.threshold))) {
        // Every candidate had its threshold and none worked: the attempt is over.
        this.#progress = clearProgress(this.#progress);
        this.#observer.unsealAttempt('shares', 'failure', 'invalid_key');
        this.#log.warn('unseal attempt failed: the shares do not combine to the key');
        throw lastError;
      }
    });
    return this.sealStatus();
  }

  /**
   * The ways the submitted shares may open the root key: for Shamir the unseal key's wrapping (plus the previous
   * one a rekey may have left); for an auto seal the recovery key's proof (plus the previous one), after which the
   * key service unwraps the root key. During a migration the old seal is the one used.
   */
  async #unsealCandidates(config: SealConfig, migration: { from: SealChoice } | undefined): Promise<UnsealCandidate[]> {
    if (config.type === 'shamir') {
      const out: UnsealCandidate[] = [];
      const wrapped = await this.#storage.get(SEALED_ROOT_KEY_PATH);
      out.push({ threshold: config.secretThreshold, open: async (key) => unwrapRootKey(key, wrapped), resolve: () => this.#resolvePendingRekey(false) });
      const raw = migration ? undefined : await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH);
      if (raw) {
        const previous = decodePrevious(raw);
        out.push({ threshold: previous.secretThreshold, open: async (key) => unwrapRootKey(key, previous.wrapped), resolve: () => this.#resolvePendingRekey(true) });
      }
      return out;
    }
    const seal = migration?.from ?? this.#seals.active;
    if (!isAutoSeal(seal) || seal.type !== config.type) throw new CofferError('seal_failed', `no ${config.type} seal is configured to unwrap the root key`);
    const recovery = await this.#loadRecoveryConfig();
    if (!recovery || recovery.secretShares === 0) return [];
    const unwrapWith = (check: Uint8Array | undefined) => async (key: Uint8Array) => {
      verifyRecoveryKey(key, check);
      return this.#unwrapWithSeal(seal);
    };
    const out: UnsealCandidate[] = [
      { threshold: recovery.secretThreshold, open: unwrapWith(await this.#storage.get(RECOVERY_KEY_PATH)), resolve: () => this.#resolvePendingRecoveryRekey(false) },
    ];
    const raw = migration ? undefined : await this.#storage.get(PREVIOUS_RECOVERY_KEY_PATH);
    if (raw) {
      const previous = decodePreviousRecovery(raw);
      out.push({ threshold: previous.secretThreshold, open: unwrapWith(previous.check), resolve: () => this.#resolvePendingRecoveryRekey(true) });
    }
    return out;
  }

  /** The root key, from the key service. */
  async #unwrapWithSeal(seal: AutoSeal): Promise<Uint8Array> {
    const entry = decodeAutoWrapped(await this.#storage.get(SEALED_ROOT_KEY_PATH));
    if (entry.type !== seal.type) throw new CofferError('seal_failed', `the root key was wrapped by a ${entry.type} seal, not ${seal.type}`);
    return seal.decrypt(entry.blob);
  }

  /**
   * Completes a seal migration in ONE batch, before the barrier is unsealed:
   * - Shamir → auto: the key service wraps the root key; the old unseal key becomes the recovery key, so the same
   *   shares (same threshold) are now recovery shares.
   * - auto → Shamir: the recovery key becomes the unseal key, so the recovery shares are now unseal shares.
   * - auto → auto: the new key service wraps the root key; recovery shares are unchanged.
   * A crash before the batch leaves the migration pending; after it, the new seal is in use.
   */
  async #migrate(migration: { from: SealChoice; to: SealChoice }, config: SealConfig, humanKey: Uint8Array, rootKey: Uint8Array): Promise<void> {
    const { from, to } = migration;
    const ops: StorageOp[] = [];
    let next: SealConfig;
    if (!isAutoSeal(to)) {
      const recovery = (await this.#loadRecoveryConfig())!;
      next = { type: 'shamir', secretShares: recovery.secretShares, secretThreshold: recovery.secretThreshold };
      ops.push(
        { type: 'put', key: SEALED_ROOT_KEY_PATH, value: wrapRootKey(humanKey, rootKey) },
        { type: 'delete', key: RECOVERY_CONFIG_PATH },
        { type: 'delete', key: RECOVERY_KEY_PATH },
        { type: 'delete', key: PREVIOUS_RECOVERY_KEY_PATH },
      );
    } else {
      next = { type: to.type, secretShares: 1, secretThreshold: 1 };
      const blob = await to.encrypt(rootKey);
      ops.push({ type: 'put', key: SEALED_ROOT_KEY_PATH, value: encodeAutoWrapped(to.type, blob) });
      if (!isAutoSeal(from)) {
        ops.push(
          { type: 'put', key: RECOVERY_CONFIG_PATH, value: encodeRecoveryConfig({ secretShares: config.secretShares, secretThreshold: config.secretThreshold }) },
          { type: 'put', key: RECOVERY_KEY_PATH, value: recoveryCheck(humanKey) },
          { type: 'delete', key: PREVIOUS_SEALED_ROOT_KEY_PATH },
        );
      }
    }
    ops.push({ type: 'put', key: SEAL_CONFIG_PATH, value: encodeSealConfig(next) });
    await this.#storage.batch(ops);
    this.#sealConfig = next;
    this.#log.info({ from: from.type, to: to.type }, 'seal migrated: remove the disabled seal stanza from the configuration');
  }

  /**
   * Unseals through the configured auto seal: at start-up (and by the retry loop while the key service is
   * unreachable). Does nothing for Shamir, during a migration, or when already unsealed.
   * @returns whether the server is unsealed afterwards.
   * @throws CofferError `seal_unavailable` (try again later), `seal_failed`, `integrity`.
   */
  async unsealWithSeal(): Promise<boolean> {
    return this.#stateLock.runExclusive(async () => {
      this.#sealConfig = undefined;
      const plan = await this.#sealPlan();
      if (!plan.config) return false;
      if (!this.barrier.sealed) return true;
      if (plan.mismatch) throw new CofferError('seal_failed', plan.mismatch);
      const seal = this.#seals.active;
      if (plan.migration || !isAutoSeal(seal)) return false;
      let rootKey: Uint8Array | undefined;
      try {
        rootKey = await this.#unwrapWithSeal(seal);
        await this.barrier.unseal(rootKey);
      } catch (err) {
        const failure =
          err instanceof CofferError && err.code === 'invalid_key'
            ? new CofferError('seal_failed', `${seal.description} returned a key that does not open the keyring`)
            : err;
        this.#observer.unsealAttempt('seal', 'failure', failure instanceof CofferError ? failure.code : 'internal');
        throw failure;
      } finally {
        wipe(rootKey);
      }
      this.#observer.unsealAttempt('seal', 'success');
      try {
        await this.#afterUnseal();
      } catch (err) {
        this.#sealInternal();
        throw err;
      }
      this.#log.info({ seal: seal.type }, 'unsealed through the seal');
      return true;
    });
  }

  /**
   * A rekey's result may never have reached its holders, so both share sets were accepted; whichever set unsealed
   * has proven itself and becomes the only one (the old set wins back its configuration in one atomic batch).
   */
  async #resolvePendingRekey(oldSetWon: boolean): Promise<void> {
    const raw = await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH);
    if (!raw) return;
    if (!oldSetWon) {
      await this.#storage.delete(PREVIOUS_SEALED_ROOT_KEY_PATH);
      this.#log.warn('unsealed with the shares of an unconfirmed rekey: they are now the only valid shares');
      return;
    }
    const previous = decodePrevious(raw);
    const config: SealConfig = { type: 'shamir', secretShares: previous.secretShares, secretThreshold: previous.secretThreshold };
    await this.#storage.batch([
      { type: 'put', key: SEAL_CONFIG_PATH, value: encodeSealConfig(config) },
      { type: 'put', key: SEALED_ROOT_KEY_PATH, value: previous.wrapped },
      { type: 'delete', key: PREVIOUS_SEALED_ROOT_KEY_PATH },
    ]);
    this.#sealConfig = config;
    this.#log.warn('unsealed with the shares from before an unconfirmed rekey: that rekey is rolled back');
  }

  /** The same resolution for the recovery key: the set that was used is kept, the other dropped. */
  async #resolvePendingRecoveryRekey(oldSetWon: boolean): Promise<void> {
    const raw = await this.#storage.get(PREVIOUS_RECOVERY_KEY_PATH);
    if (!raw) return;
    if (!oldSetWon) {
      await this.#storage.delete(PREVIOUS_RECOVERY_KEY_PATH);
      this.#log.warn('used the recovery shares of an unconfirmed recovery rekey: they are now the only valid recovery shares');
      return;
    }
    const previous = decodePreviousRecovery(raw);
    await this.#storage.batch([
      { type: 'put', key: RECOVERY_CONFIG_PATH, value: encodeRecoveryConfig(previous) },
      { type: 'put', key: RECOVERY_KEY_PATH, value: previous.check },
      { type: 'delete', key: PREVIOUS_RECOVERY_KEY_PATH },
    ]);
    this.#log.warn('used the recovery shares from before an unconfirmed recovery rekey: that rekey is rolled back');
  }

  /**
   * Whether a rekey committed but its new shares may not have reached the client (the server stopped before the
   * response was sent). Logged at start-up; both share sets are accepted until one of them is used.
   */
  async pendingRekeyWarning(): Promise<boolean> {
    const pending = (await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH)) !== undefined;
    if (pending) {
      this.#log.warn(
        'a rekey result may have been lost: the server stopped after committing a rekey but before the new shares were sent. Both the old and the new shares unseal until one set is used.',
      );
    }
    const recoveryPending = (await this.#storage.get(PREVIOUS_RECOVERY_KEY_PATH)) !== undefined;
    if (recoveryPending) {
      this.#log.warn(
        'a recovery rekey result may have been lost: both the old and the new recovery shares are accepted until one set is used.',
      );
    }
    return pending || recoveryPending;
  }

  #rekeyHost(): RekeyHost {
    const requireUnsealed = async (): Promise<SealConfig> => {
      if (this.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
      const config = await this.#loadSealConfig();
      if (!config) throw new CofferError('not_initialized', 'server is not yet initialized');
      return config;
    };
    return {
      currentConfig: async (target) => {
        const config = await requireUnsealed();
        if (config.type === 'shamir') {
          if (target !== 'barrier') throw new CofferError('invalid_request', 'recovery rekeying not supported');
          return config;
        }
        // With an auto seal both targets are authorised by the recovery shares.
        const recovery = await this.#loadRecoveryConfig();
        if (!recovery || recovery.secretShares === 0) throw new CofferError('invalid_request', 'recovery keys not supported');
        return { type: 'shamir', secretShares: recovery.secretShares, secretThreshold: recovery.secretThreshold };
      },
      rootKeyOnly: (target) => target === 'barrier' && isAutoSeal(this.#seals.active),
      verifyCurrentKey: async (_target, currentKey) => {
        const config = await requireUnsealed();
        if (config.type === 'shamir') {
          wipe(unwrapRootKey(currentKey, await this.#storage.get(SEALED_ROOT_KEY_PATH)));
          return;
        }
        await this.#stateLock.runExclusive(() => this.#verifyRecoveryShares(currentKey));
      },
      writeBackup: async (target, backup) => {
        await this.barrier.put(target === 'barrier' ? UNSEAL_KEYS_BACKUP_PATH : RECOVERY_KEYS_BACKUP_PATH, encodeBackup(backup));
      },
      commit: (target, newKey, config, nonce, backup) =>
        this.#stateLock.runExclusive(() =>
          target === 'barrier' ? this.#commitRekey(newKey, config, nonce, backup) : this.#commitRecoveryRekey(newKey, config, nonce, backup),
        ),
      rotateRootKey: () => this.#stateLock.runExclusive(() => this.#rotateRootKey()),
    };
  }

  /** Proves a combined recovery key against the current proof, or the previous one an unconfirmed rekey left. */
  async #verifyRecoveryShares(key: Uint8Array): Promise<void> {
    try {
      verifyRecoveryKey(key, await this.#storage.get(RECOVERY_KEY_PATH));
      await this.#resolvePendingRecoveryRekey(false);
      return;
    } catch (err) {
      const raw = await this.#storage.get(PREVIOUS_RECOVERY_KEY_PATH);
      if (!raw || !(err instanceof CofferError && err.code === 'invalid_key')) throw err;
      verifyRecoveryKey(key, decodePreviousRecovery(raw).check);
      await this.#resolvePendingRecoveryRekey(true);
    }
  }

  /**
   * One atomic batch: the new share configuration, the root key wrapped by the new unseal key, the old wrapping kept
   * aside, and the backup. A crash before it leaves the old shares; after it, both work until `finalise` runs.
   */
  async #commitRekey(newKey: Uint8Array, config: SealConfig, nonce: string, backup: BackupRecord | undefined): Promise<() => Promise<void>> {
    const old = (await this.#loadSealConfig())!;
    const oldWrapped = await this.#storage.get(SEALED_ROOT_KEY_PATH);
    if (!oldWrapped) throw new CofferError('integrity', 'sealed root key is missing');
    const newWrapped = this.barrier.withRootKey((rootKey) => wrapRootKey(newKey, rootKey));
    const ops: StorageOp[] = [
      { type: 'put', key: SEAL_CONFIG_PATH, value: encodeSealConfig(config) },
      { type: 'put', key: SEALED_ROOT_KEY_PATH, value: newWrapped },
      { type: 'put', key: PREVIOUS_SEALED_ROOT_KEY_PATH, value: encodePrevious({ nonce, secretShares: old.secretShares, secretThreshold: old.secretThreshold, wrapped: oldWrapped }) },
    ];
    if (backup) ops.push(this.barrier.encryptOp({ type: 'put', path: UNSEAL_KEYS_BACKUP_PATH, value: encodeBackup(backup) }));
    await this.#storage.batch(ops);
    this.#sealConfig = config;
    this.#log.info({ nonce, shares: config.secretShares, threshold: config.secretThreshold }, 'rekeyed the unseal key');
    return async () => {
      const raw = await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH);
      if (raw && decodePrevious(raw).nonce === nonce) await this.#storage.delete(PREVIOUS_SEALED_ROOT_KEY_PATH);
    };
  }

  /** The recovery key's rekey, with the same lost-response protection as the unseal key's. */
  async #commitRecoveryRekey(newKey: Uint8Array, config: SealConfig, nonce: string, backup: BackupRecord | undefined): Promise<() => Promise<void>> {
    const old = (await this.#loadRecoveryConfig())!;
    const oldCheck = await this.#storage.get(RECOVERY_KEY_PATH);
    if (!oldCheck) throw new CofferError('integrity', 'recovery key proof is missing');
    const ops: StorageOp[] = [
      { type: 'put', key: RECOVERY_CONFIG_PATH, value: encodeRecoveryConfig(config) },
      { type: 'put', key: RECOVERY_KEY_PATH, value: recoveryCheck(newKey) },
      { type: 'put', key: PREVIOUS_RECOVERY_KEY_PATH, value: encodePreviousRecovery({ nonce, secretShares: old.secretShares, secretThreshold: old.secretThreshold, check: oldCheck }) },
    ];
    if (backup) ops.push(this.barrier.encryptOp({ type: 'put', path: RECOVERY_KEYS_BACKUP_PATH, value: encodeBackup(backup) }));
    await this.#storage.batch(ops);
    this.#log.info({ nonce, shares: config.secretShares, threshold: config.secretThreshold }, 'rekeyed the recovery key');
    return async () => {
      const raw = await this.#storage.get(PREVIOUS_RECOVERY_KEY_PATH);
      if (raw && decodePreviousRecovery(raw).nonce === nonce) await this.#storage.delete(PREVIOUS_RECOVERY_KEY_PATH);
    };
  }

  /**
   * Barrier rekey on an auto seal (Vault's behaviour): a new root key, wrapped by the key service, written in one
   * batch with the keyring re-encrypted under it. The key service is asked first; if it fails nothing changes.
   */
  async #rotateRootKey(): Promise<void> {
    const seal = this.#seals.active;
    if (!isAutoSeal(seal)) throw new CofferError('internal', 'root key rotation needs an auto seal');
    const newRoot = this.#random.bytes(32);
    try {
      const blob = await seal.encrypt(newRoot);
      await this.barrier.rotateRootKey(newRoot, [{ type: 'put', key: SEALED_ROOT_KEY_PATH, value: encodeAutoWrapped(seal.type, blob) }]);
      this.#log.info({ seal: seal.type }, 'rotated the root key');
    } finally {
      wipe(newRoot);
    }
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
    this.rekey.reset();
    this.tokens.unload();
    this.policies.clear();
    this.mounts.clear();
    this.barrier.seal();
    this.#cluster = undefined;
  }

  async #loadRecoveryConfig(): Promise<RecoveryConfig | undefined> {
    const raw = await this.#storage.get(RECOVERY_CONFIG_PATH);
    return raw ? decodeRecoveryConfig(raw) : undefined;
  }

  async #loadSealConfig(): Promise<SealConfig | undefined> {
    if (this.#sealConfig) return this.#sealConfig;
    const raw = await this.#storage.get(SEAL_CONFIG_PATH);
    if (!raw) return undefined;
    this.#sealConfig = decodeSealConfig(raw);
    return this.#sealConfig;
  }
}

interface UnsealCandidate {
  threshold: number;
  /** The root key if the combined key is right. @throws CofferError `invalid_key` otherwise. */
  open(combined: Uint8Array): Promise<Uint8Array>;
  /** Settles a pending rekey once this candidate has unsealed. */
  resolve(): Promise<void>;
}

function encodeBackup(backup: BackupRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ Nonce: backup.nonce, Keys: backup.keys }));
}

export function decodeBackup(raw: Uint8Array): BackupRecord {
  const j = JSON.parse(new TextDecoder().decode(raw)) as { Nonce: string; Keys: Record<string, string[]> };
  return { nonce: j.Nonce, keys: j.Keys };
}
