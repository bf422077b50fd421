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
