import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteLog } from '../../server/core/storage/write-log.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** A read the way the LevelDB backend makes one: tag taken first, the caller gets a copy of the bytes kept. */
function read(log: WriteLog, key: string, value: string): Uint8Array {
  const seq = log.seq;
  const kept = bytes(value);
  const handedOut = kept.slice();
  log.noteRead(key, handedOut, seq, kept);
  return handedOut;
}

test('the write log vouches for a value only while no write of its key completed since it was read', () => {
  const log = new WriteLog();
  const a = read(log, 'a', 'one');
  assert.equal(log.unchanged('a', a), true);
  log.noteWrite(['b']);
  assert.equal(log.unchanged('a', a), true, 'a write of another key does not matter');
  log.noteWrite(['a']);
  assert.equal(log.unchanged('a', a), false);
  assert.equal(log.unchanged('a', read(log, 'a', 'two')), true, 'a read after the write is current again');
});

test('the write log never vouches for a value it did not hand out, for another key, or changed since', () => {
  const log = new WriteLog();
  const a = read(log, 'a', 'one');
  assert.equal(log.unchanged('a', bytes('one')), false, 'equal bytes from elsewhere prove nothing');
  assert.equal(log.unchanged('b', a), false);
  a[0] = 0;
  assert.equal(log.unchanged('a', a), false);
});

test('once the write history is dropped to bound memory, reads from before it are no longer vouched for', () => {
  const log = new WriteLog(3);
  const early = read(log, 'early', 'x');
  log.noteWrite(['k1', 'k2']);
  log.noteWrite(['k3']); // the history holds 3 keys: the next write drops it
  assert.equal(log.unchanged('early', early), true);
  log.noteWrite(['k4']);
  assert.equal(log.unchanged('early', early), false, 'a write of "early" may have been forgotten');
  const late = read(log, 'late', 'y');
  log.noteWrite(['k5']);
  assert.equal(log.unchanged('late', late), true);
});
