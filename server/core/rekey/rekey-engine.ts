import { Mutex } from 'async-mutex';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { CoreObserver } from '../observer.js';
import { encryptShares, parsePgpKeys } from '../pgp/pgp-keys.js';
import { addShare, combineQuorum, holdsShare, openQuorum, reached, wipeQuorum } from '../quorum/quorum.js';
import { isAutoSeal } from '../seal/auto-seal.js';
import { shareConfigProblem } from '../seal/seal-config.js';
import { SealStore, type BackupRecord, type KeyTarget, type ShareConfig } from '../seal/seal-store.js';
import { splitKey } from '../seal/shamir.js';
import type { Unsealer } from '../seal/unsealer.js';
import { constantTimeEqual, toPlainBytes, wipe } from '../secret-bytes.js';
import { commitRekey, rotateRootKeyThroughSeal, type RekeyCommitDeps } from './rekey-commit.js';
import { holdsShares, IDLE_REKEY, nonceOf, wipePending, wipeRekey, type PendingCommit, type RekeyConfig, type RekeyState } from './rekey-state.js';
import { resultOf, statusOf, verifyStatusOf, type RekeyResult, type RekeyStatus, type VerifyStatus } from './rekey-status.js';

export type RekeyTarget = KeyTarget;
export type { BackupRecord, RekeyResult, RekeyStatus, VerifyStatus };

/** Cancelling needs the operation's nonce during its first ten minutes (unless the caller has sudo). */
export const CANCEL_NONCE_WINDOW_MS = 10 * 60 * 1000;

export interface RekeyEngineDeps extends RekeyCommitDeps {
  lifecycle: Lifecycle;
  unsealer: Unsealer;
  observer: CoreObserver;
}

export interface RekeyInitRequest {
  shares: number;
  threshold: number;
  pgpKeys: readonly string[];
  backup: boolean;
  requireVerification: boolean;
}

/** Receives the finaliser of a committed rekey; the caller runs it once the new shares have been delivered. */
export type OnCommitted = (finalise: () => Promise<void>) => void;

/**
 * Rekey: new shares (and threshold) for the unseal key or the recovery key, authorised by a quorum of the current
 * shares. Both targets share this state machine. Every transition runs under the lifecycle's read side (so a seal
 * waits for it and it never runs against a sealed barrier) and under the engine's own lock (one transition at a time).
 */
export class RekeyEngine {
  readonly #d: RekeyEngineDeps;
  readonly #lock = new Mutex();
  readonly #states: Record<RekeyTarget, RekeyState> = { barrier: IDLE_REKEY, recovery: IDLE_REKEY };

  constructor(deps: RekeyEngineDeps) {
    this.#d = deps;
    deps.lifecycle.onSealing(() => this.reset());
  }

  async status(target: RekeyTarget): Promise<RekeyStatus> {
    return this.#locked(async () => statusOf(this.#states[target], (await this.#currentConfig(target)).secretThreshold));
  }

  /**
   * Starts an operation. @throws CofferError `invalid_request` (already in progress, backup without PGP, PGP count,
   * invalid configuration) or `invalid_seal_config` (unreadable PGP key).
   */
  async init(target: RekeyTarget, request: RekeyInitRequest): Promise<RekeyStatus> {
    return this.#locked(async () => {
      const current = await this.#currentConfig(target);
      if (this.#states[target].kind !== 'idle') throw new CofferError('invalid_request', 'rekey already in progress');
      const warnings: string[] = [];
      if (this.#rootKeyOnly(target)) {
        // Vault's refusals: the key service holds the only "share", so nothing can be encrypted, backed up or verified.
        if (request.pgpKeys.length > 0) throw new CofferError('invalid_request', 'PGP key encryption not supported when using stored keys');
        if (request.backup) throw new CofferError('invalid_request', 'key backup not supported when using stored keys');
        if (request.requireVerification)
          throw new CofferError('invalid_request', 'requiring verification not supported when rekeying the barrier key with recovery keys');
        if (request.shares !== 1 || request.threshold !== 1) {
          warnings.push('with an auto seal a barrier rekey only replaces the root key: secret_shares and secret_threshold are set to 1');
        }
        request = { ...request, shares: 1, threshold: 1 };
      }
      if (request.backup && request.pgpKeys.length === 0) {
        throw new CofferError('invalid_request', 'cannot request a backup of the new keys without providing PGP keys for encryption');
      }
      if (request.pgpKeys.length > 0 && request.pgpKeys.length !== request.shares)
        throw new CofferError('invalid_request', 'incorrect number of PGP keys for rekey');
      const problem = shareConfigProblem(request.shares, request.threshold, 0);
      if (problem) throw new CofferError('invalid_request', `invalid rekey seal configuration: ${problem}`);
      const config: RekeyConfig = {
        shares: request.shares,
        threshold: request.threshold,
        recipients: await parsePgpKeys(request.pgpKeys),
        backup: request.backup,
        requireVerification: request.requireVerification,
      };
      this.#states[target] = { kind: 'collecting', startedAt: this.#d.clock.now(), config, quorum: openQuorum(this.#d.random.uuid()) };
      return { ...statusOf(this.#states[target], current.secretThreshold), ...(warnings.length > 0 ? { warnings } : {}) };
    });
  }

  /**
   * Takes one current share. At the current threshold the shares are combined and proven; a wrong set is a 400 that
   * returns progress to 0 and keeps the operation and its nonce.
   */
  async update(target: RekeyTarget, share: Uint8Array, nonce: string, onCommitted: OnCommitted): Promise<RekeyStatus | RekeyResult> {
    return this.#locked(async () => {
      const current = await this.#currentConfig(target);
      const state = this.#states[target];
      if (state.kind === 'idle') throw new CofferError('invalid_request', `no ${target} rekey in progress`);
      if (state.kind === 'verifying') {
        throw new CofferError(
          'invalid_request',
          `rekey operation already finished; verification must be performed; nonce for the verification operation is "${state.quorum.nonce}"`,
        );
      }
      if (nonce !== state.quorum.nonce)
        throw new CofferError('invalid_request', `incorrect nonce supplied; nonce for this rekey operation is "${state.quorum.nonce}"`);
      if (holdsShare(state.quorum, share)) {
        throw new CofferError(
          'invalid_request',
          `given key has already been provided during this ${target === 'barrier' ? 'generation' : 'rekey'} operation`,
        );
      }
      const quorum = addShare(state.quorum, share);
      if (!reached(quorum, current.secretThreshold)) {
        this.#states[target] = { ...state, quorum };
        return statusOf(this.#states[target], current.secretThreshold);
      }
      // Threshold reached: progress is cleared whatever the outcome; the operation and its nonce survive.
      this.#states[target] = { ...state, quorum: openQuorum(quorum.nonce) };
      let pending: PendingCommit | undefined;
      try {
        pending = await this.#prove(target, quorum, current);
      } catch (err) {
        this.#d.observer.rekeyAttempt(target, 'failure', err instanceof CofferError ? err.code : 'internal');
        throw err;
      } finally {
        wipeQuorum(quorum);
      }
      try {
        const result = await this.#produce(target, quorum.nonce, state, pending, onCommitted);
        this.#d.observer.rekeyAttempt(target, 'success');
        return result;
      } catch (err) {
        this.#d.observer.rekeyAttempt(target, 'failure', err instanceof CofferError ? err.code : 'internal');
        throw err;
      }
    });
  }

  /**
   * Proves the combined current key, then prepares what the commit will need while that key is at hand: for the
   * barrier target a new root key and its wrapping under the OLD unseal key (the lost-response fallback).
   */
  async #prove(target: RekeyTarget, quorum: ReturnType<typeof openQuorum>, current: ShareConfig): Promise<PendingCommit | undefined> {
    let currentKey: Uint8Array | undefined;
    let rootKey: Uint8Array | undefined;
    try {
      currentKey = await combineQuorum(quorum, current.secretThreshold);
      if (this.#rootKeyOnly(target) || target === 'recovery') {
        await this.#d.unsealer.proveRecovery(currentKey);
        if (this.#rootKeyOnly(target)) return undefined;
        return {
          newKey: new Uint8Array(0),
          newRootKey: new Uint8Array(0),
          previousProof: await this.#d.store.currentProof('recovery'),
          oldConfig: current,
        };
      }
      rootKey = await this.#d.store.prove('barrier', currentKey);
      const newRootKey = this.#d.random.bytes(32);
      return { newKey: new Uint8Array(0), newRootKey, previousProof: SealStore.proofFor('barrier', currentKey, newRootKey), oldConfig: current };
    } finally {
      wipe(currentKey, rootKey);
    }
  }

  /** Makes the new key and shares; commits now, or keeps them for verification. */
  async #produce(
    target: RekeyTarget,
    nonce: string,
    state: Extract<RekeyState, { kind: 'collecting' }>,
    prepared: PendingCommit | undefined,
    onCommitted: OnCommitted,
  ): Promise<RekeyResult> {
    const { config, startedAt } = state;
    if (!prepared) {
      await rotateRootKeyThroughSeal(this.#d);
      this.#states[target] = IDLE_REKEY;
      return resultOf(nonce, config, []);
    }
    const newKey = this.#d.random.bytes(32);
    const pending: PendingCommit = { ...prepared, newKey };
    let shares: Uint8Array[] = [];
    let keep = false;
    try {
      shares = await splitKey(newKey, config.shares, config.threshold);
      const encrypted = config.recipients.length > 0 ? await encryptShares(shares, config.recipients) : shares.map(toPlainBytes);
      const backup = config.backup ? backupOf(nonce, config, encrypted) : undefined;
      const result = resultOf(nonce, config, encrypted);
      wipe(...encrypted);
      if (config.requireVerification) {
        // The backup is written when the shares are produced, as in Vault, so key holders can fetch it to verify.
        if (backup) await this.#d.barrier.batch([SealStore.backupOp(target, backup)]);
        const quorum = openQuorum(this.#d.random.uuid());
        this.#states[target] = { kind: 'verifying', nonce, startedAt, config, quorum, pending };
        keep = true;
        return { ...result, verificationNonce: quorum.nonce };
      }
      onCommitted(await commitRekey(this.#d, { target, nonce, config: shareConfigOf(config), pending, backup }));
      this.#states[target] = IDLE_REKEY;
      return result;
    } finally {
      wipe(...shares);
      if (!keep) wipePending(pending);
    }
  }

  async verifyStatus(target: RekeyTarget): Promise<VerifyStatus> {
    return this.#locked(async () => {
      const state = this.#states[target];
      if (state.kind === 'idle') throw new CofferError('invalid_request', 'no rekey configuration found');
      return verifyStatusOf(state);
    });
  }

  /**
   * Takes one *new* share. At the new threshold the shares must combine to the pending key; then it is committed.
   * A wrong set clears progress and rotates the verification nonce.
   */
  async verify(
    target: RekeyTarget,
    share: Uint8Array,
    nonce: string,
    onCommitted: OnCommitted,
  ): Promise<VerifyStatus | { nonce: string; complete: true }> {
    return this.#locked(async () => {
      const state = this.#states[target];
      if (state.kind === 'idle') throw new CofferError('invalid_request', 'no rekey in progress');
      if (state.kind !== 'verifying') throw new CofferError('invalid_request', 'no rekey verification in progress');
      if (nonce !== state.quorum.nonce)
        throw new CofferError('invalid_request', `incorrect nonce supplied; nonce for this verify operation is "${state.quorum.nonce}"`);
      if (holdsShare(state.quorum, share))
        throw new CofferError('invalid_request', 'given key has already been provided during this verify operation');
      const quorum = addShare(state.quorum, share);
      if (!reached(quorum, state.config.threshold)) {
        this.#states[target] = { ...state, quorum };
        return verifyStatusOf(this.#states[target]);
      }
      let combined: Uint8Array | undefined;
      try {
        combined = await combineQuorum(quorum, state.config.threshold).catch(() => undefined);
        if (!combined || !constantTimeEqual(combined, state.pending.newKey)) {
          this.#states[target] = { ...state, quorum: openQuorum(this.#d.random.uuid()) };
          throw new CofferError('invalid_request', 'rekey verification failed; incorrect key shares supplied');
        }
      } finally {
        wipe(combined);
        wipeQuorum(quorum);
      }
      // The state lock and the lifecycle's read side are held: no seal can wipe the pending key during the commit.
      onCommitted(
        await commitRekey(this.#d, { target, nonce: state.nonce, config: shareConfigOf(state.config), pending: state.pending, backup: undefined }),
      );
      this.#states[target] = IDLE_REKEY;
      wipeRekey(state);
      return { nonce: quorum.nonce, complete: true as const };
    });
  }

  /** Resets verification progress with a new verification nonce; the operation continues. */
  async verifyCancel(target: RekeyTarget): Promise<VerifyStatus> {
    return this.#locked(async () => {
      const state = this.#states[target];
      if (state.kind !== 'verifying') throw new CofferError('invalid_request', 'no rekey verification in progress');
      wipeQuorum(state.quorum);
      this.#states[target] = { ...state, quorum: openQuorum(this.#d.random.uuid()) };
      return verifyStatusOf(this.#states[target]);
    });
  }

  /**
   * Ends the operation (old shares stay valid). Once a key holder has put a share into it, only a caller with
   * `sudo` may cancel it (or a seal): otherwise anyone who can reach the server could replace the operation with
   * one encrypting the new shares to their own PGP key. Before that, within ten minutes of its start, it needs the
   * operation's nonce unless the caller has `sudo`. No operation: nothing to do.
   */
  async cancel(target: RekeyTarget, nonce: string | undefined, callerHasSudo: boolean): Promise<void> {
    await this.#lock.runExclusive(() => {
      const state = this.#states[target];
      if (state.kind === 'idle') return;
      if (!callerHasSudo && holdsShares(state)) {
        throw new CofferError(
          'invalid_request',
          'this rekey already holds key shares: cancelling it needs a token with sudo (or sealing the server)',
        );
      }
      const young = this.#d.clock.now().getTime() - state.startedAt.getTime() < CANCEL_NONCE_WINDOW_MS;
      if (young && !callerHasSudo && nonce !== nonceOf(state)) {
        throw new CofferError('invalid_request', 'a rekey started less than 10 minutes ago can only be cancelled with its nonce');
      }
      wipeRekey(state);
      this.#states[target] = IDLE_REKEY;
    });
  }

  /** The PGP-encrypted new shares kept by a rekey with `backup`. @throws `invalid_request` when there are none. */
  async readBackup(target: RekeyTarget): Promise<BackupRecord> {
    return this.#d.lifecycle.whileUnsealed(async () => {
      const raw = await this.#d.barrier.get(SealStore.backupPath(target));
      if (!raw) throw new CofferError('invalid_request', 'no backed-up keys found');
      return SealStore.decodeBackup(raw);
    });
  }

  async deleteBackup(target: RekeyTarget): Promise<void> {
    await this.#d.lifecycle.whileUnsealed(() => this.#d.barrier.delete(SealStore.backupPath(target)));
  }

  /** Sealing ends every operation (called under the lifecycle's write side: no transition is running). */
  reset(): void {
    for (const target of ['barrier', 'recovery'] as const) {
      wipeRekey(this.#states[target]);
      this.#states[target] = IDLE_REKEY;
    }
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#d.lifecycle.whileUnsealed(() => this.#lock.runExclusive(fn));
  }

  /** The current configuration of the target's shares. With an auto seal both targets use the recovery shares. */
  async #currentConfig(target: RekeyTarget): Promise<ShareConfig> {
    const config = await this.#d.store.config();
    if (!config) throw new CofferError('not_initialized', 'server is not yet initialized');
    if (config.type === 'shamir') {
      if (target !== 'barrier') throw new CofferError('invalid_request', 'recovery rekeying not supported');
      return config;
    }
    const recovery = await this.#d.store.recoveryConfig();
    if (!recovery || recovery.secretShares === 0) throw new CofferError('invalid_request', 'recovery keys not supported');
    return recovery;
  }

  /** The barrier target on an auto seal: no unseal shares exist, so a barrier rekey only replaces the root key. */
  #rootKeyOnly(target: RekeyTarget): boolean {
    return target === 'barrier' && isAutoSeal(this.#d.seal);
  }
}

function shareConfigOf(config: RekeyConfig): ShareConfig {
  return { secretShares: config.shares, secretThreshold: config.threshold };
}

function backupOf(nonce: string, config: RekeyConfig, encrypted: readonly Uint8Array[]): BackupRecord {
  const keys: Record<string, string[]> = {};
  config.recipients.forEach((r, i) => (keys[r.fingerprint] ??= []).push(Buffer.from(encrypted[i]!).toString('hex')));
  return { nonce, keys };
}
