import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServerProcess, type ServerProcess, writeServerConfig } from '../helpers/processes.js';
import { apiCall, type ApiResult, tempDir } from '../helpers/test-server.js';

/** `npm run test:crash` (and CI, inside `npm test`) run 20; set COFFER_CRASH_ITERATIONS for a longer run. */
const ITERATIONS = Number(process.env.COFFER_CRASH_ITERATIONS ?? 20);
const WRITERS = 4;

type Phase = 'writes + rotations' | 'writes + rekey' | 'writes + rotations + rekey';
const PHASES: Phase[] = ['writes + rotations', 'writes + rekey', 'writes + rotations + rekey'];

/**
 * A real server process under concurrent writes is killed with SIGKILL at random moments, while rotations run
 * and rekeys commit. After every restart the shares the client holds unseal it, every acknowledged write reads
 * back with its value, every stored secret decrypts, and the decrypt-failure counter stays at zero.
 */
test(`kill -9 under concurrent writes, rotations and rekeys, ${ITERATIONS} times: nothing acknowledged is lost`, async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  let server: ServerProcess = await startServerProcess(t, [`-config=${config}`]);
  const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  const token: string = init.body.root_token;
  let held: string[] = init.body.keys;
  let threshold = 2;
  const acked = new Map<string, number>();
  const stats = { writes: 0, rotations: 0, rekeysCommitted: 0, lostRekeyWarnings: 0, killedDuringRekey: 0 };

  const unseal = async () => {
    let status: ApiResult | undefined;
    for (const key of held.slice(0, threshold)) status = await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key } });
    return status!;
  };
  /** Every acknowledged write, 16 reads at a time; then every listed secret, so nothing fails to decrypt. */
  const verify = async (label: string) => {
    const entries = [...acked.entries()];
    for (let i = 0; i < entries.length; i += 16) {
      await Promise.all(
        entries.slice(i, i + 16).map(async ([key, value]) => {
          const res = await apiCall(server.url, 'GET', `kv/${key}`, { token });
          assert.equal(res.status, 200, `${label}: acknowledged write ${key} reads back (${res.text})`);
          assert.equal(res.body.data.v, value, `${label}: ${key} has its acknowledged value`);
        }),
      );
    }
    const listed = await apiCall(server.url, 'GET', 'kv/?list=true', { token });
    const keys: string[] = listed.status === 404 ? [] : listed.body.data.keys;
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(
        keys
          .slice(i, i + 16)
          .map(async (key) => assert.equal((await apiCall(server.url, 'GET', `kv/${key}`, { token })).status, 200, `${label}: ${key} decrypts`)),
      );
    }
    const metrics = await apiCall(server.url, 'GET', 'sys/metrics?format=prometheus', { token });
    const failures = [...metrics.text.matchAll(/^coffer_barrier_decrypt_failures_total\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(failures, [0, 0, 0], `${label}: no decrypt failures`);
  };

  assert.equal((await unseal()).body.sealed, false);
  await apiCall(server.url, 'POST', 'sys/mounts/kv', { token, body: { type: 'kv' } });

  for (let i = 0; i < ITERATIONS; i++) {
    const phase = PHASES[i % PHASES.length]!;
    let stop = false;
    const writer = async (w: number) => {
      for (let seq = 0; !stop; seq++) {
        const key = `i${i}-w${w}-${seq}`;
        const res = await apiCall(server.url, 'PUT', `kv/${key}`, { token, body: { v: seq } }).catch(() => undefined);
        if (res?.status === 204) {
          acked.set(key, seq);
          stats.writes++;
        } else return;
      }
    };
    const rotator = async () => {
      while (!stop) {
        const res = await apiCall(server.url, 'PUT', 'sys/rotate', { token }).catch(() => undefined);
        if (res?.status !== 204) return;
        stats.rotations++;
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    const rotation = phase.includes('rotations') ? rotator() : Promise.resolve();
    const target = server;
    const kill = () => {
      stop = true;
      target.child.kill('SIGKILL');
    };

    if (phase.includes('rekey')) {
      // Let writes get going, then run a rekey and kill within 12 ms of the share that completes it.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
      const shares = 2 + (i % 3);
      const nextThreshold = 2 + (i % 2);
      const started = await apiCall(server.url, 'PUT', 'sys/rekey/init', { body: { secret_shares: shares, secret_threshold: nextThreshold } });
      for (const key of held.slice(0, threshold - 1))
        await apiCall(server.url, 'PUT', 'sys/rekey/update', { body: { key, nonce: started.body.nonce } });
      const final = apiCall(server.url, 'PUT', 'sys/rekey/update', { body: { key: held[threshold - 1], nonce: started.body.nonce } }).catch(
        () => undefined,
      );
      const killed = new Promise<void>((resolve) => setTimeout(() => (kill(), resolve()), Math.random() * 12));
      const [response] = await Promise.all([final, killed]);
      stats.killedDuringRekey++;
      if (response?.status === 200 && response.body.complete) {
        held = response.body.keys;
        threshold = nextThreshold;
        stats.rekeysCommitted++;
      }
    } else {
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 250));
      kill();
    }
    await Promise.all([...writers, rotation]);
    await server.stop();

    server = await startServerProcess(t, [`-config=${config}`]);
    if (/a rekey result may have been lost/.test(server.output())) stats.lostRekeyWarnings++;
    const status = await unseal();
    assert.equal(status.body.sealed, false, `iteration ${i} (${phase}): the held shares unseal (${server.output()})`);
    await verify(`iteration ${i} (${phase})`);
  }
  t.diagnostic(
    `crash test: ${ITERATIONS} SIGKILL iterations; ${stats.writes} acknowledged writes all read back; ${stats.rotations} rotations; ` +
      `${stats.killedDuringRekey} kills around a rekey commit (${stats.rekeysCommitted} responses reached the client, ${stats.lostRekeyWarnings} restarts warned of a lost rekey result)`,
  );
  await server.stop();
});
