import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

describe('sys/unseal (behaviours 4–6)', () => {
  test('each distinct share raises progress under one nonce; a repeated share is a no-op 200', async (t) => {
    const server = await startTestServer(t);
    const { keys } = await initServer(server, 5, 3);
    const first = await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(first.status, 200);
    assert.equal(first.body.progress, 1);
    assert.match(first.body.nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const repeat = await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.progress, 1);
    assert.equal(repeat.body.nonce, first.body.nonce);
    const second = await server.api('PUT', 'sys/unseal', { body: { key: keys[1] } });
    assert.equal(second.body.progress, 2);
    assert.equal(second.body.nonce, first.body.nonce);
    assert.equal((await server.api('GET', 'sys/seal-status')).body.progress, 2);
  });

  test('reset zeroes progress and nonce while sealed, and is refused with "vault is unsealed" once unsealed', async (t) => {
    const server = await startTestServer(t);
    const { keys } = await initServer(server, 5, 3);
    await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    const reset = await server.api('PUT', 'sys/unseal', { body: { reset: true } });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.progress, 0);
    assert.equal(reset.body.nonce, '');
    const fresh = await server.api('PUT', 'sys/unseal', { body: { key: keys[1] } });
    assert.equal(fresh.body.progress, 1);
    await unsealServer(server, [keys[2]!, keys[3]!]);
    const refused = await server.api('PUT', 'sys/unseal', { body: { reset: true } });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { errors: ['vault is unsealed'] });
  });

  test('hex in either case and base64 of the same shares all unseal; "Key" is accepted for "key"', async (t) => {
    const server = await startTestServer(t);
    const { keys, keysBase64 } = await initServer(server, 5, 3);
    await server.api('PUT', 'sys/unseal', { body: { key: keys[0]!.toUpperCase() } });
    await server.api('PUT', 'sys/unseal', { body: { Key: keysBase64[1] } });
    const res = await server.api('PUT', 'sys/unseal', { body: { KEY: keys[2] } });
    assert.equal(res.status, 200);
    assert.equal(res.body.sealed, false);
  });

  test('the hex and base64 forms of one share count once', async (t) => {
    const server = await startTestServer(t);
    const { keys, keysBase64 } = await initServer(server, 5, 3);
    await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    const res = await server.api('PUT', 'sys/unseal', { body: { key: keysBase64[0] } });
    assert.equal(res.body.progress, 1);
  });

  const bad: Array<[string, unknown, string]> = [
    ['garbage', { key: 'not a share!' }, "'key' must be a valid hex or base64 string"],
    ['no key and no reset', {}, "'key' must be specified in request body as JSON, or 'reset' set to true"],
    ['an empty key', { key: '' }, "'key' must be specified in request body as JSON, or 'reset' set to true"],
    ['a short key', { key: Buffer.alloc(8, 1).toString('base64') }, 'key is shorter than minimum 16 bytes'],
    ['a long key', { key: Buffer.alloc(40, 1).toString('base64') }, 'key is longer than maximum 33 bytes'],
    [
      'a key of the wrong type',
      { key: 12 },
      'failed to parse JSON input: json: cannot unmarshal number 12 into Go struct field UnsealRequest.key of type string',
    ],
  ];
  for (const [what, body, message] of bad) {
    test(`${what} is a 400 "${message}" that changes no progress`, async (t) => {
      const server = await startTestServer(t);
      const { keys } = await initServer(server, 5, 3);
      await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
      const res = await server.api('PUT', 'sys/unseal', { body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { errors: [message] });
      assert.equal((await server.api('GET', 'sys/seal-status')).body.progress, 1);
    });
  }

  test('unseal before init is a 400 "Vault is not initialized"', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/unseal', { body: { key: Buffer.alloc(33, 1).toString('hex') } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { errors: ['Vault is not initialized'] });
  });

  test('the threshold of correct shares unseals: progress 0, nonce empty, cluster fields present', async (t) => {
    const server = await startTestServer(t);
    const { keys } = await initServer(server, 5, 3);
    const res = await unsealServer(server, [keys[4]!, keys[1]!, keys[3]!]);
    assert.equal(res.status, 200);
    assert.equal(res.body.sealed, false);
    assert.equal(res.body.progress, 0);
    assert.equal(res.body.nonce, '');
    assert.match(res.body.cluster_name, /^coffer-cluster-[0-9a-f]{8}$/);
    assert.match(res.body.cluster_id, /^[0-9a-f-]{36}$/);
    const again = await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(again.status, 200);
    assert.equal(again.body.sealed, false);
  });

  test('a wrong set of shares at the threshold is a 400; the server stays sealed with progress 0, and right shares still work', async (t) => {
    const server = await startTestServer(t);
    const { keys } = await initServer(server, 5, 3);
    const other = await startTestServer(t);
    const foreign = await initServer(other, 5, 3);
    await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    await server.api('PUT', 'sys/unseal', { body: { key: keys[1] } });
    const res = await server.api('PUT', 'sys/unseal', { body: { key: foreign.keys[2] } });
    assert.equal(res.status, 400);
    assert.equal(res.body.errors.length, 1);
    const status = (await server.api('GET', 'sys/seal-status')).body;
    assert.deepEqual([status.sealed, status.progress, status.nonce], [true, 0, '']);
    const ok = await unsealServer(server, [keys[0]!, keys[1]!, keys[2]!]);
    assert.equal(ok.body.sealed, false);
  });

  test('a 1-of-1 server rejects a wrong 32-byte key with a 400 and stays sealed', async (t) => {
    const server = await startTestServer(t);
    await initServer(server, 1, 1);
    const res = await server.api('PUT', 'sys/unseal', { body: { key: Buffer.alloc(32, 7).toString('hex') } });
    assert.equal(res.status, 400);
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true);
  });

  test('unsealing works again after a server restart on the same data directory', async (t) => {
    const first = await startTestServer(t);
    const { keys } = await initServer(first, 3, 2);
    await first.close();
    const second = await startTestServer(t, { dataDir: first.dataDir });
    const status = (await second.api('GET', 'sys/seal-status')).body;
    assert.deepEqual([status.initialized, status.sealed, status.t, status.n], [true, true, 2, 3]);
    const res = await unsealServer(second, [keys[1]!, keys[2]!]);
    assert.equal(res.body.sealed, false);
  });
});
