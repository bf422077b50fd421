import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CofferError } from '../../server/core/errors.js';
import { recoveryCheck } from '../../server/core/seal/recovery-key.js';
import {
  KEY_TARGETS,
  PREVIOUS_RECOVERY_KEY_PATH,
  PREVIOUS_SEALED_ROOT_KEY_PATH,
  RECOVERY_CONFIG_PATH,
  RECOVERY_KEY_PATH,
  SEAL_CONFIG_PATH,
  SEALED_ROOT_KEY_PATH,
  SealStore,
  type KeyTarget,
} from '../../server/core/seal/seal-store.js';
import { wrapRootKey } from '../../server/core/seal/shamir-seal.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';

const isIntegrity = (err: unknown) => err instanceof CofferError && err.code === 'integrity';
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function storeWith(entries: Record<string, Uint8Array>) {
  const storage = new InmemBackend();
  for (const [k, v] of Object.entries(entries)) await storage.put(k, v);
  return { storage, store: new SealStore(storage) };
}

const PATHS: Record<KeyTarget, { config: string; proof: string; previous: string }> = {
  barrier: { config: SEAL_CONFIG_PATH, proof: SEALED_ROOT_KEY_PATH, previous: PREVIOUS_SEALED_ROOT_KEY_PATH },
  recovery: { config: RECOVERY_CONFIG_PATH, proof: RECOVERY_KEY_PATH, previous: PREVIOUS_RECOVERY_KEY_PATH },
};

describe('SealStore: one commit path for both targets', () => {
  for (const target of KEY_TARGETS) {
    test(`${target}: a staged rekey writes config, proof and the pending entry; the pending entry reads back`, async () => {
      const { storage, store } = await storeWith({});
      const newKey = bytes(32, 1);
      const root = bytes(32, 2);
      const newProof = SealStore.proofFor(target, newKey, root);
      await storage.batch(
        store.stageRekey(target, {
          config: { secretShares: 4, secretThreshold: 3 },
          newProof,
          previous: { nonce: 'n1', secretShares: 2, secretThreshold: 2, proof: bytes(61, 7) },
        }),
      );
      assert.deepEqual(await storage.get(PATHS[target].proof), newProof);
      const pending = await store.pending(target);
      assert.deepEqual(pending, { target, nonce: 'n1', secretShares: 2, secretThreshold: 2, proof: bytes(61, 7) });
      assert.deepEqual((await store.prove(target, newKey)).length, target === 'barrier' ? 32 : 0);
    });

    test(`${target}: confirming delivery drops only the pending entry of the same rekey`, async () => {
      const { storage, store } = await storeWith({});
      await storage.batch(
        store.stageRekey(target, {
          config: { secretShares: 1, secretThreshold: 1 },
          newProof: bytes(10, 1),
          previous: { nonce: 'n1', secretShares: 1, secretThreshold: 1, proof: bytes(10, 2) },
        }),
      );
      assert.deepEqual(await store.stageConfirm(target, 'another rekey'), []);
      await storage.batch(await store.stageConfirm(target, 'n1'));
      assert.equal(await store.pending(target), undefined);
    });

    test(`${target}: settling with the OLD set restores its configuration and proof`, async () => {
      const { storage, store } = await storeWith({});
      await storage.batch(
        store.stageRekey(target, {
          config: { secretShares: 5, secretThreshold: 3 },
          newProof: bytes(10, 1),
          previous: { nonce: 'n', secretShares: 2, secretThreshold: 2, proof: bytes(10, 2) },
        }),
      );
      await storage.batch(store.stageResolve((await store.pending(target))!, true));
      assert.deepEqual(await storage.get(PATHS[target].proof), bytes(10, 2));
      const config = JSON.parse(new TextDecoder().decode(await storage.get(PATHS[target].config)));
      assert.equal(config.secret_threshold, 2);
      assert.equal(await store.pending(target), undefined);
    });

    test(`${target}: a pending entry of the wrong shape is an integrity error, never a cast`, async () => {
      const { store } = await storeWith({ [PATHS[target].previous]: new TextEncoder().encode('{"nonce":1,"secret_shares":"x"}') });
      await assert.rejects(store.pending(target), isIntegrity);
    });
  }

  test('a seal configuration of the wrong shape or type is an integrity error', async () => {
    for (const raw of [
      'not json',
      '[]',
      '{"type":"magic","secret_shares":1,"secret_threshold":1}',
      '{"type":"shamir","secret_shares":2,"secret_threshold":3}',
    ]) {
      const { store } = await storeWith({ [SEAL_CONFIG_PATH]: new TextEncoder().encode(raw) });
      await assert.rejects(store.config(), isIntegrity, raw);
    }
  });

  test('a recovery configuration of 0 of 0 (no recovery key) is valid; 0 of 2 is not', async () => {
    const ok = await storeWith({ [RECOVERY_CONFIG_PATH]: new TextEncoder().encode('{"type":"shamir","secret_shares":0,"secret_threshold":0}') });
    assert.deepEqual(await ok.store.recoveryConfig(), { secretShares: 0, secretThreshold: 0 });
    const bad = await storeWith({ [RECOVERY_CONFIG_PATH]: new TextEncoder().encode('{"type":"shamir","secret_shares":0,"secret_threshold":2}') });
    await assert.rejects(bad.store.recoveryConfig(), isIntegrity);
  });

  test('prove: the right key opens, a wrong key is invalid_key, a missing proof is integrity', async () => {
    const unsealKey = bytes(32, 3);
    const root = bytes(32, 4);
    const { store } = await storeWith({ [SEALED_ROOT_KEY_PATH]: wrapRootKey(unsealKey, root), [RECOVERY_KEY_PATH]: recoveryCheck(unsealKey) });
    assert.deepEqual(await store.prove('barrier', unsealKey), root);
    await store.prove('recovery', unsealKey);
    for (const target of KEY_TARGETS) {
      await assert.rejects(store.prove(target, bytes(32, 5)), (err: unknown) => err instanceof CofferError && err.code === 'invalid_key');
    }
    await assert.rejects((await storeWith({})).store.prove('barrier', unsealKey), isIntegrity);
  });

  test('the configuration is cached until invalidated', async () => {
    const { storage, store } = await storeWith({
      [SEAL_CONFIG_PATH]: new TextEncoder().encode('{"type":"shamir","secret_shares":3,"secret_threshold":2}'),
    });
    assert.equal((await store.config())!.secretThreshold, 2);
    await storage.batch(store.stageConfig({ type: 'shamir', secretShares: 5, secretThreshold: 4 }));
    assert.equal((await store.config())!.secretThreshold, 2);
    store.invalidate();
    assert.equal((await store.config())!.secretThreshold, 4);
  });

  test('a rekey backup of the wrong shape is an integrity error', () => {
    assert.throws(() => SealStore.decodeBackup(new TextEncoder().encode('{"Nonce":"n","Keys":{"fp":[1]}}')), isIntegrity);
    assert.deepEqual(SealStore.decodeBackup(new TextEncoder().encode('{"Nonce":"n","Keys":{"fp":["ab"]}}')), { nonce: 'n', keys: { fp: ['ab'] } });
  });
});
