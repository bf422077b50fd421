import { assertValidKey, assertValidOps, childName, type StorageBackend, type StorageOp } from './storage-backend.js';

/** Storage in a Map, for tests and `-dev`. Values are copied in and out so callers can zero their buffers. */
export class InmemBackend implements StorageBackend {
  readonly #entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key);
    const value = this.#entries.get(key);
    return value === undefined ? undefined : value.slice();
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.batch([{ type: 'delete', key }]);
  }

  async list(prefix: string): Promise<string[]> {
    const children = new Set<string>();
    for (const key of this.#entries.keys()) {
      if (key.startsWith(prefix)) children.add(childName(prefix, key));
    }
    return [...children].sort();
  }

  async batch(ops: readonly StorageOp[]): Promise<void> {
    assertValidOps(ops); // validate everything first: one bad op applies nothing
    for (const op of ops) {
      if (op.type === 'put') this.#entries.set(op.key, op.value.slice());
      else this.#entries.delete(op.key);
    }
  }

  async close(): Promise<void> {}
}
