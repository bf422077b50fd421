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
import type { StorageBackend, StorageOp } from './storage/storage-backend.js';
import { MountTable } from './mounts/mount-table.js';
import { PolicyStore } from './policy/policy-store.js';
import { TokenStore } from './token/token-store.js';

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
    this.rekey = new RekeyManager(this.#rekeyHost(), options.clock, options.random);
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
      if (this.#progress.kind !== 'collecting') return;
      const parts = this.#progress.parts;
      // Normally one candidate; two while a rekey's new shares may not have reached their holders.
      const candidates = await this.#unsealCandidates(config);
      const ready = candidates.filter((c) => parts.length >= c.config.secretThreshold);
      if (ready.length === 0) return;
      let lastError: unknown;
      for (const candidate of ready) {
        let unsealKey: Uint8Array | undefined;
        let rootKey: Uint8Array | undefined;
        try {
          unsealKey = await combineShares(candidate.config.secretThreshold === 1 ? parts.slice(-1) : parts, candidate.config.secretThreshold);
          rootKey = unwrapRootKey(unsealKey, candidate.wrapped);
          await this.barrier.unseal(rootKey);
          try {
            if (candidates.length > 1) await this.#resolvePendingRekey(candidate.previous);
            await this.#afterUnseal();
          } catch (err) {
            this.#sealInternal();
            throw err;
          }
          this.#progress = clearProgress(this.#progress);
          this.#log.info('unsealed');
          return;
        } catch (err) {
          if (!(err instanceof CofferError && err.code === 'invalid_key')) {
            this.#progress = clearProgress(this.#progress);
            throw err;
          }
          lastError = err;
        } finally {
          wipe(unsealKey, rootKey);
        }
      }
      if (parts.length >= Math.max(...candidates.map((c) => c.config.secretThreshold))) {
        // Every candidate had its threshold and none worked: the attempt is over.
        this.#progress = clearProgress(this.#progress);
        this.#log.warn('unseal attempt failed: the shares do not combine to the unseal key');
        throw lastError;
      }
    });
    return this.sealStatus();
  }

  /** The wrapped root key and its share configuration, plus the previous one a rekey may have left. */
  async #unsealCandidates(config: SealConfig): Promise<Array<{ config: SealConfig; wrapped: Uint8Array | undefined; previous: boolean }>> {
    const out = [{ config, wrapped: await this.#storage.get(SEALED_ROOT_KEY_PATH), previous: false }];
    const raw = await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH);
    if (raw) {
      const previous = decodePrevious(raw);
      out.push({ config: { type: 'shamir', secretShares: previous.secretShares, secretThreshold: previous.secretThreshold }, wrapped: previous.wrapped, previous: true });
    }
    return out;
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

  /**
   * Whether a rekey committed but its new shares may not have reached the client (the server stopped before the
   * response was sent). Logged at start-up; both share sets unseal until one of them is used.
   */
  async pendingRekeyWarning(): Promise<boolean> {
    const pending = (await this.#storage.get(PREVIOUS_SEALED_ROOT_KEY_PATH)) !== undefined;
    if (pending) {
      this.#log.warn(
        'a rekey result may have been lost: the server stopped after committing a rekey but before the new shares were sent. Both the old and the new shares unseal until one set is used.',
      );
    }
    return pending;
  }

  #rekeyHost(): RekeyHost {
    const barrierOnly = (target: RekeyTarget) => {
      if (target !== 'barrier') throw new CofferError('invalid_request', 'recovery rekeying not supported');
    };
    return {
      currentConfig: async (target) => {
        barrierOnly(target);
        if (this.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
        const config = await this.#loadSealConfig();
        if (!config) throw new CofferError('not_initialized', 'server is not yet initialized');
        return config;
      },
      verifyCurrentKey: async (target, currentKey) => {
        barrierOnly(target);
        wipe(unwrapRootKey(currentKey, await this.#storage.get(SEALED_ROOT_KEY_PATH)));
      },
      writeBackup: async (target, backup) => {
        barrierOnly(target);
        await this.barrier.put(UNSEAL_KEYS_BACKUP_PATH, encodeBackup(backup));
      },
      commit: (target, newKey, config, nonce, backup) => {
        barrierOnly(target);
        return this.#stateLock.runExclusive(() => this.#commitRekey(newKey, config, nonce, backup));
      },
    };
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

  async #loadSealConfig(): Promise<SealConfig | undefined> {
    if (this.#sealConfig) return this.#sealConfig;
    const raw = await this.#storage.get(SEAL_CONFIG_PATH);
    if (!raw) return undefined;
    this.#sealConfig = decodeSealConfig(raw);
    return this.#sealConfig;
  }
}

function encodeBackup(backup: BackupRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ Nonce: backup.nonce, Keys: backup.keys }));
}

export function decodeBackup(raw: Uint8Array): BackupRecord {
  const j = JSON.parse(new TextDecoder().decode(raw)) as { Nonce: string; Keys: Record<string, string[]> };
  return { nonce: j.Nonce, keys: j.Keys };
}
