import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants, createHash, createPrivateKey, createPublicKey, publicDecrypt, sign, verify, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/test-server.js';
import { b64, refused, transitServer, unb64, type TransitServer } from '../helpers/transit.js';

const run = promisify(execFile);
const sigBytes = (signature: string, encoding: 'base64' | 'base64url' = 'base64') => Buffer.from(signature.replace(/^vault:v\d+:/, ''), encoding);

async function exportedPublic(ts: TransitServer, name: string): Promise<KeyObject> {
  const key = (await ts.read(`export/public-key/${name}/1`)).data.keys['1'] as string;
  if (!key.startsWith('-----')) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: unb64(key).toString('base64url') }, format: 'jwk' });
  return createPublicKey(key);
}

async function exportedPrivate(ts: TransitServer, name: string): Promise<KeyObject> {
  const key = (await ts.read(`export/signing-key/${name}/1`)).data.keys['1'] as string;
  if (key.startsWith('-----')) return createPrivateKey(key);
  // Vault's ed25519 signing key: base64 of seed ‖ public key.
  const seed = unb64(key).subarray(0, 32);
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
}

async function opensslAvailable(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('transit signatures interoperate with node:crypto and openssl', () => {
  test('signatures made by Coffer verify with node:crypto on the exported public key (each type, hash, marshaling and RSA padding)', async (t) => {
    const ts = await transitServer(t);
    const msg = Buffer.from('the quick brown fox');
    for (const type of ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521', 'rsa-2048']) await ts.write(`keys/${type}`, { type });
    const cases: Array<[string, Record<string, unknown>, (sig: string, pub: KeyObject) => boolean]> = [
      ['sign/ed25519', {}, (s, pub) => verify(null, msg, pub, sigBytes(s))],
      ['sign/ecdsa-p256', {}, (s, pub) => verify('sha256', msg, pub, sigBytes(s))],
      ['sign/ecdsa-p256/sha2-384', {}, (s, pub) => verify('sha384', msg, pub, sigBytes(s))],
      ['sign/ecdsa-p256', { hash_algorithm: 'sha3-256' }, (s, pub) => verify('sha3-256', msg, pub, sigBytes(s))],
      [
        'sign/ecdsa-p256',
        { marshaling_algorithm: 'jws' },
        (s, pub) => verify('sha256', msg, { key: pub, dsaEncoding: 'ieee-p1363' }, sigBytes(s, 'base64url')),
      ],
      ['sign/ecdsa-p384', { hash_algorithm: 'sha2-384' }, (s, pub) => verify('sha384', msg, pub, sigBytes(s))],
      [
        'sign/ecdsa-p521',
        { hash_algorithm: 'sha2-512', marshaling_algorithm: 'jws' },
        (s, pub) => verify('sha512', msg, { key: pub, dsaEncoding: 'ieee-p1363' }, sigBytes(s, 'base64url')),
      ],
      [
        'sign/rsa-2048',
        {},
        (s, pub) =>
          verify('sha256', msg, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sigBytes(s)),
      ],
      [
        'sign/rsa-2048/sha2-512',
        { salt_length: 'hash' },
        (s, pub) => verify('sha512', msg, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, sigBytes(s)),
      ],
      ['sign/rsa-2048', { signature_algorithm: 'pkcs1v15', hash_algorithm: 'sha2-224' }, (s, pub) => verify('sha224', msg, pub, sigBytes(s))],
    ];
    for (const [p, options, check] of cases) {
      const signature = (await ts.write(p, { input: b64(msg), ...options })).data.signature as string;
      const name = p.split('/')[1]!;
      assert.ok(check(signature, await exportedPublic(ts, name)), `${p} ${JSON.stringify(options)}`);
      assert.equal((await ts.write(p.replace('sign/', 'verify/'), { input: b64(msg), signature, ...options })).data.valid, true, `${p} verify`);
    }
    // jws signatures are url-safe base64 without padding, of the fixed r‖s length.
    const jws = (await ts.write('sign/ecdsa-p384', { input: b64(msg), marshaling_algorithm: 'jws', hash_algorithm: 'sha2-384' })).data.signature;
    assert.match(jws, /^vault:v1:[A-Za-z0-9_-]{128}$/);
  });

  test('signatures made by node:crypto with the exported private key verify through Coffer; a changed message does not', async (t) => {
    const ts = await transitServer(t);
    const msg = Buffer.from('signed outside');
    for (const type of ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072']) await ts.write(`keys/${type}`, { type, exportable: true });
    const cases: Array<[string, Record<string, unknown>, (priv: KeyObject) => string]> = [
      ['ed25519', {}, (k) => sign(null, msg, k).toString('base64')],
      ['ecdsa-p256', {}, (k) => sign('sha256', msg, k).toString('base64')],
      ['ecdsa-p256', { marshaling_algorithm: 'jws' }, (k) => sign('sha256', msg, { key: k, dsaEncoding: 'ieee-p1363' }).toString('base64url')],
      ['ecdsa-p384', { hash_algorithm: 'sha2-512' }, (k) => sign('sha512', msg, k).toString('base64')],
      ['rsa-3072', {}, (k) => sign('sha256', msg, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64')],
      ['rsa-3072', { signature_algorithm: 'pkcs1v15', hash_algorithm: 'sha2-384' }, (k) => sign('sha384', msg, k).toString('base64')],
    ];
    for (const [name, options, make] of cases) {
      const signature = `vault:v1:${make(await exportedPrivate(ts, name))}`;
      assert.equal(
        (await ts.write(`verify/${name}`, { input: b64(msg), signature, ...options })).data.valid,
        true,
        `${name} ${JSON.stringify(options)}`,
      );
      assert.equal((await ts.write(`verify/${name}`, { input: b64('signed outsidE'), signature, ...options })).data.valid, false);
    }
  });

  test('openssl verifies an ECDSA and an RSA-PSS signature made by Coffer, and Coffer verifies ones openssl made', async (t) => {
    if (!(await opensslAvailable())) return t.skip('openssl is not installed');
    const ts = await transitServer(t);
    const dir = await tempDir(t);
    const msgFile = path.join(dir, 'msg');
    await writeFile(msgFile, 'openssl interop');
    for (const type of ['ecdsa-p256', 'rsa-2048']) {
      await ts.write(`keys/${type}`, { type, exportable: true });
      const pubFile = path.join(dir, `${type}.pub.pem`);
      const keyFile = path.join(dir, `${type}.key.pem`);
      await writeFile(pubFile, (await ts.read(`export/public-key/${type}/1`)).data.keys['1']);
      await writeFile(keyFile, `${(await ts.read(`export/signing-key/${type}/1`)).data.keys['1'].trim()}\n`, { mode: 0o600 });
      const pss = type.startsWith('rsa') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-2'] : [];
      const signature = (await ts.write(`sign/${type}`, { input: b64('openssl interop') })).data.signature;
      const sigFile = path.join(dir, `${type}.sig`);
      await writeFile(sigFile, sigBytes(signature));
      const checked = await run('openssl', ['dgst', '-sha256', ...pss, '-verify', pubFile, '-signature', sigFile, msgFile]);
      assert.match(checked.stdout, /Verified OK/);

      const madeFile = path.join(dir, `${type}.openssl.sig`);
      const signPss = type.startsWith('rsa') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
      await run('openssl', ['dgst', '-sha256', ...signPss, '-sign', keyFile, '-out', madeFile, msgFile]);
      const madeSig = `vault:v1:${(await readFile(madeFile)).toString('base64')}`;
      assert.equal((await ts.write(`verify/${type}`, { input: b64('openssl interop'), signature: madeSig })).data.valid, true, type);
    }
  });

  test('prehashed RSA PKCS#1 v1.5 signs a given digest (and hash_algorithm=none signs raw bytes); other prehashed uses are refused', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/rsa', { type: 'rsa-2048' });
    await ts.write('keys/ec', { type: 'ecdsa-p256' });
    const msg = Buffer.from('document');
    const digest = createHash('sha256').update(msg).digest();
    const options = { prehashed: true, signature_algorithm: 'pkcs1v15' };
    const signature = (await ts.write('sign/rsa', { input: b64(digest), ...options })).data.signature;
    const pub = createPublicKey((await ts.read('keys/rsa')).data.keys['1'].public_key);
    assert.ok(
      verify('sha256', msg, { key: pub, padding: constants.RSA_PKCS1_PADDING }, sigBytes(signature)),
      'equals a PKCS#1 v1.5 signature of the message',
    );
    assert.equal((await ts.write('verify/rsa', { input: b64(digest), signature, ...options })).data.valid, true);
    assert.equal(
      (await ts.write('verify/rsa', { input: b64(createHash('sha256').update('other').digest()), signature, ...options })).data.valid,
      false,
    );
    assert.deepEqual(await refused(ts, 'sign/rsa', { input: b64('short'), ...options }), ['prehashed input must be a sha2-256 digest of 32 bytes']);

    const raw = (await ts.write('sign/rsa/none', { input: b64('raw payload'), ...options })).data.signature;
    assert.equal(publicDecrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, sigBytes(raw)).toString(), 'raw payload');
    assert.equal((await ts.write('verify/rsa/none', { input: b64('raw payload'), signature: raw, ...options })).data.valid, true);

    assert.deepEqual(await refused(ts, 'sign/rsa/none', { input: b64('x') }), [
      'hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15',
    ]);
    assert.deepEqual(await refused(ts, 'sign/ec', { input: b64(digest), prehashed: true }), [
      'prehashed=true is not supported for ECDSA keys; send the input and a hash_algorithm',
    ]);
    assert.deepEqual(await refused(ts, 'sign/rsa', { input: b64(digest), prehashed: true }), [
      'prehashed=true is supported for RSA keys only with signature_algorithm=pkcs1v15',
    ]);
    assert.deepEqual(await refused(ts, 'sign/ec', { input: b64('x'), hash_algorithm: 'md5' }), ['invalid hash algorithm "md5"']);
    assert.deepEqual(await refused(ts, 'sign/ec', { input: b64('x'), marshaling_algorithm: 'der' }), ['invalid marshaling type "der"']);
    assert.deepEqual(await refused(ts, 'sign/ec', { input: b64('x'), signature_algorithm: 'pkcs1v15' }), [
      'signature_algorithm applies to RSA keys only',
    ]);
    assert.deepEqual(await refused(ts, 'sign/rsa', { input: b64('x'), salt_length: 1000 }), ['requested salt length 1000 is invalid']);
    await ts.write('keys/ed', { type: 'ed25519' });
    assert.deepEqual(await refused(ts, 'sign/ed/sha2-512', { input: b64('x') }), [
      'hash_algorithm sha2-512 does not apply to ed25519 keys, which sign the input itself; leave it unset',
    ]);
  });

  test('batch sign and verify answer per item with references; bad items fail alone', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/ec', { type: 'ecdsa-p256' });
    const signed = (
      await ts.write('sign/ec', { batch_input: [{ input: b64('a'), reference: 'ra' }, { input: '!!!', reference: 'rb' }, { input: b64('c') }] })
    ).data.batch_results;
    assert.equal(signed[0].reference, 'ra');
    assert.match(signed[0].signature, /^vault:v1:/);
    assert.deepEqual(signed[1], { error: 'unable to decode input as base64', reference: 'rb' });
    const checked = (
      await ts.write('verify/ec', {
        batch_input: [
          { input: b64('a'), signature: signed[0].signature, reference: 'x' },
          { input: b64('a'), signature: signed[2].signature },
          { input: b64('a'), signature: 'nope' },
        ],
      })
    ).data.batch_results;
    assert.deepEqual(checked, [{ valid: true, reference: 'x' }, { valid: false }, { error: 'invalid signature: no prefix' }]);
    assert.deepEqual(await refused(ts, 'verify/ec', { input: b64('a') }), ["neither a 'signature' nor an 'hmac' were given to verify"]);
    assert.deepEqual(await refused(ts, 'verify/ec', { batch_input: [{ input: b64('a'), signature: 'x' }, { input: b64('a') }] }), [
      "some elements of batch_input are missing 'signature'",
    ]);
  });
});
