import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { shareConfigProblem } from '../../server/core/seal/seal-config.js';
import { combineShares, splitKey } from '../../server/core/seal/shamir.js';
import { unwrapRootKey, wrapRootKey } from '../../server/core/seal/shamir-seal.js';
import { addPart, clearProgress, IDLE, progressCount, progressNonce } from '../../server/core/seal/unseal-progress.js';

const key = () => new Uint8Array(randomBytes(32));

describe('Shamir wrapper', () => {
  test('1-of-1 returns the key itself as the only share, and combining it returns the key', async () => {
    const k = key();
    const shares = await splitKey(k, 1, 1);
    assert.equal(shares.length, 1);
    assert.deepEqual(shares[0], k);
    assert.deepEqual(await combineShares(shares, 1), k);
  });

  test('a Node Buffer is accepted as the secret and as shares (the library itself rejects Buffers)', async () => {
    const k = randomBytes(32);
    const shares = await splitKey(k, 5, 3);
    assert.ok(shares.every((s) => s.length === 33));
    const combined = await combineShares([Buffer.from(shares[4]!), Buffer.from(shares[0]!), Buffer.from(shares[2]!)], 3);
    assert.deepEqual(Buffer.from(combined), k);
  });

  test('any 3 of 5 shares rebuild the key', async () => {
    const k = key();
    const shares = await splitKey(k, 5, 3);
    for (const [a, b, c] of [
      [0, 1, 2],
      [4, 2, 0],
      [1, 3, 4],
      [2, 4, 3],
    ] as const) {
      assert.deepEqual(await combineShares([shares[a]!, shares[b]!, shares[c]!], 3), k);
    }
  });

  test('too few or foreign shares combine to garbage that the sealed root key rejects', async () => {
    const unsealKey = key();
    const rootKey = key();
    const wrapped = wrapRootKey(unsealKey, rootKey);
    const shares = await splitKey(unsealKey, 5, 3);
    const foreign = await splitKey(key(), 5, 3);
    assert.deepEqual(unwrapRootKey(await combineShares(shares.slice(0, 3), 3), wrapped), rootKey);
    const tooFew = await combineShares(shares.slice(0, 2), 3); // the library does not notice
    assert.notDeepEqual(tooFew, unsealKey);
    assert.throws(
      () => unwrapRootKey(tooFew, wrapped),
      (err) => isCofferError(err, 'invalid_key'),
    );
    const mixed = await combineShares([shares[0]!, shares[1]!, foreign[2]!], 3).catch(() => undefined);
    if (mixed)
      assert.throws(
        () => unwrapRootKey(mixed, wrapped),
        (err) => isCofferError(err, 'invalid_key'),
      );
  });

  test('shares of mixed lengths, with x = 0, or with a repeated x coordinate are refused', async () => {
    const shares = await splitKey(key(), 3, 2);
    await assert.rejects(combineShares([shares[0]!, shares[1]!.subarray(1)], 2), (err) => isCofferError(err, 'invalid_key'));
    const zeroX = shares[1]!.slice();
    zeroX[zeroX.length - 1] = 0;
    await assert.rejects(combineShares([shares[0]!, zeroX], 2), (err) => isCofferError(err, 'invalid_key'));
    const sameX = shares[0]!.slice();
    sameX[0]! ^= 1;
    await assert.rejects(
      combineShares([shares[0]!, sameX], 2),
      (err) => isCofferError(err, 'invalid_key') && /failed to compute combined key/.test(err.message),
    );
  });
});

describe('seal configuration rules', () => {
  test('match Vault', () => {
    assert.equal(shareConfigProblem(0, 0, 0), 'shares must be at least one');
    assert.equal(shareConfigProblem(5, 0, 0), 'threshold must be at least one');
    assert.equal(shareConfigProblem(5, 1, 0), 'threshold must be greater than one for multiple shares');
    assert.equal(shareConfigProblem(256, 3, 0), 'shares must be less than 256');
    assert.equal(shareConfigProblem(3, 5, 0), 'threshold cannot be larger than shares');
    assert.equal(shareConfigProblem(5, 3, 2), 'count mismatch between number of provided PGP keys and number of shares');
    assert.equal(shareConfigProblem(1, 1, 0), undefined);
    assert.equal(shareConfigProblem(255, 255, 0), undefined);
  });
});

describe('unseal progress', () => {
  test('the first share creates a nonce, a repeated share is ignored, clearing zeroes the shares', () => {
    let nonces = 0;
    const newNonce = () => `nonce-${++nonces}`;
    const a = new Uint8Array(33).fill(1);
    const b = new Uint8Array(33).fill(2);
    let p = addPart(IDLE, a, newNonce);
    assert.equal(progressCount(p), 1);
    assert.equal(progressNonce(p), 'nonce-1');
    p = addPart(p, a.slice(), newNonce);
    assert.equal(progressCount(p), 1);
    p = addPart(p, b, newNonce);
    assert.equal(progressCount(p), 2);
    assert.equal(progressNonce(p), 'nonce-1');
    const held = p.kind === 'collecting' ? p.parts : [];
    p = clearProgress(p);
    assert.equal(progressCount(p), 0);
    assert.equal(progressNonce(p), '');
    assert.ok(held.every((part) => part.every((byte) => byte === 0)));
    assert.deepEqual(a, new Uint8Array(33).fill(1), "the caller's buffer is copied, not kept");
  });
});
