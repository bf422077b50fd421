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
    assert.deepEqual(Object.keys(list.body.data).sort(), ['cubbyhole/', 'secret/', 'sys/', 'team/legacy/']);
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
    assert.deepEqual(Object.keys((await restarted.api('GET', 'sys/mounts', { token: rootToken })).body.data).sort(), [
      'cubbyhole/',
      'sys/',
      'team/legacy/',
    ]);
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
      assert.deepEqual(Object.keys((await api('GET', 'sys/mounts')).body.data), ['cubbyhole/', 'sys/']);
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

describe('a write over an entry that no longer decrypts', () => {
  /** Flips the last byte (the tag) of the only stored entry whose path ends with `suffix`. */
  async function tamper(server: Awaited<ReturnType<typeof ready>>['server'], suffix: string): Promise<string> {
    const paths: string[] = [];
    for (const mount of await server.storage.list('logical/'))
      for (const path of await server.storage.list(`logical/${mount}`)) paths.push(`logical/${mount}${path}`);
    const metadata = await Promise.all(paths.filter((p) => p.endsWith('/')).map((p) => server.storage.list(p).then((ks) => ks.map((k) => p + k))));
    const victim = [...paths, ...metadata.flat()].find((p) => p.endsWith(suffix))!;
    const bytes = Buffer.from((await server.storage.get(victim))!);
    bytes[bytes.length - 1]! ^= 1;
    await server.storage.put(victim, bytes);
    return victim;
  }

  test('is refused with an integrity error and leaves the entry as it is, on KV v1 and on KV v2', async (t) => {
    const { server, api } = await ready(t);
    await api('POST', 'sys/mounts/kv', { type: 'kv' });
    await api('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    await api('PUT', 'kv/tampered-v1', { v: '1' });
    await api('PUT', 'secret/data/tampered-v2', { data: { v: '1' } });
    for (const [suffix, path, body] of [
      ['tampered-v1', 'kv/tampered-v1', { v: '2' }],
      ['metadata/tampered-v2', 'secret/data/tampered-v2', { data: { v: '2' } }],
    ] as const) {
      const victim = await tamper(server, suffix);
      const before = Buffer.from((await server.storage.get(victim))!).toString('hex');
      const write = await api('PUT', path, body);
      assert.equal(write.status, 500, `${path}: ${JSON.stringify(write.body)}`);
      assert.equal(Buffer.from((await server.storage.get(victim))!).toString('hex'), before, `${path} was not replaced`);
    }
  });
});

test("?help=1 answers the path's description instead of its data, and needs a token with a capability there", async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;
  await server.api('POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } });
  await server.api('PUT', 'secret/data/app', { token: root, body: { data: { password: 'hunter2' } } });
  const help = await server.api('GET', 'secret/data/app?help=1', { token: root });
  assert.equal(help.status, 200);
  assert.match(help.body.help, /Key\/value secrets engine/);
  assert.ok(!help.text.includes('hunter2'), 'the data is not returned');
  assert.equal((await server.api('GET', 'secret/data/app?help=1')).status, 403);
  const nobody = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'] } })).body.auth.client_token;
  assert.equal((await server.api('GET', 'secret/data/app?help=1', { token: nobody })).status, 403);
  assert.match((await server.api('GET', 'sys/rekey/init?help=1', { token: root })).body.help, /Rekey/);
});

test('sys/remount moves a mount with its data, and its migration id reports success (what `secrets move` polls)', async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;
  await server.api('POST', 'sys/mounts/old', { token: root, body: { type: 'kv', options: { version: '1' } } });
  await server.api('PUT', 'old/app', { token: root, body: { v: 'kept' } });
  const moved = await server.api('POST', 'sys/remount', { token: root, body: { from: 'old', to: 'new' } });
  assert.equal(moved.status, 200, moved.text);
  const id = moved.body.data.migration_id as string;
  const status = await server.api('GET', `sys/remount/status/${id}`, { token: root });
  assert.deepEqual(status.body.data.migration_info, { source_mount: 'old', target_mount: 'new', status: 'success' });
  assert.equal((await server.api('GET', 'new/app', { token: root })).body.data.v, 'kept');
  assert.equal((await server.api('GET', `sys/remount/status/nope`, { token: root })).status, 400);
});
