import assert from 'node:assert/strict';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type CipherGCMTypes,
} from 'node:crypto';
import { describe, test } from 'node:test';
import { b64, refused, transitServer, unb64 } from '../helpers/transit.js';

const SYMMETRIC = [
  ['aes128-gcm96', 'aes-128-gcm', 16],
  ['aes256-gcm96', 'aes-256-gcm', 32],
  ['chacha20-poly1305', 'chacha20-poly1305', 32],
] as const;
const RSA = ['rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
const SIGNING_ONLY = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521'] as const;

describe('transit key types', () => {
  test("each symmetric type round-trips, and its ciphertext is Vault's nonce‖ciphertext‖tag that node:crypto opens with the exported key", async (t) => {
    const ts = await transitServer(t);
    for (const [type, cipher, keyBytes] of SYMMETRIC) {
      const created = await ts.write(`keys/${type}`, { type, exportable: true });
      assert.equal(created.data.type, type);
      assert.equal(typeof created.data.keys['1'], 'number', 'symmetric keys list creation times');
      assert.deepEqual([created.data.supports_encryption, created.data.supports_signing, created.data.supports_derivation], [true, false, true]);
      const enc = (await ts.write(`encrypt/${type}`, { plaintext: b64(`secret for ${type}`) })).data;
      assert.match(enc.ciphertext, /^vault:v1:[A-Za-z0-9+/]+=*$/);
      const dec = (await ts.write(`decrypt/${type}`, { ciphertext: enc.ciphertext })).data;
      assert.equal(unb64(dec.plaintext).toString(), `secret for ${type}`);

      const key = unb64((await ts.read(`export/encryption-key/${type}/1`)).data.keys['1']);
      assert.equal(key.length, keyBytes);
      const body = unb64(enc.ciphertext.slice('vault:v1:'.length));
      const decipher = createDecipheriv(cipher as CipherGCMTypes, key, body.subarray(0, 12), { authTagLength: 16 });
      decipher.setAuthTag(body.subarray(body.length - 16));
      assert.equal(Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString(), `secret for ${type}`);

      // And the other way: a ciphertext made by node:crypto in Vault's layout decrypts through Coffer.
      const nonce = randomBytes(12);
      const c = createCipheriv(cipher as CipherGCMTypes, key, nonce, { authTagLength: 16 });
      const made = Buffer.concat([nonce, c.update('from node'), c.final(), c.getAuthTag()]);
      const opened = (await ts.write(`decrypt/${type}`, { ciphertext: `vault:v1:${made.toString('base64')}` })).data;
      assert.equal(unb64(opened.plaintext).toString(), 'from node');
    }
  });

  test('associated_data is bound to symmetric ciphertexts: decrypting without it fails', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/aad', { type: 'chacha20-poly1305' });
    const ct = (await ts.write('encrypt/aad', { plaintext: b64('x'), associated_data: b64('row 7') })).data.ciphertext;
    assert.deepEqual(await refused(ts, 'decrypt/aad', { ciphertext: ct }), ['invalid ciphertext: unable to decrypt']);
    assert.deepEqual(await refused(ts, 'decrypt/aad', { ciphertext: ct, associated_data: b64('row 8') }), ['invalid ciphertext: unable to decrypt']);
    assert.equal(unb64((await ts.write('decrypt/aad', { ciphertext: ct, associated_data: b64('row 7') })).data.plaintext).toString(), 'x');
    assert.deepEqual(await refused(ts, 'encrypt/aad', { plaintext: b64('x'), nonce: b64('123456789012') }), ['nonce provided when not allowed']);
  });

  test('RSA keys encrypt with OAEP-SHA256 (opened by node:crypto with the exported key), decrypt, and sign', async (t) => {
    const ts = await transitServer(t);
    for (const type of RSA) {
      const created = (await ts.write(`keys/${type}`, { type, exportable: true })).data;
      assert.deepEqual(
        [created.supports_encryption, created.supports_decryption, created.supports_signing, created.supports_derivation],
        [true, true, true, false],
      );
      assert.equal(created.keys['1'].name, type);
      assert.match(created.keys['1'].public_key, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
      const bits = createPublicKey(created.keys['1'].public_key).asymmetricKeyDetails!.modulusLength;
      assert.equal(bits, Number(type.slice(4)));

      const ct = (await ts.write(`encrypt/${type}`, { plaintext: b64('rsa secret') })).data.ciphertext;
      assert.match(ct, /^vault:v1:/);
      assert.equal(unb64((await ts.write(`decrypt/${type}`, { ciphertext: ct })).data.plaintext).toString(), 'rsa secret');
      const pem = (await ts.read(`export/encryption-key/${type}`)).data.keys['1'];
      assert.match(pem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
      const priv = createPrivateKey(pem);
      const opened = privateDecrypt(
        { key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        unb64(ct.slice('vault:v1:'.length)),
      );
      assert.equal(opened.toString(), 'rsa secret');
      const fromNode = publicEncrypt(
        { key: createPublicKey(priv), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from('made by node'),
      );
      const back = (await ts.write(`decrypt/${type}`, { ciphertext: `vault:v1:${fromNode.toString('base64')}` })).data.plaintext;
      assert.equal(unb64(back).toString(), 'made by node');

      const sig = (await ts.write(`sign/${type}`, { input: b64('msg') })).data.signature;
      assert.equal((await ts.write(`verify/${type}`, { input: b64('msg'), signature: sig })).data.valid, true);
      assert.deepEqual(await refused(ts, `decrypt/${type}`, { ciphertext: `${ct.slice(0, -8)}AAAAAAA=` }), ['invalid ciphertext: unable to decrypt']);
    }
  });

  test('ed25519 and ECDSA keys sign and verify, show their public keys, and refuse encryption', async (t) => {
    const ts = await transitServer(t);
    for (const type of SIGNING_ONLY) {
      const created = (await ts.write(`keys/${type}`, { type })).data;
      assert.deepEqual([created.supports_encryption, created.supports_signing, created.supports_derivation], [false, true, type === 'ed25519']);
      const entry = created.keys['1'];
      assert.equal(entry.name, { ed25519: 'ed25519', 'ecdsa-p256': 'P-256', 'ecdsa-p384': 'P-384', 'ecdsa-p521': 'P-521' }[type]);
      assert.match(entry.creation_time, /^\d{4}-\d\d-\d\dT/);
      if (type === 'ed25519') assert.equal(unb64(entry.public_key).length, 32);
      else assert.match(entry.public_key, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----$/);

      const sig = (await ts.write(`sign/${type}`, { input: b64('hello') })).data;
      assert.match(sig.signature, /^vault:v1:[A-Za-z0-9+/]+=*$/);
      assert.equal(sig.key_version, 1);
      assert.equal((await ts.write(`verify/${type}`, { input: b64('hello'), signature: sig.signature })).data.valid, true);
      assert.equal((await ts.write(`verify/${type}`, { input: b64('hellO'), signature: sig.signature })).data.valid, false);
      assert.deepEqual(await refused(ts, `encrypt/${type}`, { plaintext: b64('x') }), [`message encryption not supported for key type ${type}`]);
      assert.deepEqual(await refused(ts, `decrypt/${type}`, { ciphertext: 'vault:v1:AAAA' }), [
        `message decryption not supported for key type ${type}`,
      ]);
      const exported = await ts.server.api('GET', `transit/export/signing-key/${type}`, { token: ts.root });
      assert.deepEqual([exported.status, exported.body], [400, { errors: ['private key material is not exportable'] }]);
    }
    assert.deepEqual(await refused(ts, 'sign/aes256-none', { input: b64('x') }), ['signing key not found']);
    await ts.write('keys/sym', {});
    assert.deepEqual(await refused(ts, 'sign/sym', { input: b64('x') }), ['key type aes256-gcm96 does not support signing']);
    assert.deepEqual(await refused(ts, 'verify/sym', { input: b64('x'), signature: 'vault:v1:AAAA' }), [
      'key type aes256-gcm96 does not support verification',
    ]);
  });

  test('rotation adds a version of the same type; old signatures and ciphertexts still verify and decrypt', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/ec', { type: 'ecdsa-p256' });
    await ts.write('keys/rsa', { type: 'rsa-2048' });
    const sig1 = (await ts.write('sign/ec', { input: b64('m') })).data.signature;
    const ct1 = (await ts.write('encrypt/rsa', { plaintext: b64('p') })).data.ciphertext;
    const rotated = (await ts.write('keys/ec/rotate')).data;
    await ts.write('keys/rsa/rotate');
    assert.notEqual(rotated.keys['1'].public_key, rotated.keys['2'].public_key);
    const sig2 = (await ts.write('sign/ec', { input: b64('m') })).data;
    assert.match(sig2.signature, /^vault:v2:/);
    assert.equal(sig2.key_version, 2);
    assert.equal((await ts.write('verify/ec', { input: b64('m'), signature: sig1 })).data.valid, true);
    assert.match((await ts.write('sign/ec', { input: b64('m'), key_version: 1 })).data.signature, /^vault:v1:/);
    assert.equal(unb64((await ts.write('decrypt/rsa', { ciphertext: ct1 })).data.plaintext).toString(), 'p');
    await ts.write('keys/ec/config', { min_decryption_version: 2 });
    assert.deepEqual(await refused(ts, 'verify/ec', { input: b64('m'), signature: sig1 }), [
      'ciphertext or signature version is disallowed by policy (too old)',
    ]);
    assert.deepEqual(await refused(ts, 'verify/ec', { input: b64('m'), signature: sig1.replace('vault:v1:', 'vault:v3:') }), [
      'invalid signature: version is too new',
    ]);
  });
});
