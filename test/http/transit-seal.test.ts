import assert from 'node:assert/strict';
import test from 'node:test';
import type { Scheduler } from '../../server/start.js';
import { unsealsWith } from '../helpers/rekey.js';
import { initServer, startTestServer, tempDir, unsealServer, type TestServer } from '../helpers/test-server.js';

/** Server A: Shamir, with a transit key `autounseal` and a token that may only encrypt and decrypt with it. */
async function keyServer(t: test.TestContext): Promise<{ a: TestServer; keys: string[]; root: string; sealToken: string }> {
  const a = await startTestServer(t);
  const init = await initServer(a, 1, 1);
  await unsealServer(a, init.keys);
  const root = init.rootToken;
  await a.api('POST', 'sys/mounts/transit', { token: root, body: { type: 'transit' } });
  await a.api('POST', 'transit/keys/autounseal', { token: root, body: {} });
  await a.api('PUT', 'sys/policies/acl/autounseal', {
    token: root,
    body: { policy: 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }' },
  });
  const created = await a.api('POST', 'auth/token/create', { token: root, body: { policies: ['autounseal'], no_default_policy: true } });
  return { a, keys: init.keys, root, sealToken: created.body.auth.client_token };
}

const transitStanza = (url: string, token: string, extra = '') =>
  `seal "transit" {\n address = "${url}"\n token = "${token}"\n key_name = "autounseal"\n mount_path = "transit/"\n ${extra}\n}`;

/** A scheduler the test fires by hand: the retry loop's clock. */
function manualScheduler(): { schedule: Scheduler; delays: number[]; fire(): void } {
  let pending: (() => void) | undefined;
  const delays: number[] = [];
  return {
    schedule: (fn, ms) => {
      pending = fn;
      delays.push(ms);
      return () => (pending = undefined);
    },
    delays,
    fire: () => {
      const fn = pending;
      pending = undefined;
      fn?.();
    },
  };
}

test('transit seal: B initialises with recovery shares, restarts unsealed, waits while A is sealed, recovers with A', async (t) => {
  const { a, keys: aKeys, root: aRoot, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const b = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  const init = await b.api('PUT', 'sys/init', { body: { recovery_shares: 3, recovery_threshold: 2 } });
  assert.equal(init.status, 200, init.text);
  const bRoot = init.body.root_token;
  const status = (await b.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.t, status.n, status.recovery_seal], ['transit', false, 2, 3, true]);
  await b.api('POST', 'sys/mounts/kv', { token: bRoot, body: { type: 'kv' } });
  await b.api('PUT', 'kv/db', { token: bRoot, body: { password: 's3cret' } });
  await b.close();

  const b2 = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  assert.equal((await b2.api('GET', 'sys/seal-status')).body.sealed, false, 'unsealed through A at start');
  assert.equal((await b2.api('GET', 'kv/db', { token: bRoot })).body.data.password, 's3cret');
  await b2.close();

  // A sealed: B starts, answers "sealed", and keeps retrying with growing delays.
  await a.api('PUT', 'sys/seal', { token: aRoot });
  const clock = manualScheduler();
  const b3 = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken), schedule: clock.schedule });
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.equal((await b3.api('GET', 'kv/db', { token: bRoot })).status, 503);
  for (let i = 0; i < 3; i++) {
    const before = clock.delays.length;
    clock.fire();
    while (clock.delays.length === before) await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(clock.delays, [500, 1000, 2000, 4000]);
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, true);

  // A unsealed again: the next retry unseals B.
  await unsealServer(a, aKeys);
  clock.fire();
  await b3.core.unsealWithSeal(); // waits for the state lock the retry holds, then sees it unsealed
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, false);
  assert.equal((await b3.api('GET', 'kv/db', { token: bRoot })).body.data.password, 's3cret');

  // sys/seal on B: its recovery shares unseal it (the key service still unwraps the root key).
  await b3.api('PUT', 'sys/seal', { token: bRoot });
  assert.equal(await unsealsWith(b3, init.body.recovery_keys.slice(1)), true);
});

test('transit seal: a token without permission stops the start with a clear error; an unreachable service is retried', async (t) => {
  const { a, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const b = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  await b.api('PUT', 'sys/init', { body: { recovery_shares: 1, recovery_threshold: 1 } });
  await b.close();

  await assert.rejects(startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, 'hvs.not-a-token') }), (err: Error) => {
    assert.match(err.message, /transit seal: decrypt with transit key "autounseal" at .* was refused with 403: .*permission denied.* \(check the seal token and its policy\)/);
    assert.ok(!err.message.includes('hvs.not-a-token'), 'the token is not in the error');
    return true;
  });
  const clock = manualScheduler();
  const down = await startTestServer(t, { dataDir, extraConfig: transitStanza('http://127.0.0.1:9', sealToken), schedule: clock.schedule });
  assert.equal((await down.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.deepEqual(clock.delays, [500]);
  await assert.rejects(down.core.unsealWithSeal(), /transit seal: cannot reach http:\/\/127.0.0.1:9: ECONNREFUSED/);
});

test('seal migration Shamir → transit → Shamir keeps every secret readable and the same shares working', async (t) => {
  const { a, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const shamir = await startTestServer(t, { dataDir });
  const init = await initServer(shamir, 3, 2);
  await unsealServer(shamir, init.keys.slice(0, 2));
  const root = init.rootToken;
  await shamir.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv', options: { version: '2' } } });
  for (let i = 0; i < 20; i++) await shamir.api('PUT', `kv/data/s${i}`, { token: root, body: { data: { i } } });
  const readAll = async (server: TestServer) => {
    for (let i = 0; i < 20; i++) assert.equal((await server.api('GET', `kv/data/s${i}`, { token: root })).body.data.data.i, i);
  };
  await shamir.close();

  // Shamir → transit: only the new stanza (Vault needs no shamir stanza for this direction).
  const toTransit = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  let status = (await toTransit.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.t, status.n], ['shamir', true, true, 2, 3]);
  const noFlag = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0] } });
  assert.deepEqual([noFlag.status, noFlag.body], [400, { errors: ['migrate option not provided and seal migration is pending'] }]);
  await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  const migrated = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[2], migrate: true } });
  assert.equal(migrated.status, 200, migrated.text);
  status = migrated.body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.recovery_seal, status.t, status.n], ['transit', false, false, true, 2, 3]);
  await readAll(toTransit);
  const noMigration = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  assert.equal(noMigration.status, 200, 'unsealed: nothing to do');
  await toTransit.close();

  // Now an auto seal: restarts unseal by themselves, and the old unseal shares are the recovery shares.
  const auto = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  assert.equal((await auto.api('GET', 'sys/seal-status')).body.sealed, false);
  await auto.api('PUT', 'sys/seal', { token: root });
  assert.equal(await unsealsWith(auto, [init.keys[1]!, init.keys[2]!]), true);
  await readAll(auto);
  await auto.close();

  // Transit → Shamir: the transit stanza marked disabled; unseal with the recovery shares and migrate.
  const toShamir = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken, 'disabled = "true"') });
  status = (await toShamir.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.t, status.n], ['transit', true, true, 2, 3]);
  await toShamir.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  status = (await toShamir.api('PUT', 'sys/unseal', { body: { key: init.keys[1], migrate: true } })).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.recovery_seal], ['shamir', false, false, false]);
  await readAll(toShamir);
  await toShamir.close();

  // Plain Shamir again: sealed at start, the same shares unseal, everything reads back.
  const back = await startTestServer(t, { dataDir });
  assert.equal((await back.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.equal(await unsealsWith(back, [init.keys[2]!, init.keys[0]!]), true);
  await readAll(back);
});
