import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { aeadOpen, aeadSeal } from '../../server/core/barrier/aead.js';
import { AesGcmBarrier, encryptKeyring, KEYRING_PATH, UNCLEAN_STOP_MARGIN } from '../../server/core/barrier/aes-gcm-barrier.js';
import { Keyring } from '../../server/core/barrier/keyring.js';
import { isCofferError } from '../../server/core/errors.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const key = () => new Uint8Array(randomBytes(32));

async function unsealedBarrier() {
  const storage = new InmemBackend();
  const rootKey = key();
  await storage.batch([encryptKeyring(rootKey, Keyring.create(key(), new Date('2026-01-01T00:00:00Z')))]);
  const barrier = new AesGcmBarrier(storage);
  await barrier.unseal(rootKey);
  return { storage, barrier, rootKey };
}

const PLAINTEXT = 'the launch codes are 0000';

describe('barrier security properties', () => {
  test('stored bytes differ from the plaintext and do not contain it', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    const raw = (await storage.get('secret/a'))!;
    assert.ok(!Buffer.from(raw).includes(Buffer.from(PLAINTEXT)));
    assert.equal(new TextDecoder().decode(await barrier.get('secret/a')), PLAINTEXT);
  });

  test('the same plaintext encrypts differently each time (random nonce)', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('a', bytes(PLAINTEXT));
    await barrier.put('b', bytes(PLAINTEXT));
    assert.notDeepEqual(await storage.get('a'), await storage.get('b'));
  });

  test('the entry header is term (u32 big-endian) then version 2, and the entry is 33 bytes longer than the plaintext', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('a', bytes(PLAINTEXT));
    const raw = (await storage.get('a'))!;
    assert.deepEqual([...raw.subarray(0, 5)], [0, 0, 0, 1, 2]);
    assert.equal(raw.length, bytes(PLAINTEXT).length + 33);
  });

  test('flipping any single byte of a stored entry makes the read fail with an integrity error', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    const raw = (await storage.get('secret/a'))!;
    for (let i = 0; i < raw.length; i++) {
      const tampered = raw.slice();
      tampered[i]! ^= 0x01;
      await storage.put('secret/a', tampered);
      await assert.rejects(barrier.get('secret/a'), (err) => isCofferError(err, 'integrity'), `byte ${i}`);
    }
  });

  test('every truncation of a stored entry fails with an integrity error', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    const raw = (await storage.get('secret/a'))!;
    for (let length = 0; length < raw.length; length++) {
      await storage.put('secret/a', raw.slice(0, length));
      await assert.rejects(barrier.get('secret/a'), (err) => isCofferError(err, 'integrity'), `length ${length}`);
    }
  });

  test('an entry copied to another path fails to decrypt there', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    await storage.put('secret/b', (await storage.get('secret/a'))!);
    await assert.rejects(barrier.get('secret/b'), (err) => isCofferError(err, 'integrity'));
  });

  test('an entry naming an unknown term fails with "no decryption key available for term"', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    const raw = (await storage.get('secret/a'))!;
    new DataView(raw.buffer, raw.byteOffset).setUint32(0, 999);
    await storage.put('secret/a', raw);
    await assert.rejects(barrier.get('secret/a'), (err) => isCofferError(err, 'integrity') && /term 999/.test(err.message));
  });

  test('an entry with another format version is rejected', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    for (const version of [1, 3]) {
      const stored = (await storage.get('secret/a'))!.slice();
      stored[4] = version;
      await storage.put('secret/b', stored);
      await assert.rejects(barrier.get('secret/b'), (err) => isCofferError(err, 'integrity') && /version/.test(err.message));
    }
  });

  test('an existence check decrypts nothing: true for a stored entry even one that no longer authenticates, false for a missing path', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('secret/a', bytes(PLAINTEXT));
    await storage.put('secret/b', (await storage.get('secret/a'))!); // a copy that does not authenticate at its path
    assert.equal(await barrier.has('secret/a'), true);
    assert.equal(await barrier.has('secret/b'), true);
    assert.equal(await barrier.has('secret/c'), false);
    await assert.rejects(barrier.get('secret/b'), (err) => isCofferError(err, 'integrity'));
  });

  test('a wrong root key cannot unseal and a sealed barrier refuses every operation', async () => {
    const { storage, barrier } = await unsealedBarrier();
    await barrier.put('a', bytes('v'));
    barrier.seal();
    assert.equal(barrier.sealed, true);
    await assert.rejects(barrier.get('a'), (err) => isCofferError(err, 'sealed'));
    await assert.rejects(barrier.put('a', bytes('w')), (err) => isCofferError(err, 'sealed'));
    await assert.rejects(barrier.list(''), (err) => isCofferError(err, 'sealed'));
    await assert.rejects(barrier.has('a'), (err) => isCofferError(err, 'sealed'));
    const other = new AesGcmBarrier(storage);
    await assert.rejects(other.unseal(key()), (err) => isCofferError(err, 'invalid_key'));
  });

  test('a tampered keyring entry is rejected at unseal', async () => {
    const { storage, rootKey } = await unsealedBarrier();
    const raw = (await storage.get(KEYRING_PATH))!;
    raw[raw.length - 1]! ^= 0xff;
    await storage.put(KEYRING_PATH, raw);
    await assert.rejects(new AesGcmBarrier(storage).unseal(rootKey), (err) => isCofferError(err, 'invalid_key'));
  });

  test('data survives seal and unseal with the same root key', async () => {
    const { barrier, rootKey } = await unsealedBarrier();
    await barrier.put('a/b', bytes(PLAINTEXT));
    barrier.seal();
    await barrier.unseal(rootKey);
    assert.equal(new TextDecoder().decode(await barrier.get('a/b')), PLAINTEXT);
    assert.deepEqual(await barrier.list('a/'), ['b']);
  });
});

describe('the AEAD module', () => {
  test('every seal gets a fresh nonce, across refills of the nonce pool', () => {
    const key = new Uint8Array(32).fill(1);
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(Buffer.from(aeadSeal(key, new Uint8Array([i & 255]), new Uint8Array()).subarray(0, 12)).toString('hex'));
    assert.equal(seen.size, 3000);
  });

  test('accepts exactly 32-byte keys', () => {
    for (const length of [0, 16, 23, 24, 31, 33]) {
      assert.throws(
        () => aeadSeal(new Uint8Array(length), bytes('x'), bytes('')),
        (err) => isCofferError(err, 'internal'),
        `length ${length}`,
      );
    }
  });

  test('opening with another key or other associated data fails with one opaque error', () => {
    const k = key();
    const sealed = aeadSeal(k, bytes('hello'), bytes('path/a'));
    assert.equal(new TextDecoder().decode(aeadOpen(k, sealed, bytes('path/a'))), 'hello');
    assert.throws(
      () => aeadOpen(key(), sealed, bytes('path/a')),
      (err) => isCofferError(err, 'integrity'),
    );
    assert.throws(
      () => aeadOpen(k, sealed, bytes('path/b')),
      (err) => isCofferError(err, 'integrity'),
    );
    assert.throws(
      () => aeadOpen(k, sealed.subarray(0, 27), bytes('path/a')),
      (err) => isCofferError(err, 'integrity'),
    );
  });
});

describe('the keyring', () => {
  test('serialises and deserialises every term, install time, count and rotation setting', () => {
    const k1 = key();
    const k2 = key();
    const ring = Keyring.create(k1, new Date('2026-01-01T00:00:00.123Z')).withNewTerm(k2, new Date('2026-02-01T00:00:00Z')).withEncryptions(2, 42);
    const copy = Keyring.deserialize(ring.serialize());
    assert.equal(copy.activeTerm, 2);
    assert.deepEqual(copy.terms, [1, 2]);
    assert.deepEqual(copy.keyFor(1), k1);
    assert.deepEqual(copy.keyFor(2), k2);
    assert.equal(copy.termInfo(1)!.installTime.toISOString(), '2026-01-01T00:00:00.123Z');
    assert.equal(copy.termInfo(2)!.encryptions, 42);
    assert.deepEqual(copy.rotation, ring.rotation);
  });

  test('a derived keyring owns copies of the keys, so destroying one leaves the other intact', () => {
    const k1 = key();
    const first = Keyring.create(k1, new Date());
    const second = first.withNewTerm(key(), new Date());
    first.destroy();
    assert.deepEqual(first.keyFor(1), new Uint8Array(32));
    assert.deepEqual(second.keyFor(1), k1);
    k1.fill(0);
    assert.notDeepEqual(second.keyFor(1), new Uint8Array(32));
  });

  test('malformed keyring bytes fail with an integrity error, never a crash', () => {
    const good = Keyring.create(key(), new Date()).serialize();
    for (const bad of [new Uint8Array(0), new Uint8Array([9]), good.subarray(0, good.length - 1), new Uint8Array([1, 0, 0, 0, 2, 123, 125])]) {
      assert.throws(
        () => Keyring.deserialize(bad),
        (err) => isCofferError(err, 'integrity'),
      );
    }
  });
});

describe('unclean stops are reported, not only counted', () => {
  test('unseal after a crash says the stop was unclean, raises the count by the margin and reports it to its events', async () => {
    const { storage, barrier, rootKey } = await unsealedBarrier();
    await barrier.put('a', bytes(PLAINTEXT));
    // A crash: the process is gone without sealing; a new barrier opens the same storage.
    const reported: unknown[] = [];
    const restarted = new AesGcmBarrier(storage, { uncleanStop: (outcome) => reported.push(outcome) });
    const outcome = await restarted.unseal(rootKey);
    assert.deepEqual(outcome, { uncleanStop: true, marginAdded: UNCLEAN_STOP_MARGIN, term: 1, encryptions: UNCLEAN_STOP_MARGIN });
    assert.deepEqual(reported, [outcome]);
    assert.equal(restarted.keyStatus().encryptions, UNCLEAN_STOP_MARGIN);
  });

  test('unseal after a clean seal reports a clean stop and adds nothing', async () => {
    const { storage, barrier, rootKey } = await unsealedBarrier();
    await barrier.put('a', bytes(PLAINTEXT));
    await barrier.persistEncryptions(true);
    barrier.seal();
    const reported: unknown[] = [];
    const outcome = await new AesGcmBarrier(storage, { uncleanStop: (o) => reported.push(o) }).unseal(rootKey);
    assert.deepEqual(outcome, { uncleanStop: false, marginAdded: 0, term: 1, encryptions: 1 });
    assert.deepEqual(reported, []);
  });
});
