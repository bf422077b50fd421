import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Keyring } from '../barrier/keyring.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { blockingBelow, type CensusRecord } from './census.js';

export const DEFAULT_TRIM_GRACE_SECONDS = 72 * 3600;
export const CONFIRM_TOKEN_TTL_MS = 60_000;
const RETIREMENT_PATH = 'sys/rewrap/retirement';

/** A gate refused: the reason, and the census counts that block it (if any). */
export class GateRefusal extends CofferError {
  readonly blocking: Record<string, { entries: number }>;
  constructor(message: string, blocking: Record<string, { entries: number }> = {}) {
    super('conflict', message);
    this.blocking = blocking;
  }
}

export interface RetirementDeps {
  barrier: AesGcmBarrier;
  lifecycle: Lifecycle;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The latest completed census. */
  lastCensus(): Promise<CensusRecord | undefined>;
  /** Seconds a term must stay retired before its key can be trimmed. */
  trimGraceSeconds: number;
}

export interface TrimPreview {
  min_available_term: number;
  terms_to_destroy: number[];
  confirm_token: string;
  expires_at: string;
}

/**
 * Retirement of old terms, in two steps. `retire` refuses reads of terms below N (reversible with `unretire`) once a
 * fresh census proves no entry is left under them; `trim` destroys their key bytes for good, after a grace period
 * without a single refused read, and only with a short-lived confirm token from a preview. The active term can
 * never be retired or trimmed (the keyring's bounds forbid it).
 */
export class RetirementService {
  readonly #d: RetirementDeps;
  /** Signs confirm tokens; per process, so a token never outlives a restart. */
  readonly #tokenKey: Uint8Array;

  constructor(deps: RetirementDeps) {
    this.#d = deps;
    this.#tokenKey = deps.random.bytes(32);
  }

  /**
   * The census the gates accept: completed, started while the current active term was already active (no rotate or
   * rekey since), and not older than the last unretire.
   * @throws GateRefusal.
   */
  async #freshCensus(keyring: Keyring): Promise<CensusRecord> {
    const census = await this.#d.lastCensus();
    if (!census) throw new GateRefusal('no completed census: run POST sys/rewrap/census first');
    if (census.active_term !== keyring.activeTerm) throw new GateRefusal('the last census predates the last rotate or rekey: run a new census');
    const floor = await this.#censusFloor();
    if (census.seq < floor) throw new GateRefusal('the last census predates the last unretire: run a new census');
    return census;
  }

  async #censusFloor(): Promise<number> {
    const raw = await this.#d.barrier.get(RETIREMENT_PATH);
    if (!raw) return 0;
    try {
      return (JSON.parse(new TextDecoder().decode(raw)) as { census_floor_seq?: number }).census_floor_seq ?? 0;
    } finally {
      raw.fill(0);
    }
  }

  /**
   * Refuses reads of every term below `term`.
   * @throws CofferError `invalid_request` for a bad term (the active term cannot be retired: N is at most the active
   * term, and only terms BELOW N retire); GateRefusal (409) without a fresh census showing 0 entries below N; `sealed`.
   */
  async retire(term: number, dryRun = false): Promise<{ min_decryption_term: number; dry_run: boolean }> {
    return this.#d.lifecycle.whileUnsealed(async () => {
      const keyring = this.#d.barrier.activeKeyring;
      checkTerm(term, 'min_decryption_term');
      if (term > keyring.activeTerm)
        throw new CofferError('invalid_request', `min_decryption_term ${term} is above the active term ${keyring.activeTerm}`);
      if (term <= keyring.bounds.minDecryptionTerm) {
        throw new CofferError('invalid_request', `min_decryption_term is already ${keyring.bounds.minDecryptionTerm}; use unretire to lower it`);
      }
      const census = await this.#freshCensus(keyring);
      const blocking = blockingBelow(census, term);
      if (Object.keys(blocking).length > 0) throw new GateRefusal(`the last census still shows entries under terms below ${term}`, blocking);
      if (dryRun) return { min_decryption_term: term, dry_run: true };
      await this.#d.barrier.changeBounds((k) => k.withMinDecryptionTerm(term, this.#d.clock.now()));
      this.#d.logger.warn({ min_decryption_term: term }, 'retired keyring terms: their entries can no longer be read');
      return { min_decryption_term: term, dry_run: false };
    });
  }

  /**
   * Lowers `min_decryption_term` again (not below a trimmed term). The next retire needs a census made after this.
   * @throws CofferError `invalid_request`, `sealed`.
   */
  async unretire(term: number): Promise<{ min_decryption_term: number }> {
    return this.#d.lifecycle.whileUnsealed(async () => {
      const keyring = this.#d.barrier.activeKeyring;
      checkTerm(term, 'min_decryption_term');
      if (term >= keyring.bounds.minDecryptionTerm)
        throw new CofferError('invalid_request', `min_decryption_term ${term} is not below the current ${keyring.bounds.minDecryptionTerm}`);
      if (term < keyring.bounds.minAvailableTerm)
        throw new CofferError('invalid_request', `terms below ${keyring.bounds.minAvailableTerm} were trimmed: they cannot be unretired`);
      const census = await this.#d.lastCensus();
      await this.#d.barrier.put(RETIREMENT_PATH, new TextEncoder().encode(JSON.stringify({ census_floor_seq: (census?.seq ?? 0) + 1 })));
      await this.#d.barrier.changeBounds((k) => k.withMinDecryptionTerm(term, this.#d.clock.now()));
      this.#d.logger.warn({ min_decryption_term: term }, 'unretired keyring terms');
      return { min_decryption_term: term };
    });
  }

  /**
   * Destroys the key bytes of every term below `term`. Without `confirmToken`: checks every gate and returns a
   * preview with a token valid for 60 s; with it: checks again and trims. Irreversible.
   * @throws CofferError `invalid_request` (bad term, bad or expired token), GateRefusal (409: not retired, grace
   * period not over, a refused read since the retire, no fresh census at 0), `sealed`.
   */
  async trim(term: number, confirmToken?: string): Promise<TrimPreview | { min_available_term: number; trimmed_terms: number[] }> {
    return this.#d.lifecycle.whileUnsealed(async () => {
      const keyring = this.#d.barrier.activeKeyring;
      const { bounds } = keyring;
      checkTerm(term, 'min_available_term');
      if (term <= bounds.minAvailableTerm) throw new CofferError('invalid_request', `terms below ${bounds.minAvailableTerm} are already trimmed`);
      if (term >= keyring.activeTerm + 1) throw new CofferError('invalid_request', 'the active term can never be trimmed');
      if (term > bounds.minDecryptionTerm) throw new GateRefusal(`retire first: min_decryption_term is ${bounds.minDecryptionTerm}, below ${term}`);
      const now = this.#d.clock.now();
      const retiredAt = bounds.retiredAt;
      if (!retiredAt) throw new GateRefusal('no retire is recorded for these terms');
      const graceEnds = retiredAt.getTime() + this.#d.trimGraceSeconds * 1000;
      if (now.getTime() < graceEnds) throw new GateRefusal(`the grace period after the retire ends at ${new Date(graceEnds).toISOString()}`);
      if (bounds.deniedReads > 0)
        throw new GateRefusal(`${bounds.deniedReads} read(s) of retired terms were refused since the retire: something still needs them`);
      const census = await this.#freshCensus(keyring);
      const blocking = blockingBelow(census, term);
      if (Object.keys(blocking).length > 0) throw new GateRefusal(`the last census still shows entries under terms below ${term}`, blocking);
      const doomed = keyring.terms.filter((t) => t < term);
      const binding = `${term}|${keyring.activeTerm}|${bounds.minDecryptionTerm}|${bounds.minAvailableTerm}|${retiredAt.toISOString()}|${census.seq}`;
      if (confirmToken === undefined) {
        const expires = now.getTime() + CONFIRM_TOKEN_TTL_MS;
        return {
          min_available_term: term,
          terms_to_destroy: doomed,
          confirm_token: `${expires}.${this.#sign(binding, expires)}`,
          expires_at: new Date(expires).toISOString(),
        };
      }
      const [expiresText, mac] = confirmToken.split('.');
      const expires = Number(expiresText);
      const expected = Number.isSafeInteger(expires) ? this.#sign(binding, expires) : '';
      if (!mac || !Number.isSafeInteger(expires) || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
        throw new CofferError('invalid_request', 'confirm_token does not match this trim (or the keyring changed since the preview)');
      }
      if (now.getTime() > expires) throw new CofferError('invalid_request', 'confirm_token expired: ask for a new preview');
      await this.#d.barrier.changeBounds((k) => k.withTrimmedBelow(term));
      this.#d.logger.warn({ min_available_term: term, trimmed_terms: doomed }, 'TRIMMED keyring terms: their key bytes are destroyed');
      return { min_available_term: term, trimmed_terms: doomed };
    });
  }

  #sign(binding: string, expires: number): string {
    return createHmac('sha256', this.#tokenKey).update(`${binding}|${expires}`).digest('base64url');
  }
}

function checkTerm(term: unknown, field: string): asserts term is number {
  if (typeof term !== 'number' || !Number.isInteger(term) || term < 1)
    throw new CofferError('invalid_request', `${field} must be a positive integer`);
}
