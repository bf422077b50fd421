import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decryptKeyring, entryTerm } from '../../server/core/barrier/aes-gcm-barrier.js';
import { aeadOpen } from '../../server/core/barrier/aead.js';
import type { Keyring } from '../../server/core/barrier/keyring.js';
import { systemRandom } from '../../server/core/clock.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { combineShares } from '../../server/core/seal/shamir.js';
import { unwrapRootKey } from '../../server/core/seal/shamir-seal.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import type { StorageBackend } from '../../server/core/storage/storage-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { ManualClock } from '../helpers/test-server.js';

/** Every raw entry of a backend: what an attacker holding a copy of the data directory has. */
async function rawCopy(storage: StorageBackend): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (prefix: string): Promise<void> => {
    for (const child of await storage.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else out.set(prefix + child, (await storage.get(prefix + child))!);
    }
  };
  await walk('');
  return out;
}

/**
 * Everything the attacker can decrypt from `current` with a quorum of old shares and an old storage copy: every
 * root key the old unseal key unwraps (from any copy), every keyring those open, then every entry of `current`
 * under a term those keyrings hold.
 */
function attackerReads(oldUnsealKey: Uint8Array, copies: Array<Map<string, Uint8Array>>, current: Map<string, Uint8Array>): Set<string> {
  const rootKeys: Uint8Array[] = [];
  for (const copy of copies) {
    for (const path of ['core/sealed-root-key', 'core/sealed-root-key-previous']) {
      const raw = copy.get(path);
      if (!raw) continue;
      const wrapped = path.endsWith('previous') ? new Uint8Array(Buffer.from(JSON.parse(new TextDecoder().decode(raw)).wrapped, 'base64')) : raw;
      try {
        rootKeys.push(unwrapRootKey(oldUnsealKey, wrapped));
      } catch {
        // not this copy
      }
    }
  }
  const keyrings: Keyring[] = [];
  for (const root of rootKeys) {
    for (const copy of [...copies, current]) {
      try {
        keyrings.push(decryptKeyring(root, copy.get('core/keyring')));
      } catch {
        // this root key does not open this keyring
      }
    }
  }
  const readable = new Set<string>();
  for (const [path, entry] of current) {
    if (path.startsWith('core/')) continue;
    for (const keyring of keyrings) {
      const key = keyring.keyFor(entryTerm(entry));
      if (!key) continue;
      try {
        aeadOpen(key, entry.subarray(5), new TextEncoder().encode(path));
        readable.add(path);
      } catch {
        // wrong key
      }
    }
  }
  return readable;
}

test('attack: old shares plus an old storage snapshot and the current storage decrypt nothing written after a rekey', async () => {
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
