import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

async function ready(t: TestContext) {
  const server = await startTestServer(t);
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  const api = (method: string, path: string, body?: unknown, token = rootToken) =>
    server.api(method, path, { token, ...(body === undefined ? {} : { body }) });
  await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
  return { server, rootToken, api };
}

describe('KV version 2 PATCH (JSON merge patch)', () => {
  test('a patch merges into the current version, null removes a key, and the result is a new version', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'secret/data/app', { data: { user: 'alice', pass: 'old', nested: { a: '1', b: '2' } } });
    const patched = await api('PATCH', 'secret/data/app', { data: { pass: 'new', user: null, nested: { b: null, c: '3' } } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.data.version, 2);
    assert.deepEqual((await api('GET', 'secret/data/app')).body.data.data, { pass: 'new', nested: { a: '1', c: '3' } });
    assert.deepEqual((await api('GET', 'secret/data/app?version=1')).body.data.data, { user: 'alice', pass: 'old', nested: { a: '1', b: '2' } });
  });

  test('a patch honours check-and-set and cas_required like a write', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'secret/data/app', { data: { v: '1' } });
    const stale = await api('PATCH', 'secret/data/app', { data: { v: '2' }, options: { cas: 0 } });
    assert.equal(stale.status, 400);
    assert.deepEqual(stale.body, { errors: ['check-and-set parameter did not match the current version'] });
    await api('POST', 'secret/metadata/app', { cas_required: true });
    assert.deepEqual((await api('PATCH', 'secret/data/app', { data: { v: '2' } })).body, {
      errors: ['check-and-set parameter required for this call'],
    });
    assert.equal((await api('PATCH', 'secret/data/app', { data: { v: '2' }, options: { cas: 1 } })).status, 200);
    assert.deepEqual((await api('GET', 'secret/data/app')).body.data.data, { v: '2' });
  });

  test('patching a missing, deleted or destroyed secret is a 404 and writes nothing', async (t) => {
    const { api } = await ready(t);
    assert.deepEqual(await api('PATCH', 'secret/data/none', { data: { v: '1' } }).then((r) => [r.status, r.body]), [404, { errors: [] }]);
    assert.equal((await api('GET', 'secret/metadata/none')).status, 404, 'no metadata was created');
    await api('POST', 'secret/data/gone', { data: { v: '1' } });
    await api('DELETE', 'secret/data/gone');
    assert.equal((await api('PATCH', 'secret/data/gone', { data: { v: '2' } })).status, 404);
    await api('PUT', 'secret/destroy/gone', { versions: [1] });
    assert.equal((await api('PATCH', 'secret/data/gone', { data: { v: '2' } })).status, 404);
    assert.equal((await api('GET', 'secret/metadata/gone')).body.data.current_version, 1);
  });

  test('a patch without a data object is a 400', async (t) => {
    const { api } = await ready(t);
    await api('POST', 'secret/data/app', { data: { v: '1' } });
    assert.deepEqual((await api('PATCH', 'secret/data/app', { nodata: true })).body, { errors: ['no data provided'] });
  });

  test('a token with update but without patch on the path cannot patch', async (t) => {
    const { server, api } = await ready(t);
    await api('POST', 'secret/data/app', { data: { v: '1' } });
    await api('PUT', 'sys/policies/acl/no-patch', { policy: 'path "secret/data/*" { capabilities = ["create", "read", "update"] }' });
    const token = (await server.core.tokens.create({ policies: ['no-patch'] })).token;
    assert.equal((await api('PATCH', 'secret/data/app', { data: { v: '2' } }, token)).status, 403);
  });
});
