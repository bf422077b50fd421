import { randomInt } from 'node:crypto';
import { Mutex } from 'async-mutex';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { encryptTo, parsePgpKey, type PgpRecipient } from '../pgp/pgp-keys.js';
import { addShare, combineQuorum, holdsShare, openQuorum, reached, wipeQuorum, type Quorum } from '../quorum/quorum.js';
import type { SealStore } from '../seal/seal-store.js';
import type { Unsealer } from '../seal/unsealer.js';
import { wipe } from '../secret-bytes.js';
import type { TokenStore } from '../token/token-store.js';

/** Root tokens are `hvs.` + 24 base62 characters: the OTP has the same length, so XOR covers every byte. */
export const OTP_LENGTH = 28;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** How the new token leaves the server: XORed with a one-time pad the requester holds, or PGP-encrypted. */
type Delivery = { readonly kind: 'otp'; readonly otp: string } | { readonly kind: 'pgp'; readonly recipient: PgpRecipient };

type Attempt =
  { readonly kind: 'idle' } | { readonly kind: 'collecting'; readonly startedAt: Date; readonly delivery: Delivery; readonly quorum: Quorum };

export interface GenerateRootStatus {
  readonly started: boolean;
  readonly nonce: string;
  readonly progress: number;
  readonly required: number;
  readonly pgpFingerprint: string;
  readonly otpLength: number;
  readonly startedAt?: Date;
}

export interface GenerateRootResult {
  readonly complete: true;
  readonly nonce: string;
  /** base64 (no padding) of token XOR OTP, or standard base64 of the PGP message. */
  readonly encodedToken: string;
  readonly pgpFingerprint: string;
}

export interface GenerateRootDeps {
  lifecycle: Lifecycle;
  store: SealStore;
  unsealer: Unsealer;
  tokens: TokenStore;
  clock: Clock;
  random: Random;
}

/** A random base62 one-time pad of the token's length. */
export function generateOtp(): string {
  let out = '';
  for (let i = 0; i < OTP_LENGTH; i++) out += BASE62[randomInt(BASE62.length)]!;
  return out;
}

/** Vault's encoding: base64 without padding of `token XOR otp` (equal lengths). */
export function encodeToken(token: string, otp: string): string {
  const t = Buffer.from(token, 'utf8');
  const o = Buffer.from(otp, 'utf8');
  if (t.length !== o.length) throw new CofferError('internal', 'the OTP length does not match the token length');
  const x = Buffer.alloc(t.length);
  for (let i = 0; i < t.length; i++) x[i] = t[i]! ^ o[i]!;
  const out = x.toString('base64').replace(/=+$/, '');
  t.fill(0);
  x.fill(0);
  return out;
}

/** The inverse of `encodeToken`. @throws CofferError `invalid_request` for mismatched lengths. */
export function decodeToken(encoded: string, otp: string): string {
  const x = Buffer.from(encoded, 'base64');
  const o = Buffer.from(otp, 'utf8');
  if (x.length !== o.length || x.length === 0) throw new CofferError('invalid_request', 'the encoded token and the OTP have different lengths');
  for (let i = 0; i < x.length; i++) x[i] = x[i]! ^ o[i]!;
  const token = x.toString('utf8');
  x.fill(0);
  return token;
}

/**
 * `sys/generate-root`: a quorum of unseal shares (or recovery shares with an auto seal) mints a new root token — the
 * way back from a lost or revoked root token. Transitions run under the lifecycle's read side and one lock; the
 * attempt lives in memory only and a seal ends it. The new token is a root token, orphan, without TTL.
 */
export class GenerateRoot {
  readonly #d: GenerateRootDeps;
  readonly #lock = new Mutex();
  #attempt: Attempt = { kind: 'idle' };

  constructor(deps: GenerateRootDeps) {
    this.#d = deps;
    deps.lifecycle.onSealing(() => this.#reset());
  }

  async status(): Promise<GenerateRootStatus> {
    return this.#locked(async () => this.#statusOf(await this.#required()));
  }

  /**
   * Starts an attempt. Without `otp` and `pgpKey` a one-time pad is made and returned, once.
   * @throws CofferError `invalid_request` (already running, OTP length, both given), `invalid_seal_config` (PGP key).
   */
  async start(request: { otp?: string; pgpKey?: string }): Promise<{ status: GenerateRootStatus; otp?: string }> {
    const recipient = request.pgpKey
      ? await parsePgpKey(request.pgpKey).catch((err: unknown) => {
          throw new CofferError('invalid_request', `error parsing PGP key: ${err instanceof CofferError ? err.message : 'unreadable key'}`);
        })
      : undefined;
    return this.#locked(async () => {
      const required = await this.#required();
      if (this.#attempt.kind !== 'idle') throw new CofferError('invalid_request', 'root generation already in progress');
      if (request.otp !== undefined && recipient) throw new CofferError('invalid_request', 'only one of an OTP or a PGP key can be specified');
      if (request.otp !== undefined && request.otp.length !== OTP_LENGTH) throw new CofferError('invalid_request', 'OTP string has incorrect length');
      const generated = request.otp === undefined && !recipient ? generateOtp() : undefined;
      const delivery: Delivery = recipient ? { kind: 'pgp', recipient } : { kind: 'otp', otp: request.otp ?? generated! };
      this.#attempt = { kind: 'collecting', startedAt: this.#d.clock.now(), delivery, quorum: openQuorum(this.#d.random.uuid()) };
      return { status: this.#statusOf(required), ...(generated ? { otp: generated } : {}) };
    });
  }

  /**
   * Takes one share. At the threshold the shares are combined and proven by authenticated decryption; then a root
   * token is created and returned encoded. A wrong set ends the attempt's progress (the attempt stays).
   */
  async update(share: Uint8Array, nonce: string): Promise<GenerateRootStatus | GenerateRootResult> {
    return this.#locked(async () => {
      const required = await this.#required();
      const attempt = this.#attempt;
      if (attempt.kind === 'idle') throw new CofferError('invalid_request', 'no root generation in progress');
      if (nonce !== attempt.quorum.nonce) {
        throw new CofferError('invalid_request', `incorrect nonce supplied; nonce for this root generation operation is "${attempt.quorum.nonce}"`);
      }
      if (holdsShare(attempt.quorum, share))
        throw new CofferError('invalid_request', 'given key has already been provided during this generation operation');
      const quorum = addShare(attempt.quorum, share);
      if (!reached(quorum, required)) {
        this.#attempt = { ...attempt, quorum };
        return this.#statusOf(required);
      }
      this.#attempt = { ...attempt, quorum: openQuorum(quorum.nonce) };
      let combined: Uint8Array | undefined;
      try {
        combined = await combineQuorum(quorum, required);
        await this.#prove(combined);
      } catch (err) {
        if (err instanceof CofferError && err.code === 'invalid_key')
          throw new CofferError('invalid_request', `root generation aborted: ${err.message}`);
        throw err;
      } finally {
        wipe(combined);
        wipeQuorum(quorum);
      }
      const { token } = await this.#d.tokens.create({ policies: ['root'], ttl: 0, renewable: false, displayName: 'root', parent: '' });
      const delivery = attempt.delivery;
      const encodedToken =
        delivery.kind === 'otp'
          ? encodeToken(token, delivery.otp)
          : Buffer.from(await encryptTo(delivery.recipient, new TextEncoder().encode(token))).toString('base64');
      this.#attempt = { kind: 'idle' };
      return { complete: true, nonce: quorum.nonce, encodedToken, pgpFingerprint: delivery.kind === 'pgp' ? delivery.recipient.fingerprint : '' };
    });
  }

  /**
   * Ends the attempt. Once a key holder has submitted a share, only a caller with `sudo` may cancel it (or a seal),
   * so nobody can replace it with one whose token goes to their own PGP key or OTP.
   */
  async cancel(callerHasSudo: boolean): Promise<void> {
    await this.#lock.runExclusive(() => {
      const attempt = this.#attempt;
      if (attempt.kind === 'idle') return;
      if (attempt.quorum.parts.length > 0 && !callerHasSudo) {
        throw new CofferError(
          'invalid_request',
          'this root generation already holds key shares: cancelling it needs a token with sudo (or sealing the server)',
        );
      }
      this.#reset();
    });
  }

  #reset(): void {
    if (this.#attempt.kind === 'collecting') wipeQuorum(this.#attempt.quorum);
    this.#attempt = { kind: 'idle' };
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#d.lifecycle.whileUnsealed(() => this.#lock.runExclusive(fn));
  }

  /** The unseal threshold, or the recovery threshold with an auto seal. */
  async #required(): Promise<number> {
    const config = await this.#d.store.config();
    if (!config) throw new CofferError('not_initialized', 'server is not yet initialized');
    if (config.type === 'shamir') return config.secretThreshold;
    const recovery = await this.#d.store.recoveryConfig();
    if (!recovery || recovery.secretShares === 0)
      throw new CofferError('invalid_request', 'this server has no recovery keys: a root token cannot be generated');
    return recovery.secretThreshold;
  }

  /** @throws CofferError `invalid_key` unless `key` is the current unseal key (or recovery key). */
  async #prove(key: Uint8Array): Promise<void> {
    const config = await this.#d.store.config();
    if (config?.type === 'shamir') wipe(await this.#d.store.prove('barrier', key));
    else await this.#d.unsealer.proveRecovery(key);
  }

  #statusOf(required: number): GenerateRootStatus {
    const a = this.#attempt;
    if (a.kind === 'idle') return { started: false, nonce: '', progress: 0, required, pgpFingerprint: '', otpLength: OTP_LENGTH };
    return {
      started: true,
      nonce: a.quorum.nonce,
      progress: a.quorum.parts.length,
      required,
      pgpFingerprint: a.delivery.kind === 'pgp' ? a.delivery.recipient.fingerprint : '',
      otpLength: OTP_LENGTH,
      startedAt: a.startedAt,
    };
  }
}
