import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import { CachedBackend } from '../../server/core/storage/cached-backend.js';
import { GroupCommitBackend } from '../../server/core/storage/group-commit-backend.js';
import { initServer, ManualClock, startTestServer, unsealServer } from '../helpers/test-server.js';

async function ready(t: TestContext, extraConfig = '', clock?: ManualClock) {
  const server = await startTestServer(t, { extraConfig, ...(clock ? { clock } : {}) });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  const api = (method: string, path: string, body?: unknown, token = rootToken) =>
    server.api(method, path, { token, ...(body === undefined ? {} : { body }) });
  await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
  return { server, rootToken, keys, api };
}

/**
 * A raw request. `viaExpress` adds `Content-Encoding: identity`, which the pipeline's direct entry leaves to express
 * (express's body parser accepts it as "no encoding"), so the same request can be answered both ways.
 */
function raw(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: string; headers?: Record<string, string>; viaExpress?: boolean },
) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers, ...(options.token ? { 'X-Vault-Token': options.token } : {}) };
    if (options.viaExpress) headers['Content-Encoding'] = 'identity';
    if (options.body !== undefined) Object.assign(headers, { 'Content-Length': String(Buffer.byteLength(options.body)) });
    const req = request(`${url}/v1/${path}`, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: { ...res.headers, date: undefined }, text: text.replace(/"request_id":"[^"]*"/, '') }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the hot path: storage cache, group commit, compiled ACLs', () => {
  test('concurrent writes to one secret each get their own version: none is lost, and check-and-set lets exactly one win', async (t) => {
    const { api } = await ready(t);
    const writes = await Promise.all(Array.from({ length: 12 }, (_, i) => api('PUT', 'secret/data/app', { data: { n: String(i) } })));
    assert.deepEqual(
      writes.map((w) => w.status),
      Array(12).fill(200),
    );
    assert.deepEqual(
      writes.map((w) => w.body.data.version as number).sort((a, b) => a - b),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.equal((await api('GET', 'secret/metadata/app')).body.data.current_version, 12);
    const cas = await Promise.all(
      Array.from({ length: 6 }, (_, i) => api('PUT', 'secret/data/app', { data: { n: `cas${i}` }, options: { cas: 12 } })),
    );
    assert.equal(cas.filter((w) => w.status === 200).length, 1);
    assert.equal(cas.filter((w) => w.status === 400).length, 5);
  });

  test('a request to a mounted path skips express yet answers exactly what express answers: reads, writes, refusals and errors', async (t) => {
    const { server, api, rootToken } = await ready(t, '', new ManualClock());
    await api('PUT', 'secret/data/app', { data: { a: '1' } });
    await api('PUT', 'secret/data/app', { data: { a: '2' } });
    await api('PUT', 'sys/policies/acl/reader', { policy: 'path "secret/data/*" { capabilities = ["read"] }' });
    const reader = (await api('POST', 'auth/token/create', { policies: ['reader'] })).body.auth.client_token as string;
    const reads: Array<[string, string, string | undefined]> = [
      ['GET', 'secret/data/app', reader],
      ['GET', 'secret/data/app?version=1', reader],
      ['GET', 'secret/data/app?version=1&version=2', reader],
      ['GET', 'secret/data/app', undefined],
      ['GET', 'secret/data/missing', rootToken],
      ['GET', 'secret/metadata/?list=true', rootToken],
      ['GET', 'secret/metadata/?list=maybe', rootToken],
      ['GET', 'secret/data/app?help=1', reader],
      ['GET', 'secret/data/%zz', rootToken],
      ['GET', 'secret/data/a%2Fb', rootToken],
      ['GET', 'sys/mounts', rootToken],
      ['GET', 'nomount/x', rootToken],
      ['HEAD', 'secret/data/app', reader],
    ];
    for (const [method, path, token] of reads) {
      const direct = await raw(server.url, method, path, { token });
      const viaExpress = await raw(server.url, method, path, { token, viaExpress: true });
      assert.deepEqual(direct, viaExpress, `${method} ${path}`);
    }
    // Writes change what they write to: each pair goes to two fresh paths of the same shape.
    let n = 0;
    const writes: Array<[string, string, { token?: string; body?: string; headers?: Record<string, string> }]> = [
      ['PUT', 'secret/data/w', { token: rootToken, body: '{"data":{"a":"1"}}' }],
      ['POST', 'secret/data/w', { token: rootToken, body: '{"data":{"a":"1"}}', headers: { 'Content-Type': 'text/plain' } }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '{"data":{"a":"1"},"bogus":1}' }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '{oops' }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '"just a string"' }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '' }],
      ['PUT', 'secret/data/w', { body: '{"data":{"a":"1"}}' }],
      ['PUT', 'secret/data/w', { token: reader, body: '{"data":{"a":"1"}}' }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '{"data":{"a":"1"}}', headers: { Origin: 'https://elsewhere.example' } }],
      ['PUT', 'secret/data/w', { token: rootToken, body: '{"data":{"a":"1"}}', headers: { 'X-Vault-Wrap-TTL': 'nonsense' } }],
      ['DELETE', 'secret/data/app', { token: reader }],
      ['PATCH', 'secret/data/missing', { token: rootToken, body: '{"data":{"a":"1"}}', headers: { 'Content-Type': 'application/merge-patch+json' } }],
    ];
    for (const [method, path, options] of writes) {
      const [a, b] = path === 'secret/data/w' ? [`${path}${++n}a`, `${path}${n}b`] : [path, path];
      const direct = await raw(server.url, method, a, options);
      const viaExpress = await raw(server.url, method, b, { ...options, viaExpress: true });
      assert.deepEqual(direct, viaExpress, `${method} ${path} ${JSON.stringify(options)}`);
    }
    assert.equal((await raw(server.url, 'GET', 'secret/data/w1a', { token: reader })).status, 200, 'the direct write really was stored');
  });

  test('the read cache is on by default, in front of group-committed LevelDB, and disable_cache = true turns it off', async (t) => {
    const on = await ready(t);
    assert.ok(on.server.storage instanceof CachedBackend);
    assert.ok(on.server.storage.inner instanceof GroupCommitBackend);
    await on.api('PUT', 'secret/data/app', { data: { a: '1' } });
    const before = on.server.storage.stats();
    assert.equal((await on.api('GET', 'secret/data/app')).status, 200);
    assert.ok(on.server.storage.stats().hits > before.hits);

    const off = await ready(t, 'disable_cache = true\n');
    assert.ok(off.server.storage instanceof GroupCommitBackend);
    await off.api('PUT', 'secret/data/app', { data: { a: '1' } });
    assert.deepEqual((await off.api('GET', 'secret/data/app')).body.data.data, { a: '1' });
  });

  test('cache_size bounds the cache in entries', async (t) => {
    const { server, api } = await ready(t, 'cache_size = 20\n');
    for (let i = 0; i < 30; i++) await api('PUT', `secret/data/k${i}`, { data: { i: String(i) } });
    const cache = server.storage;
    assert.ok(cache instanceof CachedBackend);
    assert.ok(cache.stats().entries <= 20, `${cache.stats().entries} entries`);
    assert.deepEqual((await api('GET', 'secret/data/k0')).body.data.data, { i: '0' });
  });

  test('a policy change reaches the very next request of a token holding it (the compiled ACL is not kept)', async (t) => {
    const { api } = await ready(t);
    await api('PUT', 'sys/policies/acl/app', { policy: 'path "secret/data/app" { capabilities = ["read"] }' });
    const token = (await api('POST', 'auth/token/create', { policies: ['app'] })).body.auth.client_token as string;
    await api('PUT', 'secret/data/app', { data: { a: '1' } });
    await api('PUT', 'secret/data/other', { data: { b: '2' } });
    assert.equal((await api('GET', 'secret/data/app', undefined, token)).status, 200);
    assert.equal((await api('GET', 'secret/data/other', undefined, token)).status, 403);
    await api('PUT', 'sys/policies/acl/app', { policy: 'path "secret/data/other" { capabilities = ["read"] }' });
    assert.equal((await api('GET', 'secret/data/app', undefined, token)).status, 403);
    assert.equal((await api('GET', 'secret/data/other', undefined, token)).status, 200);
    await api('DELETE', 'sys/policies/acl/app');
    assert.equal((await api('GET', 'secret/data/other', undefined, token)).status, 403);
  });

  test('after a seal and unseal, data written before the seal reads back from storage (the cache was emptied, not stale)', async (t) => {
    const { server, api, keys } = await ready(t);
    await api('PUT', 'secret/data/app', { data: { a: '1' } });
    await api('PUT', 'sys/seal');
    const cache = server.storage;
    assert.ok(cache instanceof CachedBackend);
    assert.equal(cache.stats().entries, 0);
    await unsealServer(server, keys);
    assert.deepEqual((await api('GET', 'secret/data/app')).body.data.data, { a: '1' });
  });
});
