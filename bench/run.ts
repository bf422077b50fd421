/**
 * `npm run bench`: figures measured side by side in one run, printed as a table and written to
 * bench/results/latest.json. Never part of `npm test`. Issue 7 extends this with autocannon load runs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../server/config/load-config.js';
import { AesGcmBarrier, encryptKeyring } from '../server/core/barrier/aes-gcm-barrier.js';
import { Keyring } from '../server/core/barrier/keyring.js';
import { systemRandom } from '../server/core/clock.js';
import { LeveldbBackend } from '../server/core/storage/leveldb-backend.js';
import { createLogger } from '../server/log/logger.js';
import { startCoffer } from '../server/start.js';

interface Row {
  name: string;
  value: number;
  unit: string;
}

async function timeIt(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return performance.now() - start;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-'));
  try {
    // Barrier over LevelDB: synced writes and reads of 1 KiB entries, against LevelDB without encryption.
    const storage = await LeveldbBackend.open(path.join(dir, 'barrier'));
    const rootKey = systemRandom.bytes(32);
    await storage.batch([encryptKeyring(rootKey, Keyring.create(systemRandom.bytes(32), new Date()))]);
    const barrier = new AesGcmBarrier(storage);
    await barrier.unseal(rootKey);
    const value = systemRandom.bytes(1024);
    const n = 2000;
    const rawPut = await timeIt(n, (i) => storage.put(`raw/${i}`, value));
    const barrierPut = await timeIt(n, (i) => barrier.put(`enc/${i}`, value));
    const rawGet = await timeIt(n, (i) => storage.get(`raw/${i}`));
    const barrierGet = await timeIt(n, (i) => barrier.get(`enc/${i}`));
    rows.push(
      { name: 'LevelDB synced put, 1 KiB', value: (n / rawPut) * 1000, unit: 'ops/s' },
      { name: 'barrier put (AES-GCM + synced put), 1 KiB', value: (n / barrierPut) * 1000, unit: 'ops/s' },
      { name: 'barrier put cost ratio (barrier / raw time)', value: barrierPut / rawPut, unit: '×' },
      { name: 'LevelDB get, 1 KiB', value: (n / rawGet) * 1000, unit: 'ops/s' },
      { name: 'barrier get (get + AES-GCM open), 1 KiB', value: (n / barrierGet) * 1000, unit: 'ops/s' },
      { name: 'barrier get cost ratio (barrier / raw time)', value: barrierGet / rawGet, unit: '×' },
    );
    await storage.close();

    // Rotation cost must not grow with the amount of data: 100 vs 100,000 stored entries.
    const rotationMs: number[] = [];
    for (const entries of [100, 100_000]) {
      const store = await LeveldbBackend.open(path.join(dir, `rotate-${entries}`));
      const key = systemRandom.bytes(32);
      await store.batch([encryptKeyring(key, Keyring.create(systemRandom.bytes(32), new Date()))]);
      const b = new AesGcmBarrier(store);
      await b.unseal(key);
      for (let i = 0; i < entries; i += 1000) {
        await b.batch(Array.from({ length: Math.min(1000, entries - i) }, (_, j) => ({ type: 'put' as const, path: `data/${i + j}`, value })));
      }
      // Let LevelDB finish compacting the load, so the figure is the rotation and not background I/O.
      await store.put('settle', value);
      await new Promise((r) => setTimeout(r, 2000));
      const rounds = 50;
      const ms = await timeIt(rounds, () => b.rotate(systemRandom.bytes(32), new Date()));
      const putMs = await timeIt(rounds, (i) => store.put(`probe/${i}`, value));
      rotationMs.push(ms / rounds);
      rows.push({ name: `rotate latency with ${entries.toLocaleString('en')} entries (mean of ${rounds})`, value: ms / rounds, unit: 'ms' });
      rows.push({ name: `  one synced 1 KiB put in the same database`, value: putMs / rounds, unit: 'ms' });
      b.seal();
      await store.close();
    }
    rows.push({ name: 'rotate latency ratio (100,000 / 100 entries)', value: rotationMs[1]! / rotationMs[0]!, unit: '×' });

    // A real server: start-up to ready, init, and unseal latency at the threshold (3 of 5).
    const started = performance.now();
    const config = parseConfig(`storage "leveldb" { path = "${path.join(dir, 'server')}" }\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}`);
    const server = await startCoffer(config, { logger: createLogger('silent') });
    rows.push({ name: 'server start-up to listening', value: performance.now() - started, unit: 'ms' });
    const put = (p: string, body: unknown) => fetch(`${server.url}/v1/${p}`, { method: 'PUT', body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
    let t0 = performance.now();
    const init = await put('sys/init', { secret_shares: 5, secret_threshold: 3 });
    rows.push({ name: 'init 5/3 (one atomic batch)', value: performance.now() - t0, unit: 'ms' });
    const rounds = 20;
    let atThreshold = 0;
    for (let r = 0; r < rounds; r++) {
      await put('sys/unseal', { key: init.keys[0] });
      await put('sys/unseal', { key: init.keys[1] });
      t0 = performance.now();
      await put('sys/unseal', { key: init.keys[2] });
      atThreshold += performance.now() - t0;
      await fetch(`${server.url}/v1/sys/seal`, { method: 'PUT', headers: { 'X-Vault-Token': init.root_token } });
    }
    rows.push({ name: `unseal latency at the threshold (mean of ${rounds})`, value: atThreshold / rounds, unit: 'ms' });
    await server.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `${r.name.padEnd(width)}  ${r.value.toFixed(r.value < 10 ? 2 : 0).padStart(10)} ${r.unit}`);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  process.stdout.write(`Coffer benchmarks — ${machine}\n\n${lines.join('\n')}\n`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/latest.json', JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2) + '\n');
}

await main();
