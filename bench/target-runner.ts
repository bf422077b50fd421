/**
 * One load target, run as its OWN process by bench/run.ts (`node --import tsx bench/target-runner.ts`): each server
 * under test gets a heap, an event loop and a garbage collector of its own, so one target's major GC or LevelDB
 * compaction is never counted against another's round.
 *
 * Protocol (newline-delimited JSON; the token travels on the pipes, never in argv):
 * - stdin, first line: a TargetJob. The runner starts the target and answers one line: `{url, token?}`.
 * - stdin, then `usage`: answers `{cpuMicros, groups}` — this process's CPU time so far and the synced storage batches
 *   the server's group commit wrote so far (0 where there is none).
 * - stdin, `close` (or end of input): closes the target and exits 0.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import express from 'express';
import { parseConfig } from '../server/config/load-config.js';
import { CachedBackend } from '../server/core/storage/cached-backend.js';
import { GroupCommitBackend } from '../server/core/storage/group-commit-backend.js';
import type { StorageBackend } from '../server/core/storage/storage-backend.js';
import { call, kvServer } from './kv-server.js';

export type TargetJob =
  /** A Coffer server from this HCL config, with a file audit device at `auditFile` if given. */
  | { kind: 'coffer'; config: string; auditFile?: string }
  /** The floor: express answering the same JSON a KV v2 read and write answer, with no auth, storage or crypto. */
  | { kind: 'bare'; readBody: string; writeBody: string };

export interface TargetReady {
  url: string;
  /** A policy token for `secret/data/app/*` (Coffer targets). */
  token?: string;
}

export interface TargetUsage {
  cpuMicros: number;
  groups: number;
}

/** Synced batches the server's group commit wrote so far (the layer sits under the read cache when that is on). */
function groupsOf(storage: StorageBackend): number {
  const below = storage instanceof CachedBackend ? storage.inner : storage;
  return below instanceof GroupCommitBackend ? below.groupsWritten : 0;
}

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

async function start(job: TargetJob): Promise<{ ready: TargetReady; groups(): number; close(): Promise<void> }> {
  if (job.kind === 'bare') {
    const bare = await bareExpress(job.readBody, job.writeBody);
    return { ready: { url: bare.url }, groups: () => 0, close: () => bare.close() };
  }
  const kv = await kvServer(parseConfig(job.config));
  if (job.auditFile !== undefined)
    await call(kv.server.url, 'PUT', 'sys/audit/file', { type: 'file', options: { file_path: job.auditFile } }, kv.root);
  return { ready: { url: kv.server.url, token: kv.token }, groups: () => groupsOf(kv.server.storage), close: () => kv.server.close() };
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
if (first.done === true) throw new Error('target runner: no job on stdin');
const target = await start(JSON.parse(first.value) as TargetJob);
process.stdout.write(JSON.stringify(target.ready) + '\n');
for (;;) {
  const next = await lines.next();
  if (next.done === true || next.value === 'close') break;
  if (next.value !== 'usage') throw new Error(`target runner: unknown command ${JSON.stringify(next.value)}`);
  const cpu = process.cpuUsage();
  const usage: TargetUsage = { cpuMicros: cpu.user + cpu.system, groups: target.groups() };
  process.stdout.write(JSON.stringify(usage) + '\n');
}
await target.close();
process.exit(0);
