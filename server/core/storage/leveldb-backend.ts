import path from 'node:path';
import { Level } from 'level';
import { CofferError } from '../errors.js';
import { KeyLocks } from './key-locks.js';
import {
  assertValidKey,
  assertValidOps,
  childName,
  sameBytes,
  type ConditionalBatch,
  type ExpectedEntry,
  type OrderedScan,
  type ScanEntry,
  type StorageBackend,
  type StorageOp,
} from './storage-backend.js';

/**
 * Directories this process has open. LevelDB guards a directory with an fcntl lock, and a second open of the same
 * directory inside one process *releases* that lock when it fails (POSIX drops all of a process's locks on a file
 * when any descriptor of it closes), which would let another process open the database under us. So a second
 * in-process open is refused here, before LevelDB is asked. This is process-wide state by nature: it mirrors the
 * OS lock, which is process-wide too.
 */
const openInThisProcess = new Set<string>();

/** Entries fetched per native call of a scan (LevelDB reserves room for the count asked, so it is bounded). */
const SCAN_CHUNK = 1000;

/** The embedded default backend. Every write is synced to disk before it resolves. */
export class LeveldbBackend implements StorageBackend, OrderedScan, ConditionalBatch {
  readonly #db: Level<string, Uint8Array>;
  /** Orders conditional batches against plain writes of the same keys (LevelDB itself has no compare-and-swap). */
  readonly #locks = new KeyLocks();
  readonly #dir: string;
  #closed = false;

  private constructor(db: Level<string, Uint8Array>, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Opens (creating if needed) the database in `dir`.
   * @throws CofferError `storage_locked` when another process (or this one) holds the directory.
   */
  static async open(dir: string): Promise<LeveldbBackend> {
    const resolved = path.resolve(dir);
    if (openInThisProcess.has(resolved)) throw lockedError(resolved);
    const db = new Level<string, Uint8Array>(resolved, { keyEncoding: 'utf8', valueEncoding: 'view' });
    openInThisProcess.add(resolved);
    try {
      await db.open();
    } catch (err) {
      openInThisProcess.delete(resolved);
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw lockedError(resolved);
      throw new CofferError('storage', `cannot open LevelDB storage at ${resolved}`, { cause: err });
    }
    return new LeveldbBackend(db, resolved);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key);
    return this.#wrap(async () => {
      const value = await this.#db.get(key);
      return value === undefined ? undefined : new Uint8Array(value);
    });
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  async list(prefix: string): Promise<string[]> {
    return this.#wrap(async () => {
      const children: string[] = [];
      const it = this.#db.keys({ gte: prefix });
      try {
        for (;;) {
          const key = await it.next();
          if (key === undefined || !key.startsWith(prefix)) break;
          const child = childName(prefix, key);
          children.push(child);
          // Skip the rest of a folder in one seek: '0' is the byte after '/'.
          if (child.endsWith('/')) it.seek(prefix + child.slice(0, -1) + '0');
        }
      } finally {
        await it.close();
      }
      return children;
    });
  }

  async batch(ops: readonly StorageOp[]): Promise<void> {
    assertValidOps(ops);
    if (ops.length === 0) return;
    const release = await this.#locks.acquire(ops.map((op) => op.key));
    try {
      await this.#write(ops);
    } finally {
      release();
    }
  }

  async batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    assertValidOps(ops);
    const release = await this.#locks.acquire([...expected.map((e) => e.key), ...ops.map((op) => op.key)]);
    try {
      if (expected.length > 0) {
        const current = await this.#wrap(() => this.#db.getMany(expected.map((e) => e.key)));
        if (!expected.every((e, i) => sameBytes(current[i] === undefined ? undefined : new Uint8Array(current[i]!), e.value))) return false;
      }
      if (ops.length > 0) await this.#write(ops);
      return true;
    } finally {
      release();
    }
  }

  async scan({ prefix, after, limit }: { prefix: string; after?: string; limit: number }): Promise<ScanEntry[]> {
    return this.#wrap(async () => {
      const out: ScanEntry[] = [];
      const range = after !== undefined && after >= prefix ? { gt: after } : { gte: prefix };
      const it = this.#db.iterator({ ...range, limit });
      try {
        // Entries in bulk (an await per entry costs more than reading it). `nextv` may return fewer than asked
        // before the end, so it is called until the page is full or the range is exhausted: a short page means "no more".
        for (let done = false; !done && out.length < limit; ) {
          const chunk = await it.nextv(Math.min(limit - out.length, SCAN_CHUNK));
          if (chunk.length === 0) break;
          for (const [key, value] of chunk) {
            if (!key.startsWith(prefix)) {
              done = true;
              break;
            }
            out.push({ key, value: new Uint8Array(value) });
          }
        }
      } finally {
        await it.close();
      }
      return out;
    });
  }

  async #write(ops: readonly StorageOp[]): Promise<void> {
    await this.#wrap(() =>
      this.#db.batch(
        ops.map((op) => (op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key })),
        { sync: true },
      ),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#db.close();
    } finally {
      openInThisProcess.delete(this.#dir);
    }
  }

  async #wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError('storage', 'LevelDB storage operation failed', { cause: err });
    }
  }
}

function lockedError(dir: string): CofferError {
  return new CofferError(
    'storage_locked',
    `storage directory ${dir} is locked by another process (is another Coffer server running on it?)`,
  );
}
