import { readEntryHeader } from '../../server/core/barrier/entry-header.js';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore, type CoreOptions } from '../../server/core/coffer-core.js';
import type { JobState } from '../../server/core/rotation/rewrap-job.js';
import { parseRewrapSpec, type RewrapSpec } from '../../server/core/rotation/rewrap-spec.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import type { ScanEntry, StorageOp, ExpectedEntry } from '../../server/core/storage/storage-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { ManualClock } from './test-server.js';

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/**
 * In-memory storage with hooks: `beforeScan` runs before each scan (a gate for deterministic interleavings), and
 * `beforeBatchIf` before each conditional batch (to slip a client write in between read and write).
 */
export class HookedStorage extends InmemBackend {
  beforeScan: ((options: { prefix: string; after?: string; limit: number }) => Promise<void>) | undefined;
  beforeBatchIf: ((expected: readonly ExpectedEntry[]) => Promise<void>) | undefined;
  writes = 0;
  override async scan(options: { prefix: string; after?: string; limit: number }): Promise<ScanEntry[]> {
    await this.beforeScan?.(options);
    return super.scan(options);
  }
  override async batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    await this.beforeBatchIf?.(expected);
    return super.batchIf(expected, ops);
  }
  override async batch(ops: readonly StorageOp[]): Promise<void> {
    this.writes += ops.length;
    return super.batch(ops);
  }
}

/** A gate: `wait()` blocks callers until `open()`; `reached` resolves when the first caller arrives. */
export function gate() {
  let open!: () => void;
  let arrived!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (arrived = r));
  return {
    reached,
    open,
    wait: async () => {
      arrived();
      await opened;
    },
  };
}

/** Holds the `n`th conditional batch (the commit of a rewrap page) at a gate until it is opened. */
export function holdCommit(storage: HookedStorage, n: number) {
  const g = gate();
  let commits = 0;
  storage.beforeBatchIf = async () => {
    if (++commits === n) await g.wait();
  };
  return g;
}

/** Job states seen by the observer, in order. */
export interface Recorder {
  states: JobState[];
}

/** A core over hooked in-memory storage, initialised 1-of-1 and unsealed; `newCore()` is a restart on the same storage. */
export async function rewrapCore(extra: Partial<CoreOptions> = {}) {
  const storage = new HookedStorage();
  const clock = new ManualClock();
  const recorder: Recorder = { states: [] };
  const newCore = () =>
    new CofferCore({
      storage,
      storageType: 'inmem',
      clock,
      random: systemRandom,
      logger: createLogger('silent'),
      rewrapObserver: { rewrapEntries: () => {}, rewrapJob: (j) => void recorder.states.push(j.state), census: () => {} },
      ...extra,
    });
  const core = newCore();
  const { keys } = await core.initialize({
    secretShares: 1,
    secretThreshold: 1,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 0,
    recoveryThreshold: 0,
    recoveryPgpKeys: [],
  });
  await core.submitUnsealKey(keys[0]!);
  return { core, newCore, keys, storage, clock, recorder };
}

export function spec(fields: Record<string, unknown> = {}): RewrapSpec {
  return parseRewrapSpec({ apiVersion: 'v1', ...fields });
}

/** Entries (outside exempt and job records) per header term. */
export async function termsOf(storage: InmemBackend, prefix = 'data/'): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (const { value } of await storage.scan({ prefix, limit: 1e9 })) {
    const term = readEntryHeader(value)?.term ?? -1;
    out[term] = (out[term] ?? 0) + 1;
  }
  return out;
}

/** Every raw entry under `prefix`, to compare before and after. */
export async function snapshot(storage: InmemBackend, prefix = 'data/'): Promise<Map<string, string>> {
  return new Map((await storage.scan({ prefix, limit: 1e9 })).map((e) => [e.key, Buffer.from(e.value).toString('hex')]));
}
