import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { combineShares } from '../../server/core/seal/shamir.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { attackerReads, rawCopy } from '../helpers/attacker.js';
import { ManualClock } from '../helpers/test-server.js';

/** A Shamir core (3 shares, threshold 2) over in-memory storage, unsealed. */
async function unsealedCore() {
  const storage = new InmemBackend();
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
  return { storage, core, init };
}

test('attack: old shares plus an old storage snapshot and the current storage decrypt nothing written after a rekey', async () => {
  const { storage, core, init } = await unsealedCore();
  await core.policies.put('before', 'path "before" { capabilities = ["read"] }');
  const snapshot = await rawCopy(storage); // a backup taken before the key holder left

  // A key holder leaves; the others rekey and the new shares are delivered.
  const { nonce } = await core.rekey.init('barrier', { shares: 3, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
  let finalise: (() => Promise<void>) | undefined;
  await core.rekey.update('barrier', init.keys[0]!, nonce, () => {});
  const result = await core.rekey.update('barrier', init.keys[1]!, nonce, (f) => (finalise = f));
  assert.ok('complete' in result);
  await finalise!();
  await core.policies.put('after', 'path "after" { capabilities = ["read"] }');
  const current = await rawCopy(storage);

  // The leaver's quorum (they colluded with one other old holder) and the old snapshot.
  const oldUnsealKey = await combineShares([init.keys[1]!, init.keys[2]!], 2);
  const readable = attackerReads(oldUnsealKey, [snapshot], current);
  assert.ok(readable.has('sys/policy/before'), 'data from before the rekey stays under old terms until it is re-encrypted');
  assert.equal(readable.has('sys/policy/after'), false, 'nothing written after the rekey opens with the old shares');
  assert.ok(current.get('sys/policy/after'), 'the entry exists');
  // And the new shares do open it, through a restart.
  const restarted = new CofferCore({ storage, storageType: 'inmem', clock: new ManualClock(), random: systemRandom, logger: createLogger('silent') });
  for (const k of result.keys.slice(0, 2)) await restarted.submitUnsealKey(k);
  assert.ok(await restarted.policies.get('after'));
});

test('while a rekey is unconfirmed the old shares still open the server, and once delivered they stop', async () => {
  const { storage, core, init } = await unsealedCore();
  const { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
  let finalise: (() => Promise<void>) | undefined;
  await core.rekey.update('barrier', init.keys[0]!, nonce, () => {});
  await core.rekey.update('barrier', init.keys[1]!, nonce, (f) => (finalise = f));
  await core.policies.put('after', 'path "after" { capabilities = ["read"] }');
  const oldUnsealKey = await combineShares(init.keys.slice(0, 2), 2);
  const before = await rawCopy(storage);
  const unconfirmed = attackerReads(oldUnsealKey, [before], before);
  assert.ok(unconfirmed.has('sys/policy/after'), 'the lost-response fallback: the old set still works');
  await finalise!();
  const after = await rawCopy(storage);
  assert.equal(attackerReads(oldUnsealKey, [after], after).has('sys/policy/after'), false);
});
