import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { isCofferError } from '../../server/core/errors.js';
import { PostgresqlBackend } from '../../server/core/storage/postgresql/postgresql-backend.js';
import { HA_LOCK_KEY, PostgresqlHaLock } from '../../server/core/storage/postgresql/postgresql-ha-lock.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('PostgreSQL HA lock', { skip: postgresSkipReason() }, () => {
  let cluster: TestPostgres;
  let n = 0;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster.stop());

  /** A node: its storage (fenced by its lock) and its lock, on fresh tables per test. */
  const setup = async (t: TestContext) => {
    const table = `kv_${++n}`;
    const haTable = `ha_${n}`;
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    t.after(() => db.end());
    const node = async (name: string, options: { ttlMs?: number; renewIntervalMs?: number; now?: () => number } = {}) => {
      const storage = await PostgresqlBackend.open({ connectionUrl: cluster.url, table, haTable, maxParallel: 4 });
      const lock = new PostgresqlHaLock({
        connectionUrl: cluster.url,
        haTable,
        ttlMs: options.ttlMs ?? 60_000,
        renewIntervalMs: options.renewIntervalMs ?? 20_000,
        value: () => JSON.stringify({ name }),
        ...(options.now ? { now: options.now } : {}),
      });
      storage.setFence(lock.fence);
      const lost = new EventEmitter();
      t.after(async () => {
        await lock.close();
        await storage.close();
      });
      return { storage, lock, lost, acquire: () => lock.tryAcquire((reason) => lost.emit('lost', reason)) };
    };
    /** Expires the row on the database clock, as if its holder had stopped renewing long ago. */
    const expire = () => db.query(`UPDATE ${haTable} SET valid_until = now() - interval '1 second'`);
    return { db, node, expire };
  };

  test("only one node holds the lock, and every node reads the holder's advertised value", async (t) => {
    const { node } = await setup(t);
    const a = await node('a');
    const b = await node('b');
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false);
    assert.deepEqual(await b.lock.leader(), { value: '{"name":"a"}', self: false });
    assert.deepEqual(await a.lock.leader(), { value: '{"name":"a"}', self: true });
  });

  test('an expired lock is taken over, and the old holder learns at its next renewal that it lost it', async (t) => {
    const { node, expire } = await setup(t);
    const a = await node('a', { ttlMs: 60_000, renewIntervalMs: 50 });
    const b = await node('b');
    assert.equal(await a.acquire(), true);
    const lost = once(a.lost, 'lost');
    await expire();
    assert.equal(await b.acquire(), true);
    assert.deepEqual(await lost, ['another node holds the lock']);
    assert.equal(a.lock.held(), false);
  });

  test('fencing: a deposed active that still believes it holds the lock cannot write (the write is rolled back)', async (t) => {
    const { node, expire } = await setup(t);
    const a = await node('a');
    const b = await node('b');
    assert.equal(await a.acquire(), true);
    await a.storage.put('before', bytes('1'));
    await expire();
    assert.equal(await b.acquire(), true);
    assert.equal(a.lock.held(), true, 'its local view has not caught up yet: only the database check stops it');
    await assert.rejects(
      a.storage.batch([
        { type: 'put', key: 'stale', value: bytes('x') },
        { type: 'delete', key: 'before' },
      ]),
      (err) => isCofferError(err, 'standby'),
    );
    assert.equal(await b.storage.get('stale'), undefined);
    assert.deepEqual(await b.storage.get('before'), bytes('1'));
    await b.storage.put('after', bytes('2'));
    assert.deepEqual(await a.storage.get('after'), bytes('2'));
  });

  test("a busy active keeps its lock: a write transaction holding the fence never blocks the holder's renewal", async (t) => {
    const { db, node } = await setup(t);
    const a = await node('a', { ttlMs: 60_000, renewIntervalMs: 50 });
    assert.equal(await a.acquire(), true);
    const validUntil = async () =>
      (await db.query<{ v: Date }>(`SELECT valid_until AS v FROM ha_${n} WHERE ha_key = $1`, [HA_LOCK_KEY])).rows[0]!.v.getTime();
    // A write transaction of the holder, stopped right after its fence check (as under constant write load).
    const writer = new pg.Client({ connectionString: cluster.url });
    await writer.connect();
    t.after(() => writer.end());
    await writer.query('BEGIN');
    const fenced = await writer.query(`SELECT 1 FROM ha_${n} WHERE ha_key = $1 AND ha_identity = $2 AND valid_until > now() FOR KEY SHARE`, [
      HA_LOCK_KEY,
      a.lock.identity,
    ]);
    assert.equal(fenced.rowCount, 1);
    const before = await validUntil();
    // Renewals run every 50 ms; with the old FOR SHARE fence each one waited for the writer and the lock ran out.
    while ((await validUntil()) <= before) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(a.lock.held(), true);
    await writer.query('COMMIT');
  });

  test("a takeover waits for the deposed holder's write that already passed the fence, which therefore lands before it", async (t) => {
    const { db, node, expire } = await setup(t);
    const a = await node('a');
    const b = await node('b');
    assert.equal(await a.acquire(), true);
    const writer = new pg.Client({ connectionString: cluster.url });
    await writer.connect();
    t.after(() => writer.end());
    await writer.query('BEGIN');
    await writer.query(`SELECT 1 FROM ha_${n} WHERE ha_key = $1 AND ha_identity = $2 AND valid_until > now() FOR KEY SHARE`, [
      HA_LOCK_KEY,
      a.lock.identity,
    ]);
    await expire();
    let taken = false;
    const takeover = b.acquire().then((ok) => (taken = ok));
    for (;;) {
      const waiting = await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'coffer-ha' AND wait_event_type = 'Lock'");
      if (waiting.rowCount) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(taken, false, 'the takeover waits while the fenced write is open');
    await writer.query('COMMIT');
    await takeover;
    assert.equal(taken, true);
  });

  test('a node that never held the lock cannot write at all', async (t) => {
    const { node } = await setup(t);
    const a = await node('a');
    await assert.rejects(a.storage.put('k', bytes('v')), (err) => isCofferError(err, 'standby'));
  });

  test('the active steps down by its own deadline while a renewal hangs in the database', async (t) => {
    const { node, db } = await setup(t);
    let now = 0;
    const a = await node('a', { ttlMs: 2000, renewIntervalMs: 500, now: () => now });
    assert.equal(await a.acquire(), true);
    // Another session holds the lock row until the test ends (its client closes): every renewal blocks behind it.
    await db.query('BEGIN');
    await db.query(`SELECT * FROM ha_${n} FOR UPDATE`);
    now = 1499;
    assert.equal(a.lock.held(), true);
    now = 1500;
    assert.equal(a.lock.held(), false, 'deadline = start of the last good renewal + ttl - renew interval');
    await assert.rejects(a.storage.put('k', bytes('v')), (err) => isCofferError(err, 'standby'));
    // The deadline timer also reports the loss, though the renewal statement is still waiting.
    assert.deepEqual(await once(a.lost, 'lost'), ['the lock was not renewed before its local deadline']);
  });

  test('release deletes the row so a standby takes over at once, and a released lock reports no leader', async (t) => {
    const { node, db } = await setup(t);
    const a = await node('a');
    const b = await node('b');
    assert.equal(await a.acquire(), true);
    await a.lock.release();
    assert.equal(await b.lock.leader(), undefined);
    assert.equal((await db.query(`SELECT * FROM ha_${n} WHERE ha_key = $1`, [HA_LOCK_KEY])).rowCount, 0);
    assert.equal(await b.acquire(), true);
  });
});
