import assert from 'node:assert/strict';
import { createDecipheriv, createHmac, createPublicKey, hkdfSync, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { b64, refused, transitServer, unb64 } from '../helpers/transit.js';

const openGcm = (key: Uint8Array, body: Buffer, cipher: 'aes-256-gcm' | 'aes-128-gcm' = 'aes-256-gcm') => {
  const d = createDecipheriv(cipher, key, body.subarray(0, 12), { authTagLength: 16 });
  d.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]).toString();
};
const bodyOf = (ciphertext: string) => unb64(ciphertext.replace(/^vault:v\d+:/, ''));

describe('transit derived and convergent keys', () => {
  test('a derived key encrypts per context with HKDF-SHA256(key, info = context), as Vault; another context cannot decrypt', async (t) => {
    const ts = await transitServer(t);
    const created = (await ts.write('keys/tenant', { derived: true, exportable: true })).data;
    assert.deepEqual([created.derived, created.kdf, created.convergent_encryption], [true, 'hkdf_sha256', false]);
    const missing = await refused(ts, 'encrypt/tenant', { plaintext: b64('x') });
    assert.match(missing[0]!, /^missing 'context' for key derivation/);
    const ctA = (await ts.write('encrypt/tenant', { plaintext: b64('for A'), context: b64('tenant-a') })).data.ciphertext;
    assert.equal(unb64((await ts.write('decrypt/tenant', { ciphertext: ctA, context: b64('tenant-a') })).data.plaintext).toString(), 'for A');
    assert.deepEqual(await refused(ts, 'decrypt/tenant', { ciphertext: ctA, context: b64('tenant-b') }), ['invalid ciphertext: unable to decrypt']);

    const base = unb64((await ts.read('export/encryption-key/tenant/1')).data.keys['1']);
    const derived = new Uint8Array(hkdfSync('sha256', base, new Uint8Array(0), Buffer.from('tenant-a'), 32));
    assert.equal(openGcm(derived, bodyOf(ctA)), 'for A');

    // Batch items carry their own contexts.
    const batch = (
      await ts.write('encrypt/tenant', {
        batch_input: [{ plaintext: b64('1'), context: b64('c1') }, { plaintext: b64('2'), context: b64('c2') }, { plaintext: b64('3') }],
      })
    ).data.batch_results;
    assert.match(batch[2].error, /^missing 'context'/);
    const back = (
      await ts.write('decrypt/tenant', {
        batch_input: [
          { ciphertext: batch[0].ciphertext, context: b64('c1') },
          { ciphertext: batch[1].ciphertext, context: b64('c2') },
        ],
      })
    ).data.batch_results;
    assert.deepEqual(
      back.map((r: { plaintext: string }) => unb64(r.plaintext).toString()),
      ['1', '2'],
    );
  });

  test("convergent encryption is deterministic per plaintext and context, with Vault's v3 nonce (HMAC of the plaintext)", async (t) => {
    const ts = await transitServer(t);
    assert.deepEqual(await refused(ts, 'keys/conv', { convergent_encryption: true }), ['convergent encryption requires derivation to be enabled']);
    const created = (await ts.write('keys/conv', { derived: true, convergent_encryption: true, exportable: true })).data;
    assert.deepEqual([created.convergent_encryption, created.convergent_encryption_version], [true, 3]);
    const enc = async (plaintext: string, context: string) =>
      (await ts.write('encrypt/conv', { plaintext: b64(plaintext), context: b64(context) })).data.ciphertext as string;
    const first = await enc('ssn 123', 'users');
    assert.equal(await enc('ssn 123', 'users'), first, 'same plaintext and context → same ciphertext');
    assert.notEqual(await enc('ssn 124', 'users'), first);
    assert.notEqual(await enc('ssn 123', 'admins'), first);

    const base = unb64((await ts.read('export/encryption-key/conv/1')).data.keys['1']);
    const material = Buffer.from(hkdfSync('sha256', base, new Uint8Array(0), Buffer.from('users'), 64));
    const nonce = createHmac('sha256', material.subarray(32)).update('ssn 123').digest().subarray(0, 12);
    assert.deepEqual(bodyOf(first).subarray(0, 12), nonce);
    assert.equal(openGcm(material.subarray(0, 32), bodyOf(first)), 'ssn 123');
    assert.equal(unb64((await ts.write('decrypt/conv', { ciphertext: first, context: b64('users') })).data.plaintext).toString(), 'ssn 123');

    // AES-128: the derived material is 16 key bytes then 32 HMAC bytes.
    await ts.write('keys/conv128', { type: 'aes128-gcm96', derived: true, convergent_encryption: true, exportable: true });
    const c128 = (await ts.write('encrypt/conv128', { plaintext: b64('v'), context: b64('ctx') })).data.ciphertext;
    const base128 = unb64((await ts.read('export/encryption-key/conv128/1')).data.keys['1']);
    const m128 = Buffer.from(hkdfSync('sha256', base128, new Uint8Array(0), Buffer.from('ctx'), 48));
    assert.equal(openGcm(m128.subarray(0, 16), bodyOf(c128), 'aes-128-gcm'), 'v');
    assert.deepEqual(bodyOf(c128).subarray(0, 12), createHmac('sha256', m128.subarray(16)).update('v').digest().subarray(0, 12));
  });

  test('derivation is refused for key types that do not support it; encrypt with a context creates a derived key', async (t) => {
    const ts = await transitServer(t);
    assert.deepEqual(await refused(ts, 'keys/ec', { type: 'ecdsa-p256', derived: true }), [
      'key derivation is not supported for key type ecdsa-p256',
    ]);
    assert.deepEqual(await refused(ts, 'keys/ed', { type: 'ed25519', derived: true, convergent_encryption: true }), [
      'convergent encryption is not supported for key type ed25519',
    ]);
    await ts.write('encrypt/auto', { plaintext: b64('x'), context: b64('c') });
    assert.equal((await ts.read('keys/auto')).data.derived, true);
  });

  test('a derived ed25519 key signs per context and returns the derived public key, which node:crypto verifies with', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/ed', { type: 'ed25519', derived: true });
    assert.match((await refused(ts, 'sign/ed', { input: b64('m') }))[0]!, /^missing 'context'/);
    const signed = (await ts.write('sign/ed', { input: b64('m'), context: b64('device-1') })).data;
    assert.equal(unb64(signed.public_key).length, 32);
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: unb64(signed.public_key).toString('base64url') }, format: 'jwk' });
    assert.ok(verify(null, Buffer.from('m'), pub, unb64(signed.signature.slice('vault:v1:'.length))));
    assert.equal((await ts.write('verify/ed', { input: b64('m'), signature: signed.signature, context: b64('device-1') })).data.valid, true);
    assert.equal((await ts.write('verify/ed', { input: b64('m'), signature: signed.signature, context: b64('device-2') })).data.valid, false);
    // keys/:name shows no public key without a context, the derived one with it.
    assert.equal((await ts.read('keys/ed')).data.keys['1'].public_key, '');
    assert.equal((await ts.read(`keys/ed?context=${encodeURIComponent(b64('device-1'))}`)).data.keys['1'].public_key, signed.public_key);
  });
});
