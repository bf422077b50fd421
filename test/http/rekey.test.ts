import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { GpgHome } from '../helpers/gpg.js';
import { rekey, unsealsWith } from '../helpers/rekey.js';
import { createLogger } from '../../server/log/logger.js';
import { startCoffer } from '../../server/start.js';
import {
  apiCall,
  type ApiResult,
  initServer,
  ManualClock,
  startTestServer,
  tempDir,
  testConfig,
  unsealServer,
  type TestServer,
} from '../helpers/test-server.js';

async function unsealed(t: TestContext, shares = 5, threshold = 3, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const init = await initServer(server, shares, threshold);
  await unsealServer(server, init.keys.slice(0, threshold));
  return { server, clock, ...init };
}

const seal = (server: TestServer, token: string) => server.api('PUT', 'sys/seal', { token });
const put = (server: TestServer, token: string, name: string) =>
  server.api('PUT', `sys/policies/acl/${name}`, { token, body: { policy: `path "${name}" { capabilities = ["read"] }` } });

describe('rekey happy path (behaviour 10)', () => {
  test('init reports the new parameters and the current threshold; updates advance; the last returns new keys; old fail, new unseal', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    const idle = await server.api('GET', 'sys/rekey/init');
    assert.deepEqual(idle.body, {
      nonce: '',
      started: false,
      t: 0,
      n: 0,
      progress: 0,
      required: 3,
      pgp_fingerprints: null,
      backup: false,
      verification_required: false,
    });
    const init = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 4, secret_threshold: 2 } });
    assert.equal(init.status, 200);
    assert.match(init.body.nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // started_time (not in Vault) lets key holders see which operation they are about to feed.
    assert.match(init.body.started_time, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(
      { ...init.body, nonce: 'N', started_time: 'T' },
      {
        nonce: 'N',
        started: true,
        t: 2,
        n: 4,
        progress: 0,
        required: 3,
        pgp_fingerprints: null,
        backup: false,
        verification_required: false,
        started_time: 'T',
      },
    );
    const one = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: init.body.nonce } });
    assert.equal(one.body.progress, 1);
    assert.equal((await server.api('PUT', 'sys/rekey/update', { body: { Key: keys[1], Nonce: init.body.nonce } })).body.progress, 2);
    const done = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[2], nonce: init.body.nonce } });
    assert.equal(done.body.complete, true);
    assert.equal(done.body.nonce, init.body.nonce);
    assert.equal(done.body.keys.length, 4);
    done.body.keys.forEach((hex: string, i: number) => assert.equal(Buffer.from(done.body.keys_base64[i], 'base64').toString('hex'), hex));
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.started, false);
    assert.equal((await server.api('GET', 'sys/seal-status')).body.n, 4);

    await put(server, rootToken, 'before-seal');
    await seal(server, rootToken);
    assert.equal(await unsealsWith(server, keys.slice(0, 3)), false, 'old shares no longer unseal');
    assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true);
    assert.equal(await unsealsWith(server, done.body.keys.slice(1, 3)), true, 'new shares unseal');
    assert.equal((await server.api('GET', 'sys/policies/acl/before-seal', { token: rootToken })).status, 200, 'data intact');
  });

  test('5/3 → 3/2 → 1/1 → 5/3 round-trips, also across a restart, with data intact', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    await put(server, rootToken, 'round-trip');
    let current = keys.slice(0, 3);
    for (const [shares, threshold] of [
      [3, 2],
      [1, 1],
      [5, 3],
    ] as const) {
      const result = await rekey(server, current, { shares, threshold });
      assert.equal(result.keys.length, shares);
      assert.equal(result.keys[0]!.length, shares === 1 ? 64 : 66);
      current = result.keys.slice(-threshold);
    }
    await server.close();
    const restarted = await startTestServer(t, { dataDir: server.dataDir });
    const status = (await restarted.api('GET', 'sys/seal-status')).body;
    assert.deepEqual([status.n, status.t], [5, 3]);
    assert.equal(await unsealsWith(restarted, keys.slice(0, 3)), false);
    assert.equal(await unsealsWith(restarted, current), true);
    assert.equal((await restarted.api('GET', 'sys/policies/acl/round-trip', { token: rootToken })).status, 200);
    assert.deepEqual(
      await restarted.storage.list('core/'),
      ['cluster', 'keyring', 'seal-config', 'sealed-root-key', 'token-hmac-key'],
      'no previous wrapping is left behind',
    );
  });
});

describe('rekey guards (behaviour 11)', () => {
  test('wrong nonce, duplicate share, second init, no operation, backup without PGP, PGP count, invalid config', async (t) => {
    const { server, keys } = await unsealed(t);
    const none = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: 'x' } });
    assert.deepEqual([none.status, none.body], [400, { errors: ['no barrier rekey in progress'] }]);
    for (const [body, message] of [
      [{ secret_shares: 3, secret_threshold: 2, backup: true }, 'cannot request a backup of the new keys without providing PGP keys for encryption'],
      [{ secret_shares: 3, secret_threshold: 2, pgp_keys: ['a'] }, 'incorrect number of PGP keys for rekey'],
      [{ secret_shares: 3, secret_threshold: 1 }, 'invalid rekey seal configuration: threshold must be greater than one for multiple shares'],
      [{ secret_shares: 2, secret_threshold: 3 }, 'invalid rekey seal configuration: threshold cannot be larger than shares'],
    ] as const) {
      const res = await server.api('PUT', 'sys/rekey/init', { body });
      assert.deepEqual([res.status, res.body], [400, { errors: [message] }], JSON.stringify(body));
    }
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.started, false, 'refused inits start nothing');
    const init = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    const again = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.deepEqual([again.status, again.body], [400, { errors: ['rekey already in progress'] }]);
    const wrongNonce = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: 'not-it' } });
    assert.deepEqual(
      [wrongNonce.status, wrongNonce.body],
      [400, { errors: [`incorrect nonce supplied; nonce for this rekey operation is "${init.body.nonce}"`] }],
    );
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.progress, 0, 'a wrong nonce records nothing');
    await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: init.body.nonce } });
    const dup = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: init.body.nonce } });
    assert.deepEqual([dup.status, dup.body], [400, { errors: ['given key has already been provided during this generation operation'] }]);
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.progress, 1);
    const bad = await server.api('PUT', 'sys/rekey/update', { body: { key: 'zz', nonce: init.body.nonce } });
    assert.deepEqual([bad.status, bad.body], [400, { errors: ["'key' must be a valid hex or base64 string"] }]);
  });

  test('a wrong set of current shares at the threshold is a 400: progress 0, same operation and nonce, right shares then work', async (t) => {
    const { server, keys } = await unsealed(t);
    const other = await startTestServer(t);
    const foreign = await initServer(other, 5, 3);
    const init = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: init.body.nonce } });
    await server.api('PUT', 'sys/rekey/update', { body: { key: keys[1], nonce: init.body.nonce } });
    const wrong = await server.api('PUT', 'sys/rekey/update', { body: { key: foreign.keys[0], nonce: init.body.nonce } });
    assert.equal(wrong.status, 400);
    const status = (await server.api('GET', 'sys/rekey/init')).body;
    assert.deepEqual([status.started, status.nonce, status.progress], [true, init.body.nonce, 0]);
    for (const key of keys.slice(2, 4)) await server.api('PUT', 'sys/rekey/update', { body: { key, nonce: init.body.nonce } });
    const done = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[4], nonce: init.body.nonce } });
    assert.equal(done.body.complete, true);
  });

  test('every rekey endpoint answers 503 while sealed, and sealing ends the operation', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    await seal(server, rootToken);
    for (const [method, path] of [
      ['GET', 'sys/rekey/init'],
      ['PUT', 'sys/rekey/update'],
      ['GET', 'sys/rekey/verify'],
    ] as const) {
      const res = await server.api(method, path, method === 'GET' ? {} : { body: { key: keys[0], nonce: 'x' } });
      assert.deepEqual([res.status, res.body], [503, { errors: ['Vault is sealed'] }]);
    }
    await unsealServer(server, keys.slice(0, 3));
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.started, false);
  });

  test('the recovery target is refused on a Shamir seal', async (t) => {
    const { server } = await unsealed(t);
    const res = await server.api('PUT', 'sys/rekey-recovery-key/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    assert.deepEqual([res.status, res.body], [400, { errors: ['recovery rekeying not supported'] }]);
  });
});

describe('rekey cancel (behaviour 12)', () => {
  test('cancel returns to idle; the old nonce is then refused; within 10 minutes it needs the nonce unless the caller has sudo', async (t) => {
    const { server, clock, keys, rootToken } = await unsealed(t);
    const first = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    const noNonce = await server.api('DELETE', 'sys/rekey/init');
    assert.equal(noNonce.status, 400);
    assert.match(noNonce.body.errors[0], /only be cancelled with its nonce/);
    assert.equal((await server.api('DELETE', 'sys/rekey/init', { body: { nonce: 'wrong' } })).status, 400);
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.nonce, first.body.nonce, 'still running');
    assert.equal((await server.api('DELETE', 'sys/rekey/init', { body: { nonce: first.body.nonce } })).status, 204);
    assert.deepEqual((await server.api('GET', 'sys/rekey/init')).body, {
      nonce: '',
      started: false,
      t: 0,
      n: 0,
      progress: 0,
      required: 3,
      pgp_fingerprints: null,
      backup: false,
      verification_required: false,
    });
    const stale = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[0], nonce: first.body.nonce } });
    assert.deepEqual(stale.body, { errors: ['no barrier rekey in progress'] });

    await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    assert.equal((await server.api('DELETE', 'sys/rekey/init', { token: rootToken })).status, 204, 'a sudo token cancels without the nonce');
    await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 2, secret_threshold: 2 } });
    clock.advance(10 * 60 * 1000);
    assert.equal((await server.api('DELETE', 'sys/rekey/init')).status, 204, 'after 10 minutes no nonce is needed');
    assert.equal((await server.api('DELETE', 'sys/rekey/init')).status, 204, 'nothing in progress: still 204');
  });

  test('disable_unauthed_rekey_endpoints makes every rekey endpoint need update + sudo', async (t) => {
    const locked = await startCoffer(
      { ...testConfig(await tempDir(t)), disableUnauthedRekeyEndpoints: true },
      { logger: createLogger('silent'), maintenanceIntervalMs: 0 },
    );
    t.after(() => locked.close());
    const call = (method: string, path: string, options: Parameters<typeof apiCall>[3] = {}) => apiCall(locked.url, method, path, options);
    const init = await call('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    await call('PUT', 'sys/unseal', { body: { key: init.body.keys[0] } });
    const rootToken: string = init.body.root_token;
    const noSudo = (await locked.core.tokens.create({ policies: ['default'] })).token;
    for (const [method, path] of [
      ['GET', 'sys/rekey/init'],
      ['PUT', 'sys/rekey/init'],
      ['PUT', 'sys/rekey/update'],
      ['DELETE', 'sys/rekey/init'],
      ['GET', 'sys/rekey/verify'],
    ] as const) {
      const body = method === 'GET' ? {} : { body: { secret_shares: 1, secret_threshold: 1 } };
      assert.deepEqual((await call(method, path, body)).body, { errors: ['permission denied'] }, `${method} ${path} without a token`);
      assert.equal((await call(method, path, { token: noSudo, ...body })).status, 403, `${method} ${path} without sudo`);
    }
    const started = await call('PUT', 'sys/rekey/init', { token: rootToken, body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(started.status, 200);
    const done = await call('PUT', 'sys/rekey/update', { token: rootToken, body: { key: init.body.keys[0], nonce: started.body.nonce } });
    assert.equal(done.body.complete, true);
  });
});

describe('rekey with verification (behaviour 13)', () => {
  test('new keys are inactive until verified; wrong shares rotate the verification nonce; cancel keeps the old keys', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    const result = await rekey(server, keys.slice(0, 3), { shares: 3, threshold: 2, extra: { require_verification: true } });
    assert.match(result.verification_nonce!, /^[0-9a-f-]{36}$/);
    const status = (await server.api('GET', 'sys/rekey/init')).body;
    assert.deepEqual([status.verification_required, status.verification_nonce, status.progress], [true, result.verification_nonce, 0]);
    const update = await server.api('PUT', 'sys/rekey/update', { body: { key: keys[3], nonce: result.nonce } });
    assert.deepEqual(update.body, {
      errors: [
        `rekey operation already finished; verification must be performed; nonce for the verification operation is "${result.verification_nonce}"`,
      ],
    });
    const verifyStatus = (await server.api('GET', 'sys/rekey/verify')).body;
    assert.deepEqual(verifyStatus, { nonce: result.verification_nonce, started: true, t: 2, n: 3, progress: 0 });

    // Old keys still unseal while verification is pending.
    await seal(server, rootToken);
    assert.equal(await unsealsWith(server, keys.slice(0, 3)), true);
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.started, false, 'sealing ended the operation');

    const second = await rekey(server, keys.slice(0, 3), { shares: 3, threshold: 2, extra: { require_verification: true } });
    const wrongNonce = await server.api('PUT', 'sys/rekey/verify', { body: { key: second.keys[0], nonce: 'x' } });
    assert.deepEqual(wrongNonce.body, { errors: [`incorrect nonce supplied; nonce for this verify operation is "${second.verification_nonce}"`] });
    await server.api('PUT', 'sys/rekey/verify', { body: { key: second.keys[0], nonce: second.verification_nonce } });
    const dup = await server.api('PUT', 'sys/rekey/verify', { body: { key: second.keys[0], nonce: second.verification_nonce } });
    assert.deepEqual(dup.body, { errors: ['given key has already been provided during this verify operation'] });
    const wrong = await server.api('PUT', 'sys/rekey/verify', { body: { key: result.keys[1], nonce: second.verification_nonce } });
    assert.deepEqual([wrong.status, wrong.body], [400, { errors: ['rekey verification failed; incorrect key shares supplied'] }]);
    const rotated = (await server.api('GET', 'sys/rekey/verify')).body;
    assert.notEqual(rotated.nonce, second.verification_nonce);
    assert.equal(rotated.progress, 0);
    const reset = await server.api('DELETE', 'sys/rekey/verify');
    assert.equal(reset.status, 200);
    assert.notEqual(reset.body.nonce, rotated.nonce);

    await server.api('PUT', 'sys/rekey/verify', { body: { key: second.keys[2], nonce: reset.body.nonce } });
    const verified = await server.api('PUT', 'sys/rekey/verify', { body: { key: second.keys[1], nonce: reset.body.nonce } });
    assert.deepEqual(verified.body, { nonce: reset.body.nonce, complete: true });
    await seal(server, rootToken);
    assert.equal(await unsealsWith(server, keys.slice(0, 3)), false);
    assert.equal(await unsealsWith(server, second.keys.slice(0, 2)), true);
  });

  test('cancelling during verification keeps the old keys valid', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    const result = await rekey(server, keys.slice(0, 3), { shares: 2, threshold: 2, extra: { require_verification: true } });
    // Holders' shares are in the operation: cancelling it takes a sudo token (see the takeover tests).
    assert.equal((await server.api('DELETE', 'sys/rekey/init', { body: { nonce: result.nonce } })).status, 400);
    assert.equal((await server.api('DELETE', 'sys/rekey/init', { token: rootToken, body: { nonce: result.nonce } })).status, 204);
    await seal(server, rootToken);
    assert.equal(await unsealsWith(server, result.keys), false);
    assert.equal(await unsealsWith(server, keys.slice(2, 5)), true);
  });
});

describe('rekey with PGP (real gpg)', () => {
  test('shares encrypted to three gpg keys decrypt with gpg and unseal; backup retrieve/delete needs its capability', async (t) => {
    const gpg = await GpgHome.create(t);
    const holders = [];
    for (const name of ['kh1', 'kh2', 'kh3']) holders.push(await gpg.generateKey(`${name}@example.com`));
    const { server, keys, rootToken } = await unsealed(t);
    const init = await server.api('PUT', 'sys/rekey/init', {
      body: { secret_shares: 3, secret_threshold: 2, pgp_keys: holders.map((h) => h.base64), backup: true },
    });
    assert.deepEqual(
      init.body.pgp_fingerprints,
      holders.map((h) => h.fingerprint),
    );
    assert.equal(init.body.backup, true);
    const result = await rekey(server, keys.slice(0, 3), { shares: 3, threshold: 2 }).catch(() => undefined);
    assert.equal(result, undefined, 'a second init is refused while the first runs');
    let done: ApiResult | undefined;
    for (const key of keys.slice(0, 3)) done = await server.api('PUT', 'sys/rekey/update', { body: { key, nonce: init.body.nonce } });
    assert.equal(done!.body.complete, true);
    assert.deepEqual(
      done!.body.pgp_fingerprints,
      holders.map((h) => h.fingerprint),
    );
    const shares: string[] = [];
    for (const message of done!.body.keys_base64) shares.push(await gpg.decryptBase64(message));
    shares.forEach((s) => assert.match(s, /^[0-9a-f]{66}$/));

    await server.api('PUT', 'sys/policies/acl/backup-reader', {
      token: rootToken,
      body: { policy: 'path "sys/rekey/backup" { capabilities = ["read"] }' },
    });
    const reader = (await server.core.tokens.create({ policies: ['backup-reader'] })).token;
    const backup = await server.api('GET', 'sys/rekey/backup', { token: reader });
    assert.equal(backup.status, 200);
    assert.equal(backup.body.nonce, init.body.nonce);
    assert.deepEqual(Object.keys(backup.body.keys).sort(), holders.map((h) => h.fingerprint).sort());
    assert.deepEqual(backup.body.data.keys[holders[1]!.fingerprint], [done!.body.keys[1]]);
    assert.deepEqual(backup.body.keys_base64[holders[1]!.fingerprint], [done!.body.keys_base64[1]]);
    assert.equal((await server.api('DELETE', 'sys/rekey/backup', { token: reader })).status, 403, 'read does not allow delete');
    assert.equal((await server.api('GET', 'sys/rekey/backup')).status, 403);
    assert.equal((await server.api('DELETE', 'sys/rekey/backup', { token: rootToken })).status, 204);
    const gone = await server.api('GET', 'sys/rekey/backup', { token: rootToken });
    assert.deepEqual([gone.status, gone.body], [400, { errors: ['no backed-up keys found'] }]);

    await seal(server, rootToken);
    assert.equal(await unsealsWith(server, [shares[2]!, shares[0]!]), true);
  });
});
