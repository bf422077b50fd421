/**
 * `npm run bench`: every figure measured side by side in one run on this machine, printed as a table and written
 * to bench/results/latest.json. Never part of `npm test`.
 *
 * 1. HTTP load (autocannon) of KV v2 reads and writes with a policy token against a real server on LevelDB, next
 *    to a bare express handler returning the same JSON (framework + network floor) and next to the same server
 *    with the barrier's AES-GCM replaced by a pass-through (ratio = what encryption costs).
 * 2. Rotate and rekey latency with 100 and with 100,000 stored entries: both must stay flat.
 * 3. Unseal latency at the threshold; a server process's start-up to listening and its RSS with 100,000 entries.
 */
import autocannon, { type Result } from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { parseConfig } from '../server/config/load-config.js';
import { aeadOpen, aeadSeal } from '../server/core/barrier/aead.js';
import { createLogger } from '../server/log/logger.js';
import { startCoffer, type RunningCoffer } from '../server/start.js';

interface Row {
  name: string;
  value: number;
  unit: string;
}

const rows: Row[] = [];
const row = (name: string, value: number, unit: string) => rows.push({ name, value, unit });
const LOAD_SECONDS = Number(process.env.COFFER_BENCH_SECONDS ?? 5);
const CONNECTIONS = 16;
const KEYS = 100;

function serverConfig(dir: string) {
  return parseConfig(`storage "leveldb" { path = "${dir}" }\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the bench reads fields straight out of JSON replies
async function call(base: string, method: string, p: string, body?: unknown, token?: string): Promise<any> {
  const res = await fetch(`${base}/v1/${p}`, {
    method,
    headers: token ? { 'X-Vault-Token': token } : {},
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** An unsealed server with a KV v2 mount, KEYS secrets, and a token whose policy allows only that mount. */
async function kvServer(dir: string): Promise<{ server: RunningCoffer; token: string; root: string; keys: string[] }> {
  const server = await startCoffer(serverConfig(dir), { logger: createLogger('silent'), maintenanceIntervalMs: 0 });
  const init = await call(server.url, 'PUT', 'sys/init', { secret_shares: 5, secret_threshold: 3 });
  for (const key of init.keys.slice(0, 3)) await call(server.url, 'PUT', 'sys/unseal', { key });
  const root = init.root_token as string;
  await call(server.url, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }, root);
  await call(server.url, 'PUT', 'sys/policies/acl/app', { policy: 'path "secret/data/app/*" { capabilities = ["create", "read", "update"] }' }, root);
  const token = (await call(server.url, 'POST', 'auth/token/create', { policies: ['app'] }, root)).auth.client_token as string;
  for (let i = 0; i < KEYS; i++)
    await call(server.url, 'PUT', `secret/data/app/k${i}`, { data: { user: `app-${i}`, password: 'x'.repeat(32) } }, token);
  return { server, token, root, keys: init.keys };
}

/** Reads and writes spread over KEYS paths, CONNECTIONS at a time, for LOAD_SECONDS each. */
async function load(base: string, token: string): Promise<{ read: Result; write: Result }> {
  let n = 0;
  const headers = { 'X-Vault-Token': token, 'Content-Type': 'application/json' };
  const body = JSON.stringify({ data: { user: 'bench', password: 'y'.repeat(32) } });
  const read = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: LOAD_SECONDS,
    requests: [{ method: 'GET', headers, setupRequest: (r) => ({ ...r, path: `/v1/secret/data/app/k${n++ % KEYS}` }) }],
  });
  const write = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: LOAD_SECONDS,
    requests: [{ method: 'PUT', headers, body, setupRequest: (r) => ({ ...r, path: `/v1/secret/data/app/k${n++ % KEYS}` }) }],
  });
  for (const [name, r] of [
    ['read', read],
    ['write', write],
  ] as const) {
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name} load had ${r.non2xx} non-2xx answers and ${r.errors} errors`);
  }
  return { read, write };
}

/** The floor: express answering the same JSON a KV v2 read and write answer, with no auth, storage or crypto. */
async function bareExpress(readBody: string, writeBody: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(express.json({ type: () => true }));
  app.get('/v1/secret/data/*path', (_req, res) => res.type('application/json').send(readBody));
  app.put('/v1/secret/data/*path', (_req, res) => res.type('application/json').send(writeBody));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function loadRows(label: string, r: { read: Result; write: Result }): void {
  row(`${label}: KV read throughput`, r.read.requests.average, 'req/s');
  row(`${label}: KV read p99 latency`, r.read.latency.p99, 'ms');
  row(`${label}: KV write throughput`, r.write.requests.average, 'req/s');
  row(`${label}: KV write p99 latency`, r.write.latency.p99, 'ms');
}

async function httpLoad(dir: string): Promise<void> {
  const real = await kvServer(path.join(dir, 'kv-aes'));
  const readBody = JSON.stringify(await call(real.server.url, 'GET', 'secret/data/app/k1', undefined, real.token));
  const writeBody = JSON.stringify(await call(real.server.url, 'PUT', 'secret/data/app/k1', { data: { a: 1 } }, real.token));
  const coffer = await load(real.server.url, real.token);
  await real.server.close();

  const bare = await bareExpress(readBody, writeBody);
  const floor = await load(bare.url, real.token);
  await bare.close();

  // The barrier's own cost, measured directly: one AES-256-GCM seal + open of a KV-sized entry.
  const key = new Uint8Array(32).fill(7);
  const entry = new Uint8Array(256).fill(1);
  const aad = new TextEncoder().encode('secret/data/app/k1');
  const rounds = 200_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) aeadOpen(key, aeadSeal(key, entry, aad), aad);
  const aeadMicros = Number(process.hrtime.bigint() - started) / 1e3 / rounds;

  loadRows('Coffer (LevelDB, AES-GCM barrier, policy token)', coffer);
  loadRows('bare express, same JSON', floor);
  row('read throughput ratio, bare express / Coffer', floor.read.requests.average / coffer.read.requests.average, '×');
  row('write throughput ratio, bare express / Coffer', floor.write.requests.average / coffer.write.requests.average, '×');
  row('barrier cost: AES-256-GCM seal + open of a 256-byte entry', aeadMicros, 'µs');
  row('barrier share of one KV read at the measured rate', (aeadMicros / 1e6) * coffer.read.requests.average, '× (fraction of one core)');
}

/** Adds `entries` 1 KiB entries behind the barrier, 1,000 per atomic batch, then lets LevelDB settle. */
async function fill(server: RunningCoffer, entries: number): Promise<void> {
  const value = new Uint8Array(1024).fill(7);
  for (let i = 0; i < entries; i += 1000) {
    await server.core.barrier.batch(
      Array.from({ length: Math.min(1000, entries - i) }, (_, j) => ({ type: 'put' as const, path: `bench/${i + j}`, value })),
    );
  }
  // Let LevelDB finish compacting the load, so the figures are the operations and not background I/O.
  await new Promise((r) => setTimeout(r, 2000));
}

async function mean(rounds: number, fn: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let r = 0; r < rounds; r++) total += await fn();
  return total / rounds;
}

/** Rotate and rekey with 100 and 100,000 entries; the 100,000-entry data directory is kept for the RSS run. */
async function flatness(dir: string): Promise<string> {
  const rotate: number[] = [];
  const rekey: number[] = [];
  for (const entries of [100, 100_000]) {
    const dataDir = path.join(dir, `flat-${entries}`);
    const { server, root, keys } = await kvServer(dataDir);
    await fill(server, entries);
    rotate.push(
      await mean(30, async () => {
        const t0 = performance.now();
        await call(server.url, 'PUT', 'sys/rotate', undefined, root);
        return performance.now() - t0;
      }),
    );
    let current = keys;
    rekey.push(
      await mean(10, async () => {
        const init = await call(server.url, 'PUT', 'sys/rekey/init', { secret_shares: 5, secret_threshold: 3 });
        await call(server.url, 'PUT', 'sys/rekey/update', { key: current[0], nonce: init.nonce });
        await call(server.url, 'PUT', 'sys/rekey/update', { key: current[1], nonce: init.nonce });
        const t0 = performance.now();
        const done = await call(server.url, 'PUT', 'sys/rekey/update', { key: current[2], nonce: init.nonce });
        const ms = performance.now() - t0;
        current = done.keys;
        return ms;
      }),
    );
    row(`rotate latency, ${entries.toLocaleString('en')} entries (mean of 30)`, rotate.at(-1)!, 'ms');
    row(`rekey latency (completing update), ${entries.toLocaleString('en')} entries (mean of 10)`, rekey.at(-1)!, 'ms');
    if (entries === 100) {
      // Unseal at the threshold: the share that completes it (combine + authenticated unwrap + keyring load).
      const unseal = await mean(20, async () => {
        await call(server.url, 'PUT', 'sys/seal', undefined, root);
        await call(server.url, 'PUT', 'sys/unseal', { key: current[0] });
        await call(server.url, 'PUT', 'sys/unseal', { key: current[1] });
        const t0 = performance.now();
        await call(server.url, 'PUT', 'sys/unseal', { key: current[2] });
        return performance.now() - t0;
      });
      row('unseal latency at the threshold, 3 of 5 (mean of 20)', unseal, 'ms');
    }
    await writeFile(path.join(dir, `keys-${entries}.json`), JSON.stringify({ keys: current, root }));
    await server.close();
  }
  row('rotate latency ratio, 100,000 / 100 entries', rotate[1]! / rotate[0]!, '×');
  row('rekey latency ratio, 100,000 / 100 entries', rekey[1]! / rekey[0]!, '×');
  return path.join(dir, 'flat-100000');
}

/** The built server as its own process: start-up to the listening line, then RSS after unseal and reads. */
async function processFigures(dir: string, dataDir: string): Promise<void> {
  const config = path.join(dir, 'rss.hcl');
  await writeFile(
    config,
    `storage "leveldb" { path = "${dataDir}" }\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}\nlog_level = "error"\n`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, ['dist/server/main.js', `-config=${config}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`server exited: ${out}`)));
  });
  row('server process start-up to listening (100,000 entries on disk)', performance.now() - t0, 'ms');
  const { keys, root } = JSON.parse(readFileSync(path.join(dir, 'keys-100000.json'), 'utf8')) as { keys: string[]; root: string };
  for (const key of keys.slice(0, 3)) await call(url, 'PUT', 'sys/unseal', { key });
  for (let i = 0; i < 200; i++) await call(url, 'GET', `secret/data/app/k${i % KEYS}`, undefined, root);
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  row('server process RSS, unsealed, 100,000 entries', rssKb / 1024, 'MiB');
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-'));
  try {
    await httpLoad(dir);
    const big = await flatness(dir);
    await processFigures(dir, big);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `| ${r.name.padEnd(width)} | ${r.value.toFixed(r.value < 10 ? 2 : 0).padStart(9)} ${r.unit.padEnd(5)} |`);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const header = `| ${'figure'.padEnd(width)} | ${'value'.padStart(15)} |\n|${'-'.repeat(width + 2)}|${'-'.repeat(17)}|`;
  process.stdout.write(
    `Coffer benchmarks — ${machine}\nload: autocannon, ${CONNECTIONS} connections, ${LOAD_SECONDS} s per run\n\n${header}\n${lines.join('\n')}\n`,
  );
  await mkdir('bench/results', { recursive: true });
  await writeFile(
    'bench/results/latest.json',
    JSON.stringify({ machine, date: new Date().toISOString(), loadSeconds: LOAD_SECONDS, connections: CONNECTIONS, rows }, null, 2) + '\n',
  );
}

await main();
