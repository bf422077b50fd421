import pg from 'pg';
import { CofferError } from '../../errors.js';
import {
  assertValidKey,
  assertValidOps,
  childName,
  sameBytes,
  type ConditionalBatch,
  type ExpectedEntry,
  type OrderedScan,
  type ScanEntry,
  type ScanOptions,
  type StorageBackend,
  type StorageOp,
} from '../storage-backend.js';

/** Vault's default table names, so a DBA's existing Vault schema fits. */
export const DEFAULT_TABLE = 'vault_kv_store';
export const DEFAULT_HA_TABLE = 'vault_ha_locks';
/** Vault's default pool size. */
export const DEFAULT_MAX_PARALLEL = 128;
/** The channel standbys LISTEN on; the payload is the changed storage key (delivered at commit). */
export const INVALIDATE_CHANNEL = 'coffer_invalidate';

export interface PostgresqlOptions {
  connectionUrl: string;
  table?: string;
  haTable?: string;
  maxParallel?: number;
  /** Keys whose writes are announced on `INVALIDATE_CHANNEL` (prefix match); none when absent. */
  notifyPrefixes?: readonly string[];
}

/**
 * Checked as the first statement of every write transaction (fencing): a write commits only while the lock row
 * still names this node and has not expired on the database clock. The `FOR KEY SHARE` row lock makes a standby's
 * takeover (which takes the row FOR UPDATE) wait until this transaction ends, so no write of a deposed active can
 * commit after the takeover; the holder's own renewals (no key column changes) are not blocked by it.
 */
export interface WriteFence {
  haKey: string;
  identity: string;
  /** Local check (the lock's own deadline), consulted before the database is asked. */
  held(): boolean;
}

/** Refused write: this node does not hold the HA lock (OpenBao's text). */
export const FENCED_MESSAGE = 'lock has changed ownership before attempting write';

/**
 * Storage in a PostgreSQL table with Vault's layout: `parent_path, path, key, value BYTEA`, primary key
 * `(path, key)`, all text in the "C" collation. A storage key `a/b/c` is stored as `('/a/', '/a/b/', 'c')`, and
 * `foo` as `('', '/', 'foo')`. Every batch is one transaction.
 */
export class PostgresqlBackend implements StorageBackend, OrderedScan, ConditionalBatch {
  readonly pool: pg.Pool;
  readonly table: string;
  readonly haTable: string;
  readonly #notify: readonly string[];
  readonly #connectionUrl: string;
  #fence: WriteFence | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, connectionUrl: string, table: string, haTable: string, notify: readonly string[]) {
    this.pool = pool;
    this.#connectionUrl = connectionUrl;
    this.table = table;
    this.haTable = haTable;
    this.#notify = notify;
  }

  /**
   * Connects and creates the data and lock tables (and the index) when missing.
   * @throws CofferError `storage` when the database cannot be reached or the tables cannot be created; `config`
   *   for an invalid table name.
   */
  static async open(options: PostgresqlOptions): Promise<PostgresqlBackend> {
    const table = checkTableName(options.table ?? DEFAULT_TABLE, 'table');
    const haTable = checkTableName(options.haTable ?? DEFAULT_HA_TABLE, 'ha_table');
    const pool = new pg.Pool({
      connectionString: options.connectionUrl,
      max: options.maxParallel ?? DEFAULT_MAX_PARALLEL,
      application_name: 'coffer',
    });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    const backend = new PostgresqlBackend(pool, options.connectionUrl, table, haTable, options.notifyPrefixes ?? []);
    try {
      await backend.#createTables();
    } catch (err) {
      await pool.end().catch(() => {});
      throw storageError('cannot prepare the PostgreSQL tables', err);
    }
    return backend;
  }

  /** From now on every write transaction first proves this node holds the lock (or none when `undefined`). */
  setFence(fence: WriteFence | undefined): void {
    this.#fence = fence;
  }

  async #createTables(): Promise<void> {
    const t = quoteIdent(this.table);
    const h = quoteIdent(this.haTable);
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${t} (parent_path TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C", key TEXT COLLATE "C", value BYTEA, CONSTRAINT ${quoteIdent(`${this.table}_pkey`)} PRIMARY KEY (path, key))`,
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${this.table}_idx`)} ON ${t} (parent_path)`,
      `CREATE TABLE IF NOT EXISTS ${h} (ha_key TEXT COLLATE "C" NOT NULL, ha_identity TEXT COLLATE "C" NOT NULL, ha_value TEXT COLLATE "C", valid_until TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT ${quoteIdent(`${this.haTable}_pkey`)} PRIMARY KEY (ha_key))`,
    ];
    for (const sql of statements) {
      try {
        await this.pool.query(sql);
      } catch (err) {
        // Two nodes starting together race on CREATE … IF NOT EXISTS: the loser sees a unique violation.
        if ((err as { code?: string }).code !== '23505') throw err;
      }
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key);
    const [, path, name] = splitKey(key);
    const result = await this.#query<{ value: Buffer | null }>({
      name: `get:${this.table}`,
      text: `SELECT value FROM ${quoteIdent(this.table)} WHERE path = $1 AND key = $2`,
      values: [path, name],
    });
    const value = result.rows[0]?.value;
    return value === undefined || value === null ? undefined : new Uint8Array(value);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  async list(prefix: string): Promise<string[]> {
    const dir = `/${prefix}`;
    // `_` and `%` are LIKE wildcards and user paths contain `_`: escaped, listing `a_b/` never reads `axb/`.
    const pattern = `${likeEscape(dir)}%`;
    const result = await this.#query<{ key: string; path: string | null }>({
      name: `list:${this.table}`,
      text:
        `SELECT key, NULL AS path FROM ${quoteIdent(this.table)} WHERE path = $1 ` +
        `UNION SELECT NULL AS key, path FROM ${quoteIdent(this.table)} WHERE parent_path LIKE $2 ESCAPE '\\'`,
      values: [dir, pattern],
    });
    const children = new Set<string>();
    for (const row of result.rows) {
      if (row.path === null) children.add(row.key);
      else if (row.path.startsWith(dir)) children.add(childName(dir, row.path));
    }
    return [...children].sort();
  }

  async batch(ops: readonly StorageOp[]): Promise<void> {
    assertValidOps(ops);
    if (ops.length === 0) return;
    await this.#transaction('READ COMMITTED', async (client) => {
      await this.#apply(client, ops);
      return true;
    });
  }

  /**
   * Compare-and-swap: the ops commit only if every expected key holds exactly the expected bytes. The transaction
   * runs at REPEATABLE READ, so a client write that commits between the comparison and this transaction's own
   * writes to the same rows makes PostgreSQL refuse the transaction (serialization failure) instead of this write
   * overwriting it; it is then re-run from the comparison, which sees the client's value and answers false.
   */
  async batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    assertValidOps(ops);
    for (const e of expected) assertValidKey(e.key);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transaction('REPEATABLE READ', async (client) => {
          if (!(await this.#holds(client, expected))) return false;
          await this.#apply(client, ops);
          return true;
        });
      } catch (err) {
        if (!(err instanceof SerializationFailure) || attempt >= MAX_SERIALIZATION_RETRIES) {
          throw err instanceof SerializationFailure ? storageError('PostgreSQL write failed', err.cause) : err;
        }
      }
    }
  }

  /**
   * Entries whose key starts with `prefix`, in byte order of the key (the "C" collation), after `after` when given.
   * A cursor is a key: rows inserted or deleted elsewhere in the range never shift the walk.
   */
  async scan({ prefix, after, limit }: ScanOptions): Promise<ScanEntry[]> {
    const full = `/${prefix}`;
    const result = await this.#query<{ path: string; key: string; value: Buffer | null }>({
      name: `scan:${this.table}`,
      text:
        `SELECT path, key, value FROM ${quoteIdent(this.table)} WHERE (path || key) LIKE $1 ESCAPE '\\' AND (path || key) > $2 ` +
        `ORDER BY (path || key) LIMIT $3`,
      values: [`${likeEscape(full)}%`, after === undefined ? '' : `/${after}`, limit],
    });
    return result.rows.filter((r) => r.value !== null).map((r) => ({ key: `${r.path}${r.key}`.slice(1), value: new Uint8Array(r.value!) }));
  }

  /** Whether every expected key holds exactly the expected bytes (absent for `undefined`) in this transaction's snapshot. */
  async #holds(client: pg.PoolClient, expected: readonly ExpectedEntry[]): Promise<boolean> {
    if (expected.length === 0) return true;
    const split = expected.map((e) => splitKey(e.key));
    const result = await client.query<{ path: string; key: string; value: Buffer | null }>({
      name: `expect:${this.table}`,
      text: `SELECT path, key, value FROM ${quoteIdent(this.table)} WHERE (path, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      values: [split.map(([, path]) => path), split.map(([, , name]) => name)],
    });
    const found = new Map(result.rows.map((r) => [`${r.path}${r.key}`.slice(1), r.value === null ? undefined : new Uint8Array(r.value)]));
    return expected.every((e) => sameBytes(found.get(e.key), e.value));
  }

  /** Writes `ops` in the open transaction and announces the keys standbys follow (delivered only at commit). */
  async #apply(client: pg.PoolClient, ops: readonly StorageOp[]): Promise<void> {
    const t = quoteIdent(this.table);
    const notified = new Set<string>();
    for (const op of ops) {
      const [parent, path, name] = splitKey(op.key);
      if (op.type === 'put') {
        await client.query({
          name: `put:${this.table}`,
          text: `INSERT INTO ${t} (parent_path, path, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (path, key) DO UPDATE SET parent_path = $1, path = $2, key = $3, value = $4`,
          values: [parent, path, name, Buffer.from(op.value)],
        });
      } else {
        await client.query({ name: `delete:${this.table}`, text: `DELETE FROM ${t} WHERE path = $1 AND key = $2`, values: [path, name] });
      }
      if (this.#notify.some((p) => op.key.startsWith(p))) notified.add(op.key);
    }
    for (const key of notified) await client.query('SELECT pg_notify($1, $2)', [INVALIDATE_CHANNEL, key]);
  }

  /**
   * One write transaction: the fence first (a write commits only while this node holds the HA lock), then `body`;
   * committed when `body` answers true, rolled back when it answers false.
   * @throws CofferError `standby` when fenced; SerializationFailure (REPEATABLE READ only); CofferError `storage`.
   */
  async #transaction(isolation: 'READ COMMITTED' | 'REPEATABLE READ', body: (client: pg.PoolClient) => Promise<boolean>): Promise<boolean> {
    const fence = this.#fence;
    if (fence && !fence.held()) throw new CofferError('standby', FENCED_MESSAGE);
    const client = await this.#connect();
    let broken = false;
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      if (fence) {
        const held = await client.query({
          name: `fence:${this.haTable}`,
          text: `SELECT 1 FROM ${quoteIdent(this.haTable)} WHERE ha_key = $1 AND ha_identity = $2 AND valid_until > now() FOR KEY SHARE`,
          values: [fence.haKey, fence.identity],
        });
        if (held.rowCount !== 1) throw new CofferError('standby', FENCED_MESSAGE);
      }
      const commit = await body(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return commit;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      if (err instanceof CofferError) throw err;
      if ((err as { code?: unknown }).code === '40001') throw new SerializationFailure(err);
      throw storageError('PostgreSQL write failed', err);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Follows other nodes' writes: `onChange(key)` for each key announced on `INVALIDATE_CHANNEL`, and
   * `onChange(undefined)` after a (re)connection, when notifications may have been missed. Reconnects every
   * `retryMs` while the database is away. @returns a function that stops listening.
   */
  listen(onChange: (key: string | undefined) => void, retryMs = 1000): () => Promise<void> {
    let client: pg.Client | undefined;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      if (stopped) return;
      const c = new pg.Client({ connectionString: this.#connectionUrl, application_name: 'coffer-listen' });
      const retry = () => {
        if (client === c) client = undefined;
        void c.end().catch(() => {});
        if (!stopped && !timer) timer = setTimeout(() => ((timer = undefined), void connect()), retryMs).unref();
      };
      c.on('error', retry);
      c.on('end', retry);
      c.on('notification', (n) => onChange(n.payload));
      try {
        await c.connect();
        await c.query(`LISTEN ${INVALIDATE_CHANNEL}`);
        client = c;
        if (stopped) await c.end();
        else onChange(undefined);
      } catch {
        retry();
      }
    };
    void connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end().catch(() => {});
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw storageError('cannot connect to PostgreSQL', err);
    }
  }

  async #query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(config);
    } catch (err) {
      throw storageError('PostgreSQL storage operation failed', err);
    }
  }
}

/** `a/b/c` → `['/a/', '/a/b/', 'c']`; `core/keyring` → `['/', '/core/', 'keyring']`; `foo` → `['', '/', 'foo']`. */
export function splitKey(key: string): [parent: string, path: string, key: string] {
  const full = `/${key}`;
  const last = full.lastIndexOf('/');
  const path = full.slice(0, last + 1);
  const parent = path === '/' ? '' : path.slice(0, path.lastIndexOf('/', path.length - 2) + 1);
  return [parent, path, full.slice(last + 1)];
}

/** Table names go into SQL text (they cannot be parameters): only plain identifiers, optionally schema-qualified. */
function checkTableName(name: string, option: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/.test(name)) {
    throw new CofferError('config', `storage "postgresql": ${option} must be a plain table name (letters, digits, _; optionally schema.table)`);
  }
  return name;
}

/** `_`, `%` and `\\` taken literally in a LIKE pattern with `ESCAPE '\\'`. */
function likeEscape(text: string): string {
  return text.replace(/[\\_%]/g, (c) => `\\${c}`);
}

/** How many times a compare-and-swap is re-run after PostgreSQL refused it for a concurrent update. */
const MAX_SERIALIZATION_RETRIES = 5;

/** PostgreSQL's 40001: a REPEATABLE READ transaction met a concurrent update of a row it writes. */
class SerializationFailure extends Error {
  constructor(cause: unknown) {
    super('serialization failure', { cause });
  }
}

function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/** The message names PostgreSQL's error code and text (never values: they are ciphertext anyway, but stay out). */
function storageError(what: string, err: unknown): CofferError {
  const e = err as { code?: unknown; message?: unknown };
  const detail = typeof e.code === 'string' ? `${e.code} ${String(e.message)}` : String(e.message ?? err);
  return new CofferError('storage', `${what}: ${detail}`, { cause: err });
}
