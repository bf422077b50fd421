import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { parseRewrapSpec } from '../../server/core/rotation/rewrap-spec.js';
import { combineShares } from '../../server/core/seal/shamir.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { attackerReads, rawCopy } from '../helpers/attacker.js';
import { ManualClock } from '../helpers/test-server.js';

test('a key holder leaves: rekey, rotate, rewrap everything, census at 0, retire, trim; then old shares plus an old copy of storage decrypt no current entry', async () => {
  const storage = new InmemBackend();
  const clock = new ManualClock();
  const core = new CofferCore({ storage, storageType: 'inmem', clock, random: systemRandom, logger: createLogger('silent') });
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
  for (let i = 0; i < 12; i++) await core.policies.put(`p${i}`, `path "secret/${i}" { capabilities = ["read"] }`);
  const snapshot = await rawCopy(storage); // the leaver took a copy of the data directory on the way out

  // 1. Rekey: new shares, a new root key and a new term (2).
  const { nonce } = await core.rekey.init('barrier', { shares: 3, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
  let finalise: (() => Promise<void>) | undefined;
  await core.rekey.update('barrier', init.keys[0]!, nonce, () => {});
  const rekeyed = await core.rekey.update('barrier', init.keys[1]!, nonce, (f) => (finalise = f));
  assert.ok('complete' in rekeyed);
  await finalise!();
  // 2. Rotate: term 3.
  await core.rotate();
  const oldUnsealKey = await combineShares([init.keys[1]!, init.keys[2]!], 2);
  const before = attackerReads(oldUnsealKey, [snapshot], await rawCopy(storage));
  assert.ok(before.has('sys/policy/p0'), 'without a rewrap the leaver still reads everything written before the rekey');

  // 3. Rewrap everything.
  const job = await core.rewrap.start(parseRewrapSpec({ rewrap: { apiVersion: 'v1', execution: { batchSize: 4 } } }));
  await core.rewrap.idle();
  assert.equal((await core.rewrap.get(job.job_id)).state, 'completed');
  // 4. Census: nothing under terms 1 and 2.
  await core.rewrap.startCensus();
  await core.rewrap.idle();
  const census = core.rewrap.census!;
  assert.equal(census.state, 'completed');
  assert.equal(census.terms['1'], undefined, JSON.stringify(census.terms));
  assert.equal(census.terms['2'], undefined, JSON.stringify(census.terms));
  assert.deepEqual(census.unknown_terms, {});
  // 5. Retire below 3, wait out the grace period, 6. trim.
  await core.retirement.retire(3);
  clock.advance(72 * 3600_000);
  const preview = (await core.retirement.trim(3)) as { confirm_token: string; terms_to_destroy: number[] };
  assert.deepEqual(preview.terms_to_destroy, [1, 2]);
  await core.retirement.trim(3, preview.confirm_token);
  assert.deepEqual(core.barrier.activeKeyring.terms, [3]);

  const current = await rawCopy(storage);
  const readable = [...attackerReads(oldUnsealKey, [snapshot], current)];
  assert.deepEqual(readable, [], 'the old shares and the old copy decrypt no current entry');
  // The data is all still there for the current holders, through a restart with the NEW shares.
  const restarted = new CofferCore({ storage, storageType: 'inmem', clock, random: systemRandom, logger: createLogger('silent') });
  for (const k of rekeyed.keys.slice(0, 2)) await restarted.submitUnsealKey(k);
  for (let i = 0; i < 12; i++) assert.equal((await restarted.policies.get(`p${i}`))!.text, `path "secret/${i}" { capabilities = ["read"] }`);
});
