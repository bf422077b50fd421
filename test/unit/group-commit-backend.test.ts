import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { GroupCommitBackend } from '../../server/core/storage/group-commit-backend.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import type { StorageOp } from '../../server/core/storage/storage-backend.js';
import { GatedStorage } from '../helpers/gated-storage.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Gated in-memory storage that records each batch it is asked to write and can fail the next one. */
class RecordingGated extends GatedStorage {
  readonly batches: string[][] = [];
  failNext = false;
  constructor() {
    super(new InmemBackend());
  }
  override async batch(ops: readonly StorageOp[]): Promise<void> {
    this.batches.push(ops.map((op) => (op.type === 'put' ? `${op.key}=${text(op.value)}` : `-${op.key}`)));
    await super.batch(ops);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('fsync failed');
    }
  }
}

/** Resolves to which of `promises` have settled so far, without waiting for the others. */
async function settled(promises: Array<Promise<unknown>>): Promise<boolean[]> {
  const state = promises.map(() => false);
  promises.forEach(
    (p, i) =>
      void p.then(
        () => (state[i] = true),
        () => (state[i] = true),
      ),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return state;
}

describe('GroupCommitBackend', () => {
  test('writes that arrive during a durable write are coalesced into ONE next batch, and none is acknowledged before it is durable', async () => {
    const inner = new RecordingGated();
    const store = new GroupCommitBackend(inner);
    const gate = inner.gate(() => true);
    const first = store.put('a', bytes('1'));
    await gate.reached; // the first write is in the backend: the next ones queue behind it
    const gate2 = inner.gate(() => true);
    const queued = [
      store.put('b', bytes('2')),
      store.batch([
        { type: 'put', key: 'c', value: bytes('3') },
        { type: 'delete', key: 'a' },
      ]),
      store.delete('z'),
    ];
    assert.deepEqual(await settled([first, ...queued]), [false, false, false, false]);
    gate.release();
    await first;
    await gate2.reached; // the group is being written and not yet durable
    assert.deepEqual(await settled(queued), [false, false, false]);
    gate2.release();
    await Promise.all(queued);
    assert.deepEqual(inner.batches, [['a=1'], ['b=2', 'c=3', '-a', '-z']]);
    assert.equal(store.groupsWritten, 2);
    assert.equal(await store.get('a'), undefined);
    assert.equal(text(await store.get('c')), '3');
  });

  test('inside a group, operations keep their arrival order: the later write to a key wins', async () => {
    const inner = new RecordingGated();
    const store = new GroupCommitBackend(inner);
    const gate = inner.gate(() => true);
    const first = store.put('k', bytes('0'));
    await gate.reached;
    const writes = [store.put('k', bytes('1')), store.put('k', bytes('2')), store.put('k', bytes('3'))];
    gate.release();
    await Promise.all([first, ...writes]);
    assert.equal(text(await store.get('k')), '3');
    assert.deepEqual(inner.batches.at(-1), ['k=1', 'k=2', 'k=3']);
  });

  test('a failed group rejects every write in it, and the next group is written normally', async () => {
    const inner = new RecordingGated();
    const store = new GroupCommitBackend(inner);
    const gate = inner.gate(() => true);
    const first = store.put('a', bytes('1'));
    await gate.reached;
    inner.failNext = true;
    gate.release();
    await assert.rejects(first, /fsync failed/);
    await store.put('b', bytes('2'));
    assert.equal(text(await store.get('b')), '2');
  });

  test("one caller's invalid operation is refused at once and does not fail the writes grouped with it", async () => {
    const inner = new RecordingGated();
    const store = new GroupCommitBackend(inner);
    const gate = inner.gate(() => true);
    const first = store.put('a', bytes('1'));
    await gate.reached;
    const good = store.put('b', bytes('2'));
    await assert.rejects(store.batch([{ type: 'put', key: '', value: bytes('x') }]), (err) => isCofferError(err, 'invalid_request'));
    gate.release();
    await Promise.all([first, good]);
    assert.equal(text(await store.get('b')), '2');
  });

  test('a caller reusing its buffer while its write waits in the queue does not change what is written', async () => {
    const inner = new RecordingGated();
    const store = new GroupCommitBackend(inner);
    const gate = inner.gate(() => true);
    const first = store.put('a', bytes('1'));
    await gate.reached;
    const value = bytes('kept');
    const queued = store.put('b', value);
    value.fill(0);
    gate.release();
    await Promise.all([first, queued]);
    assert.equal(text(await store.get('b')), 'kept');
  });
});
