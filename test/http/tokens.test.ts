import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

const INVALID = { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] };

async function ready(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  return { server, clock, rootToken };
}

async function create(server: TestServer, token: string, body: Record<string, unknown>) {
  const res = await server.api('POST', 'auth/token/create', { token, body });
  assert.equal(res.status, 200, res.text);
  return res.body.auth as { client_token: string; accessor: string; policies: string[]; lease_duration: number; renewable: boolean };
}

const lookupSelf = (server: TestServer, token: string) => server.api('GET', 'auth/token/lookup-self', { token });

describe('auth/token', () => {
  test('create returns a Vault-style token with policies (plus default), TTL and accessor; lookup-self shows them', async (t) => {
    const { server, rootToken } = await ready(t);
    const auth = await create(server, rootToken, { policies: ['app'], ttl: '1h', display_name: 'web', meta: { team: 'a' } });
    assert.match(auth.client_token, /^hvs\.[A-Za-z0-9]{24}$/);
    assert.deepEqual(auth.policies, ['app', 'default']);
    assert.equal(auth.lease_duration, 3600);
    const self = await lookupSelf(server, auth.client_token);
    assert.equal(self.status, 200);
    assert.equal(self.body.data.id, auth.client_token);
    assert.equal(self.body.data.accessor, auth.accessor);
    assert.equal(self.body.data.display_name, 'token-web');
    assert.deepEqual(self.body.data.meta, { team: 'a' });
    assert.equal(self.body.data.ttl, 3600);
    const noDefault = await create(server, rootToken, { policies: ['app'], no_default_policy: true });
    assert.deepEqual(noDefault.policies, ['app']);
    assert.equal(noDefault.lease_duration, 768 * 3600, 'no TTL asked: the 768h default');
  });

  test('a child may not hold policies its parent lacks, unless the parent is root', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('PUT', 'sys/policies/acl/creator', {
      token: rootToken,
      body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' },
    });
    const parent = await create(server, rootToken, { policies: ['creator', 'app'] });
    const ok = await create(server, parent.client_token, { policies: ['app'] });
    assert.deepEqual(ok.policies, ['app', 'default']);
    const escalate = await server.api('POST', 'auth/token/create', { token: parent.client_token, body: { policies: ['admin'] } });
    assert.equal(escalate.status, 400);
    assert.deepEqual(escalate.body, { errors: ['child policies must be subset of parent'] });
    const rootChild = await server.api('POST', 'auth/token/create', { token: parent.client_token, body: { policies: ['root'] } });
    assert.equal(rootChild.status, 400);
  });

  test('tokens expire on the injected clock, and renew-self extends them up to explicit_max_ttl', async (t) => {
    const { server, clock, rootToken } = await ready(t);
    const auth = await create(server, rootToken, { policies: ['default'], ttl: '60s', explicit_max_ttl: '150s' });
    clock.advance(50_000);
    assert.equal((await lookupSelf(server, auth.client_token)).body.data.ttl, 10);
    const renewed = await server.api('POST', 'auth/token/renew-self', { token: auth.client_token, body: { increment: '60s' } });
    assert.equal(renewed.status, 200);
    assert.equal(renewed.body.auth.lease_duration, 60);
    clock.advance(59_000);
    assert.equal((await lookupSelf(server, auth.client_token)).status, 200);
    await server.api('POST', 'auth/token/renew-self', { token: auth.client_token, body: { increment: '600s' } });
    assert.equal((await lookupSelf(server, auth.client_token)).body.data.ttl, 150 - 109, 'capped by explicit_max_ttl');
    clock.advance(41_000);
    const expired = await lookupSelf(server, auth.client_token);
    assert.equal(expired.status, 403);
    assert.deepEqual(expired.body, INVALID);
  });

  test('revoking a token revokes its children and grandchildren, but not its parent or siblings', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('PUT', 'sys/policies/acl/creator', {
      token: rootToken,
      body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' },
    });
    const parent = await create(server, rootToken, { policies: ['creator'] });
    const child = await create(server, parent.client_token, {});
    const grandchild = await create(server, child.client_token, {});
    const sibling = await create(server, rootToken, { policies: ['default'] });
    assert.equal((await server.api('POST', 'auth/token/revoke', { token: rootToken, body: { token: child.client_token } })).status, 204);
    assert.equal((await lookupSelf(server, child.client_token)).status, 403);
    assert.equal((await lookupSelf(server, grandchild.client_token)).status, 403);
    assert.equal((await lookupSelf(server, parent.client_token)).status, 200);
    assert.equal((await lookupSelf(server, sibling.client_token)).status, 200);
    // revoke-self takes the rest of the tree with it.
    const other = await create(server, parent.client_token, {});
    assert.equal((await server.api('POST', 'auth/token/revoke-self', { token: parent.client_token })).status, 204);
    assert.equal((await lookupSelf(server, other.client_token)).status, 403);
  });

  test('accessors look up and revoke a token without revealing it', async (t) => {
    const { server, rootToken } = await ready(t);
    const auth = await create(server, rootToken, { policies: ['default'] });
    const looked = await server.api('POST', 'auth/token/lookup-accessor', { token: rootToken, body: { accessor: auth.accessor } });
    assert.equal(looked.status, 200);
    assert.equal(looked.body.data.id, '', 'the token itself is not disclosed');
    assert.deepEqual(looked.body.data.policies, ['default']);
    assert.equal((await server.api('POST', 'auth/token/revoke-accessor', { token: rootToken, body: { accessor: auth.accessor } })).status, 204);
    assert.equal((await lookupSelf(server, auth.client_token)).status, 403);
    assert.equal((await server.api('POST', 'auth/token/lookup-accessor', { token: rootToken, body: { accessor: auth.accessor } })).status, 400);
  });

  test('a token with num_uses stops working after that many requests', async (t) => {
    const { server, rootToken } = await ready(t);
    const auth = await create(server, rootToken, { policies: ['default'], num_uses: 2 });
    assert.equal((await lookupSelf(server, auth.client_token)).status, 200);
    assert.equal((await lookupSelf(server, auth.client_token)).status, 200);
    assert.equal((await lookupSelf(server, auth.client_token)).status, 403);
  });

  test('raw storage holds no token, no accessor and no plaintext secret', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/secret', { token: rootToken, body: { type: 'kv', options: { version: '2' } } });
    const auth = await create(server, rootToken, { policies: ['default'] });
    await server.api('POST', 'secret/data/app', { token: rootToken, body: { data: { password: 'correct-horse-battery-staple' } } });
    await server.api('POST', 'sys/policies/acl/visible', {
      token: rootToken,
      body: { policy: 'path "needle-in-policy" { capabilities = ["read"] }' },
    });
    const needles = [rootToken, auth.client_token, auth.accessor, 'correct-horse-battery-staple', 'needle-in-policy'];
    const dump: Buffer[] = [];
    const walk = async (prefix: string) => {
      for (const child of await server.storage.list(prefix)) {
        if (child.endsWith('/')) await walk(prefix + child);
        else dump.push(Buffer.concat([Buffer.from(prefix + child), Buffer.from((await server.storage.get(prefix + child))!)]));
      }
    };
    await walk('');
    assert.ok(dump.length > 8);
    const all = Buffer.concat(dump);
    for (const needle of needles) assert.equal(all.indexOf(needle), -1, 'a secret is readable in storage');
  });
});
