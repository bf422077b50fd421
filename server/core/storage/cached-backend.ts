import { LRUCache } from 'lru-cache';
import { CofferError } from '../errors.js';
import {
  assertValidKey,
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

/** Vault's default physical cache size, in entries. */
export const DEFAULT_CACHE_ENTRIES = 131_072;
/** The byte bound that applies whatever the entry count: large entries cannot make the cache a memory problem. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * Bookkeeping per cached entry, counted against the byte bound: the Map slot, the key string, and the Uint8Array and
 * its separate backing store, which cost a few hundred bytes beyond the value itself.
 */
const ENTRY_OVERHEAD_BYTES = 320;

export interface CacheLimits {
  /** At most this many entries (present or known-absent). */
  maxEntries: number;
  /** At most this many bytes of keys, values and bookkeeping. */
  maxBytes: number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
}

/** `null` records a key known to be absent, so existence checks of new paths are served from memory too. */
type Cached = Uint8Array | null;
/** How the LRU (which holds no null) stores a known-absent key. */
const ABSENT = Symbol('absent');
type Slot = Uint8Array | typeof ABSENT;

interface InflightRead {
  promise: Promise<Uint8Array | undefined>;
  /** Set when a write, invalidation or clear overtook the read: its result must not enter the cache. */
  stale: boolean;
}

/**
 * A bounded LRU read cache of the backend's entries, in front of any backend (Vault's physical cache is the model).
 * It holds exactly what the backend holds — the barrier's ciphertext — so no plaintext is kept here. Writes go
 * through to the backend first and update the cache only once durable; a failed write leaves the key uncached.
 * Concurrent misses of one key share one backend read. `list` and `scan` are not cached. When writes of one key
 * overlap in time, the backend alone knows which landed last: the key is left uncached instead of guessing (no
 * write ever waits for another here).
 *
 * Invalidation: `clear()` on seal (wired by the core), `invalidate(keys)` for changes made by ANOTHER writer of the
 * same storage (an HA standby following the active node's change feed must call it for every changed key before
 * serving reads that depend on them).
 */
export class CachedBackend implements StorageBackend, OrderedScan, ConditionalBatch {
  readonly #inner: StorageBackend;
  readonly #limits: CacheLimits;
  /**
   * Least recently used out first, by both bounds. A hit moves the entry to the front of a linked list, and an
   * eviction takes the last: both O(1) however full the cache is (a Map kept in recency order costs an O(n) walk past
   * deleted slots for every eviction once it is full).
   */
  readonly #entries: LRUCache<string, Slot> | undefined;
  readonly #inflight = new Map<string, InflightRead>();
  /** Writes in flight per key, and whether two of them overlapped (then none of them may cache its value). */
  readonly #writing = new Map<string, { count: number; overlapped: boolean }>();
  /** HA: off while this node is not the active one (another node writes the storage then). */
  #enabled = true;
  #hits = 0;
  #misses = 0;

  constructor(inner: StorageBackend, limits: Partial<CacheLimits> = {}) {
    this.#inner = inner;
    this.#limits = { maxEntries: limits.maxEntries ?? DEFAULT_CACHE_ENTRIES, maxBytes: limits.maxBytes ?? DEFAULT_CACHE_BYTES };
    // The LRU allocates its slots up front, one per entry it may hold: no more than the byte bound leaves room for
    // (every entry costs at least the overhead and a one-character key), whatever cache_size says.
    const max = Math.min(this.#limits.maxEntries, Math.floor(this.#limits.maxBytes / sizeOf('k', ABSENT)));
    this.#entries =
      max > 0 ? new LRUCache<string, Slot>({ max, maxSize: this.#limits.maxBytes, sizeCalculation: (value, key) => sizeOf(key, value) }) : undefined;
  }

  /** The backend behind the cache. */
  get inner(): StorageBackend {
    return this.#inner;
  }

  /**
   * HA: the cache serves only while this node is the active one. A standby (or a sealed HA node) reads the backend
   * directly — another node writes it, and even a key known to be absent may appear — and the cache starts empty
   * each time the node becomes active. Either switch empties it.
   */
  setEnabled(enabled: boolean): void {
    this.clear();
    this.#enabled = enabled;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key);
    if (!this.#enabled) return this.#inner.get(key);
    const cached = this.#entries?.get(key);
    if (cached !== undefined) {
      this.#hits += 1;
      return cached === ABSENT ? undefined : cached.slice();
    }
    this.#misses += 1;
    let read = this.#inflight.get(key);
    if (!read) {
      const started: InflightRead = { promise: this.#inner.get(key), stale: false };
      read = started;
      this.#inflight.set(key, started);
      void started.promise.then(
        (value) => {
          if (this.#inflight.get(key) === started) this.#inflight.delete(key);
          if (!started.stale) this.#remember(key, value === undefined ? null : value.slice());
        },
        () => {
          if (this.#inflight.get(key) === started) this.#inflight.delete(key);
        },
      );
    }
    const value = await read.promise;
    return value === undefined ? undefined : value.slice();
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  /** Write-through: the keys are dropped first, and cached again only after the backend made the batch durable. */
  async batch(ops: readonly StorageOp[]): Promise<void> {
    assertValidOps(ops);
    await this.#writeThrough(ops, async () => {
      await this.#inner.batch(ops);
      return true;
    });
  }

  /**
   * Compare-and-swap in the backend. Its users (rewrap jobs) walk the whole store: the keys are dropped from the
   * cache, never added, so a job over 100,000 entries does not push the hot entries out.
   */
  async batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    assertValidOps(ops);
    const inner = this.#inner;
    if (!hasConditionalBatch(inner)) throw new CofferError('unsupported_operation', 'the storage backend has no conditional batch');
    return this.#writeThrough(ops, () => inner.batchIf(expected, ops), false);
  }

  /** Straight to the backend: a scan walks far more entries than the cache should hold. */
  scan(options: ScanOptions): Promise<ScanEntry[]> {
    const inner = this.#inner;
    if (!hasOrderedScan(inner)) throw new CofferError('unsupported_operation', 'the storage backend has no ordered scan');
    return inner.scan(options);
  }

  /**
   * Runs a write through to the backend: the keys are dropped first, and cached again only after the backend made the
   * write durable, when `write` answers true, and when no other write of the same key overlapped this one.
   */
  async #writeThrough(ops: readonly StorageOp[], write: () => Promise<boolean>, cacheValues = true): Promise<boolean> {
    const keys = [...new Set(ops.map((op) => op.key))];
    // Copy now: the caller may zero its buffers as soon as this resolves.
    const after = cacheValues ? new Map(ops.map((op) => [op.key, op.type === 'put' ? op.value.slice() : null] as const)) : undefined;
    for (const key of keys) {
      const w = this.#writing.get(key);
      if (w) {
        w.count += 1;
        w.overlapped = true;
      } else this.#writing.set(key, { count: 1, overlapped: false });
    }
    let written = false;
    try {
      this.invalidate(keys);
      written = await write();
      return written;
    } finally {
      this.invalidate(keys); // reads that started during the write saw the old value
      for (const key of keys) {
        const w = this.#writing.get(key)!;
        if (after && written && this.#enabled && !w.overlapped) this.#remember(key, after.get(key)!);
        if (--w.count === 0) this.#writing.delete(key);
      }
    }
  }

  /**
   * Forgets `keys`, including any read of them in flight. The hook for HA's change feed: call it for every key
   * another node changed, before serving reads that depend on them.
   */
  invalidate(keys: Iterable<string>): void {
    for (const key of keys) {
      this.#forget(key);
      const read = this.#inflight.get(key);
      if (read) {
        read.stale = true;
        this.#inflight.delete(key);
      }
    }
  }

  /** Forgets everything (on seal). */
  clear(): void {
    this.#entries?.clear();
    for (const read of this.#inflight.values()) read.stale = true;
    this.#inflight.clear();
  }

  stats(): CacheStats {
    return { entries: this.#entries?.size ?? 0, bytes: this.#entries?.calculatedSize ?? 0, hits: this.#hits, misses: this.#misses };
  }

  async close(): Promise<void> {
    this.clear();
    await this.#inner.close();
  }

  #remember(key: string, value: Cached): void {
    const slot = value ?? ABSENT;
    // An entry larger than the byte bound is not kept (and any older copy of it goes).
    if (this.#entries === undefined || sizeOf(key, slot) > this.#limits.maxBytes) return this.#forget(key);
    this.#entries.set(key, slot);
  }

  #forget(key: string): void {
    this.#entries?.delete(key);
  }
}

function sizeOf(key: string, value: Slot): number {
  return ENTRY_OVERHEAD_BYTES + key.length * 2 + (value === ABSENT ? 0 : value.byteLength);
}
