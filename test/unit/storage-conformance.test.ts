import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { CachedBackend } from '../../server/core/storage/cached-backend.js';
import { GroupCommitBackend } from '../../server/core/storage/group-commit-backend.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { LeveldbBackend } from '../../server/core/storage/leveldb-backend.js';
import { hasConditionalBatch, hasOrderedScan, type StorageBackend, type StorageOp } from '../../server/core/storage/storage-backend.js';
import { PostgresqlBackend } from '../../server/core/storage/postgresql/postgresql-backend.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
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
  [
    'postgresql',
    async (t) => {
      // One throwaway cluster for the file; each test gets its own tables.
      const backend = await PostgresqlBackend.open({ connectionUrl: cluster!.url, table: `kv_${++tables}`, haTable: `ha_${tables}`, maxParallel: 4 });
      t.after(() => backend.close());
      return backend;
    },
  ],
  [
    'cache + postgresql',
    async (t) => {
      const backend = new CachedBackend(
        await PostgresqlBackend.open({ connectionUrl: cluster!.url, table: `kv_${++tables}`, haTable: `ha_${tables}`, maxParallel: 4 }),
        { maxEntries: 3 },
      );
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

const pgSkip = postgresSkipReason();
let cluster: TestPostgres | undefined;
let tables = 0;

for (const [name, open] of backends) {
  describe(`storage conformance: ${name}`, { skip: name.includes('postgresql') ? pgSkip : undefined }, () => {
    if (name.includes('postgresql')) {
      before(async () => {
        cluster = await startPostgres();
      });
      after(() => cluster?.stop());
    }

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

    test('scan returns full keys under a prefix in byte order, strictly after the cursor, at most limit of them', async (t) => {
      const s = await open(t);
      assert.ok(hasOrderedScan(s));
      for (const key of ['p/b', 'p/a/deep/x', 'p/a', 'p/c', 'p-other', 'q/a', 'o/z', 'p/\u00e9', 'p/~']) await s.put(key, bytes(key));
      const all = await s.scan({ prefix: 'p/', limit: 100 });
      assert.deepEqual(
        all.map((e) => e.key),
        ['p/a', 'p/a/deep/x', 'p/b', 'p/c', 'p/~', 'p/\u00e9'],
      );
      assert.equal(text(all[1]!.value), 'p/a/deep/x');
      assert.deepEqual(
        (await s.scan({ prefix: 'p/', after: 'p/a/deep/x', limit: 2 })).map((e) => e.key),
        ['p/b', 'p/c'],
      );
      assert.deepEqual(
        (await s.scan({ prefix: 'p/', after: 'p/~zzz', limit: 9 })).map((e) => e.key),
        ['p/\u00e9'],
      );
      assert.deepEqual(
        (await s.scan({ prefix: 'p/', after: 'a', limit: 1 })).map((e) => e.key),
        ['p/a'],
      );
      assert.equal((await s.scan({ prefix: '', limit: 1e12 })).length, 9, 'a huge limit is only an upper bound');
    });

    test('a scan page is full whenever more keys remain, even with large values (a short page means the end)', async (t) => {
      const s = await open(t);
      assert.ok(hasOrderedScan(s));
      const big = new Uint8Array(4096).fill(9);
      await s.batch(Array.from({ length: 600 }, (_, i) => ({ type: 'put' as const, key: `big/${String(i).padStart(4, '0')}`, value: big })));
      const page = await s.scan({ prefix: 'big/', limit: 500 });
      assert.equal(page.length, 500);
      assert.equal((await s.scan({ prefix: 'big/', after: page.at(-1)!.key, limit: 500 })).length, 100);
    });

    test('paging with scan visits every key exactly once even while visited keys are deleted and others added', async (t) => {
      const s = await open(t);
      assert.ok(hasOrderedScan(s));
      for (let i = 0; i < 25; i++) await s.put(`k/${String(i).padStart(3, '0')}`, bytes(String(i)));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.scan({ prefix: 'k/', limit: 4, ...(after === undefined ? {} : { after }) });
        if (page.length === 0) break;
        for (const e of page) {
          seen.push(e.key);
          await s.delete(e.key); // the set shrinks under the walk, as an offset-paged walk would trip on
        }
        after = page.at(-1)!.key;
      }
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
    });

    test('batchIf writes only when every expected value is unchanged, and a plain write in between wins', async (t) => {
      const s = await open(t);
      assert.ok(hasConditionalBatch(s));
      await s.put('a', bytes('v1'));
      assert.equal(
        await s.batchIf(
          [
            { key: 'a', value: bytes('v1') },
            { key: 'none', value: undefined },
          ],
          [{ type: 'put', key: 'a', value: bytes('v2') }],
        ),
        true,
      );
      assert.equal(text(await s.get('a')), 'v2');
      assert.equal(
        await s.batchIf(
          [{ key: 'a', value: bytes('v1') }],
          [
            { type: 'put', key: 'a', value: bytes('stale') },
            { type: 'put', key: 'b', value: bytes('x') },
          ],
        ),
        false,
      );
      assert.equal(text(await s.get('a')), 'v2');
      assert.equal(await s.get('b'), undefined);
      assert.equal(await s.batchIf([{ key: 'missing', value: bytes('x') }], [{ type: 'put', key: 'missing', value: bytes('y') }]), false);
      assert.equal(await s.get('missing'), undefined);
      // Racing: a plain write issued before the conditional batch is ordered first, so the CAS sees it and declines.
      const plain = s.put('a', bytes('client'));
      const cas = s.batchIf([{ key: 'a', value: bytes('v2') }], [{ type: 'put', key: 'a', value: bytes('job') }]);
      await plain;
      assert.equal(await cas, false);
      assert.equal(text(await s.get('a')), 'client');
    });

    test('a compare-and-swap against values from a scan for update: a later write, another key or a changed copy all decline it', async (t) => {
      const s = await open(t);
      assert.ok(hasConditionalBatch(s) && hasOrderedScan(s));
      await s.batch(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put' as const, key: `r/${k}`, value: bytes(`old ${k}`) })));
      const [a, b, c, d] = await s.scan({ prefix: 'r/', limit: 10, forUpdate: true });
      // A client write lands after the scan: the entry read is stale even though the job still holds its bytes.
      await s.put('r/a', bytes('client'));
      assert.equal(await s.batchIf([{ key: 'r/a', value: a!.value }], [{ type: 'put', key: 'r/a', value: bytes('job') }]), false);
      assert.equal(text(await s.get('r/a')), 'client');
      // A client writes back the very bytes read: the entry holds what is expected, so the swap goes ahead.
      await s.put('r/d', bytes('old d'));
      assert.equal(await s.batchIf([{ key: 'r/d', value: d!.value }], [{ type: 'put', key: 'r/d', value: bytes('job d') }]), true);
      // The value read for one key says nothing about another key.
      assert.equal(await s.batchIf([{ key: 'r/b', value: c!.value }], [{ type: 'put', key: 'r/b', value: bytes('job') }]), false);
      assert.equal(text(await s.get('r/b')), 'old b');
      // A caller that changed its copy expects other bytes than stored.
      c!.value[0] = c!.value[0]! ^ 1;
      assert.equal(await s.batchIf([{ key: 'r/c', value: c!.value }], [{ type: 'put', key: 'r/c', value: bytes('job') }]), false);
      assert.equal(text(await s.get('r/c')), 'old c');
      // Untouched since the scan: the swap goes ahead.
      assert.equal(await s.batchIf([{ key: 'r/b', value: b!.value }], [{ type: 'put', key: 'r/b', value: bytes('job b') }]), true);
      assert.equal(text(await s.get('r/b')), 'job b');
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
