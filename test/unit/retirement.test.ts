import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Keyring } from '../../server/core/barrier/keyring.js';
import { isCofferError } from '../../server/core/errors.js';
import { GateRefusal } from '../../server/core/rotation/retirement.js';
import { dec, enc, rewrapCore, spec } from '../helpers/rewrap.js';

const HOUR = 3600_000;
type Core = Awaited<ReturnType<typeof rewrapCore>>['core'];

async function census(core: Core) {
  await core.rewrap.startCensus();
  await core.rewrap.idle();
  return core.rewrap.census!;
}

/** Term 1 holds `n` entries, rotated to term 2, rewrapped, and a fresh census taken: term 1 may be retired. */
async function readyToRetire(n = 3) {
  const ctx = await rewrapCore({ keyringTrimGraceSeconds: 72 * 3600 });
  for (let i = 0; i < n; i++) await ctx.core.barrier.put(`data/k${i}`, enc(`v${i}`));
  await ctx.core.rotate();
  await ctx.core.rewrap.start(spec());
  await ctx.core.rewrap.idle();
  await census(ctx.core);
  return ctx;
}

const refused = (fragment: string) => (err: unknown) => err instanceof GateRefusal && err.message.includes(fragment);

describe('retire and unretire', () => {
  test('retire is refused without any census', async () => {
    const { core } = await rewrapCore();
    await core.rotate();
    await assert.rejects(core.retirement.retire(2), refused('no completed census'));
  });

  test('retire is refused with the blocking counts per term while the census shows entries below N', async () => {
    const { core } = await rewrapCore();
    await core.barrier.put('data/old', enc('x'));
    await core.rotate();
    await census(core);
    await assert.rejects(core.retirement.retire(2), (err) => err instanceof GateRefusal && (err.blocking['1']?.entries ?? 0) >= 1);
  });

  test('retire is refused when the census predates a rotate (or a rekey, which adds a term)', async () => {
    const { core } = await readyToRetire();
    await core.rotate();
    await assert.rejects(core.retirement.retire(2), refused('predates the last rotate'));
  });

  test('retire is refused when the census predates the last unretire', async () => {
    const { core } = await readyToRetire();
    await core.retirement.retire(2);
    await core.retirement.unretire(1);
    await assert.rejects(core.retirement.retire(2), refused('predates the last unretire'));
    await census(core);
    await core.retirement.retire(2);
  });

  test('the active term can never be retired, and bounds only move one way per call', async () => {
    const { core } = await readyToRetire();
    await assert.rejects(core.retirement.retire(3), (err) => isCofferError(err, 'invalid_request') && err.message.includes('above the active term'));
    await assert.rejects(core.retirement.retire(1), (err) => isCofferError(err, 'invalid_request'));
    await assert.rejects(core.retirement.unretire(1), (err) => isCofferError(err, 'invalid_request'));
  });

  test('a corrupt entry left under its term by a rewrap blocks the retirement of that term', async () => {
    const { core, storage } = await rewrapCore();
    await core.barrier.put('data/bad', enc('x'));
    const raw = (await storage.get('data/bad'))!;
    raw[raw.length - 1]! ^= 1;
    await storage.put('data/bad', raw);
    await core.rotate();
    await core.rewrap.start(spec());
    await core.rewrap.idle();
    assert.equal((await core.rewrap.list())[0]!.state, 'completed_with_failures');
    await census(core);
    await assert.rejects(core.retirement.retire(2), (err) => err instanceof GateRefusal && err.blocking['1']?.entries === 1);
  });

  test('after a retire, reads of a retired term fail loudly and are counted; unretire gives access back', async () => {
    const { core, storage } = await readyToRetire();
    assert.equal(core.barrier.activeKeyring.bounds.minDecryptionTerm, 1);
    await core.retirement.retire(2);
    // A term-1 entry the census could not have seen (as a restore of an old backup would bring back): the canary case.
    const keyring = core.barrier.activeKeyring;
    assert.equal(keyring.isRetired(1), true);
    const { encryptEntry } = await import('../../server/core/barrier/aes-gcm-barrier.js');
    const retiredKey = keyring.keyFor(1)!;
    await storage.put('data/restored', encryptEntry(retiredKey, 1, 'data/restored', enc('from a backup')));
    await assert.rejects(core.barrier.get('data/restored'), (err) => isCofferError(err, 'integrity') && err.message.includes('retired'));
    await core.rotation.maintenance(); // the count is flushed in the background too; make it certain
    assert.equal(core.barrier.activeKeyring.bounds.deniedReads, 1);
    assert.equal(dec(await core.barrier.get('data/k0')), 'v0', 'entries under live terms still read');
    await core.retirement.unretire(1);
    assert.equal(dec(await core.barrier.get('data/restored')), 'from a backup');
  });
});

describe('trim', () => {
  test('trim is refused before the terms are retired', async () => {
    const { core } = await readyToRetire();
    await assert.rejects(core.retirement.trim(2), refused('retire first'));
  });

  test('trim is refused before the grace period has passed since the retire', async () => {
    const { core, clock } = await readyToRetire();
    await core.retirement.retire(2);
    clock.advance(72 * HOUR - 1000);
    await assert.rejects(core.retirement.trim(2), refused('grace period'));
  });

  test('trim is refused when a read of a retired term was refused since the retire', async () => {
    const { core, clock, storage } = await readyToRetire();
    await core.retirement.retire(2);
    const { encryptEntry } = await import('../../server/core/barrier/aes-gcm-barrier.js');
    await storage.put('data/restored', encryptEntry(core.barrier.activeKeyring.keyFor(1)!, 1, 'data/restored', enc('x')));
    await assert.rejects(core.barrier.get('data/restored'));
    await storage.delete('data/restored');
    await core.rotation.maintenance();
    clock.advance(73 * HOUR);
    await assert.rejects(core.retirement.trim(2), refused('were refused since the retire'));
  });

  test('trim is refused with a stale census (a rotate since) even after the grace period', async () => {
    const { core, clock } = await readyToRetire();
    await core.retirement.retire(2);
    clock.advance(73 * HOUR);
    await core.rotate();
    await assert.rejects(core.retirement.trim(2), refused('predates the last rotate'));
  });

  test('trim refuses a forged, foreign or expired confirm token, and the active term can never be trimmed', async () => {
    const { core, clock } = await readyToRetire();
    await core.retirement.retire(2);
    clock.advance(73 * HOUR);
    await assert.rejects(core.retirement.trim(3), (err) => isCofferError(err, 'invalid_request') && err.message.includes('active term'));
    const preview = (await core.retirement.trim(2)) as { confirm_token: string; terms_to_destroy: number[] };
    assert.deepEqual(preview.terms_to_destroy, [1]);
    await assert.rejects(core.retirement.trim(2, 'garbage'), (err) => isCofferError(err, 'invalid_request'));
    const [expiry] = preview.confirm_token.split('.');
    await assert.rejects(core.retirement.trim(2, `${Number(expiry) + 1000}.${preview.confirm_token.split('.')[1]}`), (err) =>
      isCofferError(err, 'invalid_request'),
    );
    clock.advance(61_000);
    await assert.rejects(
      core.retirement.trim(2, preview.confirm_token),
      (err) => isCofferError(err, 'invalid_request') && err.message.includes('expired'),
    );
    assert.ok(core.barrier.activeKeyring.keyFor(1), 'nothing was trimmed');
  });

  test('trim with a fresh confirm token destroys the key bytes for good, persisted, and unretire cannot bring them back', async () => {
    const { core, clock, newCore, keys } = await readyToRetire();
    await core.retirement.retire(2);
    clock.advance(73 * HOUR);
    const preview = (await core.retirement.trim(2)) as { confirm_token: string };
    const done = await core.retirement.trim(2, preview.confirm_token);
    assert.deepEqual(done, { min_available_term: 2, trimmed_terms: [1] });
    assert.equal(core.barrier.activeKeyring.keyFor(1), undefined);
    await assert.rejects(core.retirement.unretire(1), (err) => isCofferError(err, 'invalid_request'));
    await core.seal();
    const restarted = newCore();
    await restarted.submitUnsealKey(keys[0]!);
    const ring = restarted.barrier.activeKeyring;
    assert.equal(ring.keyFor(1), undefined);
    assert.equal(ring.bounds.minAvailableTerm, 2);
    assert.equal(ring.termInfo(1)!.term, 1, 'the trimmed term is still listed');
    assert.equal(dec(await restarted.barrier.get('data/k1')), 'v1');
  });
});

test('a keyring written before retirement existed (no bounds fields) still loads, with nothing retired', () => {
  const ring = Keyring.create(new Uint8Array(32).fill(7), new Date('2026-01-01T00:00:00Z')).withNewTerm(
    new Uint8Array(32).fill(8),
    new Date('2026-02-01T00:00:00Z'),
  );
  const bytes = ring.serialize();
  const metaLength = new DataView(bytes.buffer).getUint32(1);
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(5, 5 + metaLength)));
  for (const k of ['min_decryption_term', 'min_available_term', 'retired_at', 'denied_reads', 'trimmed_terms']) delete meta[k];
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const keysPart = bytes.subarray(5 + metaLength);
  const old = new Uint8Array(5 + metaBytes.length + keysPart.length);
  old[0] = 1;
  new DataView(old.buffer).setUint32(1, metaBytes.length);
  old.set(metaBytes, 5);
  old.set(keysPart, 5 + metaBytes.length);
  const loaded = Keyring.deserialize(old);
  assert.equal(loaded.bounds.minDecryptionTerm, 1);
  assert.equal(loaded.bounds.minAvailableTerm, 1);
  assert.deepEqual([...loaded.keyFor(1)!], [...new Uint8Array(32).fill(7)]);
});
