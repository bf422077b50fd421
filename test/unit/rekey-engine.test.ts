import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { CofferError } from '../../server/core/errors.js';
import { CANCEL_NONCE_WINDOW_MS } from '../../server/core/rekey/rekey-engine.js';
import { StaticSeal } from '../../server/core/seal/static-seal.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { ManualClock } from '../helpers/test-server.js';

const code = (c: string, message?: RegExp) => (err: unknown) =>
  err instanceof CofferError && err.code === c && (!message || message.test(err.message));
const none = () => {};
const plain = { pgpKeys: [], backup: false, requireVerification: false };

async function shamir() {
  const clock = new ManualClock();
  const core = new CofferCore({ storage: new InmemBackend(), storageType: 'inmem', clock, random: systemRandom, logger: createLogger('silent') });
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
  return { core, clock, keys: init.keys };
}

describe('RekeyEngine state machine', () => {
  test('one operation per target; the status shows what it will produce and when it started', async () => {
    const { core, clock } = await shamir();
    const status = await core.rekey.init('barrier', { shares: 4, threshold: 3, ...plain });
    assert.deepEqual(
      { ...status, nonce: 'N' },
      {
        started: true,
        nonce: 'N',
        threshold: 3,
        shares: 4,
        progress: 0,
        required: 2,
        pgpFingerprints: null,
        backup: false,
        verificationRequired: false,
        startedAt: clock.now(),
      },
    );
    await assert.rejects(core.rekey.init('barrier', { shares: 1, threshold: 1, ...plain }), code('invalid_request', /already in progress/));
    await assert.rejects(
      core.rekey.init('recovery', { shares: 1, threshold: 1, ...plain }),
      code('invalid_request', /recovery rekeying not supported/),
    );
  });

  test('a wrong nonce, a repeated share and a wrong set are refused; a wrong set keeps the operation and clears progress', async () => {
    const { core, keys } = await shamir();
    const { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, ...plain });
    await assert.rejects(
      core.rekey.update('barrier', keys[0]!, 'other', none),
      code('invalid_request', new RegExp(`nonce for this rekey operation is "${nonce}"`)),
    );
    await core.rekey.update('barrier', keys[0]!, nonce, none);
    await assert.rejects(core.rekey.update('barrier', keys[0]!, nonce, none), code('invalid_request', /already been provided/));
    const forged = randomBytes(33);
    forged[32] = 7;
    await assert.rejects(core.rekey.update('barrier', forged, nonce, none));
    const after = await core.rekey.status('barrier');
    assert.equal(after.nonce, nonce);
    assert.equal(after.progress, 0);
  });

  test('cancel: before any share, the nonce (or sudo) within ten minutes and anyone after; once a share is in, only sudo', async () => {
    const { core, clock, keys } = await shamir();
    let { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, ...plain });
    await assert.rejects(core.rekey.cancel('barrier', undefined, false), code('invalid_request', /only be cancelled with its nonce/));
    await core.rekey.cancel('barrier', nonce, false);
    ({ nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, ...plain }));
    clock.advance(CANCEL_NONCE_WINDOW_MS);
    await core.rekey.cancel('barrier', undefined, false);
    ({ nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, ...plain }));
    await core.rekey.update('barrier', keys[2]!, nonce, none);
    clock.advance(CANCEL_NONCE_WINDOW_MS);
    await assert.rejects(
      core.rekey.cancel('barrier', nonce, false),
      code('invalid_request', /holds key shares: cancelling it needs a token with sudo/),
    );
    assert.equal((await core.rekey.status('barrier')).progress, 1, "the holder's share is still in");
    await core.rekey.cancel('barrier', undefined, true);
    assert.equal((await core.rekey.status('barrier')).started, false);
  });

  test('verification: a wrong set rotates the verification nonce; the operation survives; sealing ends it', async () => {
    const { core, keys } = await shamir();
    const { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: true });
    await core.rekey.update('barrier', keys[0]!, nonce, none);
    const result = await core.rekey.update('barrier', keys[1]!, nonce, none);
    assert.ok('complete' in result && result.verificationNonce);
    await assert.rejects(core.rekey.update('barrier', keys[2]!, nonce, none), code('invalid_request', /verification must be performed/));
    await core.rekey.verify('barrier', result.keys[0]!, result.verificationNonce, none);
    await assert.rejects(
      core.rekey.verify('barrier', keys[0]!, result.verificationNonce, none),
      code('invalid_request', /incorrect key shares supplied/),
    );
    const v = await core.rekey.verifyStatus('barrier');
    assert.notEqual(v.nonce, result.verificationNonce);
    assert.equal(v.progress, 0);
    await core.seal();
    for (const k of keys.slice(0, 2)) await core.submitUnsealKey(k);
    assert.equal((await core.rekey.status('barrier')).started, false, 'a seal ends the operation; the old shares still unseal');
  });

  test('a barrier rekey on an auto seal only replaces the root key (1 of 1 forced, with a warning) and adds a term', async () => {
    const seal = new StaticSeal(randomBytes(32), 'a test key');
    const core = new CofferCore({
      storage: new InmemBackend(),
      storageType: 'inmem',
      clock: new ManualClock(),
      random: systemRandom,
      logger: createLogger('silent'),
      seal: { active: seal },
    });
    const init = await core.initialize({
      secretShares: 0,
      secretThreshold: 0,
      pgpKeys: [],
      rootTokenPgpKey: '',
      recoveryShares: 1,
      recoveryThreshold: 1,
      recoveryPgpKeys: [],
    });
    const status = await core.rekey.init('barrier', { shares: 5, threshold: 3, ...plain });
    assert.deepEqual([status.shares, status.threshold], [1, 1]);
    assert.match(status.warnings![0]!, /only replaces the root key/);
    const result = await core.rekey.update('barrier', init.recoveryKeys![0]!, status.nonce, none);
    assert.ok('complete' in result);
    assert.deepEqual(result.keys, []);
    assert.equal(core.barrier.keyStatus().term, 2);
  });
});
