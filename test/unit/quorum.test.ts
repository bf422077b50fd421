import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../../server/core/errors.js';
import { addShare, combineQuorum, holdsShare, openQuorum, reached, wipeQuorum } from '../../server/core/quorum/quorum.js';
import { splitKey } from '../../server/core/seal/shamir.js';

const key = () => Uint8Array.from({ length: 32 }, (_, i) => i + 1);

test('a quorum keeps its own copies of the shares, so the caller may zero what it submitted', async () => {
  const [a] = await splitKey(key(), 3, 2);
  const q = addShare(openQuorum('n'), a!);
  a!.fill(0);
  assert.notDeepEqual(q.parts[0], a);
  assert.equal(q.nonce, 'n');
});

test('a share already held is recognised byte for byte; a different one is not', async () => {
  const [a, b] = await splitKey(key(), 3, 2);
  const q = addShare(openQuorum('n'), a!);
  assert.equal(holdsShare(q, a!.slice()), true);
  assert.equal(holdsShare(q, b!), false);
  assert.equal(holdsShare(q, a!.subarray(1)), false, 'a prefix is a different share');
});

test('the threshold is reached only with enough shares, and any threshold-sized set combines to the key', async () => {
  const shares = await splitKey(key(), 5, 3);
  let q = openQuorum('n');
  for (const s of [shares[4]!, shares[1]!]) q = addShare(q, s);
  assert.equal(reached(q, 3), false);
  await assert.rejects(combineQuorum(q, 3), (err: unknown) => err instanceof CofferError && err.code === 'internal');
  q = addShare(q, shares[2]!);
  assert.equal(reached(q, 3), true);
  assert.deepEqual(await combineQuorum(q, 3), key());
});

test('with a threshold of 1 the most recent share is the key', async () => {
  const q = addShare(addShare(openQuorum('n'), new Uint8Array(32).fill(9)), key());
  assert.deepEqual(await combineQuorum(q, 1), key());
});

test('shares that cannot be combined are an invalid_key error, never a silent wrong key', async () => {
  const q = addShare(addShare(openQuorum('n'), new Uint8Array(33).fill(1)), new Uint8Array(17).fill(2));
  await assert.rejects(combineQuorum(q, 2), (err: unknown) => err instanceof CofferError && err.code === 'invalid_key');
});

test('wiping a quorum zeroes every share it holds', async () => {
  const [a, b] = await splitKey(key(), 3, 2);
  const q = addShare(addShare(openQuorum('n'), a!), b!);
  wipeQuorum(q);
  for (const part of q.parts) assert.ok(part.every((byte) => byte === 0));
});
