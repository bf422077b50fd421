import { CofferError } from '../errors.js';

/** One operation of an atomic batch. */
export type StorageOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string };

/**
 * Physical storage. It knows nothing of encryption: the barrier hands it ciphertext, and it is treated as
 * untrusted. Keys are `/`-separated paths.
 */
export interface StorageBackend {
  /** The value, or `undefined` when the key does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Durable once the promise resolves. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Immediate children of `prefix` (which is empty or ends with `/`), sorted: a leaf as its name, a folder as
   * its name followed by `/` (listed once however many entries it holds).
   */
  list(prefix: string): Promise<string[]>;
  /** All operations are applied, durably, or none is. An invalid operation rejects the whole batch. */
  batch(ops: readonly StorageOp[]): Promise<void>;
  close(): Promise<void>;
}

/** Rejects keys the backends could store ambiguously. Throws `invalid_request`. */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.includes('\0')) {
    throw new CofferError('invalid_request', 'invalid storage key');
  }
}

export function assertValidOps(ops: readonly StorageOp[]): void {
  for (const op of ops) {
    assertValidKey(op.key);
    if (op.type === 'put') {
      if (!(op.value instanceof Uint8Array)) throw new CofferError('invalid_request', `invalid value for ${op.key}`);
    } else if (op.type !== 'delete') {
      throw new CofferError('invalid_request', 'invalid storage operation');
    }
  }
}

/** The immediate child of `prefix` that `key` lies under (`name` or `name/`). `key` must start with `prefix`. */
export function childName(prefix: string, key: string): string {
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash + 1);
}

/** One stored entry, as an ordered scan returns it. */
export interface ScanEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * Optional capability: full keys (not children) under `prefix`, in ascending byte order, strictly after `after`
 * when given, at most `limit` of them. A cursor is a key, never an offset, so a scan over a set that changes while it
 * is walked never skips a key that exists for the whole walk.
 */
export interface OrderedScan {
  scan(options: ScanOptions): Promise<ScanEntry[]>;
}

/** A page of an ordered scan: the keys under `prefix` after `after`, at most `limit` of them. */
export interface ScanOptions {
  prefix: string;
  after?: string;
  limit: number;
  /**
   * A hint: the caller will soon compare-and-swap these entries (a rewrap page), so a backend may remember the read
   * to make that check cheaper. Without it the values may be views the backend will not look at again.
   */
  forUpdate?: boolean;
}

/** What a conditional batch expects to find: `value` undefined means "absent". */
export interface ExpectedEntry {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/**
 * Optional capability: compare-and-swap over several keys. `ops` are applied (atomically, durably) only if every
 * expected key holds exactly the expected bytes at that moment; false (nothing written) otherwise. Ordered against
 * every other `batch`/`put`/`delete` of the same backend on those keys, so a concurrent writer is never lost.
 */
export interface ConditionalBatch {
  batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean>;
}

export function hasOrderedScan(storage: StorageBackend): storage is StorageBackend & OrderedScan {
  return typeof (storage as Partial<OrderedScan>).scan === 'function';
}

export function hasConditionalBatch(storage: StorageBackend): storage is StorageBackend & ConditionalBatch {
  return typeof (storage as Partial<ConditionalBatch>).batchIf === 'function';
}

/** Byte equality of two optional values. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
