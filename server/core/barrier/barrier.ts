import type { StorageOp } from '../storage/storage-backend.js';

/** A write behind the barrier: plaintext in, ciphertext stored. */
export type BarrierOp = { type: 'put'; path: string; value: Uint8Array } | { type: 'delete'; path: string };

/**
 * Encrypted view of storage. Every value is authenticated together with its path; reads of tampered, truncated,
 * moved or unknown-term entries fail with `integrity`. While sealed every operation fails with `sealed`.
 */
export interface Barrier {
  readonly sealed: boolean;
  get(path: string): Promise<Uint8Array | undefined>;
  put(path: string, value: Uint8Array): Promise<void>;
  delete(path: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  /** Applies all operations atomically. */
  batch(ops: readonly BarrierOp[]): Promise<void>;
  /** Encrypts `value` for `path` under the active term, for a caller that commits it in its own storage batch. */
  encryptOp(op: BarrierOp): StorageOp;
}
