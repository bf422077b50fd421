import type { StorageBackend, StorageOp } from '../../server/core/storage/storage-backend.js';

/**
 * A real backend whose next write matching a predicate stops until the test releases it: the seam that makes an
 * interleaving (a seal arriving while a commit is being written) happen deterministically, without timing.
 */
export class GatedStorage implements StorageBackend {
  #gate: { match: (ops: readonly StorageOp[]) => boolean; arrived: () => void; released: Promise<void> } | undefined;

  constructor(readonly inner: StorageBackend) {}

  /** Arms a one-shot gate; `reached` resolves when a matching write arrives, which then waits for `release()`. */
  gate(match: (ops: readonly StorageOp[]) => boolean): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gate = { match, arrived, released };
    return { reached, release };
  }

  async #pass(ops: readonly StorageOp[]): Promise<void> {
    const gate = this.#gate;
    if (!gate || !gate.match(ops)) return;
    this.#gate = undefined;
    gate.arrived();
    await gate.released;
  }

  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async put(key: string, value: Uint8Array) {
    await this.#pass([{ type: 'put', key, value }]);
    return this.inner.put(key, value);
  }
  async delete(key: string) {
    await this.#pass([{ type: 'delete', key }]);
    return this.inner.delete(key);
  }
  async batch(ops: readonly StorageOp[]) {
    await this.#pass(ops);
    return this.inner.batch(ops);
  }
  close() {
    return this.inner.close();
  }
}

/** Whether a write touches `key`. */
export const touches = (key: string) => (ops: readonly StorageOp[]) => ops.some((op) => op.key === key);
