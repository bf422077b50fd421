import type { StorageBackend, StorageOp } from '../../server/core/storage/storage-backend.js';

/**
 * Wraps a real backend, recording every write and letting a test fail chosen writes. This is a seam for fault
 * injection: the backend underneath is real.
 */
export class RecordingStorage implements StorageBackend {
  readonly writes: Array<{ kind: 'put' | 'delete' | 'batch'; ops: readonly StorageOp[] }> = [];
  /** Called before each write; throw to fail it (nothing is applied). */
  beforeWrite: ((ops: readonly StorageOp[]) => void) | undefined;

  constructor(readonly inner: StorageBackend) {}

  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async put(key: string, value: Uint8Array) {
    const ops: StorageOp[] = [{ type: 'put', key, value }];
    this.#record('put', ops);
    return this.inner.put(key, value);
  }
  async delete(key: string) {
    const ops: StorageOp[] = [{ type: 'delete', key }];
    this.#record('delete', ops);
    return this.inner.delete(key);
  }
  async batch(ops: readonly StorageOp[]) {
    this.#record('batch', ops);
    return this.inner.batch(ops);
  }
  close() {
    return this.inner.close();
  }

  #record(kind: 'put' | 'delete' | 'batch', ops: readonly StorageOp[]) {
    this.beforeWrite?.(ops);
    this.writes.push({ kind, ops });
  }
}
