/**
 * Run by bench/run.ts as its own process: opens a LevelDB data directory holding 100,000 entries, reads every key
 * under `bench/` through the storage read cache with the server's default bounds, and prints (one JSON line) the
 * process's RSS before and after and what the cache kept — the memory bound, measured rather than asserted — and the
 * time of a read while the cache fills and once it is full (each read then evicts the least recently used entry).
 */
import { readFileSync } from 'node:fs';
import { CachedBackend } from '../server/core/storage/cached-backend.js';
import { LeveldbBackend } from '../server/core/storage/leveldb-backend.js';

/** Run with --expose-gc: garbage from the reads is collected first, so the figure is what stays. */
const collect = () => (globalThis as { gc?: () => void }).gc?.();
const rssMiB = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

const [dir, countArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: cache-rss.ts <data dir> [entries]');
const count = Number(countArg ?? 100_000);
const cache = new CachedBackend(await LeveldbBackend.open(dir));
collect();
const before = rssMiB();
let found = 0;
// Reads while the cache is still filling, and the same number once it is full and every read evicts an entry:
// the two should cost about the same.
const timed = Math.floor(count / 5);
let fillingNs = 0n;
let fullNs = 0n;
for (let i = 0; i < count; i++) {
  const started = process.hrtime.bigint();
  if ((await cache.get(`bench/${i}`)) !== undefined) found += 1;
  const ns = process.hrtime.bigint() - started;
  if (i < timed) fillingNs += ns;
  else if (i >= count - timed) fullNs += ns;
}
collect();
const after = rssMiB();
const stats = cache.stats();
await cache.close();
process.stdout.write(
  JSON.stringify({
    found,
    before,
    after,
    entries: stats.entries,
    bytes: stats.bytes,
    fillingMicros: Number(fillingNs) / 1e3 / timed,
    fullMicros: Number(fullNs) / 1e3 / timed,
  }) + '\n',
);
