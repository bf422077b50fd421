import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { initServer, ManualClock, startTestServer, unsealServer } from '../helpers/test-server.js';

async function ready(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  return { server, clock, rootToken };
}

describe('no parameter is silently ignored', () => {
  test("GET ?list= takes every value Go's ParseBool does and refuses the others", async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/kv', { token: rootToken, body: { type: 'kv' } });
    await server.api('POST', 'kv/a/b', { token: rootToken, body: { v: '1' } });
    for (const value of ['true', 'True', 'TRUE', 't', 'T', '1']) {
      const res = await server.api('GET', `kv/a?list=${value}`, { token: rootToken });
      assert.deepEqual(res.body.data, { keys: ['b'] }, value);
    }
    for (const value of ['false', 'F', '0']) {
      assert.equal((await server.api('GET', `kv/a/b?list=${value}`, { token: rootToken })).body.data.v, '1', value);
    }
    for (const value of ['yes', 'on', '', '2']) {
      const res = await server.api('GET', `kv/a?list=${value}`, { token: rootToken });
      assert.equal(res.status, 400, value);
    }
  });

  test('mount tune default_lease_ttl and max_lease_ttl are stored, shown, and cap the leases reads report', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/kv', { token: rootToken, body: { type: 'kv', config: { max_lease_ttl: '2h' } } });
    await server.api('POST', 'kv/x', { token: rootToken, body: { v: '1' } });
    assert.equal((await server.api('GET', 'kv/x', { token: rootToken })).body.lease_duration, 7200, "the mount max caps KV v1's 768h");
    assert.equal((await server.api('POST', 'sys/mounts/kv/tune', { token: rootToken, body: { default_lease_ttl: '30m' } })).status, 204);
    const tune = await server.api('GET', 'sys/mounts/kv/tune', { token: rootToken });
    assert.equal(tune.body.data.default_lease_ttl, 1800);
    assert.equal(tune.body.data.max_lease_ttl, 7200);
    assert.equal((await server.api('GET', 'kv/x', { token: rootToken })).body.lease_duration, 1800);
    const tooLong = await server.api('POST', 'sys/mounts/kv/tune', { token: rootToken, body: { default_lease_ttl: '3h' } });
    assert.equal(tooLong.status, 400);
    const unknown = await server.api('POST', 'sys/mounts/kv/tune', { token: rootToken, body: { audit_non_hmac_request_keys: ['a'] } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.errors[0], /audit_non_hmac_request_keys/);
  });

  test("the token store's tuned max TTL caps the tokens it creates and their renewals", async (t) => {
    const { server, rootToken } = await ready(t);
    assert.equal((await server.api('POST', 'sys/auth/token/tune', { token: rootToken, body: { max_lease_ttl: '1h' } })).status, 204);
    const created = await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'], ttl: '5h' } });
    assert.equal(created.body.auth.lease_duration, 3600);
  });

  test('mount enable refuses fields it would not apply: seal_wrap, local, unknown options and config keys', async (t) => {
    const { server, rootToken } = await ready(t);
    for (const body of [
      { type: 'kv', seal_wrap: true },
      { type: 'kv', local: true },
      { type: 'transit', options: { version: '2' } },
      { type: 'kv', config: { listing_visibility: 'unauth' } },
      { type: 'kv', something: 1 },
    ]) {
      const res = await server.api('POST', 'sys/mounts/m', { token: rootToken, body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await server.api('GET', 'sys/mounts/m', { token: rootToken })).status, 400, 'nothing was mounted');
  });

  test('sys/remount moves a mount with its data, atomically, and refuses a taken target', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/old', { token: rootToken, body: { type: 'kv', options: { version: '2' } } });
    await server.api('POST', 'sys/mounts/other', { token: rootToken, body: { type: 'kv' } });
    await server.api('POST', 'old/data/s', { token: rootToken, body: { data: { v: 'kept' } } });
    const moved = await server.api('POST', 'sys/remount', { token: rootToken, body: { from: 'old', to: 'new' } });
    assert.equal(moved.status, 200, moved.text);
    assert.deepEqual((await server.api('GET', 'new/data/s', { token: rootToken })).body.data.data, { v: 'kept' });
    assert.equal((await server.api('GET', 'old/data/s', { token: rootToken })).status, 404);
    const taken = await server.api('POST', 'sys/remount', { token: rootToken, body: { from: 'new', to: 'other' } });
    assert.equal(taken.status, 400);
    assert.deepEqual((await server.api('GET', 'new/data/s', { token: rootToken })).body.data.data, { v: 'kept' });
  });

  test('KV v2 delete_version_after (config and metadata) deletes versions once their time has come', async (t) => {
    const { server, rootToken, clock } = await ready(t);
    await server.api('POST', 'sys/mounts/kv2', { token: rootToken, body: { type: 'kv', options: { version: '2' } } });
    assert.equal((await server.api('POST', 'kv2/config', { token: rootToken, body: { delete_version_after: '1h' } })).status, 204);
    assert.equal((await server.api('GET', 'kv2/config', { token: rootToken })).body.data.delete_version_after, '1h0m0s');
    await server.api('POST', 'kv2/data/a', { token: rootToken, body: { data: { v: '1' } } });
    await server.api('POST', 'kv2/metadata/b', { token: rootToken, body: { delete_version_after: '10m' } });
    await server.api('POST', 'kv2/data/b', { token: rootToken, body: { data: { v: '1' } } });
    assert.equal((await server.api('GET', 'kv2/data/a', { token: rootToken })).status, 200);
    clock.advance(11 * 60_000);
    assert.equal((await server.api('GET', 'kv2/data/b', { token: rootToken })).status, 404, "the metadata's shorter time applies");
    assert.equal((await server.api('GET', 'kv2/data/a', { token: rootToken })).status, 200);
    clock.advance(50 * 60_000);
    assert.equal((await server.api('GET', 'kv2/data/a', { token: rootToken })).status, 404);
  });

  test('sys/internal/ui/mounts without a path lists the mounts the token can reach', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/team', { token: rootToken, body: { type: 'kv' } });
    await server.api('POST', 'sys/mounts/hidden', { token: rootToken, body: { type: 'kv' } });
    await server.api('PUT', 'sys/policies/acl/team', { token: rootToken, body: { policy: 'path "team/*" { capabilities = ["read"] }' } });
    const token = (await server.api('POST', 'auth/token/create', { token: rootToken, body: { policies: ['team'] } })).body.auth.client_token;
    const res = await server.api('GET', 'sys/internal/ui/mounts', { token });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.data.secret['team/']);
    assert.equal(res.body.data.secret['hidden/'], undefined);
    const all = await server.api('GET', 'sys/internal/ui/mounts', { token: rootToken });
    assert.ok(all.body.data.secret['hidden/']);
    assert.ok(all.body.data.auth['token/']);
    assert.equal((await server.api('GET', 'sys/internal/ui/mounts')).status, 403);
  });
});

describe('unknown fields are refused where Coffer would not apply them', () => {
  test('KV v2 data, metadata and config writes, and the rotation config, name the unknown field in a 400', async (t) => {
    const { server, rootToken } = await ready(t);
    await server.api('POST', 'sys/mounts/kv2', { token: rootToken, body: { type: 'kv', options: { version: '2' } } });
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['kv2/data/a', { data: { v: '1' }, version: 3 }, 'version'],
      ['kv2/data/a', { data: { v: '1' }, options: { check_and_set: 0 } }, 'check_and_set'],
      ['kv2/metadata/a', { max_version: 3 }, 'max_version'],
      ['kv2/config', { delete_versions_after: '1h' }, 'delete_versions_after'],
      ['sys/rotate/config', { max_operation: 5 }, 'max_operation'],
    ];
    for (const [path, body, field] of cases) {
      const res = await server.api('POST', path, { token: rootToken, body });
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.match(res.body.errors[0], new RegExp(`unknown field "${field}"`));
    }
    assert.equal((await server.api('GET', 'kv2/data/a', { token: rootToken })).status, 404, 'nothing was written');
  });
});
