import { Mutex } from 'async-mutex';
import type { RekeyResultResponse, RekeyStatusResponse, RekeyVerifyStatusResponse } from '../../../shared/api-types.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { encryptShares, parsePgpKeys } from '../pgp/pgp-keys.js';
import { constantTimeEqual, wipe } from '../secret-bytes.js';
import { shareConfigProblem, type SealConfig } from '../seal/seal-config.js';
import { combineShares, splitKey } from '../seal/shamir.js';
import { NO_OBSERVER, type CoreObserver } from '../observer.js';
import { hasPart, IDLE_REKEY, wipeRekey, type RekeyConfig, type RekeyState } from './rekey-state.js';

export type RekeyTarget = 'barrier' | 'recovery';

/** What the rekey engine needs from the core. */
export interface RekeyHost {
  /** The current configuration of the target's shares. @throws `not_initialized`. */
  currentConfig(target: RekeyTarget): Promise<SealConfig>;
  /** Proves a combined current key by authenticated decryption. @throws `invalid_key`. */
  verifyCurrentKey(target: RekeyTarget, currentKey: Uint8Array): Promise<void>;
  /**
   * Atomically installs `newKey` with `config` (and the backup, if any). Returns a function to call once the new
   * shares have reached the client: until then the old shares keep working too.
   */
  commit(target: RekeyTarget, newKey: Uint8Array, config: SealConfig, nonce: string, backup: BackupRecord | undefined): Promise<() => Promise<void>>;
  /** Stores PGP-encrypted new shares for their holders. */
  writeBackup(target: RekeyTarget, backup: BackupRecord): Promise<void>;
  /**
   * True for the barrier target on an auto seal: there are no unseal shares, so a barrier rekey (authorised by
   * recovery shares) only replaces the root key, as in Vault.
   */
  rootKeyOnly(target: RekeyTarget): boolean;
  /** Replaces the root key and its wrapping atomically (auto seals). */
  rotateRootKey(): Promise<void>;
}

/** PGP-encrypted new shares kept for key holders: fingerprint → hex ciphertexts. */
export interface BackupRecord {
  nonce: string;
  keys: Record<string, string[]>;
}

/** The wire shapes are Vault's; they are defined once, in shared/. */
export type RekeyStatus = RekeyStatusResponse;
export type RekeyResult = RekeyResultResponse;
export type VerifyStatus = RekeyVerifyStatusResponse;

/** Cancelling needs the operation's nonce during its first ten minutes (unless the caller has sudo). */
export const CANCEL_NONCE_WINDOW_MS = 10 * 60 * 1000;

/**
 * Rekey: new shares (and threshold) for the unseal key or the recovery key, authorised by a quorum of the current
 * shares. Both targets share this state machine; every transition runs under one lock.
 */
export class RekeyManager {
  readonly #host: RekeyHost;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #lock = new Mutex();
  readonly #states: Record<RekeyTarget, RekeyState> = { barrier: IDLE_REKEY, recovery: IDLE_REKEY };

  readonly #observer: CoreObserver;

  constructor(host: RekeyHost, clock: Clock, random: Random, observer: CoreObserver = NO_OBSERVER) {
    this.#host = host;
    this.#observer = observer;
    this.#clock = clock;
    this.#random = random;
  }

  async status(target: RekeyTarget): Promise<RekeyStatus> {
    const required = (await this.#host.currentConfig(target)).secretThreshold;
    return statusOf(this.#states[target], required);
  }

  /**
   * Starts an operation. @throws CofferError `invalid_request` (already in progress, backup without PGP, PGP count,
   * invalid configuration) or `invalid_seal_config` (unreadable PGP key).
   */
  async init(
    target: RekeyTarget,
    request: { shares: number; threshold: number; pgpKeys: readonly string[]; backup: boolean; requireVerification: boolean },
  ): Promise<RekeyStatus> {
    const current = await this.#host.currentConfig(target);
    return this.#lock.runExclusive(async () => {
      if (this.#states[target].kind !== 'idle') throw new CofferError('invalid_request', 'rekey already in progress');
      if (this.#host.rootKeyOnly(target)) {
        // Vault's refusals: the key service holds the only "share", so nothing can be encrypted, backed up or verified.
        if (request.pgpKeys.length > 0) throw new CofferError('invalid_request', 'PGP key encryption not supported when using stored keys');
        if (request.backup) throw new CofferError('invalid_request', 'key backup not supported when using stored keys');
        if (request.requireVerification) {
          throw new CofferError('invalid_request', 'requiring verification not supported when rekeying the barrier key with recovery keys');
        }
        request = { ...request, shares: 1, threshold: 1 };
      }
      if (request.backup && request.pgpKeys.length === 0) {
        throw new CofferError('invalid_request', 'cannot request a backup of the new keys without providing PGP keys for encryption');
      }
      if (request.pgpKeys.length > 0 && request.pgpKeys.length !== request.shares) throw new CofferError('invalid_request', 'incorrect number of PGP keys for rekey');
      const problem = shareConfigProblem(request.shares, request.threshold, 0);
      if (problem) throw new CofferError('invalid_request', `invalid rekey seal configuration: ${problem}`);
      const recipients = await parsePgpKeys(request.pgpKeys);
      const config: RekeyConfig = {
        shares: request.shares,
        threshold: request.threshold,
        recipients,
        backup: request.backup,
        requireVerification: request.requireVerification,
      };
      this.#states[target] = { kind: 'collecting', nonce: this.#random.uuid(), startedAt: this.#clock.now(), config, parts: [] };
      return statusOf(this.#states[target], current.secretThreshold);
    });
  }

  /**
   * Takes one current share. At the current threshold the shares are combined and proven; a wrong set is a 400 that
   * returns progress to 0 and keeps the operation and its nonce.
   * @param onCommitted receives the finaliser of a completed rekey (called once the response has been sent).
   */
  async update(
    target: RekeyTarget,
    share: Uint8Array,
    nonce: string,
    onCommitted: (finalise: () => Promise<void>) => void,
  ): Promise<RekeyStatus | RekeyResult> {
    const current = await this.#host.currentConfig(target);
    return this.#lock.runExclusive(async () => {
      const state = this.#states[target];
      if (state.kind === 'idle') throw new CofferError('invalid_request', `no ${target} rekey in progress`);
      if (state.kind === 'verifying') {
        throw new CofferError(
          'invalid_request',
          `rekey operation already finished; verification must be performed; nonce for the verification operation is "${state.verificationNonce}"`,
        );
      }
      if (nonce !== state.nonce) throw new CofferError('invalid_request', `incorrect nonce supplied; nonce for this rekey operation is "${state.nonce}"`);
      if (hasPart(state.parts, share)) {
        throw new CofferError('invalid_request', `given key has already been provided during this ${target === 'barrier' ? 'generation' : 'rekey'} operation`);
      }
      const parts = [...state.parts, share.slice()];
      if (parts.length < current.secretThreshold) {
        this.#states[target] = { ...state, parts };
        return statusOf(this.#states[target], current.secretThreshold);
      }
      // Threshold reached: progress is cleared whatever the outcome; the operation and its nonce survive.
      this.#states[target] = { ...state, parts: [] };
      let currentKey: Uint8Array | undefined;
      try {
        currentKey = await combineShares(parts, current.secretThreshold);
        await this.#host.verifyCurrentKey(target, currentKey);
      } catch (err) {
        this.#observer.rekeyAttempt(target, 'failure', err instanceof CofferError ? err.code : 'internal');
        throw err;
      } finally {
        wipe(currentKey, ...parts);
      }
      try {
        const result = await this.#produce(target, state.nonce, state.startedAt, state.config, onCommitted);
        this.#observer.rekeyAttempt(target, 'success');
        return result;
      } catch (err) {
        this.#observer.rekeyAttempt(target, 'failure', err instanceof CofferError ? err.code : 'internal');
        throw err;
      }
    });
  }

  /** Makes the new key and shares; commits now, or waits for verification. */
  async #produce(
    target: RekeyTarget,
    nonce: string,
    startedAt: Date,
    config: RekeyConfig,
    onCommitted: (finalise: () => Promise<void>) => void,
  ): Promise<RekeyResult> {
    if (this.#host.rootKeyOnly(target)) {
      await this.#host.rotateRootKey();
      this.#states[target] = IDLE_REKEY;
      return { nonce, complete: true, keys: [], keys_base64: [], pgp_fingerprints: null, backup: false, verification_required: false };
    }
    const newKey = this.#random.bytes(32);
    let shares: Uint8Array[] = [];
    try {
      shares = await splitKey(newKey, config.shares, config.threshold);
      const encrypted = config.recipients.length > 0 ? await encryptShares(shares, config.recipients) : shares.map((s) => s.slice());
      const fingerprints = config.recipients.length > 0 ? config.recipients.map((r) => r.fingerprint) : null;
      const backup = config.backup ? backupOf(nonce, config, encrypted) : undefined;
      const result: RekeyResult = {
        nonce,
        complete: true,
        keys: encrypted.map((k) => Buffer.from(k).toString('hex')),
        keys_base64: encrypted.map((k) => Buffer.from(k).toString('base64')),
        pgp_fingerprints: fingerprints,
        backup: config.backup,
        verification_required: config.requireVerification,
      };
      wipe(...encrypted);
      if (config.requireVerification) {
        const verificationNonce = this.#random.uuid();
        // The backup is written when the shares are produced, as in Vault, so key holders can fetch it to verify.
        if (backup) await this.#host.writeBackup(target, backup);
        this.#states[target] = { kind: 'verifying', nonce, startedAt, config, verificationNonce, pendingKey: newKey.slice(), parts: [] };
        return { ...result, verification_nonce: verificationNonce };
      }
      const finalise = await this.#host.commit(target, newKey, { type: 'shamir', secretShares: config.shares, secretThreshold: config.threshold }, nonce, backup);
      this.#states[target] = IDLE_REKEY;
      onCommitted(finalise);
      return result;
    } finally {
      wipe(newKey, ...shares);
    }
  }

  async verifyStatus(target: RekeyTarget): Promise<VerifyStatus> {
    const state = this.#states[target];
    if (state.kind === 'idle') throw new CofferError('invalid_request', 'no rekey configuration found');
    return verifyStatusOf(state);
  }

  /**
   * Takes one *new* share. At the new threshold the shares must combine to the pending key; then it is committed.
   * A wrong set clears progress and rotates the verification nonce.
   */
  async verify(
    target: RekeyTarget,
    share: Uint8Array,
    nonce: string,
    onCommitted: (finalise: () => Promise<void>) => void,
  ): Promise<VerifyStatus | { nonce: string; complete: true }> {
    return this.#lock.runExclusive(async () => {
      const state = this.#states[target];
      if (state.kind === 'idle') throw new CofferError('invalid_request', 'no rekey in progress');
      if (state.kind !== 'verifying') throw new CofferError('invalid_request', 'no rekey verification in progress');
      if (nonce !== state.verificationNonce) {
        throw new CofferError('invalid_request', `incorrect nonce supplied; nonce for this verify operation is "${state.verificationNonce}"`);
      }
      if (hasPart(state.parts, share)) throw new CofferError('invalid_request', 'given key has already been provided during this verify operation');
      const parts = [...state.parts, share.slice()];
      if (parts.length < state.config.threshold) {
        this.#states[target] = { ...state, parts };
        return verifyStatusOf(this.#states[target]);
      }
      let combined: Uint8Array | undefined;
      try {
        combined = await combineShares(parts, state.config.threshold).catch(() => undefined);
        if (!combined || !constantTimeEqual(combined, state.pendingKey)) {
          this.#states[target] = { ...state, parts: [], verificationNonce: this.#random.uuid() };
          throw new CofferError('invalid_request', 'rekey verification failed; incorrect key shares supplied');
        }
      } finally {
        wipe(combined, ...parts);
      }
      const finalise = await this.#host.commit(
        target,
        state.pendingKey,
        { type: 'shamir', secretShares: state.config.shares, secretThreshold: state.config.threshold },
        state.nonce,
        undefined,
      );
      this.#states[target] = IDLE_REKEY;
      wipeRekey(state);
      onCommitted(finalise);
      return { nonce: state.verificationNonce, complete: true as const };
    });
  }

  /** Resets verification progress with a new verification nonce; the operation continues. */
  async verifyCancel(target: RekeyTarget): Promise<VerifyStatus> {
    return this.#lock.runExclusive(async () => {
      const state = this.#states[target];
      if (state.kind !== 'verifying') throw new CofferError('invalid_request', 'no rekey verification in progress');
      wipe(...state.parts);
      this.#states[target] = { ...state, parts: [], verificationNonce: this.#random.uuid() };
      return verifyStatusOf(this.#states[target]);
    });
  }

  /**
   * Ends the operation (old shares stay valid). Within ten minutes of its start it needs the operation's nonce,
   * unless the caller holds `sudo`. No operation: nothing to do.
   */
  async cancel(target: RekeyTarget, nonce: string | undefined, callerHasSudo: boolean): Promise<void> {
    await this.#lock.runExclusive(() => {
      const state = this.#states[target];
      if (state.kind === 'idle') return;
      const young = this.#clock.now().getTime() - state.startedAt.getTime() < CANCEL_NONCE_WINDOW_MS;
      if (young && !callerHasSudo && nonce !== state.nonce) {
        throw new CofferError('invalid_request', 'a rekey started less than 10 minutes ago can only be cancelled with its nonce');
      }
      wipeRekey(state);
      this.#states[target] = IDLE_REKEY;
    });
  }

  /** Sealing ends every operation. */
  reset(): void {
    for (const target of ['barrier', 'recovery'] as const) {
      wipeRekey(this.#states[target]);
      this.#states[target] = IDLE_REKEY;
    }
  }
}

function statusOf(state: RekeyState, required: number): RekeyStatus {
  if (state.kind === 'idle') {
    return { nonce: '', started: false, t: 0, n: 0, progress: 0, required, pgp_fingerprints: null, backup: false, verification_required: false };
  }
  const fingerprints = state.config.recipients.length > 0 ? state.config.recipients.map((r) => r.fingerprint) : null;
  return {
    nonce: state.nonce,
    started: true,
    t: state.config.threshold,
    n: state.config.shares,
    progress: state.kind === 'collecting' ? state.parts.length : 0,
    required,
    pgp_fingerprints: fingerprints,
    backup: fingerprints ? state.config.backup : false,
    verification_required: state.config.requireVerification,
    ...(state.kind === 'verifying' ? { verification_nonce: state.verificationNonce } : {}),
  };
}

function verifyStatusOf(state: Exclude<RekeyState, { kind: 'idle' }>): VerifyStatus {
  return {
    nonce: state.kind === 'verifying' ? state.verificationNonce : '',
    started: state.kind === 'verifying',
    t: state.config.threshold,
    n: state.config.shares,
    progress: state.kind === 'verifying' ? state.parts.length : 0,
  };
}

function backupOf(nonce: string, config: RekeyConfig, encrypted: readonly Uint8Array[]): BackupRecord {
  const keys: Record<string, string[]> = {};
  config.recipients.forEach((r, i) => (keys[r.fingerprint] ??= []).push(Buffer.from(encrypted[i]!).toString('hex')));
  return { nonce, keys };
}
