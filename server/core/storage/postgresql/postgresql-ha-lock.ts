import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Mutex } from 'async-mutex';
import pg from 'pg';
import { CofferError } from '../../errors.js';
import type { WriteFence } from './postgresql-backend.js';

/** The one lock row, as in Vault (`CoreLockPath`). */
export const HA_LOCK_KEY = 'core/lock';
const MEMBER_PREFIX = 'coffer/member/';

export interface HaLockOptions {
  connectionUrl: string;
  haTable: string;
  /** Lifetime of the row on the database clock. */
  ttlMs: number;
  renewIntervalMs: number;
  /** What the row advertises while this node holds it (the leader's address and start time; no secret). */
  value: () => string;
  /** Monotonic milliseconds (tests inject one). */
  now?: () => number;
}

/**
 * Vault's lease-row HA lock on PostgreSQL, with two additions:
 * - a LOCAL deadline: the holder counts itself deposed `ttl − renewInterval` after the START of its last successful
 *   renewal, on its own monotonic clock, even when a renewal hangs (the database may have given the row away);
 * - it is the write fence of the storage (`fence`): every write transaction re-checks the row.
 * The lock talks to the database on its own connection (never the data pool, which busy writers can starve), with
 * a server- and client-side timeout on every statement. Each acquisition uses a fresh identity.
 */
export class PostgresqlHaLock {
  readonly #o: HaLockOptions;
  readonly #now: () => number;
  readonly #table: string;
  #client: pg.Client | undefined;
  #identity = randomUUID();
  #deadline = 0;
  #held = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #onLost: ((reason: string) => void) | undefined;
  /** One statement (or one transaction) at a time on the lock's connection. */
  readonly #serial = new Mutex();

  constructor(options: HaLockOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#table = options.haTable
      .split('.')
      .map((p) => `"${p}"`)
      .join('.');
    const identity = () => this.#identity;
    this.fence = {
      haKey: HA_LOCK_KEY,
      get identity(): string {
        return identity();
      },
      held: () => this.held(),
    };
  }

  /** The write fence for `PostgresqlBackend.setFence`: this lock's current identity, valid while held. */
  readonly fence: WriteFence;

  get identity(): string {
    return this.#identity;
  }

  /** Whether this node holds the lock by its local deadline. */
  held(): boolean {
    return this.#held && this.#now() < this.#deadline;
  }

  /**
   * One attempt: takes the row if it is free or expired (database clock). On success starts renewing; `onLost`
   * runs once when the lock is lost (renewal refused or failed past the local deadline).
   * @throws CofferError `storage` when the database cannot be reached.
   */
  async tryAcquire(onLost: (reason: string) => void): Promise<boolean> {
    if (this.#held) return true;
    const identity = randomUUID();
    const started = this.#now();
    const taken = await this.#transaction(async (query) => {
      // The fence: every write transaction of the holder keeps the row FOR KEY SHARE until it ends. FOR UPDATE waits
      // for all of them, so no write of a deposed holder can commit after this takeover (the upsert alone would not
      // wait: it changes no key column). The holder's renewals change no key column either, so busy writers never
      // starve them.
      await query(`SELECT 1 FROM ${this.#table} WHERE ha_key = $1 FOR UPDATE`, [HA_LOCK_KEY]);
      const result = await query(
        `INSERT INTO ${this.#table} (ha_key, ha_identity, ha_value, valid_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') ` +
          `ON CONFLICT (ha_key) DO UPDATE SET ha_identity = $2, ha_value = $3, valid_until = now() + $4 * interval '1 millisecond' ` +
          `WHERE ${this.#table}.valid_until < now()`,
        [HA_LOCK_KEY, identity, this.#o.value(), this.#o.ttlMs],
      );
      return result.rowCount === 1;
    });
    if (!taken) return false;
    this.#identity = identity;
    this.#held = true;
    this.#onLost = onLost;
    this.#extend(started);
    this.#scheduleRenew();
    return true;
  }

  /** The advertised value of the current holder, or undefined when no unexpired row exists. */
  async leader(): Promise<{ value: string; self: boolean } | undefined> {
    const result = await this.#query<{ ha_value: string | null; ha_identity: string }>(
      `SELECT ha_value, ha_identity FROM ${this.#table} WHERE ha_key = $1 AND valid_until > now()`,
      [HA_LOCK_KEY],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    return { value: row.ha_value ?? '', self: this.#held && row.ha_identity === this.#identity };
  }

  /**
   * Registers `member` (a row `coffer/member/<id>` beside the lock row; Vault ignores other keys) until
   * `expiresInMs` from now on the database clock.
   */
  async heartbeat(member: string, value: string, expiresInMs: number): Promise<void> {
    await this.#query(
      `INSERT INTO ${this.#table} (ha_key, ha_identity, ha_value, valid_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') ` +
        `ON CONFLICT (ha_key) DO UPDATE SET ha_identity = $2, ha_value = $3, valid_until = now() + $4 * interval '1 millisecond'`,
      [MEMBER_PREFIX + member, member, value, expiresInMs],
    );
  }

  /** Members whose registration has not expired. */
  async members(): Promise<Array<{ id: string; value: string }>> {
    const result = await this.#query<{ ha_identity: string; ha_value: string | null }>(
      `SELECT ha_identity, ha_value FROM ${this.#table} WHERE ha_key LIKE 'coffer/member/%' AND valid_until > now() ORDER BY ha_identity`,
      [],
    );
    return result.rows.map((r) => ({ id: r.ha_identity, value: r.ha_value ?? '' }));
  }

  /** Gives the lock up (deletes the row if it is still ours). Does not call `onLost`. */
  async release(): Promise<void> {
    const identity = this.#identity;
    this.#stop();
    await this.#query(`DELETE FROM ${this.#table} WHERE ha_key = $1 AND ha_identity = $2`, [HA_LOCK_KEY, identity]).catch(() => {});
  }

  async close(): Promise<void> {
    this.#stop();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #extend(renewStartedAt: number): void {
    // Measured from the START of the statement: the database set valid_until at some moment after it.
    this.#deadline = renewStartedAt + this.#o.ttlMs - this.#o.renewIntervalMs;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(
      () => this.#lose('the lock was not renewed before its local deadline'),
      Math.max(0, this.#deadline - this.#now()),
    );
    this.#deadlineTimer.unref();
  }

  #scheduleRenew(): void {
    this.#renewTimer = setTimeout(() => void this.#renew(), this.#o.renewIntervalMs);
    this.#renewTimer.unref();
  }

  async #renew(): Promise<void> {
    if (!this.#held) return;
    const started = this.#now();
    try {
      const result = await this.#query(
        `UPDATE ${this.#table} SET valid_until = now() + $3 * interval '1 millisecond' WHERE ha_key = $1 AND ha_identity = $2 AND valid_until > now()`,
        [HA_LOCK_KEY, this.#identity, this.#o.ttlMs],
      );
      if (!this.#held) return;
      if (result.rowCount !== 1) {
        this.#lose('another node holds the lock');
        return;
      }
      this.#extend(started);
    } catch {
      // A failed renewal is retried; the local deadline decides when the lock is lost.
      if (!this.#held) return;
    }
    this.#scheduleRenew();
  }

  #lose(reason: string): void {
    if (!this.#held) return;
    const onLost = this.#onLost;
    this.#stop();
    onLost?.(reason);
  }

  #stop(): void {
    this.#held = false;
    this.#deadline = 0;
    this.#onLost = undefined;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#deadlineTimer);
    this.#identity = randomUUID();
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.#serial.runExclusive(() => this.#statement<R>(text, values));
  }

  /** `body` inside BEGIN … COMMIT on the lock's connection (rolled back if it throws). */
  async #transaction<T>(body: (query: (text: string, values: unknown[]) => Promise<pg.QueryResult>) => Promise<T>): Promise<T> {
    return this.#serial.runExclusive(async () => {
      await this.#statement('BEGIN', []);
      try {
        const result = await body((text, values) => this.#statement(text, values));
        await this.#statement('COMMIT', []);
        return result;
      } catch (err) {
        // A failed statement dropped the connection (which ends the transaction); otherwise roll back.
        if (this.#client) await this.#statement('ROLLBACK', []).catch(() => {});
        throw err;
      }
    });
  }

  async #statement<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const timeout = Math.max(500, this.#o.renewIntervalMs);
    try {
      if (!this.#client) {
        const client = new pg.Client({
          connectionString: this.#o.connectionUrl,
          application_name: 'coffer-ha',
          statement_timeout: timeout,
          query_timeout: timeout,
          connectionTimeoutMillis: timeout,
        });
        // A dropped connection is replaced at the next statement.
        client.on('error', () => {
          if (this.#client === client) this.#client = undefined;
        });
        this.#client = client;
        await client.connect();
      }
      return await this.#client.query<R>(text, values);
    } catch (err) {
      const client = this.#client;
      this.#client = undefined;
      void client?.end().catch(() => {});
      throw new CofferError('storage', `HA lock statement failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
