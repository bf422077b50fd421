import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../server/config/load-config.js';
import { isCofferError } from '../../server/core/errors.js';
import { PostgresqlBackend, splitKey } from '../../server/core/storage/postgresql/postgresql-backend.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('storage "postgresql" configuration', () => {
  test("Vault's keys are read, and VAULT_PG_CONNECTION_URL from the environment given to the parser wins", () => {
    const text = `storage "postgresql" {
  connection_url = "postgres://file@db/vault"
  table          = "my_kv"
  max_parallel   = "16"
  ha_enabled     = "true"
  ha_table       = "my_locks"
  ha_lock_ttl    = "8s"
  ha_renew_interval = "2s"
}`;
    assert.deepEqual(parseConfig(text).storage, {
      type: 'postgresql',
      connectionUrl: 'postgres://file@db/vault',
      table: 'my_kv',
      haTable: 'my_locks',
      maxParallel: 16,
      haEnabled: true,
      haLockTtlMs: 8000,
      haRenewIntervalMs: 2000,
    });
    const fromEnv = parseConfig('storage "postgresql" {}', 'c.hcl', { VAULT_PG_CONNECTION_URL: 'postgres://env@db/v' }).storage;
    assert.deepEqual(fromEnv, {
      type: 'postgresql',
      connectionUrl: 'postgres://env@db/v',
      haEnabled: false,
      haLockTtlMs: 5000,
      haRenewIntervalMs: 1000,
    });
  });

  test('a missing connection_url, an unknown key, a bad duration or a renew interval above half the TTL is refused by name', () => {
    assert.throws(() => parseConfig('storage "postgresql" {}'), /needs a connection_url \(or VAULT_PG_CONNECTION_URL\)/);
    assert.throws(
      () => parseConfig('storage "postgresql" {\n connection_url = "x"\n password = "y"\n}'),
      /unknown key "password" in storage "postgresql"/,
    );
    assert.throws(
      () => parseConfig('storage "postgresql" {\n connection_url = "x"\n ha_enabled = "true"\n ha_lock_ttl = "soon"\n}'),
      /ha_lock_ttl must be a duration/,
    );
    assert.throws(
      () => parseConfig('storage "postgresql" {\n connection_url = "x"\n ha_enabled = "true"\n ha_lock_ttl = "4s"\n ha_renew_interval = "3s"\n}'),
      /ha_renew_interval must be more than 0 and at most half of ha_lock_ttl/,
    );
    assert.throws(() => parseConfig('storage "postgresql" {\n connection_url = "x"\n ha_lock_ttl = "4s"\n}'), /need ha_enabled/);
    assert.throws(() => parseConfig('storage "postgresql" {\n connection_url = "x"\n max_parallel = 0\n}'), /max_parallel must be a whole number/);
  });

  test("storage keys split into Vault's (parent_path, path, key) columns", () => {
    assert.deepEqual(splitKey('a/b/c'), ['/a/', '/a/b/', 'c']);
    assert.deepEqual(splitKey('core/keyring'), ['/', '/core/', 'keyring']);
    assert.deepEqual(splitKey('foo'), ['', '/', 'foo']);
    assert.deepEqual(splitKey('a/b/'), ['/a/', '/a/b/', '']);
  });
});

const skip = postgresSkipReason();

describe('PostgreSQL backend', { skip }, () => {
  let cluster: TestPostgres;
  let n = 0;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster.stop());

  const open = async (t: TestContext, table = `kv_${++n}`) => {
    const backend = await PostgresqlBackend.open({ connectionUrl: cluster.url, table, haTable: `${table}_ha`, maxParallel: 4 });
    t.after(() => backend.close());
    return backend;
  };
  const sql = async (t: TestContext) => {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    t.after(() => client.end());
    return client;
  };

  test("the data and lock tables are created with Vault's columns, and a second node opening them finds them in place", async (t) => {
    const a = await open(t, 'shared_kv');
    await a.put('a/b/c', bytes('v'));
    const b = await open(t, 'shared_kv');
    assert.deepEqual(await b.get('a/b/c'), bytes('v'));
    const db = await sql(t);
    const row = await db.query('SELECT parent_path, path, key, value FROM shared_kv');
    assert.deepEqual(row.rows, [{ parent_path: '/a/', path: '/a/b/', key: 'c', value: Buffer.from('v') }]);
    const cols = await db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'shared_kv_ha' ORDER BY ordinal_position");
    assert.deepEqual(
      cols.rows.map((r: { column_name: string }) => r.column_name),
      ['ha_key', 'ha_identity', 'ha_value', 'valid_until'],
    );
  });

  test('listing a prefix with _ or % in it never returns entries of a prefix those wildcards would match', async (t) => {
    const s = await open(t);
    for (const key of ['a_b/x/1', 'axb/y/1', 'a_b/leaf', 'p%q/z/1', 'pwq/w/1', 'back\\slash/v/1', 'backxslash/u/1']) await s.put(key, bytes(key));
    assert.deepEqual(await s.list('a_b/'), ['leaf', 'x/']);
    assert.deepEqual(await s.list('p%q/'), ['z/']);
    assert.deepEqual(await s.list('back\\slash/'), ['v/']);
  });

  test('a batch that fails in the database half way applies none of its operations', async (t) => {
    const s = await open(t);
    await s.put('keep', bytes('original'));
    const db = await sql(t);
    // A value over PostgreSQL's 1 GB field limit cannot be sent; a CHECK constraint is the cheap way to fail late.
    await db.query(`ALTER TABLE kv_${n} ADD CONSTRAINT no_poison CHECK (value <> '\\x706f69736f6e'::bytea)`);
    await assert.rejects(
      s.batch([
        { type: 'delete', key: 'keep' },
        { type: 'put', key: 'first', value: bytes('1') },
        { type: 'put', key: 'second', value: bytes('poison') },
      ]),
      (err) => isCofferError(err, 'storage'),
    );
    assert.deepEqual(await s.get('keep'), bytes('original'));
    assert.equal(await s.get('first'), undefined);
  });

  test("a client write that commits while a rewrap's compare-and-swap waits on the row is never overwritten", async (t) => {
    const s = await open(t);
    await s.put('secret/app', bytes('old'));
    const [, path, key] = splitKey('secret/app');
    const client = await sql(t);
    // Another node's client write, holding the row until it commits.
    await client.query('BEGIN');
    await client.query(`UPDATE kv_${n} SET value = $1 WHERE path = $2 AND key = $3`, [Buffer.from('client'), path, key]);
    const swap = s.batchIf([{ key: 'secret/app', value: bytes('old') }], [{ type: 'put', key: 'secret/app', value: bytes('rewrapped') }]);
    // The swap has compared (it still sees "old") and now waits for the row lock.
    const observer = await sql(t);
    for (;;) {
      const waiting = await observer.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'");
      if (waiting.rowCount) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await client.query('COMMIT');
    assert.equal(await swap, false);
    assert.deepEqual(await s.get('secret/app'), bytes('client'));
  });

  test('an unreachable database is a storage error naming the cause, not a crash', async () => {
    await assert.rejects(PostgresqlBackend.open({ connectionUrl: 'postgres://postgres@127.0.0.1:1/postgres?sslmode=disable' }), (err) => {
      return isCofferError(err, 'storage') && /cannot prepare the PostgreSQL tables/.test(err.message);
    });
  });

  test('a table name that is not a plain identifier is refused before any SQL is sent', async () => {
    await assert.rejects(PostgresqlBackend.open({ connectionUrl: cluster.url, table: 'kv; DROP TABLE x' }), (err) => isCofferError(err, 'config'));
  });
});
