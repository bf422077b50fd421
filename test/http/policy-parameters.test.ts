import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

const POLICY = `
path "kv/constrained" {
  capabilities       = ["create", "update", "read"]
  allowed_parameters = { "colour" = ["red", "blue"] }
}
path "kv/free" {
  capabilities = ["create", "update", "read"]
}
`;

test('a policy with parameter constraints is stored, read back as written, and never bypassed by the capability-only check', async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;
  assert.equal((await server.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);

  const written = await server.api('PUT', 'sys/policies/acl/painter', { token: root, body: { policy: POLICY } });
  assert.equal(written.status, 204, written.text);
  assert.equal((await server.api('GET', 'sys/policies/acl/painter', { token: root })).body.data.policy, POLICY);

  const bad = await server.api('PUT', 'sys/policies/acl/bad', {
    token: root,
    body: { policy: 'path "kv/x" {\n capabilities = ["update"]\n allowed_parameters = { "*" = ["x"] }\n}' },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.body.errors[0], /"\*" only takes the empty list/);

  const token = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['painter'] } })).body.auth.client_token;
  assert.equal((await server.api('PUT', 'kv/free', { token, body: { anything: 1 } })).status, 204, 'rules without constraints work as before');
  // The pipeline hands the body to Acl.allowsRequest: a listed value passes, anything else is refused.
  assert.equal((await server.api('PUT', 'kv/constrained', { token, body: { colour: 'red' } })).status, 204);
  assert.equal((await server.api('PUT', 'kv/constrained', { token, body: { colour: 'blue', size: 'L' } })).status, 403, 'an unlisted parameter');
  assert.equal((await server.api('GET', 'kv/constrained', { token })).status, 200, 'a read without parameters');
  const constrained = await server.api('PUT', 'kv/constrained', { token, body: { colour: 'green' } });
  assert.deepEqual([constrained.status, constrained.body], [403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] }]);
  assert.deepEqual((await server.api('POST', 'sys/capabilities-self', { token, body: { paths: ['kv/constrained'] } })).body.capabilities, [
    'create',
    'read',
    'update',
  ]);
});

test('a request asking for response wrapping is refused with a 400 rather than answered in clear', async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const res = await server.api('GET', 'auth/token/lookup-self', { token: init.rootToken, headers: { 'X-Vault-Wrap-TTL': '60s' } });
  assert.equal(res.status, 400);
  assert.match(res.body.errors[0], /X-Vault-Wrap-TTL/);
});
