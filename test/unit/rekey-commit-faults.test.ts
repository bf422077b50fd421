import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { isCofferError } from '../../server/core/errors.js';
import { PREVIOUS_SEALED_ROOT_KEY_PATH } from '../../server/core/seal/seal-store.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import type { StorageBackend } from '../../server/core/storage/storage-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { RecordingStorage } from '../helpers/recording-storage.js';
import { ManualClock } from '../helpers/test-server.js';

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');

function coreOn(storage: StorageBackend, lines: string[] = []) {
  const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(chunk.toString()), cb()) });
  return new CofferCore({ storage, storageType: 'inmem', clock: new ManualClock(), random: systemRandom, logger: createLogger('warn', sink) });
}

/** An unsealed 3/2 core with one secret written, over a recording wrapper of a real in-memory backend. */
async function setUp() {
  const inner = new InmemBackend();
  const storage = new RecordingStorage(inner);
  const core = coreOn(storage);
  const init = await core.initialize({
    secretShares: 3,
    secretThreshold: 2,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 0,
    recoveryThreshold: 0,
    recoveryPgpKeys: [],
  });
  const oldKeys = init.keys.map(hex);
  for (const k of init.keys.slice(0, 2)) await core.submitUnsealKey(k);
  await core.policies.put('kept', 'path "kept" { capabilities = ["read"] }');
  return { inner, storage, core, oldKeys };
}

/** Runs a rekey to 2/2 up to its commit; returns the new keys and the finaliser (not yet called). */
async function rekeyToCommit(core: CofferCore, oldKeys: string[]) {
  const { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
  let finalise: (() => Promise<void>) | undefined;
  await core.rekey.update('barrier', Buffer.from(oldKeys[0]!, 'hex'), nonce, () => {});
  const result = await core.rekey.update('barrier', Buffer.from(oldKeys[1]!, 'hex'), nonce, (f) => (finalise = f));
  assert.ok('complete' in result);
  return { newKeys: result.keys.map((k) => Buffer.from(k).toString('hex')), finalise: finalise! };
}

/** Whether `keys` unseal a fresh core over `storage` (a restarted server), and the data reads back. */
async function unsealsAfterRestart(storage: StorageBackend, keys: readonly string[]): Promise<boolean> {
  const core = coreOn(storage);
  try {
    for (const k of keys) {
      const status = await core.submitUnsealKey(Buffer.from(k, 'hex'));
      if (!status.sealed) {
        assert.ok(await core.policies.get('kept'), 'data reads back');
        await core.seal();
        return true;
      }
    }
    return false;
  } catch (err) {
    if (isCofferError(err, 'invalid_key')) return false;
    throw err;
  }
}

/** A copy of an in-memory backend, to try several futures from one crash state. */
async function snapshot(source: StorageBackend): Promise<InmemBackend> {
  const copy = new InmemBackend();
  const walk = async (prefix: string) => {
    for (const child of await source.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else await copy.put(prefix + child, (await source.get(prefix + child))!);
    }
  };
  await walk('');
  return copy;
}

describe('the rekey commit under faults', () => {
  test('the commit is a single atomic storage batch', async () => {
    const { storage, core, oldKeys } = await setUp();
    const before = storage.writes.length;
    await rekeyToCommit(core, oldKeys);
    const commit = storage.writes.slice(before);
    assert.deepEqual(
      commit.map((w) => w.kind),
      ['batch'],
    );
    // A rekey replaces the root key: the keyring, re-encrypted under it, is part of the same batch.
    assert.deepEqual(commit[0]!.ops.map((o) => o.key).sort(), [
      'core/keyring',
      'core/seal-config',
      'core/sealed-root-key',
      PREVIOUS_SEALED_ROOT_KEY_PATH,
    ]);
  });

  test('a failing commit write leaves the old shares working and issues no new shares', async () => {
    const { inner, storage, core, oldKeys } = await setUp();
    const { nonce } = await core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
    await core.rekey.update('barrier', Buffer.from(oldKeys[0]!, 'hex'), nonce, () => {});
    storage.beforeWrite = () => {
      throw new Error('disk gone');
    };
    await assert.rejects(core.rekey.update('barrier', Buffer.from(oldKeys[1]!, 'hex'), nonce, () => {}));
    storage.beforeWrite = undefined;
    assert.equal((await core.rekey.status('barrier')).nonce, nonce, 'the operation survives with progress 0');
    assert.equal(await unsealsAfterRestart(inner, oldKeys.slice(0, 2)), true);
  });

  test('stopping after the commit but before the response: both share sets unseal, a warning is logged, the first used wins', async () => {
    const { inner, core, oldKeys } = await setUp();
    const { newKeys } = await rekeyToCommit(core, oldKeys); // the finaliser never runs: the response was lost
    // Future A: the holders never got the new shares and use the old ones.
    const a = await snapshot(inner);
    const lines: string[] = [];
    assert.equal(await coreOn(a, lines).pendingRekeyWarning(), true);
    assert.match(lines.join(''), /a rekey result may have been lost/);
    assert.equal(await unsealsAfterRestart(a, oldKeys.slice(1, 3)), true);
    assert.equal(await unsealsAfterRestart(a, newKeys), false, 'the unconfirmed rekey was rolled back');
    assert.equal(await unsealsAfterRestart(a, oldKeys.slice(0, 2)), true);
    assert.equal(await a.get(PREVIOUS_SEALED_ROOT_KEY_PATH), undefined);
    // Future B: the response did arrive just before the stop; the new shares are used.
    const b = await snapshot(inner);
    assert.equal(await unsealsAfterRestart(b, newKeys), true);
    assert.equal(await unsealsAfterRestart(b, oldKeys.slice(0, 2)), false, 'the old shares stopped working');
    assert.equal((await coreOn(b).sealStatus()).threshold, 2);
  });

  test('once the response is sent the old wrapping is dropped; if dropping it fails both sets keep working', async () => {
    const { inner, storage, core, oldKeys } = await setUp();
    const { newKeys, finalise } = await rekeyToCommit(core, oldKeys);
    storage.beforeWrite = () => {
      throw new Error('disk gone');
    };
    await assert.rejects(finalise());
    storage.beforeWrite = undefined;
    const copy = await snapshot(inner);
    assert.equal(await unsealsAfterRestart(copy, oldKeys.slice(0, 2)), true);
    await finalise();
    assert.equal(await inner.get(PREVIOUS_SEALED_ROOT_KEY_PATH), undefined);
    assert.equal(await unsealsAfterRestart(inner, oldKeys.slice(0, 2)), false);
    assert.equal(await unsealsAfterRestart(inner, newKeys), true);
  });
});
