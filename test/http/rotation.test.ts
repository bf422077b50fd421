import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { UNCLEAN_STOP_MARGIN } from '../../server/core/barrier/aes-gcm-barrier.js';
import { CofferCore } from '../../server/core/coffer-core.js';
import { systemRandom } from '../../server/core/clock.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

const ROTATOR = 'path "sys/rotate" {\n  capabilities = ["update", "sudo"]\n}\npath "sys/key-status" {\n  capabilities = ["read"]\n}\n';
const DAY = 24 * 3600 * 1000;

async function unsealed(t: TestContext, clock = new ManualClock()) {
  const server = await startTestServer(t, { clock });
  const init = await initServer(server, 3, 2);
  await unsealServer(server, init.keys.slice(0, 2));
  return { server, clock, ...init };
}

async function writeSecret(server: TestServer, token: string, name: string, value: string) {
  // Policies are barrier entries like any other; their text carries the value being checked.
  const res = await server.api('PUT', `sys/policies/acl/${name}`, { token, body: { policy: `path "data/${value}" { capabilities = ["read"] }` } });
  assert.equal(res.status, 204, res.text);
}

async function readSecret(server: TestServer, token: string, name: string): Promise<string | undefined> {
  const res = await server.api('GET', `sys/policies/acl/${name}`, { token });
  if (res.status !== 200) return undefined;
  return /path "data\/([^"]+)"/.exec(res.body.data.policy)?.[1];
}

/**
 * A core over in-memory storage, initialised 1-of-1 and unsealed. `newCore()` builds another core on the same
 * storage: dropping the first without sealing it is how these tests simulate a crash.
 */
async function unsealedCore() {
  const storage = new InmemBackend();
  const clock = new ManualClock();
  const newCore = () => new CofferCore({ storage, storageType: 'inmem', clock, random: systemRandom, logger: createLogger('silent') });
  const core = newCore();
  const { keys } = await core.initialize({
    secretShares: 1,
    secretThreshold: 1,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 0,
    recoveryThreshold: 0,
    recoveryPgpKeys: [],
  });
  await core.submitUnsealKey(keys[0]!);
  return { core, newCore, keys };
}

const termOf = (raw: Uint8Array | undefined) => new DataView(raw!.buffer, raw!.byteOffset).getUint32(0);

describe('sys/rotate and sys/key-status', () => {
  test('each rotate adds exactly one term with a later install time; key-status answers at the top level and under data', async (t) => {
    const { server, clock, rootToken } = await unsealed(t);
    const first = (await server.api('GET', 'sys/key-status', { token: rootToken })).body;
    assert.equal(first.term, 1);
    assert.deepEqual(first.data, { term: first.term, install_time: first.install_time, encryptions: first.encryptions });
    assert.equal(first.mount_type, 'system');
    assert.match(first.install_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    let previous = first;
    for (const expected of [2, 3, 4]) {
      clock.advance(1000);
      const res = await server.api('PUT', 'sys/rotate', { token: rootToken });
      assert.equal(res.status, 204);
      const status = (await server.api('GET', 'sys/key-status', { token: rootToken })).body;
      assert.equal(status.term, expected);
      assert.ok(Date.parse(status.install_time) > Date.parse(previous.install_time));
      assert.equal(status.encryptions, 0, 'a new term starts with no encryptions');
      previous = status;
    }
    assert.equal((await server.api('POST', 'sys/rotate/keyring', { token: rootToken })).status, 204);
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 5);
    assert.equal((await server.api('GET', 'sys/rotate', { token: rootToken })).status, 405);
  });

  test('data written under terms 1, 2 and 3 reads back, after seal and unseal, and after a restart; new writes carry the new term', async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    await writeSecret(server, rootToken, 'under-1', 'one');
    await server.api('PUT', 'sys/rotate', { token: rootToken });
    await writeSecret(server, rootToken, 'under-2', 'two');
    await server.api('PUT', 'sys/rotate', { token: rootToken });
    await writeSecret(server, rootToken, 'under-3', 'three');
    assert.equal(termOf(await server.storage.get('sys/policy/under-1')), 1);
    assert.equal(termOf(await server.storage.get('sys/policy/under-2')), 2);
    assert.equal(termOf(await server.storage.get('sys/policy/under-3')), 3);

    const check = async (s: TestServer) => {
      assert.equal(await readSecret(s, rootToken, 'under-1'), 'one');
      assert.equal(await readSecret(s, rootToken, 'under-2'), 'two');
      assert.equal(await readSecret(s, rootToken, 'under-3'), 'three');
    };
    await check(server);
    await server.api('PUT', 'sys/seal', { token: rootToken });
    await unsealServer(server, keys.slice(1, 3));
    await check(server);

    await server.close();
    const restarted = await startTestServer(t, { dataDir: server.dataDir });
    await unsealServer(restarted, keys.slice(0, 2));
    await check(restarted);
    assert.equal((await restarted.api('GET', 'sys/key-status', { token: rootToken })).body.term, 3);
    await writeSecret(restarted, rootToken, 'after-restart', 'four');
    assert.equal(termOf(await restarted.storage.get('sys/policy/after-restart')), 3);
  });

  test('a rotator policy token rotates and reads status; without sudo, without read, without a token and while sealed it cannot', async (t) => {
    const { server, rootToken } = await unsealed(t);
    await server.api('PUT', 'sys/policies/acl/rotator', { token: rootToken, body: { policy: ROTATOR } });
    await server.api('PUT', 'sys/policies/acl/no-sudo', {
      token: rootToken,
      body: { policy: 'path "sys/rotate" { capabilities = ["update"] }\npath "sys/key-status" { capabilities = ["read"] }' },
    });
    await server.api('PUT', 'sys/policies/acl/rotate-only', {
      token: rootToken,
      body: { policy: 'path "sys/rotate" { capabilities = ["update", "sudo"] }' },
    });
    const rotator = (await server.core.tokens.create({ policies: ['default', 'rotator'] })).token;
    const noSudo = (await server.core.tokens.create({ policies: ['no-sudo'] })).token;
    const rotateOnly = (await server.core.tokens.create({ policies: ['rotate-only'] })).token;
    const denied = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };

    assert.equal((await server.api('PUT', 'sys/rotate', { token: rotator })).status, 204);
    const status = await server.api('GET', 'sys/key-status', { token: rotator });
    assert.equal(status.status, 200);
    assert.equal(status.body.term, 2);

    const withoutSudo = await server.api('PUT', 'sys/rotate', { token: noSudo });
    assert.equal(withoutSudo.status, 403);
    assert.deepEqual(withoutSudo.body, denied);
    const withoutRead = await server.api('GET', 'sys/key-status', { token: rotateOnly });
    assert.equal(withoutRead.status, 403);
    assert.deepEqual(withoutRead.body, denied);
    const noToken = await server.api('PUT', 'sys/rotate');
    assert.equal(noToken.status, 403);
    assert.deepEqual(noToken.body, { errors: ['permission denied'] });
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 2, 'the refused calls rotated nothing');

    await server.api('PUT', 'sys/seal', { token: rootToken });
    for (const path of ['sys/rotate', 'sys/key-status']) {
      const res = await server.api(path === 'sys/rotate' ? 'PUT' : 'GET', path, { token: rotator });
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, { errors: ['Vault is sealed'] });
    }
  });

  test('concurrent writers and readers lose nothing while rotations run', async (t) => {
    const { server, rootToken } = await unsealed(t);
    const writers = 4;
    const perWriter = 40;
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    const writer = async (w: number) => {
      for (let i = 0; i < perWriter; i++) {
        const name = `w${w}-${i % 10}`;
        const value = `v${w}x${i}`;
        const res = await server.api('PUT', `sys/policies/acl/${name}`, {
          token: rootToken,
          body: { policy: `path "data/${value}" { capabilities = ["read"] }` },
        });
        if (res.status === 204) acknowledged.set(name, value);
        else failures.push(`write ${name}: ${res.status}`);
        const back = await readSecret(server, rootToken, name);
        if (back !== acknowledged.get(name)) failures.push(`read ${name}: ${back} != ${acknowledged.get(name)}`);
      }
    };
    const rotator = async () => {
      for (let i = 0; i < 15; i++) {
        const res = await server.api('PUT', 'sys/rotate', { token: rootToken });
        if (res.status !== 204) failures.push(`rotate: ${res.status}`);
      }
    };
    await Promise.all([...Array.from({ length: writers }, (_, w) => writer(w)), rotator(), rotator()]);
    assert.deepEqual(failures, []);
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 31);
    assert.equal(acknowledged.size, writers * 10);
    for (const [name, value] of acknowledged) assert.equal(await readSecret(server, rootToken, name), value);
  });
});

describe('encryption counting', () => {
  test('every write counts; counts survive a clean seal exactly and an unclean stop with a safety margin', async () => {
    const { core, newCore, keys } = await unsealedCore();
    const start = core.barrier.keyStatus().encryptions;
    for (let i = 0; i < 25; i++) await core.policies.put(`p${i}`, 'path "x" { capabilities = ["read"] }');
    assert.equal(core.barrier.keyStatus().encryptions, start + 25);
    await core.seal();
    await core.submitUnsealKey(keys[0]!);
    assert.equal(core.barrier.keyStatus().encryptions, start + 25, 'a clean seal persists the exact count');

    await core.policies.put('one-more', 'path "x" { capabilities = ["read"] }');
    // Crash: the process dies without sealing; a new core on the same storage unseals.
    const afterCrash = newCore();
    await afterCrash.submitUnsealKey(keys[0]!);
    assert.equal(afterCrash.barrier.keyStatus().encryptions, start + 25 + UNCLEAN_STOP_MARGIN, 'lost counts are covered by the margin');
  });
});

describe('automatic rotation', () => {
  test('rotates when the key is older than the interval, by the injected clock', async (t) => {
    const { server, clock, rootToken } = await unsealed(t);
    const set = await server.api('PUT', 'sys/rotate/config', { token: rootToken, body: { interval: '48h' } });
    assert.equal(set.status, 204);
    clock.advance(47 * 3600 * 1000);
    assert.equal(await server.core.maintenance(), undefined);
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 1);
    clock.advance(3600 * 1000);
    assert.equal(await server.core.maintenance(), 'rotation interval reached');
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 2);
    assert.equal(await server.core.maintenance(), undefined, 'the new term is fresh');
  });

  test('does not rotate when disabled, and a change of enabled alone is honoured', async (t) => {
    const { server, clock, rootToken } = await unsealed(t);
    await server.api('PUT', 'sys/rotate/config', { token: rootToken, body: { interval: 86400 } });
    assert.equal((await server.api('PUT', 'sys/rotate/config', { token: rootToken, body: { enabled: false } })).status, 204);
    const config = (await server.api('GET', 'sys/rotate/config', { token: rootToken })).body.data;
    assert.deepEqual(config, { max_operations: 3865470566, interval: '24h0m0s', enabled: false });
    clock.advance(10 * DAY);
    assert.equal(await server.core.maintenance(), undefined);
    assert.equal((await server.api('GET', 'sys/key-status', { token: rootToken })).body.term, 1);
    await server.api('PUT', 'sys/rotate/config', { token: rootToken, body: { enabled: true } });
    assert.equal(await server.core.maintenance(), 'rotation interval reached');
  });

  test('rotates when the encryption count reaches max_operations (counted through unclean restarts)', async () => {
    const started = await unsealedCore();
    const { newCore, keys } = started;
    let core = started.core;
    await core.setRotationConfig({ maxOperations: 1_000_000 });
    // Each unclean stop adds the safety margin; five of them reach the minimum allowed max_operations.
    for (let crash = 0; crash < 1_000_000 / UNCLEAN_STOP_MARGIN; crash++) {
      assert.equal(await core.maintenance(), undefined);
      core = newCore();
      await core.submitUnsealKey(keys[0]!);
    }
    assert.ok(core.barrier.keyStatus().encryptions >= 1_000_000);
    assert.equal(await core.maintenance(), 'reached max operations');
    assert.equal(core.barrier.keyStatus().term, 2);
    assert.equal(core.barrier.keyStatus().encryptions, 0);
  });
});

describe('sys/rotate/config', () => {
  test("reads Vault's defaults and reads back what was written, across a restart", async (t) => {
    const { server, keys, rootToken } = await unsealed(t);
    const initial = await server.api('GET', 'sys/rotate/config', { token: rootToken });
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.body.data, { max_operations: 3865470566, interval: 0, enabled: true });
    assert.equal(initial.body.max_operations, undefined, 'rotate/config is not an injected route');
    await server.api('POST', 'sys/rotate/config', { token: rootToken, body: { max_operations: 2000000, interval: '4320h', enabled: false } });
    const expected = { max_operations: 2000000, interval: '4320h0m0s', enabled: false };
    assert.deepEqual((await server.api('GET', 'sys/rotate/config', { token: rootToken })).body.data, expected);
    await server.close();
    const restarted = await startTestServer(t, { dataDir: server.dataDir });
    await unsealServer(restarted, keys.slice(0, 2));
    assert.deepEqual((await restarted.api('GET', 'sys/rotate/keyring/config', { token: rootToken })).body.data, expected);
  });

  const invalid: Array<[Record<string, unknown>, string]> = [
    [{ interval: '1h' }, 'interval must be greater or equal to 24h0m0s'],
    [{ interval: 3600 }, 'interval must be greater or equal to 24h0m0s'],
    [{ max_operations: 10 }, 'max_operations must be in the range [1000000,3865470566]'],
    [{ max_operations: 3865470567 }, 'max_operations must be in the range [1000000,3865470566]'],
    [{ max_operations: 10, interval: '1h' }, 'max_operations must be in the range [1000000,3865470566]'],
  ];
  for (const [body, message] of invalid) {
    test(`${JSON.stringify(body)} is a 400 "${message}" and changes nothing`, async (t) => {
      const { server, rootToken } = await unsealed(t);
      const res = await server.api('PUT', 'sys/rotate/config', { token: rootToken, body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { errors: [message] });
      assert.deepEqual((await server.api('GET', 'sys/rotate/config', { token: rootToken })).body.data, {
        max_operations: 3865470566,
        interval: 0,
        enabled: true,
      });
    });
  }

  test('needs read and update on sys/rotate/config, but not sudo', async (t) => {
    const { server, rootToken } = await unsealed(t);
    await server.api('PUT', 'sys/policies/acl/cfg', {
      token: rootToken,
      body: { policy: 'path "sys/rotate/config" { capabilities = ["read", "update"] }' },
    });
    const token = (await server.core.tokens.create({ policies: ['cfg'] })).token;
    assert.equal((await server.api('GET', 'sys/rotate/config', { token })).status, 200);
    assert.equal((await server.api('PUT', 'sys/rotate/config', { token, body: { enabled: false } })).status, 204);
    assert.equal((await server.api('PUT', 'sys/rotate', { token })).status, 403);
  });
});
