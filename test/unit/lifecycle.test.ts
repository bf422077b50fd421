import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { CofferError } from '../../server/core/errors.js';
import { Lifecycle } from '../../server/core/lifecycle/lifecycle.js';
import { StaticSeal } from '../../server/core/seal/static-seal.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { GatedStorage, touches } from '../helpers/gated-storage.js';
import { ManualClock } from '../helpers/test-server.js';

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
const isSealed = (err: unknown) => err instanceof CofferError && err.code === 'sealed';

class FakeBarrier {
  sealed = false;
  seal() {
    this.sealed = true;
  }
}

describe('Lifecycle', () => {
  test('an operation on a sealed barrier is refused before it runs', async () => {
    const barrier = new FakeBarrier();
    barrier.sealed = true;
    let ran = false;
    await assert.rejects(
      new Lifecycle(barrier).whileUnsealed(async () => {
        ran = true;
      }),
      isSealed,
    );
    assert.equal(ran, false);
  });

  test('a seal waits for an in-flight operation, fires its abort signal at once, and runs the sealing hooks before the keys go', async () => {
    const barrier = new FakeBarrier();
    const lifecycle = new Lifecycle(barrier);
    const events: string[] = [];
    lifecycle.onSealing(() => {
      events.push(`hook sees sealed=${barrier.sealed}`);
    });
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let signal: AbortSignal | undefined;
    const op = lifecycle.whileUnsealed(async (s) => {
      signal = s;
      started();
      await new Promise<void>((r) => (finish = r));
      events.push(`operation ends, sealed=${barrier.sealed}`);
    });
    await running;
    const sealing = lifecycle.seal();
    assert.equal(signal!.aborted, true, 'background work learns of the seal before the seal waits');
    finish();
    await Promise.all([op, sealing]);
    assert.deepEqual(events, ['operation ends, sealed=false', 'hook sees sealed=false']);
    assert.equal(barrier.sealed, true);
  });

  test('an operation that arrives while a seal waits runs after it, and is refused', async () => {
    const barrier = new FakeBarrier();
    const lifecycle = new Lifecycle(barrier);
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = lifecycle.whileUnsealed(() => {
      started();
      return new Promise<void>((r) => (finish = r));
    });
    await running;
    const sealing = lifecycle.seal();
    let ran = false;
    const late = lifecycle.whileUnsealed(async () => {
      ran = true;
    });
    finish();
    await first;
    await sealing;
    await assert.rejects(late, isSealed);
    assert.equal(ran, false, 'the seal was not starved and the late operation never saw an unsealed barrier');
  });

  test('a failing unsealed hook seals the server again', async () => {
    const barrier = new FakeBarrier();
    const lifecycle = new Lifecycle(barrier);
    lifecycle.onUnsealed(async () => {
      throw new Error('store failed to load');
    });
    await assert.rejects(
      lifecycle.exclusive(() => lifecycle.completeUnseal()),
      /store failed to load/,
    );
    assert.equal(barrier.sealed, true);
  });
});

/** A Shamir core (3 shares, threshold 2), unsealed, over gated in-memory storage. */
async function shamirCore() {
  const storage = new GatedStorage(new InmemBackend());
  const core = new CofferCore({ storage, storageType: 'inmem', clock: new ManualClock(), random: systemRandom, logger: createLogger('silent') });
  const init = await core.initialize({
    secretShares: 3,
    secretThreshold: 2,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 0,
    recoveryThreshold: 0,
    recoveryPgpKeys: [],
  });
  for (const k of init.keys.slice(0, 2)) await core.submitUnsealKey(k);
  return { storage, core, keys: init.keys.map(hex) };
}

/** An auto-sealed core (static seal) with 3 recovery shares, threshold 2: unsealed by init. */
async function staticCore() {
  const storage = new GatedStorage(new InmemBackend());
  const seal = new StaticSeal(randomBytes(32), 'a test key');
  const newCore = () =>
    new CofferCore({
      storage,
      storageType: 'inmem',
      clock: new ManualClock(),
      random: systemRandom,
      logger: createLogger('silent'),
      seal: { active: seal },
    });
  const core = newCore();
  const init = await core.initialize({
    secretShares: 0,
    secretThreshold: 0,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 3,
    recoveryThreshold: 2,
    recoveryPgpKeys: [],
  });
  return { storage, core, newCore, recovery: init.recoveryKeys!.map(hex) };
}

/** Runs a rekey with verification up to (not including) the last verify share; returns that share's submit. */
async function upToLastVerifyShare(core: CofferCore, target: 'barrier' | 'recovery', current: string[]) {
  const { nonce } = await core.rekey.init(target, { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: true });
  let result;
  for (const k of current.slice(0, 2)) result = await core.rekey.update(target, Buffer.from(k, 'hex'), nonce, () => {});
  assert.ok(result && 'complete' in result);
  const newKeys = result.keys.map(hex);
  const verificationNonce = result.verificationNonce ?? '';
  await core.rekey.verify(target, Buffer.from(newKeys[0]!, 'hex'), verificationNonce, () => {});
  const last = () => core.rekey.verify(target, Buffer.from(newKeys[1]!, 'hex'), verificationNonce, () => {});
  return { newKeys, last };
}

/** Whether a combination of recovery shares is accepted by a fresh core over the same storage (after a seal). */
async function recoveryUnseals(newCore: () => CofferCore, shares: string[]): Promise<boolean> {
  const core = newCore();
  try {
    for (const s of shares) await core.submitUnsealKey(Buffer.from(s, 'hex'));
    return !core.barrier.sealed;
  } catch {
    return false;
  } finally {
    await core.seal();
  }
}

async function shamirUnseals(storage: GatedStorage, shares: string[]): Promise<boolean> {
  const core = new CofferCore({ storage, storageType: 'inmem', clock: new ManualClock(), random: systemRandom, logger: createLogger('silent') });
  try {
    for (const s of shares) await core.submitUnsealKey(Buffer.from(s, 'hex'));
    return !core.barrier.sealed;
  } catch {
    return false;
  } finally {
    await core.seal();
  }
}

describe('a seal racing the last rekey share or a rotation never leaves a half-committed state', () => {
  test('recovery target: a seal that arrives first makes the last verify share fail; the old recovery shares stay the only ones (no proof of a wiped key)', async () => {
    const { storage, core, newCore, recovery } = await staticCore();
    const { newKeys, last } = await upToLastVerifyShare(core, 'recovery', recovery);
    const gate = storage.gate(touches('core/keyring')); // the seal's count flush: the seal now holds the lifecycle
    const sealing = core.seal();
    await gate.reached;
    const verify = last();
    gate.release();
    await sealing;
    await assert.rejects(verify, isSealed);
    assert.equal(await recoveryUnseals(newCore, newKeys), false, 'nothing was committed');
    assert.equal(await recoveryUnseals(newCore, [new Uint8Array(32)].map(hex)), false, 'an all-zero key opens nothing');
    assert.equal(await recoveryUnseals(newCore, recovery.slice(1, 3)), true);
  });

  test('recovery target: a seal that arrives during the commit waits for it; the new recovery shares are then the valid ones', async () => {
    const { storage, core, newCore, recovery } = await staticCore();
    const { newKeys, last } = await upToLastVerifyShare(core, 'recovery', recovery);
    const gate = storage.gate(touches('core/recovery-key'));
    const verify = last();
    await gate.reached;
    const sealing = core.seal();
    gate.release();
    assert.deepEqual(await verify, { nonce: (await verify).nonce, complete: true });
    await sealing;
    assert.equal(core.barrier.sealed, true);
    assert.equal(await recoveryUnseals(newCore, newKeys), true);
  });

  test('barrier target: a seal that arrives first makes the last verify share fail; the old shares still unseal', async () => {
    const { storage, core, keys } = await shamirCore();
    const { newKeys, last } = await upToLastVerifyShare(core, 'barrier', keys);
    const gate = storage.gate(touches('core/keyring'));
    const sealing = core.seal();
    await gate.reached;
    const verify = last();
    gate.release();
    await sealing;
    await assert.rejects(verify, isSealed);
    assert.equal(await shamirUnseals(storage, newKeys), false);
    assert.equal(await shamirUnseals(storage, keys.slice(0, 2)), true);
  });

  test('barrier target: a seal that arrives during the commit waits for it; the new shares then unseal', async () => {
    const { storage, core, keys } = await shamirCore();
    const { newKeys, last } = await upToLastVerifyShare(core, 'barrier', keys);
    const gate = storage.gate(touches('core/seal-config'));
    const verify = last();
    await gate.reached;
    const sealing = core.seal();
    gate.release();
    await verify;
    await sealing;
    assert.equal(await shamirUnseals(storage, newKeys), true);
  });

  test('a rotation in flight completes before the seal; one queued behind a seal is refused', async () => {
    const { storage, core, keys } = await shamirCore();
    const gate = storage.gate(touches('core/keyring'));
    const rotating = core.rotate();
    await gate.reached;
    const sealing = core.seal();
    gate.release();
    assert.equal((await rotating).term, 2);
    await sealing;
    for (const k of keys.slice(0, 2)) await core.submitUnsealKey(Buffer.from(k, 'hex'));
    assert.equal(core.barrier.keyStatus().term, 2, 'the rotation was persisted whole');

    const second = storage.gate(touches('core/keyring'));
    const sealingAgain = core.seal();
    await second.reached;
    const late = core.rotate();
    second.release();
    await sealingAgain;
    await assert.rejects(late, isSealed);
  });
});
