import { CofferError } from '../errors.js';
import {
  assertValidOps,
  hasConditionalBatch,
  hasOrderedScan,
  type ConditionalBatch,
  type ExpectedEntry,
  type OrderedScan,
  type ScanEntry,
  type ScanOptions,
  type StorageBackend,
  type StorageOp,
} from './storage-backend.js';

/** A group is closed at this many operations; the rest wait for the next one. */
export const MAX_GROUP_OPS = 4096;

interface Pending {
  ops: readonly StorageOp[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: writes that arrive while the backend is busy making an earlier batch durable are queued and then
 * written together as ONE batch (one fsync for many requests). Each caller's promise resolves only after the batch
 * holding its operations is durable, so an acknowledged write is never lost. Operations keep their arrival order
 * inside a group, and groups are written one after another, so a later write to a key always wins. A group is
 * atomic as a whole; if its write fails, every caller in it gets the error and none of it was applied.
 *
 * Reads, lists and scans pass straight through: a read never waits behind a write, and a write is not visible to a
 * caller before its promise resolves anyway. A conditional batch goes straight to the backend too, which orders it
 * per key against every group (a queued client write lands after it, so the client's value stands).
 */
export class GroupCommitBackend implements StorageBackend, OrderedScan, ConditionalBatch {
  readonly #inner: StorageBackend;
  #queue: Pending[] = [];
  #writing = false;
  #groups = 0;

  constructor(inner: StorageBackend) {
    this.#inner = inner;
  }

  /** Batches written to the backend so far (tests and the bench compare it with the writes asked for). */
  get groupsWritten(): number {
    return this.#groups;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  scan(options: ScanOptions): Promise<ScanEntry[]> {
    const inner = this.#inner;
    if (!hasOrderedScan(inner)) throw new CofferError('unsupported_operation', 'the storage backend has no ordered scan');
    return inner.scan(options);
  }

  batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    const inner = this.#inner;
    if (!hasConditionalBatch(inner)) throw new CofferError('unsupported_operation', 'the storage backend has no conditional batch');
    return inner.batchIf(expected, ops);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  /** Durable once resolved. @throws what the backend's write throws, for every batch of the group. */
  async batch(ops: readonly StorageOp[]): Promise<void> {
    assertValidOps(ops); // one caller's bad op must not fail the others in its group
    if (ops.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      // Values are copied: the caller's buffers may be reused while the group waits for its turn.
      const copied = ops.map((op): StorageOp => (op.type === 'put' ? { type: 'put', key: op.key, value: op.value.slice() } : op));
      this.#queue.push({ ops: copied, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async close(): Promise<void> {
    while (this.#writing) await new Promise<void>((resolve) => this.#queue.push({ ops: [], resolve, reject: () => resolve() }));
    await this.#inner.close();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const group: Pending[] = [];
        let count = 0;
        while (this.#queue.length > 0 && (group.length === 0 || count + this.#queue[0]!.ops.length <= MAX_GROUP_OPS)) {
          const next = this.#queue.shift()!;
          group.push(next);
          count += next.ops.length;
        }
        const ops = group.flatMap((p) => p.ops);
        try {
          if (ops.length > 0) {
            await this.#inner.batch(ops);
            this.#groups += 1;
          }
          for (const p of group) p.resolve();
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
