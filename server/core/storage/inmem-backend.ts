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

/** Storage in a Map, for tests and `-dev`. Values are copied in and out so callers can zero their buffers. */
export class InmemBackend implements StorageBackend, OrderedScan, ConditionalBatch {
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

  async scan({ prefix, after, limit }: ScanOptions): Promise<ScanEntry[]> {
    const keys = [...this.#entries.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort(byteOrder);
    return keys.slice(0, limit).map((key) => ({ key, value: this.#entries.get(key)!.slice() }));
  }

  /** Atomic by construction: the comparison and the writes run without yielding. */
  async batchIf(expected: readonly ExpectedEntry[], ops: readonly StorageOp[]): Promise<boolean> {
    assertValidOps(ops);
    if (!expected.every((e) => sameBytes(this.#entries.get(e.key), e.value))) return false;
    await this.batch(ops);
    return true;
  }

  async close(): Promise<void> {}
}

/** LevelDB's order: by UTF-8 bytes (JS string comparison orders by UTF-16 units, which differs above U+FFFF). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
