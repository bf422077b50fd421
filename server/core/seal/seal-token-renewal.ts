import type { Logger } from 'pino';
import { isCofferError } from '../errors.js';
import type { SealTokenLease, TransitSeal } from './transit-seal.js';

/** Runs `fn` after `ms`; returns a cancel function (start.ts's `Scheduler`). */
export type RenewalScheduler = (fn: () => void, ms: number) => () => void;

/** First delay after a failed renewal or lookup; it doubles up to `RENEWAL_RETRY_MAX_MS`. */
export const RENEWAL_RETRY_FIRST_MS = 1_000;
export const RENEWAL_RETRY_MAX_MS = 60_000;

/**
 * Keeps a transit seal's token alive, as Vault's transit seal does: looks the token up once to learn its TTL, then
 * renews it (`auth/token/renew-self`) whenever half of its TTL has passed. A token that never expires or cannot be
 * renewed is left alone. Failures are logged (with the key service's answer, never the token) and retried with
 * doubling delays, because a token that lapses makes the next unseal impossible without recovery shares.
 */
export class SealTokenRenewal {
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly seal: TransitSeal,
    private readonly logger: Logger,
    private readonly schedule: RenewalScheduler,
  ) {}

  /** Starts in the background: the first lookup is not awaited, so a slow key service does not hold the start. */
  start(): void {
    this.#running = this.#lookup(RENEWAL_RETRY_FIRST_MS);
  }

  /** Cancels the next renewal and waits for one in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running;
  }

  async #lookup(retryMs: number): Promise<void> {
    let lease: SealTokenLease;
    try {
      lease = await this.seal.lookupToken();
    } catch (err) {
      const message = (err as Error).message;
      if (isCofferError(err, 'seal_unavailable')) {
        this.logger.warn({ seal: this.seal.description, err: message, retry_in_ms: retryMs }, 'cannot look up the seal token yet; retrying');
        this.#after(retryMs, () => this.#lookup(Math.min(retryMs * 2, RENEWAL_RETRY_MAX_MS)));
      } else {
        this.logger.warn(
          { seal: this.seal.description, err: message },
          'cannot look up the seal token, so it will not be renewed: allow it auth/token/lookup-self and auth/token/renew-self (the default policy does), or set disable_renewal = "true" if something else renews it',
        );
      }
      return;
    }
    this.#plan(lease);
  }

  #plan(lease: SealTokenLease): void {
    if (lease.ttlSeconds === 0 || !lease.renewable) {
      const why = lease.ttlSeconds === 0 ? 'does not expire' : `is not renewable and expires in ${lease.ttlSeconds}s`;
      this.logger.info({ seal: this.seal.description, ttl_seconds: lease.ttlSeconds }, `the seal token ${why}; not renewing it`);
      return;
    }
    const delayMs = Math.floor((lease.ttlSeconds * 1000) / 2);
    this.logger.info({ seal: this.seal.description, ttl_seconds: lease.ttlSeconds, renew_in_ms: delayMs }, 'seal token renewal scheduled');
    this.#after(delayMs, () => this.#renew(RENEWAL_RETRY_FIRST_MS));
  }

  async #renew(retryMs: number): Promise<void> {
    let lease: SealTokenLease;
    try {
      lease = await this.seal.renewToken();
    } catch (err) {
      this.logger.error({ seal: this.seal.description, err: (err as Error).message, retry_in_ms: retryMs }, 'cannot renew the seal token; retrying');
      this.#after(retryMs, () => this.#renew(Math.min(retryMs * 2, RENEWAL_RETRY_MAX_MS)));
      return;
    }
    this.logger.info({ seal: this.seal.description, ttl_seconds: lease.ttlSeconds }, 'renewed the seal token');
    this.#plan(lease);
  }

  #after(ms: number, fn: () => Promise<void>): void {
    if (this.#stopped) return;
    this.#cancel = this.schedule(() => {
      this.#cancel = undefined;
      this.#running = fn();
    }, ms);
  }
}
