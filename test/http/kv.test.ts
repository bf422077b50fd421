import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

async function ready(t: TestContext) {
  const server = await startTestServer(t);
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  const api = (method: string, path: string, body?: unknown, token = rootToken) =>
    server.api(method, path, { token, ...(body === undefined ? {} : { body }) });
  return { server, keys, rootToken, api };
}

describe('sys/mounts', () => {
  test('enable, list, read, tune and disable; the table survives a restart', async (t) => {
    const { server, keys, rootToken, api } = await ready(t);
    assert.equal((await api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' }, description: 'apps' })).status, 204);
    assert.equal((await api('POST', 'sys/mounts/team/legacy', { type: 'kv' })).status, 204);
    const list = await api('GET', 'sys/mounts');
    assert.deepEqual(Object.keys(list.body.data).sort(), ['secret/', 'sys/', 'team/legacy/']);
    assert.deepEqual(list.body['secret/'].options, { version: '2' }, 'injected at the top level too');
    assert.equal(list.body.data['team/legacy/'].options.version, '1');
    assert.equal((await api('POST', 'sys/mounts/secret/tune', { description: 'applications' })).status, 204);
    assert.equal((await api('GET', 'sys/mounts/secret')).body.data.description, 'applications');
    await api('POST', 'secret/data/a', { data: { v: '1' } });

    await server.close();
    const restarted = await startTestServer(t, { dataDir: server.dataDir });
    await unsealServer(restarted, keys);
    const again = await restarted.api('GET', 'secret/data/a', { token: rootToken });
    assert.deepEqual(again.body.data.data, { v: '1' });
    assert.equal((await restarted.api('DELETE', 'sys/mounts/secret', { token: rootToken })).status, 204);
    assert.deepEqual(Object.keys((await restarted.api('GET', 'sys/mounts', { token: rootToken })).body.data).sort(), ['sys/', 'team/legacy/']);
    assert.equal((await restarted.api('GET', 'secret/data/a', { token: rootToken })).status, 404);
    assert.deepEqual((await restarted.storage.list('logical/')).length, 0, "disabling deleted the mount's data");
  });

  const invalid: Array<[string, unknown, string]> = [
    ['sys/mounts/x', { type: 'nosuch' }, 'plugin not found in the catalog: nosuch'],
    ['sys/mounts/x', {}, 'backend type must be specified as a string'],
    ['sys/mounts/x', { type: 'kv', options: { version: '3' } }, 'invalid kv version "3": must be 1 or 2'],
    ['sys/mounts/sys', { type: 'kv' }, 'cannot mount at a protected path: sys/'],
    ['sys/mounts/auth/x', { type: 'kv' }, 'cannot mount at a protected path: auth/'],
  ];
  for (const [path, body, message] of invalid) {
    test(`POST ${path} ${JSON.stringify(body)} is a 400 "${message}"`, async (t) => {
      const { api } = await ready(t);
      const res = await api('POST', path, body);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { errors: [message] });
      assert.deepEqual(Object.keys((await api('GET', 'sys/mounts')).body.data), ['sys/']);
    });
  }

  test('a taken path, or one nested in a mount, is a 400', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'sys/mounts/secret', { type: 'kv' });
    for (const path of ['secret', 'secret/inner']) {
      const res = await api('POST', `sys/mounts/${path}`, { type: 'kv' });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { errors: ['path is already in use at secret/'] });
    }
  });
});

describe('KV version 1', () => {
  test("write, read, list and delete, with Vault's envelope", async (t) => {
    const { api } = await ready(t);
    await api('POST', 'sys/mounts/kv', { type: 'kv' });
    assert.equal((await api('PUT', 'kv/app/db', { user: 'u', pass: 'p' })).status, 204);
    await api('PUT', 'kv/app/cache', { url: 'x' });
    const read = await api('GET', 'kv/app/db');
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, { user: 'u', pass: 'p' });
    assert.equal(read.body.lease_duration, 2764800);
    assert.deepEqual((await api('LIST', 'kv/app')).body.data.keys, ['cache', 'db']);
    assert.deepEqual((await api('GET', 'kv/?list=true')).body.data.keys, ['app/']);
    assert.equal((await api('DELETE', 'kv/app/db')).status, 204);
    assert.equal((await api('GET', 'kv/app/db')).status, 404);
    assert.equal((await api('PUT', 'kv/empty', {})).status, 400);
  });
});

describe('KV version 2', () => {
  test('versions, check-and-set, reading an old version, metadata and listing', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    const v1 = await api('POST', 'secret/data/app/db', { data: { pass: 'one' } });
    assert.equal(v1.body.data.version, 1);
    const mismatch = await api('POST', 'secret/data/app/db', { data: { pass: 'x' }, options: { cas: 0 } });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(mismatch.body, { errors: ['check-and-set parameter did not match the current version'] });
    assert.equal((await api('POST', 'secret/data/app/db', { data: { pass: 'two' }, options: { cas: 1 } })).body.data.version, 2);
    const latest = await api('GET', 'secret/data/app/db');
    assert.deepEqual(latest.body.data.data, { pass: 'two' });
    assert.equal(latest.body.data.metadata.version, 2);
    assert.deepEqual((await api('GET', 'secret/data/app/db?version=1')).body.data.data, { pass: 'one' });
    const meta = await api('GET', 'secret/metadata/app/db');
    assert.equal(meta.body.data.current_version, 2);
    assert.deepEqual(Object.keys(meta.body.data.versions), ['1', '2']);
    assert.deepEqual((await api('LIST', 'secret/metadata/app')).body.data.keys, ['db']);
    assert.equal((await api('POST', 'secret/data/app/db', { nodata: true })).status, 400);
  });

  test('delete, undelete and destroy act on versions', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    await api('POST', 'secret/data/s', { data: { v: '1' } });
    await api('POST', 'secret/data/s', { data: { v: '2' } });
    assert.equal((await api('DELETE', 'secret/data/s')).status, 204);
    const deleted = await api('GET', 'secret/data/s');
    assert.equal(deleted.status, 404);
    assert.notEqual(deleted.body.data.metadata.deletion_time, '');
    assert.equal((await api('POST', 'secret/undelete/s', { versions: [2] })).status, 204);
    assert.deepEqual((await api('GET', 'secret/data/s')).body.data.data, { v: '2' });
    assert.equal((await api('PUT', 'secret/destroy/s', { versions: [1] })).status, 204);
    const destroyed = await api('GET', 'secret/data/s?version=1');
    assert.equal(destroyed.status, 404);
    assert.equal(destroyed.body.data.metadata.destroyed, true);
    assert.equal((await api('POST', 'secret/undelete/s', { versions: [1] })).status, 204);
    assert.equal((await api('GET', 'secret/data/s?version=1')).status, 404, 'destroyed is final');
    assert.equal((await api('POST', 'secret/delete/s', { versions: [2] })).status, 204);
    assert.equal((await api('GET', 'secret/data/s')).status, 404);
    assert.equal((await api('DELETE', 'secret/metadata/s')).status, 204);
    assert.equal((await api('GET', 'secret/metadata/s')).status, 404);
  });

  test('max_versions keeps only the newest versions; cas_required demands cas', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    await api('POST', 'secret/metadata/s', { max_versions: 2 });
    for (const v of ['1', '2', '3']) await api('POST', 'secret/data/s', { data: { v } });
    const meta = (await api('GET', 'secret/metadata/s')).body.data;
    assert.deepEqual(Object.keys(meta.versions), ['2', '3']);
    assert.equal(meta.oldest_version, 2);
    assert.equal((await api('GET', 'secret/data/s?version=1')).status, 404);
    await api('POST', 'secret/config', { cas_required: true });
    assert.deepEqual((await api('GET', 'secret/config')).body.data.cas_required, true);
    const nocas = await api('POST', 'secret/data/t', { data: { v: '1' } });
    assert.deepEqual(nocas.body, { errors: ['check-and-set parameter required for this call'] });
    assert.equal((await api('POST', 'secret/data/t', { data: { v: '1' }, options: { cas: 0 } })).status, 200);
  });

  test('a write needs create for a new secret and update for an existing one', async (t) => {
    const { server, rootToken, api } = await ready(t);
    await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    await api('PUT', 'sys/policies/acl/create-only', { policy: 'path "secret/data/*" { capabilities = ["create", "read"] }' });
    const token = (await server.core.tokens.create({ policies: ['create-only'] })).token;
    assert.equal((await api('POST', 'secret/data/new', { data: { v: '1' } }, token)).status, 200);
    const overwrite = await api('POST', 'secret/data/new', { data: { v: '2' } }, token);
    assert.equal(overwrite.status, 403);
    assert.deepEqual((await api('GET', 'secret/data/new', undefined, rootToken)).body.data.data, { v: '1' });
  });
});
