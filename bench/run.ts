/**
 * `npm run bench`: every figure measured side by side in one run on this machine, printed as a table and written
 * to bench/results/latest.json. Never part of `npm test`.
 *
 * 1. HTTP load of KV v2 reads and writes with a POLICY token against real servers on LevelDB (storage read cache on,
 *    and off; and with one file audit device: what auditing every request costs), on PostgreSQL when it is installed
 *    (a throwaway local cluster, HA enabled: one active node, every write fenced), next to a bare express handler
 *    returning the same JSON (the framework + network floor). The load generator (autocannon) runs in its own
 *    process (bench/load-runner.ts), and so does every target (bench/target-runner.ts: its own heap, event loop and
 *    garbage collector, so one target's GC or compaction is never counted in another's round); rounds alternate
 *    between the targets, 32 and 1 connections, and each figure is the median of the rounds. Each target's process CPU
 *    time per request is reported too: on a machine shared with other jobs it is steadier than throughput.
 * 2. Rotate and rekey latency with 100 and with 100,000 stored entries: both must stay flat.
 * 3. Unseal latency at the threshold; a server process's start-up to listening and its RSS with 100,000 entries;
 *    the read cache's memory with all 100,000 entries read through it.
 * 4. Rewrap throughput (entries/s at 1 KiB) beside a raw LevelDB rewrite of the same entries in the same pages and
 *    beside that rewrite with the job's three AES-GCM operations per entry (the crypto floor), and the time of a
 *    census over 100,000 entries.
 *
 * Environment: COFFER_BENCH_SECONDS (per round, 5), COFFER_BENCH_ROUNDS (≥ 3), COFFER_BENCH_CONNECTIONS ("32,1"),
 * COFFER_BENCH_TARGETS (names to keep, e.g. "cache on" for a profile), COFFER_BENCH_ONLY=http (load part only) or =rewrap (part 4 only), COFFER_BENCH_REWRAP_ENTRIES (20000),
 * COFFER_BENCH_TARGET_FLAGS (node flags for the target processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { aeadOpen, aeadSeal } from '../server/core/barrier/aead.js';
import { parseRewrapSpec } from '../server/core/rotation/rewrap-spec.js';
import { LeveldbBackend } from '../server/core/storage/leveldb-backend.js';
import type { RunningCoffer } from '../server/start.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { call, kvServer, KEYS, leveldbConfigText, postgresConfigText, serverConfig } from './kv-server.js';
import type { LoadJob, LoadResult } from './load-runner.js';
import type { TargetJob, TargetReady, TargetUsage } from './target-runner.js';

interface Row {
  name: string;
  value: number;
  unit: string;
}

const rows: Row[] = [];
const row = (name: string, value: number, unit: string) => rows.push({ name, value, unit });
const LOAD_SECONDS = Number(process.env.COFFER_BENCH_SECONDS ?? 5);
/** Alternating rounds per figure (each figure is their median). */
const ROUNDS = Math.max(3, Number(process.env.COFFER_BENCH_ROUNDS ?? 3));
const CONNECTIONS = (process.env.COFFER_BENCH_CONNECTIONS ?? '32,1').split(',').map(Number);
/** Only targets whose name contains one of these (comma-separated), e.g. `cache on` for a profile run. */
const TARGETS = process.env.COFFER_BENCH_TARGETS?.split(',');
/** `http` runs only the load part (profiling, quick checks); `rewrap` only the rewrap and census figures. */
const ONLY = process.env.COFFER_BENCH_ONLY;
/** Extra node flags for the target processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the servers. */
const TARGET_FLAGS = process.env.COFFER_BENCH_TARGET_FLAGS?.split(' ').filter(Boolean) ?? [];
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/** A load target in its own process (bench/target-runner.ts), asked for its CPU time around each round. */
interface Target {
  name: string;
  url: string;
  token: string;
  /** Whether the target's group commit counts synced batches (the LevelDB Coffer targets). */
  counts: boolean;
  usage(): Promise<TargetUsage>;
  close(): Promise<void>;
}

async function startTarget(name: string, job: TargetJob, counts = false): Promise<Target> {
  const child = spawn(process.execPath, [...TARGET_FLAGS, '--import', 'tsx', path.join(BENCH_DIR, 'target-runner.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const answer = async (): Promise<unknown> => {
    const next = await lines.next();
    if (next.done === true) throw new Error(`bench target "${name}" exited`);
    return JSON.parse(next.value);
  };
  child.stdin.write(JSON.stringify(job) + '\n');
  const ready = (await answer()) as TargetReady;
  return {
    name,
    url: ready.url,
    token: ready.token ?? '',
    counts,
    usage: async () => {
      child.stdin.write('usage\n');
      return (await answer()) as TargetUsage;
    },
    close: async () => {
      child.stdin.end('close\n');
      const [code] = await exited;
      if (code !== 0) throw new Error(`bench target "${name}" exited with ${code}`);
    },
  };
}

type Measured = LoadResult & { cpuMicros: number; groups: number };

/**
 * The load generator in its own process (bench/load-runner.ts): the job goes in on stdin, the result comes out on
 * stdout. The target's own process CPU time per answered request is measured around it: a figure the other jobs
 * sharing the machine distort far less than throughput.
 */
async function runLoad(target: Target, job: LoadJob): Promise<Measured> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'load-runner.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const before = await target.usage();
  child.stdin.end(JSON.stringify(job));
  const [code] = (await once(child, 'exit')) as [number | null];
  const after = await target.usage();
  if (code !== 0) throw new Error(`load runner exited with ${code}`);
  const result = JSON.parse(out) as LoadResult;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(
      `${job.method} ${job.url} had ${result.non2xx} non-2xx answers and ${result.errors} errors (by status: ${JSON.stringify(result.statusCodes)})`,
    );
  return { ...result, cpuMicros: (after.cpuMicros - before.cpuMicros) / Math.max(1, result.requests), groups: after.groups - before.groups };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The rounds: for each connection count and operation, ROUNDS rounds alternating over the targets (so a load spike on
 * the shared machine hits all targets alike); each figure is the median of its rounds, and the ratios compare medians.
 */
async function loadRounds(targets: Target[]): Promise<void> {
  const body = JSON.stringify({ data: { user: 'bench', password: 'y'.repeat(32) } });
  for (const connections of CONNECTIONS) {
    for (const op of ['read', 'write'] as const) {
      const results = new Map<string, Measured[]>(targets.map((t) => [t.name, []]));
      // Every target is a fresh process: one unrecorded round first, so no figure includes JIT warm-up.
      for (let round = -1; round < ROUNDS; round++) {
        for (const t of targets) {
          // The machine's disk is shared: the LevelDB compaction a write round leaves behind settles first.
          if (op === 'write') await settle();
          const measured = await runLoad(t, {
            url: t.url,
            method: op === 'read' ? 'GET' : 'PUT',
            pathPrefix: '/v1/secret/data/app/k',
            keys: KEYS,
            token: t.token,
            ...(op === 'write' ? { body } : {}),
            connections,
            seconds: round < 0 ? Math.min(2, LOAD_SECONDS) : LOAD_SECONDS,
          });
          if (round >= 0) results.get(t.name)!.push(measured);
        }
      }
      const med = (name: string, f: (r: Measured) => number) => median(results.get(name)!.map(f));
      for (const t of targets) {
        row(
          `${connections} conn, KV ${op}: ${t.name}, throughput`,
          med(t.name, (r) => r.rps),
          'req/s',
        );
        row(
          `${connections} conn, KV ${op}: ${t.name}, p99 latency`,
          med(t.name, (r) => r.p99),
          'ms',
        );
        row(
          `${connections} conn, KV ${op}: ${t.name}, server CPU per request`,
          med(t.name, (r) => r.cpuMicros),
          'µs',
        );
        if (op === 'write' && t.counts) {
          const all = results.get(t.name)!;
          const writes = all.reduce((sum, r) => sum + r.requests, 0);
          const groups = all.reduce((sum, r) => sum + r.groups, 0);
          row(`${connections} conn, KV ${op}: ${t.name}, synced LevelDB batches per write (group commit)`, groups / writes, '×');
        }
      }
      const floor = targets.find((t) => t.name.startsWith('bare'));
      if (!floor) continue;
      for (const t of targets.filter((x) => x !== floor)) {
        row(`${connections} conn, KV ${op}: ${t.name} / bare, throughput`, med(t.name, (r) => r.rps) / med(floor.name, (r) => r.rps), '×');
        row(
          `${connections} conn, KV ${op}: ${t.name} / bare, p99`,
          med(t.name, (r) => r.p99) /
            Math.max(
              1,
              med(floor.name, (r) => r.p99),
            ),
          '×',
        );
        row(
          `${connections} conn, KV ${op}: bare / ${t.name}, server CPU per request`,
          med(floor.name, (r) => r.cpuMicros) / med(t.name, (r) => r.cpuMicros),
          '×',
        );
      }
    }
  }
}

/**
 * KV v2 reads and writes with a policy token against Coffer with its storage cache on and off, with an audit device,
 * and on PostgreSQL, next to a bare express handler serving the same JSON. Every target is its own process.
 */
async function httpLoad(dir: string): Promise<void> {
  const wanted = (name: string) => TARGETS === undefined || TARGETS.some((f) => name.includes(f));
  const targets: Target[] = [];
  let cluster: TestPostgres | undefined;
  try {
    const cached = await startTarget('Coffer, cache on', { kind: 'coffer', config: leveldbConfigText(path.join(dir, 'kv-cache')) }, true);
    targets.push(cached);
    // The floor answers with the very JSON a Coffer read and write answer.
    const readBody = JSON.stringify(await call(cached.url, 'GET', 'secret/data/app/k1', undefined, cached.token));
    const writeBody = JSON.stringify(await call(cached.url, 'PUT', 'secret/data/app/k1', { data: { a: 1 } }, cached.token));
    targets.unshift(await startTarget('bare express, same JSON', { kind: 'bare', readBody, writeBody }));
    if (wanted('Coffer, cache off'))
      targets.push(await startTarget('Coffer, cache off', { kind: 'coffer', config: leveldbConfigText(path.join(dir, 'kv-nocache'), true) }, true));
    // One file audit device: every request and response is HMAC'd and appended to a file.
    const audit = 'Coffer, cache on, one file audit device';
    if (wanted(audit))
      targets.push(
        await startTarget(
          audit,
          { kind: 'coffer', config: leveldbConfigText(path.join(dir, 'kv-audit')), auditFile: path.join(dir, 'audit.log') },
          true,
        ),
      );
    // PostgreSQL when installed (a row says why not otherwise).
    const onPostgres = 'Coffer on PostgreSQL (HA, fenced writes), cache on';
    const pgSkip = postgresSkipReason();
    if (pgSkip !== undefined) process.stderr.write(`PostgreSQL rows skipped: ${pgSkip}\n`);
    else if (wanted(onPostgres)) {
      cluster = await startPostgres();
      targets.push(await startTarget(onPostgres, { kind: 'coffer', config: postgresConfigText(cluster.url) }));
    }
    await loadRounds(targets.filter((t) => wanted(t.name)));
  } finally {
    for (const t of targets) await t.close();
    await cluster?.stop();
  }

  if (TARGETS !== undefined) return; // a profile run: keep the profile to the server's own work
  // The barrier's own cost, measured directly: one AES-256-GCM seal + open of a KV-sized entry.
  const key = new Uint8Array(32).fill(7);
  const entry = new Uint8Array(256).fill(1);
  const aad = new TextEncoder().encode('secret/data/app/k1');
  const rounds = 200_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) aeadOpen(key, aeadSeal(key, entry, aad), aad);
  row('barrier cost: AES-256-GCM seal + open of a 256-byte entry', Number(process.hrtime.bigint() - started) / 1e3 / rounds, 'µs');
}

/** Adds `entries` 1 KiB entries behind the barrier, 1,000 per atomic batch, then lets LevelDB settle. */
async function fill(server: RunningCoffer, entries: number): Promise<void> {
  const value = new Uint8Array(1024).fill(7);
  for (let i = 0; i < entries; i += 1000) {
    await server.core.barrier.batch(
      Array.from({ length: Math.min(1000, entries - i) }, (_, j) => ({ type: 'put' as const, path: `bench/${i + j}`, value })),
    );
  }
  await settle();
}

/** Lets LevelDB finish compacting what was just written, so the figures are the operations and not background I/O. */
async function settle(): Promise<void> {
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
    const { server, root, keys } = await kvServer(serverConfig(dataDir));
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

  // The read cache's memory bound: every one of the 100,000 entries read through a cache with the default bounds.
  const reader = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(BENCH_DIR, 'cache-rss.ts'), dataDir, '100000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let line = '';
  reader.stdout.on('data', (d) => (line += String(d)));
  await once(reader, 'exit');
  const cache = JSON.parse(line) as {
    found: number;
    before: number;
    after: number;
    entries: number;
    bytes: number;
    fillingMicros: number;
    fullMicros: number;
  };
  if (cache.found !== 100_000) throw new Error(`the cache RSS run found ${cache.found} of 100,000 entries`);
  row('read cache, 100,000 entries read: process RSS before', cache.before, 'MiB');
  row('read cache, 100,000 entries read: process RSS after', cache.after, 'MiB');
  row('read cache, 100,000 entries read: entries kept (default bounds)', cache.entries, '');
  row('read cache, 100,000 entries read: bytes kept (bound 64 MiB)', cache.bytes / 2 ** 20, 'MiB');
  row('read cache: a read (miss) while the cache fills', cache.fillingMicros, 'µs');
  row('read cache: a read (miss) once the cache is full and evicts', cache.fullMicros, 'µs');
  row('read cache: miss when full ÷ miss while filling (eviction cost)', cache.fullMicros / cache.fillingMicros, '×');
}

const REWRAP_ENTRIES = Number(process.env.COFFER_BENCH_REWRAP_ENTRIES ?? 20_000);
const REWRAP_BATCH = 100;

const encoder = new TextEncoder();

/** What the job does to one entry, without the job: decrypt under `from`, encrypt under `to`, decrypt that and compare. */
function reencrypt(from: Uint8Array, to: Uint8Array, key: string, value: Uint8Array): Uint8Array {
  const aad = encoder.encode(key);
  const plain = aeadOpen(from, value, aad);
  const out = aeadSeal(to, plain, aad);
  const check = aeadOpen(to, out, aad);
  if (!timingSafeEqual(check, plain)) throw new Error('the bench re-encryption did not verify');
  plain.fill(0);
  check.fill(0);
  return out;
}

/**
 * A rewrap job over REWRAP_ENTRIES entries of 1 KiB (pages of REWRAP_BATCH: scan, decrypt, re-encrypt, verify, one
 * conditional batch with the checkpoint; and the counting and verifying passes), next to a raw LevelDB rewrite of as
 * many entries of the same size and entropy in the same pages (scan, write each value back, one synced batch): the
 * ratio is what the job's crypto and bookkeeping cost. Beside both, the same raw rewrite with the job's three AES-GCM
 * operations per entry (decrypt under the old key, encrypt under the new one, decrypt that to compare): the job
 * against it is what the job's own machinery costs (the counting and verifying passes, the compare-and-swap, the
 * checkpoints), the crypto set apart. ROUNDS alternating rounds (a rotation before each job, so each moves every entry
 * again); the figures are medians. Then a census of 100,000 entries.
 */
async function rewrapFigures(dir: string): Promise<void> {
  const dataDir = path.join(dir, 'rewrap');
  const { server } = await kvServer(serverConfig(dataDir));
  await fill(server, REWRAP_ENTRIES);
  const raw = await LeveldbBackend.open(path.join(dir, 'raw-leveldb'));
  const rawCrypto = await LeveldbBackend.open(path.join(dir, 'raw-leveldb-crypto'));
  const cryptoKeys: [Uint8Array, Uint8Array] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
  const jobRates: number[] = [];
  const rawRates: number[] = [];
  const rawCryptoRates: number[] = [];
  try {
    // Entries like the barrier's: 1 KiB plus its 33 bytes of header, nonce and tag, each different and as
    // incompressible as ciphertext (LevelDB compresses its tables: constant filler would make the baseline cheaper).
    for (let i = 0; i < REWRAP_ENTRIES; i += 1000) {
      await raw.batch(
        Array.from({ length: Math.min(1000, REWRAP_ENTRIES - i) }, (_, j) => ({
          type: 'put' as const,
          key: `bench/${i + j}`,
          value: randomBytes(1024 + 33),
        })),
      );
      await rawCrypto.batch(
        Array.from({ length: Math.min(1000, REWRAP_ENTRIES - i) }, (_, j) => {
          const key = `bench/${i + j}`;
          return { type: 'put' as const, key, value: aeadSeal(cryptoKeys[0], new Uint8Array(randomBytes(1024)), encoder.encode(key)) };
        }),
      );
    }
    for (let round = 0; round < ROUNDS; round++) {
      await server.core.rotate();
      await settle(); // as for the raw rewrite: the compaction of what was written before settles first
      const started = performance.now();
      const job = await server.core.rewrap.start(
        parseRewrapSpec({ apiVersion: 'v1', selection: { prefixes: ['bench/'] }, execution: { batchSize: REWRAP_BATCH } }),
      );
      await server.core.rewrap.idle();
      const seconds = (performance.now() - started) / 1000;
      const done = await server.core.rewrap.get(job.job_id);
      if (done.state !== 'completed' || done.counts.rewrapped !== REWRAP_ENTRIES)
        throw new Error(`rewrap bench job ended ${done.state} with ${done.counts.rewrapped} of ${REWRAP_ENTRIES} entries rewrapped`);
      jobRates.push(done.counts.rewrapped / seconds);

      await settle();
      const t0 = performance.now();
      let after: string | undefined;
      let count = 0;
      for (;;) {
        const page = await raw.scan({ prefix: 'bench/', limit: REWRAP_BATCH, ...(after === undefined ? {} : { after }) });
        if (page.length === 0) break;
        await raw.batch(page.map((e) => ({ type: 'put' as const, key: e.key, value: e.value })));
        count += page.length;
        after = page.at(-1)!.key;
      }
      rawRates.push(count / ((performance.now() - t0) / 1000));

      await settle();
      const [keyFrom, keyTo] = round % 2 === 0 ? cryptoKeys : ([cryptoKeys[1], cryptoKeys[0]] as const);
      const t1 = performance.now();
      count = 0;
      // Pipelined like the job: the next page is read and re-encrypted while this one's batch is synced.
      const prepare = async (from: string | undefined) => {
        const page = await rawCrypto.scan({ prefix: 'bench/', limit: REWRAP_BATCH, ...(from === undefined ? {} : { after: from }) });
        await new Promise((resolve) => setImmediate(resolve));
        return page.map((e) => ({ type: 'put' as const, key: e.key, value: reencrypt(keyFrom, keyTo, e.key, e.value) }));
      };
      for (let next = prepare(undefined); ;) {
        const ops = await next;
        if (ops.length === 0) break;
        next = prepare(ops.at(-1)!.key);
        await rawCrypto.batch(ops);
        count += ops.length;
      }
      rawCryptoRates.push(count / ((performance.now() - t1) / 1000));
    }
  } finally {
    await raw.close();
    await rawCrypto.close();
    for (const key of cryptoKeys) key.fill(0);
  }
  const rewrapRate = median(jobRates);
  const rawRate = median(rawRates);
  row(`rewrap: entries/s at 1 KiB (${REWRAP_ENTRIES} entries, batch ${REWRAP_BATCH})`, rewrapRate, '/s');
  row(`raw LevelDB rewrite: entries/s at 1 KiB (same pages)`, rawRate, '/s');
  row('rewrap ÷ raw LevelDB rewrite (goal ≥ 0.5)', rewrapRate / rawRate, '×');
  const rawCryptoRate = median(rawCryptoRates);
  row('raw LevelDB rewrite with the 3 AES-GCM operations per entry: entries/s', rawCryptoRate, '/s');
  row('rewrap ÷ raw LevelDB rewrite with the same crypto (the job machinery)', rewrapRate / rawCryptoRate, '×');

  await fill(server, 100_000); // the same keys plus new ones: 100,000 bench entries in all
  const c0 = performance.now();
  await server.core.rewrap.startCensus();
  await server.core.rewrap.idle();
  const census = server.core.rewrap.census!;
  row(`census: ${census.scanned} entries`, performance.now() - c0, 'ms');
  await server.close();
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-'));
  try {
    if (ONLY !== 'rewrap') await httpLoad(dir);
    if (ONLY === undefined) {
      const big = await flatness(dir);
      await processFigures(dir, big);
    }
    if (ONLY === undefined || ONLY === 'rewrap') await rewrapFigures(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `| ${r.name.padEnd(width)} | ${r.value.toFixed(r.value < 10 ? 2 : 0).padStart(9)} ${r.unit.padEnd(5)} |`);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const header = `| ${'figure'.padEnd(width)} | ${'value'.padStart(15)} |\n|${'-'.repeat(width + 2)}|${'-'.repeat(17)}|`;
  process.stdout.write(
    `Coffer benchmarks — ${machine}\nload: autocannon in its own process, ${CONNECTIONS.join(' and ')} connections, ${LOAD_SECONDS} s per round, median of ${ROUNDS} alternating rounds\n\n${header}\n${lines.join('\n')}\n`,
  );
  await mkdir('bench/results', { recursive: true });
  await writeFile(
    'bench/results/latest.json',
    JSON.stringify({ machine, date: new Date().toISOString(), loadSeconds: LOAD_SECONDS, rounds: ROUNDS, connections: CONNECTIONS, rows }, null, 2) +
      '\n',
  );
}

await main();
