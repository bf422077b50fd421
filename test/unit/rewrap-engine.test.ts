import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readEntryHeader } from '../../server/core/barrier/entry-header.js';
import { CofferError, isCofferError } from '../../server/core/errors.js';
import { dec, enc, gate, holdCommit, rewrapCore, snapshot, spec, termsOf } from '../helpers/rewrap.js';

const N = 3 * 5 + 2; // more than 3 × batch size + 1

async function fill(core: Awaited<ReturnType<typeof rewrapCore>>['core'], n: number, prefix = 'data/k') {
  for (let i = 0; i < n; i++) await core.barrier.put(`${prefix}${String(i).padStart(3, '0')}`, enc(`v${i}`));
}

/** `n` entries under `data/k00000`…, written 1,000 per batch (enough for several counting checkpoints). */
const bulkKey = (i: number) => `data/k${String(i).padStart(5, '0')}`;
async function fillBulk(core: Awaited<ReturnType<typeof rewrapCore>>['core'], n: number) {
  for (let i = 0; i < n; i += 1000)
    await core.barrier.batch(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, path: bulkKey(i + j), value: enc(`v${i + j}`) })));
}

/** Holds the `n`th scan (the counting pass reads pages of 1,000) at a gate until it is opened. */
function holdScan(storage: Awaited<ReturnType<typeof rewrapCore>>['storage'], n: number) {
  const g = gate();
  let scans = 0;
  storage.beforeScan = async () => {
    if (++scans === n) await g.wait();
  };
  return g;
}

/**
 * Unseals `core` with its first scan held, so the job it loads can be read exactly as persisted before any new page;
 * `finish()` then lets the job run to its end and returns it.
 */
async function unsealHoldingFirstScan(
  core: Awaited<ReturnType<typeof rewrapCore>>['core'],
  storage: Awaited<ReturnType<typeof rewrapCore>>['storage'],
  key: Uint8Array,
  jobId: string,
) {
  const resumed = gate();
  storage.beforeScan = resumed.wait;
  await core.submitUnsealKey(key);
  await resumed.reached;
  const persisted = await core.rewrap.get(jobId);
  const finish = async () => {
    storage.beforeScan = undefined;
    resumed.open();
    await core.rewrap.idle();
    return core.rewrap.get(jobId);
  };
  return { persisted, finish };
}

describe('rewrap job engine', () => {
  test('one job rewraps more than 3 × batch size + 1 old entries, all of them (no paging over a shrinking set)', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, N);
    await core.rotate();
    const job = await core.rewrap.start(spec({ execution: { batchSize: 5 } }));
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.deepEqual(await termsOf(storage), { 2: N });
    assert.ok(done.totals.entries >= N, 'totals were counted before work started');
    assert.equal(done.counts.failed, 0);
    assert.equal(core.rewrap.status(done).progress && (core.rewrap.status(done).progress as { percent: number }).percent, 100);
    for (let i = 0; i < N; i++) assert.equal(dec(await core.barrier.get(`data/k${String(i).padStart(3, '0')}`)), `v${i}`);
    // The census agrees: nothing left under term 1 outside the exempt entries.
    await core.rewrap.startCensus();
    await core.rewrap.idle();
    assert.equal(core.rewrap.census!.terms['1'], undefined, JSON.stringify(core.rewrap.census));
  });

  test('re-encryptions count toward the target term and a second run writes nothing and encrypts no entry', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 8);
    await core.rotate();
    const before = core.barrier.keyStatus().encryptions;
    await core.rewrap.start(spec());
    await core.rewrap.idle();
    const first = (await core.rewrap.list())[0]!;
    assert.ok(core.barrier.keyStatus().encryptions - before >= first.counts.rewrapped);
    assert.ok(first.counts.rewrapped >= 8);
    const entries = await snapshot(storage);
    const second = await core.rewrap.start(spec());
    await core.rewrap.idle();
    const again = await core.rewrap.get(second.job_id);
    assert.equal(again.state, 'completed');
    assert.equal(again.counts.rewrapped, 0);
    assert.equal(again.totals.entries, 0);
    assert.deepEqual(await snapshot(storage), entries, 'no data entry changed');
  });

  test('a client write between the job reading an entry and writing it wins (compare-and-swap), and ends under the active term', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 6);
    await core.rotate();
    let slipped = false;
    storage.beforeBatchIf = async (expected) => {
      if (slipped || !expected.some((e) => e.key === 'data/k002')) return;
      slipped = true;
      await core.barrier.put('data/k002', enc('client wrote this'));
      await core.barrier.delete('data/k004');
    };
    const job = await core.rewrap.start(spec({ execution: { batchSize: 100 } }));
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(dec(await core.barrier.get('data/k002')), 'client wrote this');
    assert.equal(await core.barrier.get('data/k004'), undefined, 'the job never re-creates a deleted entry');
    assert.equal(done.counts.skipped_concurrent, 2);
    assert.deepEqual(await termsOf(storage), { 2: 5 });
  });

  test('an entry a client changes after the job read it ahead, before its page is written, keeps the client write', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 10);
    await core.rotate();
    const g = holdCommit(storage, 1);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached; // page 1 is being written; the pages after it were read in the same scan
    await core.barrier.put('data/k007', enc('client wrote this'));
    await core.barrier.delete('data/k009');
    g.open();
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(dec(await core.barrier.get('data/k007')), 'client wrote this');
    assert.equal(await core.barrier.get('data/k009'), undefined, 'the job never re-creates a deleted entry');
    assert.equal(done.counts.skipped_concurrent, 2);
    assert.deepEqual(await termsOf(storage), { 2: 9 });
  });

  test('a page read ahead before a pause is read again on resume: an entry a client repaired meanwhile is not quarantined', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 6);
    const raw = (await storage.get('data/k002'))!;
    raw[raw.length - 1]! ^= 1;
    await storage.put('data/k002', raw); // on page 2: read and re-encrypted ahead while page 1 is written
    await core.rotate();
    const g = holdCommit(storage, 1);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached;
    await new Promise((resolve) => setImmediate(resolve)); // the read-ahead has prepared page 2
    const pausing = core.rewrap.pause(job.job_id);
    g.open();
    assert.equal((await pausing).state, 'paused');
    storage.beforeBatchIf = undefined;
    await core.barrier.put('data/k002', enc('repaired by a client'));
    await core.rewrap.resume(job.job_id);
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done.failures));
    assert.equal(done.counts.failed, 0);
    assert.equal(dec(await core.barrier.get('data/k002')), 'repaired by a client');
  });

  test('an undecryptable entry is quarantined: left byte for byte, listed with its class, and the job ends completed_with_failures', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 4);
    const raw = (await storage.get('data/k001'))!;
    raw[raw.length - 1]! ^= 1;
    await storage.put('data/k001', raw);
    await core.rotate();
    const job = await core.rewrap.start(spec());
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed_with_failures');
    assert.deepEqual(
      done.failures.map((f) => [f.path, f.term, f.error_class]),
      [['data/k001', 1, 'auth_failure']],
    );
    assert.deepEqual([...(await storage.get('data/k001'))!], [...raw]);
    assert.equal(done.remaining_by_term['1'], 1);
    assert.equal(dec(await core.barrier.get('data/k003')), 'v3', 'the job went on after the failure');
  });

  test('sealing pauses a job (paused_sealed, nothing written while sealed) and unsealing resumes it to completion', async () => {
    const { core, storage, keys, recorder } = await rewrapCore();
    await fill(core, 12);
    await core.rotate();
    const g = holdCommit(storage, 2);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached;
    const sealing = core.seal();
    g.open();
    await sealing;
    await core.rewrap.idle();
    assert.ok(recorder.states.includes('paused_sealed'));
    const writes = storage.writes;
    assert.ok((await termsOf(storage))[1]! > 0, 'the seal stopped the job before the end');
    storage.beforeBatchIf = undefined;
    await core.submitUnsealKey(keys[0]!);
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.resumes, 0, 'a seal is a pause, not a crash');
    assert.ok(storage.writes > writes);
    assert.deepEqual(await termsOf(storage), { 2: 12 });
  });

  test('a seal and an unseal queued behind a page in progress: the job still resumes and completes', async () => {
    const { core, storage, keys } = await rewrapCore();
    await fill(core, 12);
    await core.rotate();
    const g = holdCommit(storage, 2);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached;
    const sealing = core.seal();
    const unsealing = core.submitUnsealKey(keys[0]!);
    g.open();
    await sealing;
    await unsealing;
    storage.beforeBatchIf = undefined;
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.deepEqual(await termsOf(storage), { 2: 12 });
  });

  test('a restart resumes a running job from its low-water-mark checkpoint: no entry skipped, none lost', async () => {
    const { core, storage, newCore, keys } = await rewrapCore();
    await fill(core, 20);
    await core.rotate();
    const g = holdCommit(storage, 3); // the first core "dies" here: it never commits this page
    const job = await core.rewrap.start(spec({ execution: { batchSize: 3 } }));
    await g.reached;
    storage.beforeBatchIf = undefined;
    const restarted = newCore();
    await restarted.submitUnsealKey(keys[0]!);
    await restarted.rewrap.idle();
    const done = await restarted.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.resumes, 1);
    assert.deepEqual(await termsOf(storage), { 2: 20 });
    for (let i = 0; i < 20; i++) assert.equal(dec(await restarted.barrier.get(`data/k${String(i).padStart(3, '0')}`)), `v${i}`);
  });

  test('a restart in the counting pass goes back to its last checkpoint (every 5,000 entries) and the totals stay exact', async () => {
    const { core, storage, newCore, keys } = await rewrapCore();
    const n = 12_000;
    await fillBulk(core, n);
    await core.rotate();
    // The counting pass reads pages of 1,000: the first core "dies" waiting for its eighth read.
    const dying = holdScan(storage, 8);
    const job = await core.rewrap.start(spec({ selection: { prefixes: ['data/'] } }));
    await dying.reached;
    // The restarted core resumes from what was persisted: the cursor after 5,000 entries, with 5,000 counted.
    const { persisted, finish } = await unsealHoldingFirstScan(newCore(), storage, keys[0]!, job.job_id);
    assert.equal(persisted.phase, 'counting');
    assert.deepEqual(persisted.cursor, { prefix: 0, after: bulkKey(4999) });
    assert.equal(persisted.totals.entries, 5000);
    const done = await finish();
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.totals.entries, n, 'nothing counted twice, nothing missed');
    assert.equal(done.counts.rewrapped, n);
    assert.deepEqual(await termsOf(storage), { 2: n });
  });

  test('a seal between two counting checkpoints persists the progress made since the last one, and the totals stay exact', async () => {
    const { core, storage, keys } = await rewrapCore();
    const n = 9_000;
    await fillBulk(core, n);
    await core.rotate();
    // Seven pages counted (the last checkpoint was after five), the eighth read waits: the seal comes then.
    const eighth = holdScan(storage, 8);
    const job = await core.rewrap.start(spec({ selection: { prefixes: ['data/'] } }));
    await eighth.reached;
    const sealing = core.seal();
    eighth.open();
    await sealing;
    storage.beforeScan = undefined;
    // What the seal persisted is what a restart would resume from: seven pages, not five.
    const { persisted, finish } = await unsealHoldingFirstScan(core, storage, keys[0]!, job.job_id);
    assert.equal(persisted.phase, 'counting');
    assert.deepEqual(persisted.cursor, { prefix: 0, after: bulkKey(6999) });
    assert.equal(persisted.totals.entries, 7000);
    const done = await finish();
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.totals.entries, n);
    assert.deepEqual(await termsOf(storage), { 2: n });
  });

  test('pause flushes a checkpoint and stops; resume finishes; cancel stops for good with no rollback', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 10);
    await core.rotate();
    const g = holdCommit(storage, 2);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached;
    const pausing = core.rewrap.pause(job.job_id);
    g.open();
    const paused = await pausing;
    assert.equal(paused.state, 'paused');
    const mid = await termsOf(storage);
    assert.ok(mid[1]! > 0);
    await assert.rejects(core.rewrap.start(spec()), (err) => isCofferError(err, 'conflict'), 'one job at a time, a paused one included');
    storage.beforeBatchIf = undefined;
    await core.rewrap.resume(job.job_id);
    await core.rewrap.idle();
    assert.equal((await core.rewrap.get(job.job_id)).state, 'completed');

    await core.rotate();
    const g2 = holdCommit(storage, 2);
    const second = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g2.reached;
    const canceling = core.rewrap.cancel(second.job_id);
    g2.open();
    assert.equal((await canceling).state, 'canceled');
    await assert.rejects(core.rewrap.resume(second.job_id), (err) => isCofferError(err, 'conflict'));
  });

  test('a rotation in the middle of a job with target latest is followed: another pass moves everything to the newest term', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 9);
    await core.rotate();
    const g = holdCommit(storage, 3);
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2 } }));
    await g.reached;
    await core.rotate(); // term 3, while the job targets term 2
    g.open();
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.target_term, 3);
    assert.equal(done.passes, 2);
    assert.deepEqual(await termsOf(storage), { 3: 9 });
  });

  test('selection: prefixes, exclude wildcards and sourceTerms are AND-ed; other entries are left alone', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 3, 'data/a/');
    await fill(core, 3, 'data/b/');
    await core.rotate();
    await fill(core, 2, 'data/a/t2-');
    await core.rotate();
    const job = await core.rewrap.start(spec({ selection: { prefixes: ['data/a/'], exclude: ['data/a/*1'], sourceTerms: [1] } }));
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed');
    const header = async (k: string) => readEntryHeader((await storage.get(k))!)!.term;
    assert.equal(await header('data/a/000'), 3);
    assert.equal(await header('data/a/002'), 3);
    assert.equal(await header('data/a/001'), 1, 'excluded');
    assert.equal(await header('data/b/000'), 1, 'outside the prefixes');
    assert.equal(await header('data/a/t2-000'), 2, 'term 2 was not a source term');
  });

  test('a pause or cancel during a rate-limit wait answers at once, and only rewrapping pages count against the rate', async () => {
    const waits: number[] = [];
    // A wait that ends only when the runner cuts it short (a real one would last the whole rate-limit delay).
    const sleep = (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        waits.push(ms);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    const { core } = await rewrapCore({ sleep });
    await fill(core, 6);
    await core.rotate();
    const job = await core.rewrap.start(spec({ execution: { batchSize: 2, maxEntriesPerSecond: 1 } }));
    while (waits.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const paused = await core.rewrap.pause(job.job_id);
    assert.equal(paused.state, 'paused');
    assert.ok(paused.counts.rewrapped > 0 && paused.counts.rewrapped <= 2, 'the first wait came after one rewrapping page, none after counting');
    assert.equal(waits.length, 1);
    await core.rewrap.resume(job.job_id);
    while (waits.length === 1) await new Promise((resolve) => setImmediate(resolve));
    const canceled = await core.rewrap.cancel(job.job_id);
    assert.equal(canceled.state, 'canceled');
  });

  test('a storage failure on a page is retried with backoff from the persisted checkpoint, counting each entry once; past the attempts the job fails', async () => {
    const delays: number[] = [];
    const { core, storage } = await rewrapCore({ sleep: async (ms) => void delays.push(ms) });
    await fill(core, 7);
    await core.rotate();
    let failuresLeft = 2;
    storage.beforeBatchIf = async () => {
      if (failuresLeft-- > 0) throw new CofferError('storage', 'disk hiccup');
    };
    const job = await core.rewrap.start(spec({ execution: { batchSize: 3 }, retry: { attempts: 3, delay: '100ms' } }));
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.deepEqual(delays, [100, 200]);
    assert.deepEqual(await termsOf(storage), { 2: 7 });
    assert.equal(
      done.counts.skipped_current + done.counts.rewrapped + done.counts.skipped_filtered,
      done.counts.scanned,
      'no page was counted twice',
    );

    await core.rotate();
    storage.beforeBatchIf = async () => {
      throw new CofferError('storage', 'disk gone');
    };
    const doomed = await core.rewrap.start(spec({ retry: { attempts: 1, delay: '1ms' } }));
    await core.rewrap.idle();
    const failed = await core.rewrap.get(doomed.job_id);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.last_error, 'storage');
  });

  test('a dry run counts what it would rewrap and writes nothing', async () => {
    const { core, storage } = await rewrapCore();
    await fill(core, 5);
    await core.rotate();
    const before = await snapshot(storage);
    const job = await core.rewrap.start(spec({ dryRun: true }));
    await core.rewrap.idle();
    const done = await core.rewrap.get(job.job_id);
    assert.equal(done.state, 'completed');
    assert.ok(done.totals.entries >= 5);
    assert.equal(done.counts.rewrapped, 0);
    assert.deepEqual(await snapshot(storage), before);
  });
});
