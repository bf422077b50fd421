import type { DecryptFailureReason } from '../observer.js';
import type { StorageOp } from '../storage/storage-backend.js';
import type { UnsealOutcome } from './encryption-counts.js';

/** A write behind the barrier: plaintext in, ciphertext stored. */
export type BarrierOp = { type: 'put'; path: string; value: Uint8Array } | { type: 'delete'; path: string };

/**
 * Encrypted view of storage. Every value is authenticated together with its path; reads of tampered, truncated,
 * moved or unknown-term entries fail with `integrity`. While sealed every operation fails with `sealed`.
 */
export interface Barrier {
  readonly sealed: boolean;
  get(path: string): Promise<Uint8Array | undefined>;
  /**
   * Whether an entry is stored at `path`, without decrypting it (an existence check before a write: `create` or
   * `update`). @throws CofferError `sealed`.
   */
  has(path: string): Promise<boolean>;
  put(path: string, value: Uint8Array): Promise<void>;
  delete(path: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  /** Applies all operations atomically. */
  batch(ops: readonly BarrierOp[]): Promise<void>;
  /** Encrypts `value` for `path` under the active term, for a caller that commits it in its own storage batch. */
  encryptOp(op: BarrierOp): StorageOp;
}

/** What the barrier reports as it works (metrics, logs). */
export interface BarrierEvents {
  /** An entry failed to decrypt, by reason. */
  decryptFailure?(reason: DecryptFailureReason): void;
  /** A background count flush failed (the counts stay counted and are flushed later). */
  backgroundError?(err: unknown): void;
  /** An unseal after an unclean stop: the active term's count was raised by the margin (reported once persisted). */
  uncleanStop?(outcome: UnsealOutcome): void;
  /** A read of an entry under a retired term was refused (the canary of a soft retire). */
  retiredRead?(term: number): void;
}
