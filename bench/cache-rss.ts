/**
 * Run by bench/run.ts as its own process: opens a LevelDB data directory holding 100,000 entries, reads every key
 * under `bench/` through the storage read cache with the server's default bounds, and prints (one JSON line) the
 * process's RSS before and after and what the cache kept — the memory bound, measured rather than asserted.
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
for (let i = 0; i < count; i++) if ((await cache.get(`bench/${i}`)) !== undefined) found += 1;
collect();
const after = rssMiB();
const stats = cache.stats();
await cache.close();
process.stdout.write(JSON.stringify({ found, before, after, entries: stats.entries, bytes: stats.bytes }) + '\n');
