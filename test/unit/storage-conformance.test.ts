import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { CachedBackend } from '../../server/core/storage/cached-backend.js';
import { GroupCommitBackend } from '../../server/core/storage/group-commit-backend.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { LeveldbBackend } from '../../server/core/storage/leveldb-backend.js';
import type { StorageBackend, StorageOp } from '../../server/core/storage/storage-backend.js';
import { tempDir } from '../helpers/test-server.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

const backends: Array<[string, (t: TestContext) => Promise<StorageBackend>]> = [
  ['inmem', async () => new InmemBackend()],
  [
    'leveldb',
    async (t) => {
      const backend = await LeveldbBackend.open(await tempDir(t));
      t.after(() => backend.close());
      return backend;
    },
  ],
  // What the server runs: the read cache over group-committed LevelDB, and the cache over memory.
  [
    'cache + group commit + leveldb',
    async (t) => {
      const backend = new CachedBackend(new GroupCommitBackend(await LeveldbBackend.open(await tempDir(t))), { maxEntries: 3 });
      t.after(() => backend.close());
      return backend;
    },
  ],
  ['cache + inmem', async () => new CachedBackend(new InmemBackend(), { maxEntries: 3 })],
];

for (const [name, open] of backends) {
  describe(`storage conformance: ${name}`, () => {
    test('a missing key reads as undefined', async (t) => {
      const s = await open(t);
      assert.equal(await s.get('nope'), undefined);
    });

    test('a value round-trips byte for byte, and overwriting replaces it', async (t) => {
      const s = await open(t);
      const value = new Uint8Array([0, 1, 2, 255, 254]);
      await s.put('a/b', value);
      assert.deepEqual([...(await s.get('a/b'))!], [0, 1, 2, 255, 254]);
      await s.put('a/b', bytes('second'));
      assert.equal(text(await s.get('a/b')), 'second');
    });

    test('a stored value is not affected when the caller later zeroes its buffer', async (t) => {
      const s = await open(t);
      const value = bytes('secret');
      await s.put('k', value);
      value.fill(0);
      assert.equal(text(await s.get('k')), 'secret');
    });

    test('delete removes a key and deleting a missing key is not an error', async (t) => {
      const s = await open(t);
      await s.put('k', bytes('v'));
      await s.delete('k');
      assert.equal(await s.get('k'), undefined);
      await s.delete('k');
      await s.delete('never-existed');
    });

    test('list returns the immediate children of a prefix, folders once with a trailing slash, sorted', async (t) => {
      const s = await open(t);
      for (const key of ['app/b', 'app/a', 'app/dir/x', 'app/dir/y', 'app/dir/z/deep', 'app0', 'ap', 'other/q', 'app/c/']) {
        await s.put(key, bytes(key));
      }
      assert.deepEqual(await s.list('app/'), ['a', 'b', 'c/', 'dir/']);
      assert.deepEqual(await s.list('app/dir/'), ['x', 'y', 'z/']);
      assert.deepEqual(await s.list(''), ['ap', 'app/', 'app0', 'other/']);
      assert.deepEqual(await s.list('missing/'), []);
    });

    test('a batch applies every operation', async (t) => {
      const s = await open(t);
      await s.put('gone', bytes('x'));
      await s.batch([
        { type: 'put', key: 'one', value: bytes('1') },
        { type: 'put', key: 'two', value: bytes('2') },
        { type: 'delete', key: 'gone' },
      ]);
      assert.equal(text(await s.get('one')), '1');
      assert.equal(text(await s.get('two')), '2');
      assert.equal(await s.get('gone'), undefined);
    });

    test('a batch with one bad operation applies nothing', async (t) => {
      const s = await open(t);
      await s.put('keep', bytes('original'));
      const ops = [
        { type: 'put', key: 'new', value: bytes('n') },
        { type: 'delete', key: 'keep' },
        { type: 'put', key: '', value: bytes('bad key') },
      ] as StorageOp[];
      await assert.rejects(s.batch(ops), (err) => isCofferError(err, 'invalid_request'));
      assert.equal(await s.get('new'), undefined);
      assert.equal(text(await s.get('keep')), 'original');
      const badValue = [{ type: 'put', key: 'x', value: 'not bytes' }] as unknown as StorageOp[];
      await assert.rejects(s.batch(badValue), (err) => isCofferError(err, 'invalid_request'));
      assert.equal(await s.get('x'), undefined);
    });
  });
}
