import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startHaNode, until } from '../helpers/ha.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { rekey, unsealsWith } from '../helpers/rekey.js';
import { initServer, unsealServer, type TestServer } from '../helpers/test-server.js';

const isActive = async (s: TestServer) => (await s.api('GET', 'sys/leader')).body.is_self === true;

describe('HA on PostgreSQL: one active node, standbys that redirect, follow and take over', { skip: postgresSkipReason() }, () => {
  let cluster: TestPostgres;
  let n = 0;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster.stop());

  /** Two nodes on one fresh table: `a` initialised, unsealed and active, `b` unsealed as its standby. */
  const activeAndStandby = async (t: TestContext) => {
    const table = `ha_kv_${++n}`;
    const a = await startHaNode(t, cluster.url, table);
    const b = await startHaNode(t, cluster.url, table);
    const { keys, rootToken } = await initServer(a, 1, 1);
    await unsealServer(a, keys);
    await until(() => isActive(a));
    await unsealServer(b, keys);
    const api = (s: TestServer, m: string, p: string, body?: unknown) => s.api(m, p, { token: rootToken, ...(body ? { body } : {}) });
    return { a, b, keys, rootToken, api, table };
  };

  test('the first unsealed node becomes active; a standby redirects clients with 307, path and query kept, and answers health, leader and seal-status itself', async (t) => {
    const { a, b, rootToken } = await activeAndStandby(t);
    await until(async () => (await b.api('GET', 'sys/leader')).body.leader_address === a.url);

    const leader = (await b.api('GET', 'sys/leader')).body;
    assert.equal(leader.ha_enabled, true);
    assert.equal(leader.is_self, false);
    const res = await fetch(`${b.url}/v1/secret/data/app?version=2&x=a%2Fb`, { redirect: 'manual', headers: { 'X-Vault-Token': rootToken } });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), `${a.url}/v1/secret/data/app?version=2&x=a%2Fb`);
    assert.equal((await b.api('GET', 'sys/health')).status, 429);
    assert.equal((await b.api('GET', 'sys/health?standbyok=true')).status, 200);
    assert.equal((await b.api('GET', 'sys/health')).body.standby, true);
    assert.equal((await a.api('GET', 'sys/health')).status, 200);
    assert.equal((await b.api('GET', 'sys/seal-status')).body.sealed, false);
    const members = (await b.api('GET', 'sys/ha-status', { token: rootToken })).body.data.nodes as Array<{
      api_address: string;
      active_node: boolean;
    }>;
    assert.deepEqual(
      members.map((m) => [m.api_address, m.active_node]).sort(),
      [
        [a.url, true],
        [b.url, false],
      ].sort(),
    );
  });

  test('a standby refuses to write even when asked directly (fenced), and the redirect is followed by fetch to the active node', async (t) => {
    const { a, b, rootToken } = await activeAndStandby(t);
    assert.equal((await a.api('POST', 'sys/mounts/secret', { token: rootToken, body: { type: 'kv', options: { version: '2' } } })).status, 204);
    // fetch follows a 307 with the same method and body.
    const write = await b.api('POST', 'secret/data/app', { token: rootToken, body: { data: { v: '1' } } });
    assert.equal(write.status, 200, write.text);
    assert.equal((await a.api('GET', 'secret/data/app', { token: rootToken })).body.data.data.v, '1');
    await assert.rejects(b.core.barrier.put('direct', new Uint8Array([1])), (err: Error & { code?: string }) => err.code === 'standby');
  });

  test('step-down hands the lock to the standby, which serves every term; a rekey there is followed by the old active, which takes over with the new root key', async (t) => {
    const { a, b, keys, api, table } = await activeAndStandby(t);
    assert.equal((await api(a, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } })).status, 204);
    await api(a, 'POST', 'secret/data/one', { data: { v: 'term1' } });
    assert.equal((await api(a, 'PUT', 'sys/rotate')).status, 204);
    await api(a, 'POST', 'secret/data/two', { data: { v: 'term2' } });
    // The standby follows the rotation (notification or poll) without being unsealed again.
    await until(() => !b.core.barrier.sealed && b.core.barrier.keyStatus().term === 2);

    const gauge = async (s: TestServer, name: string) =>
      Number(new RegExp(`^coffer_${name} (\\S+)$`, 'm').exec((await api(s, 'GET', 'sys/metrics?format=prometheus')).text)?.[1]);
    assert.equal(await gauge(a, 'ha_active'), 1);
    assert.equal((await api(a, 'PUT', 'sys/step-down')).status, 204);
    await until(() => isActive(b));
    assert.equal(await gauge(a, 'ha_active'), 0);
    assert.equal(await gauge(a, 'ha_step_down_total'), 1);
    assert.equal(await gauge(b, 'ha_active'), 1);
    assert.equal((await api(b, 'GET', 'secret/data/one')).body.data.data.v, 'term1');
    assert.equal((await api(b, 'GET', 'secret/data/two')).body.data.data.v, 'term2');

    // Rekey on the new active: it replaces the root key. The standby follows through the upgrade entry.
    const newKeys = (await rekey(b, keys, { shares: 1, threshold: 1 })).keys;
    await api(b, 'POST', 'secret/data/three', { data: { v: 'after-rekey' } });
    assert.equal((await api(b, 'PUT', 'sys/step-down')).status, 204);
    await until(() => isActive(a));
    assert.equal((await api(a, 'GET', 'secret/data/one')).body.data.data.v, 'term1');
    assert.equal((await api(a, 'GET', 'secret/data/three')).body.data.data.v, 'after-rekey');

    // A restarted node needs the new shares, not the old ones.
    await b.close();
    const c = await startHaNode(t, cluster.url, table);
    assert.equal(await unsealsWith(c, keys), false);
    assert.equal(await unsealsWith(c, newKeys), true);
  });
  test('a rewrap job running on the active node is resumed from its checkpoint by the standby that takes over, and completes there', async (t) => {
    const { a, b, api } = await activeAndStandby(t);
    assert.equal((await api(a, 'POST', 'sys/mounts/kv', { type: 'kv' })).status, 204);
    const count = 24;
    for (let i = 0; i < count; i++) assert.equal((await api(a, 'PUT', `kv/app/s${i}`, { value: `v${i}` })).status, 204);
    assert.equal((await api(a, 'PUT', 'sys/rotate')).status, 204);
    // Slow on purpose (one entry per page, 8 per second), so the job is still running when the active steps down.
    const spec = { apiVersion: 'v1', selection: { prefixes: ['kv/app/'] }, execution: { batchSize: 1, maxEntriesPerSecond: 8 } };
    const started = await api(a, 'POST', 'sys/rewrap/jobs', { spec });
    assert.equal(started.status, 202, started.text);
    const id = started.body.job_id as string;
    const status = async (s: TestServer) => (await api(s, 'GET', `sys/rewrap/jobs/${id}`)).body.data;
    await until(async () => (await status(a)).entries.rewrapped >= 2);
    assert.equal((await api(a, 'PUT', 'sys/step-down')).status, 204);
    await until(() => isActive(b));
    const before = await status(b);
    assert.equal(before.state, 'running', 'the job was handed over unfinished');
    await until(async () => (await status(b)).state === 'completed');
    const done = await status(b);
    assert.ok(done.checkpoint.resumes >= 1, 'the new active resumed the job from its checkpoint');
    assert.equal(done.entries.rewrapped + done.entries.skipped_concurrent, count);
    assert.equal(done.entries.failed, 0);
    assert.ok(
      Object.values(done.remaining_by_term as Record<string, number>).every((left) => left === 0),
      JSON.stringify(done.remaining_by_term),
    );
    // Nothing under kv/app/ is left under term 1, and every value reads back on the new active.
    assert.equal((await api(b, 'POST', 'sys/rewrap/census')).status, 202);
    await until(async () => (await api(b, 'GET', 'sys/rewrap/census')).body.data.state === 'completed');
    for (let i = 0; i < count; i++) assert.equal((await api(b, 'GET', `kv/app/s${i}`)).body.data.value, `v${i}`);
    const census = (await api(b, 'GET', 'sys/rewrap/census')).body.data;
    assert.ok(census.terms['2'].entries >= count);
  });
  test('a node that takes over never serves a value from its read cache that another node changed meanwhile', async (t) => {
    const { a, b, api } = await activeAndStandby(t);
    assert.equal((await api(a, 'POST', 'sys/mounts/kv', { type: 'kv' })).status, 204);
    assert.equal((await api(a, 'PUT', 'kv/shared', { value: 'first' })).status, 204);
    assert.equal((await api(a, 'GET', 'kv/shared')).body.data.value, 'first'); // now in a's read cache

    assert.equal((await api(a, 'PUT', 'sys/step-down')).status, 204);
    await until(() => isActive(b));
    assert.equal((await api(b, 'PUT', 'kv/shared', { value: 'changed on b' })).status, 204);
    assert.equal((await api(b, 'PUT', 'sys/step-down')).status, 204);
    await until(() => isActive(a));
    assert.equal((await api(a, 'GET', 'kv/shared')).body.data.value, 'changed on b');
  });
});
