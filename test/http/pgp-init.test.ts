import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GpgHome } from '../helpers/gpg.js';
import { startTestServer } from '../helpers/test-server.js';

describe('init with PGP keys (real gpg)', () => {
  test('shares encrypted to three gpg keys decrypt with gpg to hex shares that unseal the server; the root token too', async (t) => {
    const gpg = await GpgHome.create(t);
    const holders = [];
    for (const name of ['op1', 'op2', 'op3']) holders.push(await gpg.generateKey(`${name}@example.com`));
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', {
      body: { secret_shares: 3, secret_threshold: 2, pgp_keys: holders.map((h) => h.base64), root_token_pgp_key: holders[0]!.base64 },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.keys.length, 3);
    res.body.keys.forEach((hex: string, i: number) => {
      assert.equal(Buffer.from(res.body.keys_base64[i], 'base64').toString('hex'), hex, 'keys is the hex of the same PGP message');
      assert.equal(Buffer.from(hex, 'hex')[0]! & 0xc0, 0xc0, 'a binary (not armored) OpenPGP packet');
    });

    const shares: string[] = [];
    for (const message of res.body.keys_base64) shares.push(await gpg.decryptBase64(message));
    for (const share of shares) assert.match(share, /^[0-9a-f]{66}$/);
    assert.equal(new Set(shares).size, 3);

    const rootToken = await gpg.decryptBase64(res.body.root_token);
    assert.match(rootToken, /^hvs\.[A-Za-z0-9]{24}$/);

    await server.api('PUT', 'sys/unseal', { body: { key: shares[2] } });
    const unsealed = await server.api('PUT', 'sys/unseal', { body: { key: shares[0] } });
    assert.equal(unsealed.body.sealed, false);
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).status, 200);
  });

  test('an armored key is accepted as well as base64 of the binary key', async (t) => {
    const gpg = await GpgHome.create(t);
    const holder = await gpg.generateKey('armored@example.com');
    const armored = (await gpg.gpg(['--armor', '--export', holder.email])).toString();
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, pgp_keys: [armored] } });
    assert.equal(res.status, 200, res.text);
    assert.match(await gpg.decryptBase64(res.body.keys_base64[0]), /^[0-9a-f]{64}$/);
  });

  test('a key without an encryption subkey is rejected with a clear message and nothing is initialised', async (t) => {
    const gpg = await GpgHome.create(t);
    const signer = await gpg.generateKey('signer@example.com', { signOnly: true });
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, pgp_keys: [signer.base64] } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { errors: [`error parsing given PGP key: key ${signer.fingerprint} has no usable encryption subkey`] });
    assert.deepEqual((await server.api('GET', 'sys/init')).body, { initialized: false });
  });
});
