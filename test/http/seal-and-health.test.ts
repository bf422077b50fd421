import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initServer, ManualClock, startTestServer, unsealServer } from '../helpers/test-server.js';

const ONE_DENIED = '1 error occurred:\n\t* permission denied\n\n';
const INVALID_TOKEN = '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n';

async function unsealedServer(t: Parameters<typeof startTestServer>[0], clock?: ManualClock) {
  const server = await startTestServer(t, clock ? { clock } : {});
  const init = await initServer(server, 3, 2);
  await unsealServer(server, init.keys.slice(0, 2));
  return { server, ...init };
}

describe('while sealed (behaviour 7)', () => {
  test('an authenticated path answers 503 "Vault is sealed" for a valid token, an invalid one and none', async (t) => {
    const { server, rootToken } = await unsealedServer(t);
    const unsealed = await server.api('GET', 'sys/key-status', { token: rootToken });
    assert.equal(unsealed.status, 200);
    assert.equal(unsealed.body.term, 1);
    assert.equal(unsealed.body.data.term, 1);
    assert.match(unsealed.body.install_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    await server.api('PUT', 'sys/seal', { token: rootToken });
    for (const token of [rootToken, 'hvs.nonsense', undefined]) {
      const res = await server.api('GET', 'sys/key-status', token ? { token } : {});
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, { errors: ['Vault is sealed'] });
    }
    // Vault answers 204 to seal and step-down on a sealed node without looking at the token.
    assert.equal((await server.api('PUT', 'sys/seal', { token: 'hvs.nonsense' })).status, 204);
    assert.equal((await server.api('PUT', 'sys/step-down')).status, 204);
  });

  test('health answers 503 with its JSON body, any code override verbatim, and HEAD gives the status without a body', async (t) => {
    const { server, rootToken } = await unsealedServer(t);
    await server.api('PUT', 'sys/seal', { token: rootToken });
    const health = await server.api('GET', 'sys/health');
    assert.equal(health.status, 503);
    assert.deepEqual([health.body.initialized, health.body.sealed, health.body.standby], [true, true, true]);
    assert.equal(health.body.cluster_name, undefined);
    const overridden = await server.api('GET', 'sys/health?sealedcode=299');
    assert.equal(overridden.status, 299);
    assert.equal(overridden.body.sealed, true);
    const head = await server.api('HEAD', 'sys/health');
    assert.equal(head.status, 503);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-type'), 'application/json');
  });
});

describe('sys/health', () => {
  test("answers 200 when unsealed and honours every code override, including the Go client's 299s", async (t) => {
    const { server } = await unsealedServer(t);
    const ok = await server.api('GET', 'sys/health');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.sealed, false);
    assert.equal(ok.body.standby, false);
    assert.match(ok.body.cluster_name, /^coffer-cluster-/);
    assert.equal((await server.api('GET', 'sys/health?activecode=204')).status, 204);
    const goClient =
      'uninitcode=299&sealedcode=299&standbycode=299&drsecondarycode=299&performancestandbycode=299&removedcode=299&haunhealthycode=299';
    assert.equal((await server.api('GET', `sys/health?${goClient}`)).status, 200);
    assert.equal((await server.api('GET', 'sys/health?standbyok=true&perfstandbyok=1')).status, 200);
  });

  test('uninitialised gives 501 or the uninitcode override', async (t) => {
    const server = await startTestServer(t);
    assert.equal((await server.api('GET', 'sys/health')).status, 501);
    assert.equal((await server.api('GET', 'sys/health?uninitcode=200')).status, 200);
    assert.equal((await server.api('HEAD', 'sys/health?uninitcode=299')).status, 299);
  });

  test('a malformed query parameter is a 400 with an empty error list; other methods are 405', async (t) => {
    const server = await startTestServer(t);
    for (const query of ['sealedcode=abc', 'standbyok=maybe', 'activecode=99', 'uninitcode=1000']) {
      const res = await server.api('GET', `sys/health?${query}`);
      assert.equal(res.status, 400, query);
      assert.deepEqual(res.body, { errors: [] });
    }
    assert.equal((await server.api('PUT', 'sys/health')).status, 405);
  });

  test('the clock behind server_time_utc is injected', async (t) => {
    const clock = new ManualClock(Date.parse('2030-05-01T00:00:00Z'));
    const { server } = await unsealedServer(t, clock);
    assert.equal((await server.api('GET', 'sys/health')).body.server_time_utc, Date.parse('2030-05-01T00:00:00Z') / 1000);
  });

  test('sys/leader reports a non-HA server, sealed or not', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('GET', 'sys/leader');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      ha_enabled: false,
      is_self: false,
      active_time: '0001-01-01T00:00:00Z',
      leader_address: '',
      leader_cluster_address: '',
      performance_standby: false,
      performance_standby_last_remote_wal: 0,
    });
  });
});

describe('sys/seal (behaviour 8)', () => {
  test('no token is a 403 "permission denied" and the server stays unsealed', async (t) => {
    const { server } = await unsealedServer(t);
    const res = await server.api('PUT', 'sys/seal');
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errors: ['permission denied'] });
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, false);
  });

  test('an invalid token is a 403 with Vault\'s "invalid token" body', async (t) => {
    const { server } = await unsealedServer(t);
    const res = await server.api('PUT', 'sys/seal', { token: 'hvs.AAAAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errors: [INVALID_TOKEN] });
  });

  test('an expired token is treated as invalid', async (t) => {
    const clock = new ManualClock();
    const { server } = await unsealedServer(t, clock);
    const { token } = await server.core.tokens.create({ policies: ['root'], ttl: 60 });
    clock.advance(61_000);
    const res = await server.api('PUT', 'sys/seal', { token });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errors: [INVALID_TOKEN] });
  });

  test('a valid token without sudo on sys/seal is a 403 "1 error occurred: permission denied"', async (t) => {
    const { server } = await unsealedServer(t);
    const { token } = await server.core.tokens.create({ policies: ['default'] });
    const res = await server.api('PUT', 'sys/seal', { token });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errors: [ONE_DENIED] });
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, false);
  });

  test('the root token seals (204) via X-Vault-Token, sealing again is 204, and GET is 405', async (t) => {
    const { server, rootToken } = await unsealedServer(t);
    const res = await server.api('PUT', 'sys/seal', { token: rootToken });
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true);
    assert.equal((await server.api('PUT', 'sys/seal', { token: rootToken })).status, 204);
    const get = await server.api('GET', 'sys/seal');
    assert.equal(get.status, 405);
    assert.deepEqual(get.body, { errors: [] });
  });

  test('the root token is also accepted as Authorization: Bearer, and POST works like PUT', async (t) => {
    const { server, rootToken } = await unsealedServer(t);
    const res = await server.api('POST', 'sys/seal', { headers: { Authorization: `Bearer ${rootToken}` } });
    assert.equal(res.status, 204);
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true);
  });

  test('sealing discards a partial unseal attempt and the server unseals again with its shares', async (t) => {
    const { server, keys, rootToken } = await unsealedServer(t);
    await server.api('PUT', 'sys/seal', { token: rootToken });
    await server.api('PUT', 'sys/unseal', { body: { key: keys[0] } });
    const res = await server.api('PUT', 'sys/unseal', { body: { key: keys[2] } });
    assert.equal(res.body.sealed, false);
    assert.equal((await server.api('PUT', 'sys/seal', { token: rootToken })).status, 204);
  });
});
