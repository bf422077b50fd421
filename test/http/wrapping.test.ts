import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

async function ready(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  return { server, clock, rootToken };
}

const wrapHeader = (ttl: string) => ({ 'X-Vault-Wrap-TTL': ttl });

async function dumpStorage(server: TestServer): Promise<Buffer> {
  const dump: Buffer[] = [];
  const walk = async (prefix: string) => {
    for (const child of await server.storage.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else dump.push(Buffer.concat([Buffer.from(prefix + child), Buffer.from((await server.storage.get(prefix + child))!)]));
    }
  };
  await walk('');
  return Buffer.concat(dump);
}

describe('response wrapping', () => {
  test('a wrapped token create hands back only wrap_info; the token is reachable once through unwrap', async (t) => {
    const { server, rootToken } = await ready(t);
    const res = await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'] }, headers: wrapHeader('5m') });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.auth, null);
    assert.equal(res.body.data, null);
    const info = res.body.wrap_info;
    assert.equal(info.ttl, 300);
    assert.equal(info.creation_path, 'auth/token/create');
    assert.match(info.token, /^hvs\./);
    assert.ok(info.wrapped_accessor);
    const lookup = await server.api('POST', 'sys/wrapping/lookup', { body: { token: info.token } });
    assert.equal(lookup.status, 200, lookup.text);
    assert.equal(lookup.body.data.creation_path, 'auth/token/create');
    assert.equal(lookup.body.data.creation_ttl, 300);
    const unwrapped = await server.api('POST', 'sys/wrapping/unwrap', { token: rootToken, body: { token: info.token } });
    assert.equal(unwrapped.status, 200, unwrapped.text);
    assert.equal(unwrapped.body.auth.accessor, info.wrapped_accessor);
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: unwrapped.body.auth.client_token })).status, 200);
    const second = await server.api('POST', 'sys/wrapping/unwrap', { token: rootToken, body: { token: info.token } });
    assert.deepEqual(second.body, { errors: ['wrapping token is not valid or does not exist'] });
  });

  test('sys/wrapping/wrap wraps arbitrary data, requires a wrap TTL, and rewrap moves it to a new token', async (t) => {
    const { server, rootToken } = await ready(t);
    const noTtl = await server.api('POST', 'sys/wrapping/wrap', { token: rootToken, body: { a: 'b' } });
    assert.deepEqual(noTtl.body, { errors: ['endpoint requires response wrapping to be used'] });
    const wrapped = await server.api('POST', 'sys/wrapping/wrap', { token: rootToken, body: { a: 'b' }, headers: wrapHeader('60') });
    const first = wrapped.body.wrap_info.token;
    const rewrapped = await server.api('POST', 'sys/wrapping/rewrap', { token: rootToken, body: { token: first } });
    assert.equal(rewrapped.status, 200, rewrapped.text);
    const second = rewrapped.body.wrap_info.token;
    assert.notEqual(second, first);
    assert.equal(rewrapped.body.wrap_info.ttl, 60);
    assert.equal((await server.api('POST', 'sys/wrapping/unwrap', { token: rootToken, body: { token: first } })).status, 400);
    const out = await server.api('POST', 'sys/wrapping/unwrap', { token: second });
    assert.deepEqual(out.body.data, { a: 'b' });
  });

  test('a wrap TTL that cannot be honoured is a 400 and changes nothing: unparsable, zero, over 768h, or on a raw sys endpoint', async (t) => {
    const { server, rootToken } = await ready(t);
    for (const ttl of ['soon', '0', '-5s', '800h']) {
      const res = await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'] }, headers: wrapHeader(ttl) });
      assert.equal(res.status, 400, `${ttl}: ${res.text}`);
      assert.equal(res.body.auth, undefined, 'no clear-text token');
    }
    const status = await server.api('GET', 'sys/seal-status', { headers: wrapHeader('1m') });
    assert.equal(status.status, 400);
    const accessors = await server.api('POST', 'sys/capabilities-self', { token: rootToken, body: { paths: ['x'] }, headers: wrapHeader('1m') });
    assert.equal(accessors.status, 200);
    assert.equal(accessors.body.data, null, 'a logical sys response is wrapped, not sent in clear');
  });

  test('a wrapping token expires on the clock', async (t) => {
    const { server, rootToken, clock } = await ready(t);
    const wrapped = await server.api('POST', 'sys/wrapping/wrap', { token: rootToken, body: { a: 'b' }, headers: wrapHeader('30s') });
    clock.advance(31_000);
    assert.equal((await server.api('POST', 'sys/wrapping/unwrap', { token: wrapped.body.wrap_info.token })).status, 400);
  });
});

describe('expiry', () => {
  test("maintenance revokes expired tokens, deleting their cubbyholes and an expired wrapping token's response", async (t) => {
    const { server, rootToken, clock } = await ready(t);
    const short = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'], ttl: '60s' } })).body.auth
      .client_token;
    await server.api('POST', 'cubbyhole/note', { token: short, body: { v: 'x' } });
    await server.api('POST', 'sys/wrapping/wrap', { token: rootToken, body: { a: 'b' }, headers: wrapHeader('30s') });
    const long = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'], ttl: '1h' } })).body.auth
      .client_token;
    await server.api('POST', 'cubbyhole/kept', { token: long, body: { v: 'y' } });
    const cubbyholes = async () => {
      const out: string[] = [];
      for (const h of await server.storage.list('cubbyhole/')) out.push(...(await server.storage.list(`cubbyhole/${h}`)));
      return out.sort();
    };
    assert.deepEqual(await cubbyholes(), ['kept', 'note', 'response']);
    clock.advance(61_000);
    await server.core.maintenance();
    assert.deepEqual(await cubbyholes(), ['kept'], "only the live token's cubbyhole remains");
    assert.equal((await server.api('GET', 'cubbyhole/kept', { token: long })).status, 200);
  });
});

describe('cubbyhole', () => {
  test('each token has its own cubbyhole, mounted by default, destroyed with the token', async (t) => {
    const { server, rootToken } = await ready(t);
    const a = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'] } })).body.auth.client_token;
    const b = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'] } })).body.auth.client_token;
    assert.equal((await server.api('POST', 'cubbyhole/note', { token: a, body: { v: 'only-a' } })).status, 204);
    const read = await server.api('GET', 'cubbyhole/note', { token: a });
    assert.deepEqual(read.body.data, { v: 'only-a' });
    assert.equal(read.body.mount_type, 'cubbyhole');
    assert.equal((await server.api('GET', 'cubbyhole/note', { token: b })).status, 404, 'another token sees nothing');
    assert.deepEqual((await server.api('LIST', 'cubbyhole/', { token: a })).body.data.keys, ['note']);
    const mounts = await server.api('GET', 'sys/mounts', { token: rootToken });
    assert.equal(mounts.body.data['cubbyhole/'].type, 'cubbyhole');
    const before = await dumpStorage(server);
    await server.api('POST', 'auth/token/revoke-self', { token: a });
    const after = await dumpStorage(server);
    assert.ok(after.length < before.length);
    const b2 = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'] } })).body.auth.client_token;
    assert.equal((await server.api('GET', 'cubbyhole/note', { token: b2 })).status, 404);
  });
});

describe('raw storage', () => {
  test('holds no secret id, role id, password, wrapped token or cubbyhole value in clear', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/auth/approle', { token: rootToken, body: { type: 'approle' } });
    await server.api('POST', 'sys/auth/userpass', { token: rootToken, body: { type: 'userpass' } });
    await server.api('POST', 'auth/approle/role/web', { token: rootToken, body: { token_policies: 'default' } });
    await server.api('POST', 'auth/userpass/users/alice', { token: rootToken, body: { password: 'needle-password-4711' } });
    const roleId = (await server.api('GET', 'auth/approle/role/web/role-id', { token: rootToken })).body.data.role_id;
    const secret = (await server.api('POST', 'auth/approle/role/web/secret-id', { token: rootToken, body: {} })).body.data;
    const custom = await server.api('POST', 'auth/approle/role/web/custom-secret-id', {
      token: rootToken,
      body: { secret_id: 'needle-custom-secret-id' },
    });
    assert.equal(custom.status, 200, custom.text);
    const wrapped = (
      await server.api('POST', 'sys/wrapping/wrap', { token: rootToken, body: { v: 'needle-wrapped-value' }, headers: wrapHeader('5m') })
    ).body.wrap_info.token;
    const wrappedToken = (await server.api('POST', 'auth/token/create', { token: rootToken, body: {}, headers: wrapHeader('5m') })).body.wrap_info
      .token;
    await server.api('POST', 'cubbyhole/x', { token: rootToken, body: { v: 'needle-cubbyhole-value' } });
    const login = await server.api('POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: secret.secret_id } });
    assert.equal(login.status, 200, login.text);
    const all = await dumpStorage(server);
    const needles = [
      secret.secret_id,
      'needle-custom-secret-id',
      roleId,
      'needle-password-4711',
      'needle-wrapped-value',
      wrapped,
      wrappedToken,
      'needle-cubbyhole-value',
      login.body.auth.client_token,
    ];
    for (const needle of needles) assert.equal(all.indexOf(needle), -1, `${needle.slice(0, 12)}… is readable in storage`);
  });
});
