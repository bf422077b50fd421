import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { CachedBackend } from '../../server/core/storage/cached-backend.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import type { StorageOp } from '../../server/core/storage/storage-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { ManualClock } from '../helpers/test-server.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** In-memory storage that counts reads, can hold the next read of a key, and can fail writes. */
class CountingStorage extends InmemBackend {
  reads = 0;
  failWrites = false;
  #held = new Map<string, { arrived: () => void; released: Promise<void> }>();

  /** The next read of `key` waits for `release()`; `reached` resolves once it has read the stored value. */
  hold(key: string): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#held.set(key, { arrived, released });
    return { reached, release };
  }

  override async get(key: string): Promise<Uint8Array | undefined> {
    this.reads += 1;
    const value = await super.get(key);
    const held = this.#held.get(key);
    if (held) {
      this.#held.delete(key);
      held.arrived();
      await held.released;
    }
    return value;
  }

  override async batch(ops: readonly StorageOp[]): Promise<void> {
    if (this.failWrites) throw new Error('disk on fire');
    await super.batch(ops);
  }
}

function cached(limits: { maxEntries?: number; maxBytes?: number } = {}) {
  const inner = new CountingStorage();
  return { inner, cache: new CachedBackend(inner, limits) };
}

describe('CachedBackend', () => {
  test('an HA node that is not active reads the backend every time, even a key it once knew absent, and starts empty when it takes over', async () => {
    const inner = new CountingStorage();
    const cache = new CachedBackend(inner);
    assert.equal(await cache.get('core/seal-config'), undefined); // known absent now
    cache.setEnabled(false); // this node is a standby: another node writes the storage
    await inner.put('core/seal-config', bytes('written by the active node'));
    assert.equal(text(await cache.get('core/seal-config')), 'written by the active node');
    const reads = inner.reads;
    await cache.get('core/seal-config');
    assert.equal(inner.reads, reads + 1, 'nothing is cached while disabled');
    cache.setEnabled(true); // takes over
    await inner.put('core/seal-config', bytes('changed before the takeover'));
    assert.equal(text(await cache.get('core/seal-config')), 'changed before the takeover');
    await cache.get('core/seal-config');
    assert.equal(inner.reads, reads + 2, 'cached again once active');
  });

  test('a second read of an entry, present or absent, is served from memory', async () => {
    const { inner, cache } = cached();
    await inner.put('a', bytes('one'));
    assert.equal(text(await cache.get('a')), 'one');
    assert.equal(await cache.get('missing'), undefined);
    const before = inner.reads;
    assert.equal(text(await cache.get('a')), 'one');
    assert.equal(await cache.get('missing'), undefined);
    assert.equal(inner.reads, before);
  });

  test('a write replaces the cached value: the next read sees it without asking the backend', async () => {
    const { inner, cache } = cached();
    await cache.put('a', bytes('old'));
    assert.equal(text(await cache.get('a')), 'old');
    await cache.put('a', bytes('new'));
    const before = inner.reads;
    assert.equal(text(await cache.get('a')), 'new');
    assert.equal(inner.reads, before);
    assert.equal(text(await inner.get('a')), 'new');
  });

  test('a delete makes a cached entry read as missing', async () => {
    const { cache } = cached();
    await cache.put('a', bytes('x'));
    assert.equal(text(await cache.get('a')), 'x');
    await cache.delete('a');
    assert.equal(await cache.get('a'), undefined);
  });

  test('a batch updates every key it touches, puts and deletes alike, and a key known missing becomes present', async () => {
    const { cache } = cached();
    await cache.batch([
      { type: 'put', key: 'a', value: bytes('1') },
      { type: 'put', key: 'b', value: bytes('2') },
    ]);
    assert.equal(await cache.get('c'), undefined);
    await cache.batch([
      { type: 'delete', key: 'a' },
      { type: 'put', key: 'b', value: bytes('3') },
      { type: 'put', key: 'c', value: bytes('4') },
    ]);
    assert.deepEqual([text(await cache.get('a')), text(await cache.get('b')), text(await cache.get('c'))], [undefined, '3', '4']);
  });

  test('two writes of one key that overlap leave it uncached (the backend alone knows which landed last), and neither waits for the other', async () => {
    /** A backend whose writes finish in the opposite order of their calls. */
    class ReorderingStorage extends CountingStorage {
      readonly #pending: Array<() => void> = [];
      override async batch(ops: readonly StorageOp[]): Promise<void> {
        await new Promise<void>((resolve) => this.#pending.push(resolve));
        await super.batch(ops);
      }
      releaseNewestFirst(): void {
        for (const release of this.#pending.splice(0).reverse()) release();
      }
    }
    const inner = new ReorderingStorage();
    const cache = new CachedBackend(inner);
    const first = cache.put('k', bytes('first'));
    const second = cache.put('k', bytes('second'));
    await new Promise((resolve) => setImmediate(resolve));
    inner.releaseNewestFirst(); // "second" lands, then "first" overwrites it
    await Promise.all([first, second]);
    const reads = inner.reads;
    assert.equal(text(await cache.get('k')), 'first');
    assert.equal(inner.reads, reads + 1, 'the read went to the backend');
  });

  test('a compare-and-swap (a rewrap page) drops its keys and caches none of them, so a job over the whole store keeps hot entries cached', async () => {
    const inner = new CountingStorage();
    const cache = new CachedBackend(inner, { maxEntries: 2 });
    await cache.put('hot', bytes('h'));
    await cache.put('cold', bytes('c1'));
    assert.equal(await cache.batchIf([{ key: 'cold', value: bytes('c1') }], [{ type: 'put', key: 'cold', value: bytes('c2') }]), true);
    await cache.batchIf([{ key: 'other', value: undefined }], [{ type: 'put', key: 'other', value: bytes('o') }]);
    const reads = inner.reads;
    assert.equal(text(await cache.get('hot')), 'h');
    assert.equal(inner.reads, reads, 'the hot entry was not pushed out');
    assert.equal(text(await cache.get('cold')), 'c2');
    assert.equal(inner.reads, reads + 1, 'the swapped key was dropped, not cached with a stale value');
  });

  test('a failed write leaves the key uncached, so the next read shows what the backend really holds', async () => {
    const { inner, cache } = cached();
    await cache.put('a', bytes('kept'));
    inner.failWrites = true;
    await assert.rejects(cache.put('a', bytes('lost')));
    inner.failWrites = false;
    const before = inner.reads;
    assert.equal(text(await cache.get('a')), 'kept');
    assert.equal(inner.reads, before + 1);
  });

  test('a read that fetched the old value while a write landed does not put the old value back in the cache', async () => {
    const { inner, cache } = cached();
    await inner.put('a', bytes('old'));
    const hold = inner.hold('a');
    const slowRead = cache.get('a');
    await hold.reached; // the backend has answered "old" but the answer is not delivered yet
    await cache.put('a', bytes('new'));
    hold.release();
    assert.equal(text(await slowRead), 'old'); // it started before the write: either answer is linearisable
    assert.equal(text(await cache.get('a')), 'new');
  });

  test('concurrent misses of one key share one backend read', async () => {
    const { inner, cache } = cached();
    await inner.put('a', bytes('v'));
    const before = inner.reads;
    const values = await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    assert.deepEqual(values.map(text), ['v', 'v', 'v']);
    assert.equal(inner.reads, before + 1);
  });

  test('invalidate (the HA change-feed hook) drops what another writer changed; until then the cached value is served', async () => {
    const { inner, cache } = cached();
    await cache.put('a', bytes('mine'));
    await inner.put('a', bytes('theirs')); // another node wrote the shared storage
    assert.equal(text(await cache.get('a')), 'mine');
    cache.invalidate(['a']);
    assert.equal(text(await cache.get('a')), 'theirs');
  });

  test('invalidate also stops a read in flight from caching what it fetched before the change', async () => {
    const { inner, cache } = cached();
    await inner.put('a', bytes('old'));
    const hold = inner.hold('a');
    const slowRead = cache.get('a');
    await hold.reached;
    await inner.put('a', bytes('new'));
    cache.invalidate(['a']);
    hold.release();
    await slowRead;
    assert.equal(text(await cache.get('a')), 'new');
  });

  test('a caller zeroing a buffer it got or gave does not change the cached entry', async () => {
    const { cache } = cached();
    const value = bytes('secret-ciphertext');
    await cache.put('a', value);
    value.fill(0);
    (await cache.get('a'))!.fill(0);
    assert.equal(text(await cache.get('a')), 'secret-ciphertext');
  });

  test('memory stays bounded: 100,000 distinct entries leave at most maxEntries, least recently used first out', async () => {
    const { cache } = cached({ maxEntries: 1000 });
    const value = new Uint8Array(100);
    await cache.put('hot', value);
    for (let i = 0; i < 100_000; i += 500) {
      await cache.batch(Array.from({ length: 500 }, (_, j): StorageOp => ({ type: 'put', key: `k/${i + j}`, value })));
      await cache.get('hot'); // keeps 'hot' recently used
    }
    const stats = cache.stats();
    assert.ok(stats.entries <= 1000, `${stats.entries} entries`);
    assert.equal(stats.entries, 1000);
    const misses = stats.misses;
    await cache.get('hot');
    await cache.get('k/99999');
    assert.equal(cache.stats().misses, misses);
    await cache.get('k/0');
    assert.equal(cache.stats().misses, misses + 1);
  });

  test('a cache_size far beyond what the byte bound can hold is capped by it: the server starts and the cache works', async () => {
    // The LRU allocates one slot per entry up front: 2^40 slots would not even allocate.
    const { cache } = cached({ maxEntries: 2 ** 40, maxBytes: 64 * 1024 });
    for (let i = 0; i < 1000; i++) await cache.put(`k/${i}`, new Uint8Array(16));
    const hits = cache.stats().hits;
    assert.equal((await cache.get('k/999'))?.length, 16);
    assert.equal(cache.stats().hits, hits + 1, 'the latest entry is served from the cache');
    assert.ok(cache.stats().bytes <= 64 * 1024, `${cache.stats().bytes} bytes`);
    assert.ok(cache.stats().entries > 0 && cache.stats().entries < 1000);
  });

  test('memory stays bounded by bytes too, whatever the entry count allows', async () => {
    const { cache } = cached({ maxEntries: 1_000_000, maxBytes: 64 * 1024 });
    for (let i = 0; i < 1000; i++) await cache.put(`k/${i}`, new Uint8Array(1024));
    assert.ok(cache.stats().bytes <= 64 * 1024, `${cache.stats().bytes} bytes`);
    assert.ok(cache.stats().entries < 64);
  });

  test('sealing the core empties the cache: a sealed server keeps no copy of storage in memory', async () => {
    const inner = new CountingStorage();
    const storage = new CachedBackend(inner);
    const core = new CofferCore({ storage, storageType: 'inmem', clock: new ManualClock(), random: systemRandom, logger: createLogger('silent') });
    const init = await core.initialize({
      secretShares: 1,
      secretThreshold: 1,
      pgpKeys: [],
      rootTokenPgpKey: '',
      recoveryShares: 0,
      recoveryThreshold: 0,
      recoveryPgpKeys: [],
    });
    await core.submitUnsealKey(init.keys[0]!);
    await core.barrier.put('app/x', bytes('v'));
    assert.equal(text(await core.barrier.get('app/x')), 'v');
    assert.ok(storage.stats().entries > 0);
    await core.seal();
    assert.equal(storage.stats().entries, 0);
    assert.equal(storage.stats().bytes, 0);
  });
});
