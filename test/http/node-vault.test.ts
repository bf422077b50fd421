import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodeVault from 'node-vault';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

const APP_POLICY = `
path "secret/data/apps/billing/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/apps/billing/*" { capabilities = ["list"] }
path "secret/metadata/apps/billing"   { capabilities = ["list"] }
`;

test('node-vault writes, reads and lists a KV v2 secret with a child token limited to that path, and is denied elsewhere', async (t) => {
  const server = await startTestServer(t);
  const { keys, rootToken } = await initServer(server, 3, 2);
  await unsealServer(server, keys.slice(0, 2));

  const admin = nodeVault({ apiVersion: 'v1', endpoint: server.url, token: rootToken });
  assert.equal((await admin.status()).sealed, false, "seal-status passes node-vault's schema check");
  await admin.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
  await admin.addPolicy({ name: 'billing', rules: APP_POLICY });
  await admin.write('secret/data/other/thing', { data: { x: '1' } });
  const created = await admin.tokenCreate({ policies: ['billing'], ttl: '1h' });
  const appToken: string = created.auth.client_token;
  assert.deepEqual(created.auth.policies, ['billing', 'default']);

  const app = nodeVault({ apiVersion: 'v1', endpoint: server.url, token: appToken });
  const written = await app.write('secret/data/apps/billing/db', { data: { username: 'billing', password: 's3cret' } });
  assert.equal(written.data.version, 1);
  await app.write('secret/data/apps/billing/db', { data: { username: 'billing', password: 'rotated' } });
  await app.write('secret/data/apps/billing/api', { data: { key: 'k' } });

  const read = await app.read('secret/data/apps/billing/db');
  assert.deepEqual(read.data.data, { username: 'billing', password: 'rotated' });
  assert.equal(read.data.metadata.version, 2);

  // node-vault sends the HTTP method LIST here.
  const listed = await app.list('secret/metadata/apps/billing');
  assert.deepEqual(listed.data.keys, ['api', 'db']);

  for (const attempt of [
    () => app.read('secret/data/other/thing'),
    () => app.write('secret/data/other/thing', { data: { x: '2' } }),
    () => app.list('secret/metadata/other'),
    () => app.read('sys/key-status'),
  ]) {
    await assert.rejects(attempt(), (err: Error & { response?: { statusCode: number } }) => {
      assert.equal(err.response?.statusCode, 403);
      assert.match(err.message, /permission denied/);
      return true;
    });
  }
  // A fresh client: node-vault adopts the client_token of any response with `auth` (here tokenCreate), so `admin`
  // has been sending the app token since it created it.
  const verifier = nodeVault({ apiVersion: 'v1', endpoint: server.url, token: rootToken });
  assert.deepEqual((await verifier.read('secret/data/other/thing')).data.data, { x: '1' }, 'the denied write changed nothing');

  const health = await app.health();
  assert.equal(health.sealed, false);
});
