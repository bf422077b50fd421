import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { freePort, haStorageStanza, until } from '../helpers/ha.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/processes.js';
import { rekey, unsealsWith } from '../helpers/rekey.js';
import { apiCall, tempDir, type TestServer } from '../helpers/test-server.js';

/**
 * Failovers to run: 5 in `npm test` (each restarts a server process, which costs several seconds on a loaded CI
 * box); the 20 with `COFFER_HA_ITERATIONS=20 npm run test:crash` (several minutes).
 */
const ITERATIONS = Number(process.env.COFFER_HA_ITERATIONS ?? 5);

interface Node {
  name: string;
  port: number;
  url: string;
  config: string;
  process?: ServerProcess;
}

/** Three `coffer server` processes on one PostgreSQL, each with its own config (port, api_addr). */
async function makeNodes(t: TestContext, url: string, table: string, count: number): Promise<Node[]> {
  const dir = await tempDir(t);
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const config = path.join(dir, `node${i}.hcl`);
    await writeFile(
      config,
      `${haStorageStanza(url, table)}\nlistener "tcp" {\n  address = "127.0.0.1:${port}"\n  tls_disable = true\n}\napi_addr = "http://127.0.0.1:${port}"\nlog_level = "info"\n`,
    );
    nodes.push({ name: `node${i}`, port, url: `http://127.0.0.1:${port}`, config });
  }
  return nodes;
}

async function start(t: TestContext, node: Node, keys: readonly string[] | undefined): Promise<void> {
  node.process = await startServerProcess(t, [`-config=${node.config}`]);
  if (keys) for (const key of keys) await apiCall(node.url, 'PUT', 'sys/unseal', { body: { key } });
}

async function leaderOf(nodes: readonly Node[]): Promise<Node | undefined> {
  for (const node of nodes) {
    if (!node.process || node.process.child.exitCode !== null || node.process.child.signalCode !== null) continue;
    const res = await apiCall(node.url, 'GET', 'sys/leader').catch(() => undefined);
    if (res?.body?.is_self === true) return node;
  }
  return undefined;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('HA failover with real processes on one PostgreSQL', { skip: postgresSkipReason() }, () => {
  let cluster: TestPostgres;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster.stop());

  test(`kill -9 of the active node under concurrent writes, ${ITERATIONS} times: a standby takes over and every acknowledged write reads back`, async (t) => {
    const nodes = await makeNodes(t, cluster.url, 'failover_kv', 3);
    for (const node of nodes) await start(t, node, undefined);
    const init = await apiCall(nodes[0]!.url, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    const keys: string[] = init.body.keys;
    const token: string = init.body.root_token;
    for (const node of nodes) for (const key of keys) await apiCall(node.url, 'PUT', 'sys/unseal', { body: { key } });
    let active: Node | undefined;
    await until(async () => (active = await leaderOf(nodes)) !== undefined);
    assert.equal((await apiCall(active!.url, 'POST', 'sys/mounts/kv', { token, body: { type: 'kv' } })).status, 204);

    const acked = new Map<string, string>();
    let seq = 0;
    /** Writes through any live node (fetch follows a standby's 307); returns whether the write was acknowledged. */
    const writeOnce = async (): Promise<boolean> => {
      const key = `k${seq++}`;
      const value = `v${seq}`;
      for (const node of nodes) {
        const res = await apiCall(node.url, 'PUT', `kv/${key}`, { token, body: { v: value } }).catch(() => undefined);
        if (res && res.status === 204) {
          acked.set(key, value);
          return true;
        }
      }
      return false;
    };
    const failovers: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const victim = active!;
      // Concurrent writers run while the active node dies.
      let stop = false;
      const writers = Array.from({ length: 3 }, async () => {
        while (!stop) await writeOnce();
      });
      await until(() => acked.size > i * 10 + 5);
      const killedAt = performance.now();
      victim.process!.child.kill('SIGKILL');
      await victim.process!.stop();
      // The first write acknowledged by the new active node after the kill.
      let firstWrite: number | undefined;
      await until(async () => {
        const next = await leaderOf(nodes.filter((n) => n !== victim));
        if (!next) return false;
        const key = `probe${i}`;
        const res = await apiCall(next.url, 'PUT', `kv/${key}`, { token, body: { v: 'p' } }).catch(() => undefined);
        if (res?.status !== 204) return false;
        acked.set(key, 'p');
        firstWrite = performance.now();
        active = next;
        return true;
      });
      failovers.push(firstWrite! - killedAt);
      stop = true;
      await Promise.all(writers);
      assert.notEqual(active, victim, 'a standby took over');
      await start(t, victim, keys);
    }
    // Every acknowledged write reads back from the final active node.
    const entries = [...acked.entries()];
    for (let i = 0; i < entries.length; i += 16) {
      await Promise.all(
        entries.slice(i, i + 16).map(async ([key, value]) => {
          const res = await apiCall(active!.url, 'GET', `kv/${key}`, { token });
          assert.equal(res.status, 200, `acknowledged write ${key} reads back`);
          assert.equal(res.body.data.v, value);
        }),
      );
    }
    const report = `failover (kill -9 → first acknowledged write on the new active), ${failovers.length} runs, lock TTL 2 s: median ${Math.round(median(failovers))} ms, max ${Math.round(Math.max(...failovers))} ms; ${acked.size} acknowledged writes`;
    t.diagnostic(report);
    console.log(report);
  });

  /** Two node processes on a fresh table, initialised (1 of 1) and unsealed; resolves once one of them is active. */
  const activeAndStandby = async (t: TestContext, table: string) => {
    const nodes = await makeNodes(t, cluster.url, table, 2);
    for (const node of nodes) await start(t, node, undefined);
    const init = await apiCall(nodes[0]!.url, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    const keys: string[] = init.body.keys;
    const token: string = init.body.root_token;
    for (const node of nodes) for (const key of keys) await apiCall(node.url, 'PUT', 'sys/unseal', { body: { key } });
    let active: Node | undefined;
    await until(async () => (active = await leaderOf(nodes)) !== undefined);
    return { active: active!, other: nodes.find((n) => n !== active)!, keys, token };
  };

  test('fencing: an active frozen (SIGSTOP) past its TTL writes nothing after a standby took over, and comes back as a standby', async (t) => {
    const { active: frozen, other, token } = await activeAndStandby(t, 'fence_kv');
    await apiCall(frozen.url, 'POST', 'sys/mounts/kv', { token, body: { type: 'kv' } });
    await apiCall(frozen.url, 'PUT', 'kv/x', { token, body: { v: 'before' } });

    frozen.process!.child.kill('SIGSTOP');
    t.after(() => frozen.process!.child.kill('SIGCONT'));
    await until(async () => (await apiCall(other.url, 'GET', 'sys/leader')).body.is_self === true);
    assert.equal((await apiCall(other.url, 'PUT', 'kv/x', { token, body: { v: 'new-active' } })).status, 204);

    // Writes reach the frozen node while it still believes it is active; they run when the process resumes.
    const staleWrite = (path: string) =>
      fetch(`${frozen.url}/v1/${path}`, {
        method: 'PUT',
        redirect: 'manual',
        headers: { 'X-Vault-Token': token },
        body: JSON.stringify({ v: 'stale' }),
      });
    const stale = [staleWrite('kv/x'), staleWrite('kv/stale-new')];
    frozen.process!.child.kill('SIGCONT');
    for (const res of await Promise.all(stale)) {
      assert.ok(res.status === 503 || res.status === 307, `the resumed node's write is refused or redirected, not applied (got ${res.status})`);
    }
    assert.equal((await apiCall(other.url, 'GET', 'kv/x', { token })).body.data.v, 'new-active');
    assert.equal((await apiCall(other.url, 'GET', 'kv/stale-new', { token })).status, 404);
    await until(async () => (await apiCall(frozen.url, 'GET', 'sys/leader')).body.leader_address === other.url);
    assert.equal((await apiCall(frozen.url, 'GET', 'sys/leader')).body.is_self, false);
    assert.equal((await apiCall(frozen.url, 'GET', 'sys/health')).status, 429, 'it came back as a standby');
  });

  test('rotate and rekey on the active, then kill -9: the new active serves data of every term, and only the new shares unseal the restarted node', async (t) => {
    const { active: first, other, keys, token } = await activeAndStandby(t, 'rekey_kill_kv');
    const api = (node: Node, method: string, p: string, body?: unknown) => apiCall(node.url, method, p, { token, ...(body ? { body } : {}) });
    await api(first, 'POST', 'sys/mounts/kv', { type: 'kv' });
    await api(first, 'PUT', 'kv/t1', { v: 'term1' });
    assert.equal((await api(first, 'PUT', 'sys/rotate')).status, 204);
    await api(first, 'PUT', 'kv/t2', { v: 'term2' });
    const asServer = { api: (m: string, p: string, o?: { body?: unknown }) => apiCall(first.url, m, p, o ?? {}) } as unknown as TestServer;
    const newKeys = (await rekey(asServer, keys, { shares: 1, threshold: 1 })).keys;
    await api(first, 'PUT', 'kv/t3', { v: 'term3' });

    first.process!.child.kill('SIGKILL');
    await first.process!.stop();
    await until(async () => (await apiCall(other.url, 'GET', 'sys/leader')).body.is_self === true);
    for (const [key, value] of [
      ['t1', 'term1'],
      ['t2', 'term2'],
      ['t3', 'term3'],
    ] as const) {
      const res = await api(other, 'GET', `kv/${key}`);
      assert.equal(res.status, 200, `${key} reads on the new active (${res.text})`);
      assert.equal(res.body.data.v, value);
    }
    assert.equal((await api(other, 'PUT', 'kv/after', { v: 'x' })).status, 204);

    await start(t, first, undefined);
    const restarted = { api: (m: string, p: string, o?: { body?: unknown }) => apiCall(first.url, m, p, o ?? {}) } as unknown as TestServer;
    assert.equal(await unsealsWith(restarted, keys), false, 'the old shares no longer unseal');
    assert.equal(await unsealsWith(restarted, newKeys), true, 'the new shares do');
    await until(async () => (await apiCall(first.url, 'GET', 'sys/leader')).body.leader_address === other.url);
  });
});
