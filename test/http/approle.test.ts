import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { GatedStorage } from '../helpers/gated-storage.js';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

async function ready(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  await server.api('POST', 'sys/auth/approle', { token: rootToken, body: { type: 'approle' } });
  return { server, clock, rootToken };
}

async function role(server: TestServer, root: string, name: string, body: Record<string, unknown>) {
  const res = await server.api('POST', `auth/approle/role/${name}`, { token: root, body });
  assert.equal(res.status, 204, res.text);
  return (await server.api('GET', `auth/approle/role/${name}/role-id`, { token: root })).body.data.role_id as string;
}

const login = (server: TestServer, body: Record<string, unknown>) => server.api('POST', 'auth/approle/login', { body });

describe('AppRole', () => {
  test('secret ids: lookup and destroy by value or accessor, listed by accessor; a destroyed one no longer logs in', async (t) => {
    const { server, rootToken } = await ready(t);
    const roleId = await role(server, rootToken, 'web', { token_policies: 'default' });
    const a = (await server.api('POST', 'auth/approle/role/web/secret-id', { token: rootToken, body: { metadata: '{"host":"a"}' } })).body.data;
    const b = (await server.api('POST', 'auth/approle/role/web/custom-secret-id', { token: rootToken, body: { secret_id: 'my-chosen-secret' } })).body
      .data;
    assert.equal(b.secret_id, 'my-chosen-secret');
    const listed = await server.api('LIST', 'auth/approle/role/web/secret-id', { token: rootToken });
    assert.deepEqual(listed.body.data.keys, [a.secret_id_accessor, b.secret_id_accessor].sort());
    const lookup = await server.api('POST', 'auth/approle/role/web/secret-id/lookup', { token: rootToken, body: { secret_id: a.secret_id } });
    assert.deepEqual(lookup.body.data.metadata, { host: 'a' });
    assert.equal(lookup.body.data.secret_id_accessor, a.secret_id_accessor);
    const byAccessor = await server.api('POST', 'auth/approle/role/web/secret-id-accessor/lookup', {
      token: rootToken,
      body: { secret_id_accessor: b.secret_id_accessor },
    });
    assert.equal(byAccessor.status, 200, byAccessor.text);
    const ok = await login(server, { role_id: roleId, secret_id: a.secret_id });
    assert.deepEqual(ok.body.auth.metadata, { host: 'a', role_name: 'web' });
    assert.equal(
      (await server.api('POST', 'auth/approle/role/web/secret-id/destroy', { token: rootToken, body: { secret_id: a.secret_id } })).status,
      204,
    );
    assert.equal((await login(server, { role_id: roleId, secret_id: a.secret_id })).status, 400);
    assert.equal(
      (
        await server.api('POST', 'auth/approle/role/web/secret-id-accessor/destroy', {
          token: rootToken,
          body: { secret_id_accessor: b.secret_id_accessor },
        })
      ).status,
      204,
    );
    assert.equal((await login(server, { role_id: roleId, secret_id: 'my-chosen-secret' })).status, 400);
    assert.equal((await server.api('LIST', 'auth/approle/role/web/secret-id', { token: rootToken })).status, 404);
  });

  test('secret_id_num_uses and secret_id_ttl end a secret id; a custom role_id replaces the old one', async (t) => {
    const { server, rootToken, clock } = await ready(t);
    await role(server, rootToken, 'batch', { secret_id_num_uses: 2, secret_id_ttl: '10m', token_ttl: '5m' });
    await server.api('POST', 'auth/approle/role/batch/role-id', { token: rootToken, body: { role_id: 'batch-role' } });
    const secret = (await server.api('POST', 'auth/approle/role/batch/secret-id', { token: rootToken, body: {} })).body.data;
    assert.equal(secret.secret_id_num_uses, 2);
    assert.equal((await login(server, { role_id: 'batch-role', secret_id: secret.secret_id })).status, 200);
    assert.equal((await login(server, { role_id: 'batch-role', secret_id: secret.secret_id })).status, 200);
    assert.equal((await login(server, { role_id: 'batch-role', secret_id: secret.secret_id })).status, 400, 'used up');
    const timed = (await server.api('POST', 'auth/approle/role/batch/secret-id', { token: rootToken, body: {} })).body.data;
    clock.advance(601_000);
    assert.equal((await login(server, { role_id: 'batch-role', secret_id: timed.secret_id })).status, 400, 'expired');
    const tooMany = await server.api('POST', 'auth/approle/role/batch/secret-id', { token: rootToken, body: { num_uses: 5 } });
    assert.equal(tooMany.status, 400);
  });

  test('CIDR binds: a secret id bound elsewhere cannot log in; a token bound elsewhere cannot be used', async (t) => {
    const { server, rootToken } = await ready(t);
    const roleId = await role(server, rootToken, 'net', { token_policies: 'default' });
    const elsewhere = (await server.api('POST', 'auth/approle/role/net/secret-id', { token: rootToken, body: { cidr_list: '10.0.0.0/8' } })).body
      .data;
    assert.equal((await login(server, { role_id: roleId, secret_id: elsewhere.secret_id })).status, 400);
    const local = (
      await server.api('POST', 'auth/approle/role/net/secret-id', {
        token: rootToken,
        body: { cidr_list: '127.0.0.0/8', token_bound_cidrs: '192.168.0.0/16' },
      })
    ).body.data;
    const res = await login(server, { role_id: roleId, secret_id: local.secret_id });
    assert.equal(res.status, 200, res.text);
    assert.equal(
      (await server.api('GET', 'auth/token/lookup-self', { token: res.body.auth.client_token })).status,
      403,
      'token bound to another network',
    );
    const badCidr = await server.api('POST', 'auth/approle/role/net/secret-id', { token: rootToken, body: { cidr_list: '10.0.0.0/99' } });
    assert.equal(badCidr.status, 400);
    assert.equal(
      (await role(server, rootToken, 'loop', { bind_secret_id: false, secret_id_bound_cidrs: ['127.0.0.1/32', '::1/128'] })).length > 0,
      true,
    );
    const noSecret = await login(server, {
      role_id: (await server.api('GET', 'auth/approle/role/loop/role-id', { token: rootToken })).body.data.role_id,
    });
    assert.equal(noSecret.status, 200, noSecret.text);
  });

  test('a role without bind_secret_id or any CIDR bind is refused; unknown role fields are 400s naming them', async (t) => {
    const { server, rootToken } = await ready(t);
    const open = await server.api('POST', 'auth/approle/role/open', { token: rootToken, body: { bind_secret_id: false } });
    assert.equal(open.status, 400);
    const unknown = await server.api('POST', 'auth/approle/role/x', { token: rootToken, body: { token_policy: 'typo' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.errors[0], /unknown field "token_policy"/);
    assert.equal((await server.api('GET', 'auth/approle/role/x', { token: rootToken })).status, 404, 'nothing was written');
  });

  test('deleting a role deletes its secret ids', async (t) => {
    const { server, rootToken } = await ready(t);
    const roleId = await role(server, rootToken, 'gone', { token_policies: 'default' });
    const secret = (await server.api('POST', 'auth/approle/role/gone/secret-id', { token: rootToken, body: {} })).body.data;
    assert.equal((await server.api('DELETE', 'auth/approle/role/gone', { token: rootToken })).status, 204);
    await role(server, rootToken, 'gone', { token_policies: 'default', role_id: roleId });
    assert.equal((await login(server, { role_id: roleId, secret_id: secret.secret_id })).status, 400);
  });
});

describe('AppRole racing a disable', () => {
  test('a login that read the method before it was disabled leaves no token behind', async (t) => {
    const storage = new GatedStorage(new InmemBackend());
    const server = await startTestServer(t, { storage });
    const { keys, rootToken } = await initServer(server, 1, 1);
    await unsealServer(server, keys);
    await server.api('POST', 'sys/auth/approle', { token: rootToken, body: { type: 'approle' } });
    const roleId = await role(server, rootToken, 'web', { token_policies: 'default', secret_id_num_uses: 5 });
    const secret = (await server.api('POST', 'auth/approle/role/web/secret-id', { token: rootToken, body: {} })).body.data;
    const tokenIds = async () => (await storage.list('sys/token/id/')).length;
    const before = await tokenIds();
    // The login stops at its secret-id use count write: after it has found the role, before it creates the token.
    const gate = storage.gate((ops) => ops.some((op) => op.key.includes('/secret_id/')));
    const login = server.api('POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: secret.secret_id } });
    await gate.reached;
    assert.equal((await server.api('DELETE', 'sys/auth/approle', { token: rootToken })).status, 204);
    gate.release();
    const res = await login;
    assert.equal(res.status, 400, res.text);
    assert.equal(await tokenIds(), before, 'no token of the disabled method survives');
  });
});
