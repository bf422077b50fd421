import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { b64, refused, transitServer, unb64 } from '../helpers/transit.js';

describe('transit hmac, hash and random', () => {
  test("hmac is HMAC under the version's exported hmac-key, in vault:vN: form; verify with hmac checks it", async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/mac', { exportable: true });
    const hmacKey = unb64((await ts.read('export/hmac-key/mac/1')).data.keys['1']);
    assert.equal(hmacKey.length, 32);
    const msg = Buffer.from('payload');
    for (const [path, body, nodeHash] of [
      ['hmac/mac', {}, 'sha256'],
      ['hmac/mac/sha2-512', {}, 'sha512'],
      ['hmac/mac', { algorithm: 'sha3-256' }, 'sha3-256'],
      ['hmac/mac', { algorithm: 'sha2-384' }, 'sha384'],
    ] as const) {
      const mac = (await ts.write(path, { input: b64(msg), ...body })).data.hmac;
      assert.equal(mac, `vault:v1:${createHmac(nodeHash, hmacKey).update(msg).digest('base64')}`, `${path} ${JSON.stringify(body)}`);
      const verifyPath = path.replace('hmac/', 'verify/');
      const verifyBody = 'algorithm' in body ? { hash_algorithm: body.algorithm } : {};
      assert.equal((await ts.write(verifyPath, { input: b64(msg), hmac: mac, ...verifyBody })).data.valid, true);
      assert.equal((await ts.write(verifyPath, { input: b64('payloaD'), hmac: mac, ...verifyBody })).data.valid, false);
    }
    // A new version has its own HMAC key; old HMACs still verify until min_decryption_version moves past them.
    const v1 = (await ts.write('hmac/mac', { input: b64(msg) })).data.hmac;
    await ts.write('keys/mac/rotate');
    const v2 = (await ts.write('hmac/mac', { input: b64(msg) })).data.hmac;
    assert.match(v2, /^vault:v2:/);
    assert.notEqual(v1.slice(9), v2.slice(9));
    assert.equal((await ts.write('verify/mac', { input: b64(msg), hmac: v1 })).data.valid, true);
    await ts.write('keys/mac/config', { min_decryption_version: 2 });
    assert.deepEqual(await refused(ts, 'verify/mac', { input: b64(msg), hmac: v1 }), [
      'cannot verify HMAC: version is too old (disallowed by policy)',
    ]);
    assert.deepEqual(await refused(ts, 'verify/mac', { input: b64(msg), hmac: 'vault:v9:AAAA' }), ['invalid HMAC: version is too new']);
    assert.deepEqual(await refused(ts, 'verify/mac', { input: b64(msg), hmac: v2, signature: 'vault:v1:AAAA' }), [
      "provide one of 'signature' or 'hmac'",
    ]);
    assert.deepEqual(await refused(ts, 'hmac/mac', {}), ['missing input for HMAC']);
    assert.deepEqual(await refused(ts, 'hmac/mac/md5', { input: b64(msg) }), ['unsupported algorithm "md5"']);
    assert.deepEqual(await refused(ts, 'hmac/none', { input: b64(msg) }), ['encryption key not found']);

    const batch = (await ts.write('hmac/mac', { batch_input: [{ input: b64('a'), reference: 'one' }, { input: b64('b') }] })).data.batch_results;
    assert.equal(batch[0].reference, 'one');
    const checked = (
      await ts.write('verify/mac', {
        batch_input: [
          { input: b64('a'), hmac: batch[0].hmac },
          { input: b64('a'), hmac: batch[1].hmac },
        ],
      })
    ).data;
    assert.deepEqual(checked.batch_results, [{ valid: true }, { valid: false }]);
  });

  test('every key type has an HMAC key, so asymmetric keys HMAC too', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/ed', { type: 'ed25519' });
    const mac = (await ts.write('hmac/ed', { input: b64('x') })).data.hmac;
    assert.equal((await ts.write('verify/ed', { input: b64('x'), hmac: mac })).data.valid, true);
  });

  test('hash matches node:crypto for every algorithm, in hex (default) and base64', async (t) => {
    const ts = await transitServer(t);
    const input = Buffer.from('The quick brown fox jumps over the lazy dog');
    const known = (await ts.write('hash', { input: b64(input) })).data.sum;
    assert.equal(known, 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592', 'the published SHA-256 of this sentence');
    for (const [name, nodeName] of [
      ['sha2-224', 'sha224'],
      ['sha2-256', 'sha256'],
      ['sha2-384', 'sha384'],
      ['sha2-512', 'sha512'],
      ['sha3-224', 'sha3-224'],
      ['sha3-256', 'sha3-256'],
      ['sha3-384', 'sha3-384'],
      ['sha3-512', 'sha3-512'],
    ] as const) {
      assert.equal((await ts.write(`hash/${name}`, { input: b64(input) })).data.sum, createHash(nodeName).update(input).digest('hex'), name);
      assert.equal(
        (await ts.write('hash', { input: b64(input), algorithm: name, format: 'base64' })).data.sum,
        createHash(nodeName).update(input).digest('base64'),
      );
    }
    assert.equal((await ts.write('hash', { input: '' })).data.sum, createHash('sha256').update('').digest('hex'));
    assert.deepEqual(await refused(ts, 'hash', {}), ['input missing']);
    assert.deepEqual(await refused(ts, 'hash/md5', { input: b64('x') }), ['unsupported algorithm md5']);
    assert.deepEqual(await refused(ts, 'hash', { input: b64('x'), format: 'raw' }), ['unsupported encoding format raw; must be "hex" or "base64"']);
    assert.deepEqual(await refused(ts, 'hash', { input: '%%%' }), ['unable to decode input as base64']);
  });

  test("random returns the requested number of bytes in base64 or hex, from the URL or the body, with Vault's limits", async (t) => {
    const ts = await transitServer(t);
    assert.equal(unb64((await ts.write('random')).data.random_bytes).length, 32);
    assert.equal(unb64((await ts.write('random/64')).data.random_bytes).length, 64);
    assert.equal(unb64((await ts.write('random', { bytes: 7 })).data.random_bytes).length, 7);
    const hex = (await ts.write('random/16', { format: 'hex' })).data.random_bytes;
    assert.match(hex, /^[0-9a-f]{32}$/);
    assert.equal(unb64((await ts.write('random/platform/48')).data.random_bytes).length, 48);
    assert.equal(unb64((await ts.write('random/all', { bytes: 5 })).data.random_bytes).length, 5);
    const seal = await ts.write('random/seal/8');
    assert.deepEqual(seal.warnings, ['no seal/entropy augmentation available, using platform entropy source']);
    const a = (await ts.write('random')).data.random_bytes;
    const b = (await ts.write('random')).data.random_bytes;
    assert.notEqual(a, b);
    assert.deepEqual(await refused(ts, 'random/0', {}), ["'bytes' cannot be less than 1"]);
    assert.deepEqual(await refused(ts, 'random', { bytes: 128 * 1024 + 1 }), ["'bytes' should be less than 131072"]);
    assert.deepEqual(await refused(ts, 'random/16', { format: 'raw' }), ['unsupported encoding format "raw"; must be "hex" or "base64"']);
    assert.deepEqual(await refused(ts, 'random/moon/16', {}), ['unsupported entropy source "moon"; must be "platform" or "seal", or "all"']);
  });
});
