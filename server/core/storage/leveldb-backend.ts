import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Level } from 'level';
import { CofferError } from '../errors.js';
import { KeyLocks } from './key-locks.js';
import { WriteLog } from './write-log.js';
import {
  assertValidKey,
  assertValidOps,
  childName,
  sameBytes,
  type ConditionalBatch,
  type ExpectedEntry,
  type OrderedScan,
  type ScanEntry,
  type ScanOptions,
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
/**
 * Bytes one native call of a scan may read (classic-level's default is 16 KiB: about 15 entries of 1 KiB per call,
 * so a 1,000-entry page took some 70 round trips to the thread pool). At 4 MiB a page is one or two calls.
 */
const SCAN_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** The embedded default backend. Every write is synced to disk before it resolves. */
export class LeveldbBackend implements StorageBackend, OrderedScan, ConditionalBatch {
  readonly #db: Level<string, Uint8Array>;
  /** Orders conditional batches against plain writes of the same keys (LevelDB itself has no compare-and-swap). */
  readonly #locks = new KeyLocks();
  /** Lets a compare-and-swap of freshly scanned entries skip reading them again (this process is the only writer). */
  readonly #writes = new WriteLog();
  readonly #dir: string;
  #closed = false;

  private constructor(db: Level<string, Uint8Array>, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Opens (creating if needed) the database in `dir`. A new directory is created 0700; an existing one must not
   * be open to group or others, and files in it lose any group/other permission bits.
   * @throws CofferError `config` when the directory is open to group or others or is not a directory;
   *   `storage_locked` when another process (or this one) holds the directory; `storage` naming the OS error
   *   (EACCES, EROFS, ENOSPC, ENOTDIR…) when the directory cannot be created, written or locked.
   */
  static async open(dir: string): Promise<LeveldbBackend> {
    const resolved = path.resolve(dir);
    if (openInThisProcess.has(resolved)) throw lockedError(resolved);
    await prepareDirectory(resolved);
    const db = new Level<string, Uint8Array>(resolved, { keyEncoding: 'utf8', valueEncoding: 'view' });
    openInThisProcess.add(resolved);
    try {
      await db.open();
    } catch (err) {
      openInThisProcess.delete(resolved);
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw lockedError(resolved);
      throw new CofferError('storage', `cannot open LevelDB storage at ${resolved}: ${osErrorOf(err)}`, { cause: err });
    }
    try {
      await tightenFiles(resolved);
    } catch (err) {
      await db.close();
      openInThisProcess.delete(resolved);
      throw new CofferError('storage', `cannot restrict the permissions of the files in ${resolved}`, { cause: err });
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
      const unknown = expected.filter((e) => e.value === undefined || !this.#writes.unchanged(e.key, e.value));
      if (unknown.length > 0) {
        const current = await this.#wrap(() => this.#db.getMany(unknown.map((e) => e.key)));
        if (!unknown.every((e, i) => sameBytes(current[i] === undefined ? undefined : new Uint8Array(current[i]), e.value))) return false;
      }
      if (ops.length > 0) await this.#write(ops);
      return true;
    } finally {
      release();
    }
  }

  async scan({ prefix, after, limit, forUpdate = false }: ScanOptions): Promise<ScanEntry[]> {
    return this.#wrap(async () => {
      const out: ScanEntry[] = [];
      const range = after !== undefined && after >= prefix ? { gt: after } : { gte: prefix };
      const seq = this.#writes.seq; // before the iterator's snapshot
      const it = this.#db.iterator({ ...range, limit, highWaterMarkBytes: SCAN_HIGH_WATER_BYTES });
      try {
        // Entries in bulk (an await per entry costs more than reading it). `nextv` may return fewer than asked
        // before the end, so it is called until the page is full or the range is exhausted: a short page means "no more".
        for (let done = false; !done && out.length < limit;) {
          const chunk = await it.nextv(Math.min(limit - out.length, SCAN_CHUNK));
          if (chunk.length === 0) break;
          for (const [key, value] of chunk) {
            if (!key.startsWith(prefix)) {
              done = true;
              break;
            }
            if (forUpdate) {
              // The caller's own copy, so the bytes kept to vouch for it cannot change under the write log.
              const copy = new Uint8Array(value);
              this.#writes.noteRead(key, copy, seq, value);
              out.push({ key, value: copy });
            } else out.push({ key, value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) });
          }
        }
      } finally {
        await it.close();
      }
      return out;
    });
  }

  async #write(ops: readonly StorageOp[]): Promise<void> {
    try {
      await this.#wrap(async () => {
        // A chained batch: one atomic LevelDB write like the array form, at about half its CPU per operation.
        const batch = this.#db.batch();
        try {
          for (const op of ops) {
            if (op.type === 'put') batch.put(op.key, op.value);
            else batch.del(op.key);
          }
        } catch (err) {
          await batch.close().catch(() => {}); // the operation's own error is the one to report
          throw err;
        }
        await batch.write({ sync: true });
      });
    } finally {
      // Even a failed batch may have reached the log: its keys count as written.
      this.#writes.noteWrite(ops.map((op) => op.key));
    }
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

/**
 * The data directory is the one gate in front of the stored entries, the sealed root key and the keyring: anyone
 * who can read it can keep a copy that old shares will open. So it is private to the server's user, and an
 * existing directory that is not is refused rather than silently changed (the operator may have meant it, e.g. a
 * group-readable backup mount, and should decide). Files inside are tightened instead: the directory already
 * guards them, and databases written by older versions (0644 files) should not need a manual fix.
 */
async function prepareDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CofferError('storage', `cannot open LevelDB storage at ${dir}: ${osErrorOf(err)}`, { cause: err });
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw new CofferError('config', `storage path ${dir} is not a directory`);
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new CofferError(
      'config',
      `storage directory ${dir} is accessible by group or others (mode ${mode}); it holds the encrypted data and sealed keys: run "chmod 700 ${dir}" and start again`,
    );
  }
}

/** Drops group/other bits from the files in `dir` (after LevelDB's open, which rewrites some of them). */
async function tightenFiles(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    const mode = (await stat(file).catch(() => undefined))?.mode;
    if (mode === undefined) continue; // LevelDB removed it meanwhile
    if ((mode & 0o077) !== 0) await chmod(file, mode & 0o700).catch(() => {});
  }
}

function lockedError(dir: string): CofferError {
  return new CofferError('storage_locked', `storage directory ${dir} is locked by another process (is another Coffer server running on it?)`);
}

/** LevelDB's own I/O errors carry only strerror text; these map it back to the errno name operators search for. */
const STRERROR_CODES: Array<[RegExp, string]> = [
  [/permission denied/i, 'EACCES'],
  [/read-only file system/i, 'EROFS'],
  [/no space left/i, 'ENOSPC'],
  [/not a directory/i, 'ENOTDIR'],
  [/no such file or directory/i, 'ENOENT'],
  [/operation not permitted/i, 'EPERM'],
  [/too many open files/i, 'EMFILE'],
];

/**
 * The OS error behind a failed open, as `EACCES (permission denied)`: the errno name from Node's own calls
 * (mkdir), or recognised in LevelDB's `IO error: <file>: Permission denied` text; else the error's message.
 */
export function osErrorOf(err: unknown): string {
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  for (const e of chain) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return describe(code, e);
  }
  for (const e of chain) {
    const message = (e as Partial<Error>).message ?? '';
    for (const [pattern, code] of STRERROR_CODES) if (pattern.test(message)) return describe(code, e);
  }
  const last = chain[chain.length - 1] as Error | undefined;
  return last?.message ?? 'unknown error';
}

function describe(code: string, e: unknown): string {
  const hints: Record<string, string> = {
    EACCES: 'permission denied: the server user cannot write the directory',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'the path exists and is not a directory',
  };
  return `${code} (${hints[code] ?? (e as Partial<Error>).message ?? ''})`;
}
