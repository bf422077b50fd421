import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import nodeVault from 'node-vault';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

const APP_POLICY = 'path "secret/data/app/*" { capabilities = ["create", "read", "update"] }';

async function ready(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  const admin = nodeVault({ apiVersion: 'v1', endpoint: server.url, token: rootToken });
  await admin.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
  await admin.addPolicy({ name: 'app', rules: APP_POLICY });
  await admin.write('secret/data/other/x', { data: { v: '1' } });
  return { server, clock, rootToken, admin };
}

/** A node-vault call's failure as status + Vault's errors list. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; errors: string[] }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { response?: { statusCode: number; body?: { errors?: string[] } } };
    return { status: e.response?.statusCode ?? 0, errors: e.response?.body?.errors ?? [] };
  }
  assert.fail('expected the call to fail');
}

describe('auth methods through node-vault', () => {
  test('AppRole: a wrapped secret id unwraps once, logs in, and the token works within its policy and gets 403 outside it', async (t) => {
    const { server, admin } = await ready(t);
    await admin.enableAuth({ mount_point: 'approle', type: 'approle', description: 'apps' });
    const auths = await admin.auths();
    assert.equal(auths.data['approle/'].type, 'approle');
    assert.equal(auths.data['token/'].type, 'token');
    await admin.write('auth/approle/role/web', { token_policies: ['app'], token_ttl: '1h', token_max_ttl: '4h', secret_id_ttl: '10m' });
    const roleId: string = (await admin.getApproleRoleId({ role_name: 'web' })).data.role_id;
    const wrapped = await admin.write('auth/approle/role/web/secret-id', {}, { headers: { 'X-Vault-Wrap-TTL': '120s' } });
    assert.equal(wrapped.data, null, 'the secret id is not in the wrapped reply');
    assert.equal(wrapped.wrap_info.ttl, 120);
    assert.equal(wrapped.wrap_info.creation_path, 'auth/approle/role/web/secret-id');

    const bootstrap = nodeVault({ apiVersion: 'v1', endpoint: server.url, token: wrapped.wrap_info.token });
    const unwrapped = await bootstrap.unwrap();
    const secretId: string = unwrapped.data.secret_id;
    assert.match(secretId, /^[0-9a-f-]{36}$/);
    const again = await failure(bootstrap.unwrap());
    assert.equal(again.status, 400, 'a wrapping token works once');
    assert.deepEqual(again.errors, ['wrapping token is not valid or does not exist']);

    const app = nodeVault({ apiVersion: 'v1', endpoint: server.url });
    const login = await app.approleLogin({ role_id: roleId, secret_id: secretId });
    assert.deepEqual(login.auth.policies, ['app', 'default']);
    assert.equal(login.auth.lease_duration, 3600);
    assert.deepEqual(login.auth.metadata, { role_name: 'web' });
    assert.equal(app.token, login.auth.client_token);
    await app.write('secret/data/app/db', { data: { password: 'p' } });
    assert.equal((await app.read('secret/data/app/db')).data.data.password, 'p');
    const denied = await failure(app.read('secret/data/other/x'));
    assert.equal(denied.status, 403);
    const self = await app.tokenLookupSelf();
    assert.equal(self.data.path, 'auth/approle/login');

    const wrong = await failure(nodeVault({ apiVersion: 'v1', endpoint: server.url }).approleLogin({ role_id: roleId, secret_id: 'not-it' }));
    assert.deepEqual(wrong, { status: 400, errors: ['invalid role or secret ID'] });
  });

  test('userpass: a user logs in with the password, gets its policies, a wrong password and an unknown user get the same 400', async (t) => {
    const { server, admin } = await ready(t);
    await admin.enableAuth({ mount_point: 'userpass', type: 'userpass' });
    await admin.write('auth/userpass/users/alice', { password: 'correct horse', token_policies: 'app', token_ttl: '30m' });
    const client = nodeVault({ apiVersion: 'v1', endpoint: server.url });
    const login = await client.userpassLogin({ username: 'alice', password: 'correct horse' });
    assert.deepEqual(login.auth.policies, ['app', 'default']);
    assert.equal(login.auth.lease_duration, 1800);
    assert.deepEqual(login.auth.metadata, { username: 'alice' });
    await client.write('secret/data/app/a', { data: { k: 'v' } });
    assert.equal((await failure(client.read('secret/data/other/x'))).status, 403);
    const badPassword = await failure(nodeVault({ apiVersion: 'v1', endpoint: server.url }).userpassLogin({ username: 'alice', password: 'wrong' }));
    const noUser = await failure(nodeVault({ apiVersion: 'v1', endpoint: server.url }).userpassLogin({ username: 'mallory', password: 'wrong' }));
    assert.deepEqual(badPassword, { status: 400, errors: ['invalid username or password'] });
    assert.deepEqual(noUser, badPassword, 'no user-exists oracle in the answer');
    await admin.write('auth/userpass/users/alice/password', { password: 'new one' });
    assert.equal(
      (await failure(nodeVault({ apiVersion: 'v1', endpoint: server.url }).userpassLogin({ username: 'alice', password: 'correct horse' }))).status,
      400,
    );
    assert.ok(
      (await nodeVault({ apiVersion: 'v1', endpoint: server.url }).userpassLogin({ username: 'alice', password: 'new one' })).auth.client_token,
    );
  });

  test("periodic and role-based tokens renew as Vault's do: a period resets the TTL past the max TTL, a role caps policies", async (t) => {
    const { server, admin, clock, rootToken } = await ready(t);
    // node-vault's tokenRenew adopts the renewed token as its own: renewals go through a client of their own.
    const renewer = () => nodeVault({ apiVersion: 'v1', endpoint: server.url, token: rootToken });
    // node-vault's tokenCreate drops fields its schema lacks (period, lease): the generic write sends them.
    const periodic = await admin.write('auth/token/create', { policies: ['app'], period: '1h' });
    clock.advance(50 * 60_000);
    const renewed = await renewer().tokenRenew({ token: periodic.auth.client_token, increment: '10s' });
    assert.equal(renewed.auth.lease_duration, 3600, 'a periodic token renews to its period whatever the increment');
    for (let i = 0; i < 40; i++) {
      clock.advance(50 * 60_000);
      await renewer().tokenRenew({ token: periodic.auth.client_token });
    }
    assert.equal((await admin.tokenLookup({ token: periodic.auth.client_token })).data.period, 3600, 'still alive after 33h: periods ignore max TTL');

    await admin.write('auth/token/roles/ci', { allowed_policies: ['app'], orphan: true, token_period: '30m', renewable: true });
    const role = await admin.write('auth/token/create/ci', {});
    assert.deepEqual(role.auth.policies, ['app', 'default']);
    assert.equal(role.auth.orphan, true);
    assert.equal(role.auth.lease_duration, 1800);
    const tooMuch = await failure(admin.write('auth/token/create/ci', { policies: ['admin'] }));
    assert.equal(tooMuch.status, 400);
    const byAccessor = await admin.write('auth/token/renew-accessor', { accessor: role.auth.accessor });
    assert.equal(byAccessor.auth.client_token, '', 'renewing by accessor never reveals the token');
    assert.equal(byAccessor.auth.lease_duration, 1800);
    const lookup = await admin.tokenLookup({ token: role.auth.client_token });
    assert.equal(lookup.data.role, 'ci');
    assert.equal(lookup.data.path, 'auth/token/create/ci');

    const ordinary = await admin.write('auth/token/create', { policies: ['app'], lease: '10m', explicit_max_ttl: '15m' });
    assert.equal(ordinary.auth.lease_duration, 600, 'the legacy lease field is the TTL');
    clock.advance(9 * 60_000);
    assert.equal(
      (await renewer().tokenRenew({ token: ordinary.auth.client_token, increment: '1h' })).auth.lease_duration,
      360,
      'capped by explicit max TTL',
    );
  });
});

describe('token store completions', () => {
  test('lookup of a bad token answers Vault\'s 403 "bad token"', async (t) => {
    const { server, rootToken } = await ready(t);
    const res = await server.api('POST', 'auth/token/lookup', { token: rootToken, body: { token: 'hvs.notatoken' } });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errors: ['bad token'] });
  });

  test('create-orphan needs sudo and makes a token revoking its creator does not revoke', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('PUT', 'sys/policies/acl/maker', { token: rootToken, body: { policy: 'path "auth/token/*" { capabilities = ["update"] }' } });
    await server.api('PUT', 'sys/policies/acl/sudo-maker', {
      token: rootToken,
      body: { policy: 'path "auth/token/*" { capabilities = ["update", "sudo"] }' },
    });
    const maker = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['maker'] } })).body.auth.client_token;
    assert.equal((await server.api('POST', 'auth/token/create-orphan', { token: maker, body: {} })).status, 403);
    const sudoMaker = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['sudo-maker'] } })).body.auth
      .client_token;
    const orphan = await server.api('POST', 'auth/token/create-orphan', { token: sudoMaker, body: { policies: ['sudo-maker'] } });
    assert.equal(orphan.status, 200, orphan.text);
    assert.equal(orphan.body.auth.orphan, true);
    await server.api('POST', 'auth/token/revoke-self', { token: sudoMaker });
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: orphan.body.auth.client_token })).status, 200);
  });

  test('a periodic token needs root or sudo unless a role grants the period', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('PUT', 'sys/policies/acl/maker', {
      token: rootToken,
      body: { policy: 'path "auth/token/create*" { capabilities = ["update"] }' },
    });
    const maker = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['maker'] } })).body.auth.client_token;
    const res = await server.api('POST', 'auth/token/create', { token: maker, body: { period: '1h' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.errors, ['root or sudo privileges required to create periodic token']);
  });

  test("sys/capabilities and sys/capabilities-accessor report another token's capabilities", async (t) => {
    const { server, rootToken } = await ready(t);
    const app = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['app'] } })).body.auth;
    const byToken = await server.api('POST', 'sys/capabilities', {
      token: rootToken,
      body: { token: app.client_token, paths: ['secret/data/app/x', 'secret/data/other'] },
    });
    assert.equal(byToken.status, 200, byToken.text);
    assert.deepEqual(byToken.body.data['secret/data/app/x'], ['create', 'read', 'update']);
    assert.deepEqual(byToken.body.data['secret/data/other'], ['deny']);
    const byAccessor = await server.api('POST', 'sys/capabilities-accessor', {
      token: rootToken,
      body: { accessor: app.accessor, path: 'secret/data/app/y' },
    });
    assert.deepEqual(byAccessor.body.capabilities, ['create', 'read', 'update']);
    const unknown = await server.api('POST', 'sys/capabilities', {
      token: rootToken,
      body: { token: app.client_token, paths: ['x'], verbose: true },
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.errors[0], /unknown field "verbose"/);
  });

  test('unknown fields on token create and token roles are refused with a 400 naming them', async (t) => {
    const { server, rootToken } = await ready(t);
    const create = await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['app'], id: 'my-own-token' } });
    assert.equal(create.status, 400);
    assert.match(create.body.errors[0], /unknown field "id"/);
    const role = await server.api('POST', 'auth/token/roles/r', { token: rootToken, body: { allowed_policies_glob: ['a*'] } });
    assert.equal(role.status, 400);
    assert.match(role.body.errors[0], /unknown field "allowed_policies_glob"/);
    const child = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['app'] } })).body.auth;
    // A reference field an endpoint does not take would otherwise be ignored: renew-self of SOMEONE ELSE's token.
    const renewOther = await server.api('POST', 'auth/token/renew-self', { token: rootToken, body: { token: child.client_token } });
    assert.equal(renewOther.status, 400);
    assert.match(renewOther.body.errors[0], /unknown field "token"/);
    const lookupByAccessor = await server.api('POST', 'auth/token/lookup', { token: rootToken, body: { accessor: child.accessor } });
    assert.equal(lookupByAccessor.status, 400);
    assert.match(lookupByAccessor.body.errors[0], /unknown field "accessor"/);
  });
});

async function enable(server: TestServer, token: string, path: string, type: string, body: Record<string, unknown> = {}) {
  const res = await server.api('POST', `sys/auth/${path}`, { token, body: { type, ...body } });
  assert.equal(res.status, 204, res.text);
}

describe('auth mounts', () => {
  test('disabling an auth method revokes every token it issued, and its children', async (t) => {
    const { server, rootToken } = await ready(t);
    await enable(server, rootToken, 'up', 'userpass');
    await server.api('POST', 'auth/up/users/bob', { token: rootToken, body: { password: 'pw', token_policies: ['maker'] } });
    await server.api('PUT', 'sys/policies/acl/maker', {
      token: rootToken,
      body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' },
    });
    const login = await server.api('POST', 'auth/up/login/bob', { body: { password: 'pw' } });
    assert.equal(login.status, 200, login.text);
    const token = login.body.auth.client_token;
    const child = (await server.api('POST', 'auth/token/create', { token, body: {} })).body.auth.client_token;
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: child })).status, 200);
    assert.equal((await server.api('DELETE', 'sys/auth/up', { token: rootToken })).status, 204);
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token })).status, 403);
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: child })).status, 403);
    assert.equal((await server.api('POST', 'auth/up/login/bob', { body: { password: 'pw' } })).status, 403, 'the login path is gone');
  });

  test("tune sets the method's TTLs, which cap the tokens its logins issue; the token store cannot be disabled", async (t) => {
    const { server, rootToken } = await ready(t);
    await enable(server, rootToken, 'userpass', 'userpass', { config: { default_lease_ttl: '20m' } });
    await server.api('POST', 'auth/userpass/users/u', { token: rootToken, body: { password: 'pw' } });
    assert.equal((await server.api('POST', 'auth/userpass/login/u', { body: { password: 'pw' } })).body.auth.lease_duration, 1200);
    assert.equal(
      (await server.api('POST', 'sys/auth/userpass/tune', { token: rootToken, body: { max_lease_ttl: '10m', default_lease_ttl: '5m' } })).status,
      204,
    );
    const tune = await server.api('GET', 'sys/mounts/auth/userpass/tune', { token: rootToken });
    assert.equal(tune.body.data.max_lease_ttl, 600);
    assert.equal(tune.body.data.default_lease_ttl, 300);
    await server.api('POST', 'auth/userpass/users/u', { token: rootToken, body: { token_ttl: '1h' } });
    assert.equal(
      (await server.api('POST', 'auth/userpass/login/u', { body: { password: 'pw' } })).body.auth.lease_duration,
      600,
      "the mount max caps the user's TTL",
    );
    const bad = await server.api('POST', 'sys/auth/userpass/tune', { token: rootToken, body: { max_lease_ttl: '1000h' } });
    assert.equal(bad.status, 400);
    const unknown = await server.api('POST', 'sys/auth/userpass/tune', { token: rootToken, body: { listing_visibility: 'unauth' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.errors[0], /listing_visibility/);
    assert.equal((await server.api('DELETE', 'sys/auth/token', { token: rootToken })).status, 400);
  });

  test("the token store's mount accessor is the same across restarts and table changes, and unsealing writes no auth table", async (t) => {
    const server = await startTestServer(t);
    const { keys, rootToken } = await initServer(server, 1, 1);
    await unsealServer(server, keys);
    const accessor = async (srv: TestServer) => (await srv.api('GET', 'sys/auth', { token: rootToken })).body.data['token/'].accessor as string;
    const first = await accessor(server);
    assert.match(first, /^auth_token_[0-9a-f]{8}$/);
    assert.equal(await server.storage.get('core/auth'), undefined, 'nothing written by unsealing');
    await server.close();
    const restarted = await startTestServer(t, { dataDir: server.dataDir });
    await unsealServer(restarted, keys);
    assert.equal(await accessor(restarted), first);
    await enable(restarted, rootToken, 'approle', 'approle');
    assert.notEqual(await restarted.storage.get('core/auth'), undefined);
    assert.equal(await accessor(restarted), first, 'persisted with the same accessor');
  });
});
