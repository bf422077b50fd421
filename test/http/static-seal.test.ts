import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'node:test';
import { LeveldbBackend } from '../../server/core/storage/leveldb-backend.js';
import { SEALED_ROOT_KEY_PATH } from '../../server/core/seal/seal-store.js';
import { KEYRING_PATH } from '../../server/core/barrier/aes-gcm-barrier.js';
import { apiCall, startTestServer, tempDir, testConfig, type TestServer } from '../helpers/test-server.js';
import { unsealsWith } from '../helpers/rekey.js';
import { GpgHome } from '../helpers/gpg.js';
import { parseConfig } from '../../server/config/load-config.js';
import { createLogger } from '../../server/log/logger.js';
import { sealSetupFrom } from '../../server/seal-setup.js';
import { startCoffer } from '../../server/start.js';

async function keyFile(t: test.TestContext, name = 'unseal.key'): Promise<string> {
  const file = path.join(await tempDir(t, 'coffer-key-'), name);
  await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return file;
}

const staticSeal = (file: string) => `seal "static" { key_file = "${file}" }`;

/** Every raw storage entry, for "changes nothing" checks. */
async function dump(dataDir: string): Promise<Map<string, string>> {
  const storage = await LeveldbBackend.open(dataDir);
  const out = new Map<string, string>();
  const walk = async (prefix: string): Promise<void> => {
    for (const child of await storage.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else out.set(prefix + child, Buffer.from((await storage.get(prefix + child))!).toString('hex'));
    }
  };
  await walk('');
  await storage.close();
  return out;
}

async function initAuto(server: TestServer, shares = 5, threshold = 3, extra: Record<string, unknown> = {}) {
  const res = await server.api('PUT', 'sys/init', { body: { recovery_shares: shares, recovery_threshold: threshold, ...extra } });
  assert.equal(res.status, 200, res.text);
  return res.body as { keys: string[]; keys_base64: string[]; recovery_keys: string[]; recovery_keys_base64: string[]; root_token: string };
}

test('static seal: init gives recovery shares and unseals; restarts unseal by themselves; data survives', async (t) => {
  const file = await keyFile(t);
  const dataDir = await tempDir(t);
  const server = await startTestServer(t, { dataDir, extraConfig: staticSeal(file) });

  const before = (await server.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([before.type, before.initialized, before.recovery_seal, before.t, before.n], ['static', false, true, 0, 0]);

  // Vault's parameter gate, then its recovery rules.
  const wrongFields = await server.api('PUT', 'sys/init', { body: { secret_shares: 5, secret_threshold: 3 } });
  assert.deepEqual(
    [wrongFields.status, wrongFields.body],
    [400, { errors: ['parameters secret_shares,secret_threshold not applicable to seal type static'] }],
  );
  const badRecovery = await server.api('PUT', 'sys/init', { body: { recovery_shares: 3, recovery_threshold: 1 } });
  assert.deepEqual(
    [badRecovery.status, badRecovery.body],
    [400, { errors: ['invalid recovery configuration: threshold must be greater than one for multiple shares'] }],
  );
  assert.equal((await server.api('GET', 'sys/init')).body.initialized, false);

  const init = await initAuto(server);
  assert.deepEqual([init.keys, init.keys_base64], [[], []]);
  assert.equal(init.recovery_keys.length, 5);
  assert.equal(init.recovery_keys_base64.length, 5);
  const status = (await server.api('GET', 'sys/seal-status')).body;
  assert.deepEqual(
    [status.type, status.sealed, status.t, status.n, status.recovery_seal, status.recovery_seal_type, status.migration],
    ['static', false, 3, 5, true, 'shamir', false],
  );
  const root = init.root_token;
  await server.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv' } });
  assert.equal((await server.api('PUT', 'kv/app', { token: root, body: { password: 'hunter2' } })).status, 204);
  await server.close();

  for (let i = 0; i < 2; i++) {
    const again = await startTestServer(t, { dataDir, extraConfig: staticSeal(file) });
    assert.equal((await again.api('GET', 'sys/seal-status')).body.sealed, false, 'unsealed at start without any share');
    assert.equal((await again.api('GET', 'kv/app', { token: root })).body.data.password, 'hunter2');
    await again.close();
  }
});

test('static seal: after sys/seal the recovery shares unseal; a wrong set is refused; 0 recovery shares is allowed', async (t) => {
  const server = await startTestServer(t, { extraConfig: staticSeal(await keyFile(t)) });
  const init = await initAuto(server, 3, 2);
  assert.equal((await server.api('PUT', 'sys/seal', { token: init.root_token })).status, 204);
  assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true);

  const first = await server.api('PUT', 'sys/unseal', { body: { key: init.recovery_keys[0] } });
  assert.equal(first.body.progress, 1);
  // A share of another recovery key: the combination fails authenticated verification, progress returns to 0.
  const strangers = await startTestServer(t, { extraConfig: staticSeal(await keyFile(t)) });
  const other = await initAuto(strangers, 3, 2);
  const wrong = await server.api('PUT', 'sys/unseal', { body: { key: other.recovery_keys[1] } });
  assert.equal(wrong.status, 400, wrong.text);
  assert.match(wrong.body.errors[0], /recovery key verification failed/);
  const after = (await server.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([after.sealed, after.progress], [true, 0]);

  assert.equal(await unsealsWith(server, [init.recovery_keys[2]!, init.recovery_keys_base64[0]!]), true);

  // Vault allows an auto seal without recovery keys; unsealing by hand is then impossible, and says so.
  const none = await startTestServer(t, { extraConfig: staticSeal(await keyFile(t)) });
  const noRecovery = await none.api('PUT', 'sys/init', { body: {} });
  assert.equal(noRecovery.status, 200, noRecovery.text);
  assert.equal(noRecovery.body.recovery_keys, undefined);
  await none.api('PUT', 'sys/seal', { token: noRecovery.body.root_token });
  const refused = await none.api('PUT', 'sys/unseal', { body: { key: init.recovery_keys[0] } });
  assert.deepEqual([refused.status, refused.body], [400, { errors: ['this server has no recovery keys: it unseals only through its seal'] }]);
});

test('static seal: a wrong key stops the start with a clear error and changes nothing', async (t) => {
  const dataDir = await tempDir(t);
  const right = await keyFile(t);
  const server = await startTestServer(t, { dataDir, extraConfig: staticSeal(right) });
  await initAuto(server);
  await server.close();
  const snapshot = await dump(dataDir);

  const wrong = await keyFile(t, 'other.key');
  await assert.rejects(startTestServer(t, { dataDir, extraConfig: staticSeal(wrong) }), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(`static seal: the key from key_file ${wrong.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not decrypt the stored root key`),
    );
    return true;
  });
  const badFile = path.join(path.dirname(wrong), 'short.key');
  await writeFile(badFile, 'abc');
  await assert.rejects(startTestServer(t, { dataDir, extraConfig: staticSeal(badFile) }), /must hold a 32-byte key/);
  // Shamir configuration on auto-sealed data: refused, naming the fix.
  await assert.rejects(startTestServer(t, { dataDir }), /sealed with a static seal but the configuration enables a shamir seal/);
  assert.deepEqual(await dump(dataDir), snapshot);

  const back = await startTestServer(t, { dataDir, extraConfig: staticSeal(right) });
  assert.equal((await back.api('GET', 'sys/seal-status')).body.sealed, false);
});

test("static seal: barrier rekey rotates the root key only, with Vault's refusals; recovery rekey with PGP", async (t) => {
  const dataDir = await tempDir(t);
  const file = await keyFile(t);
  const server = await startTestServer(t, { dataDir, extraConfig: staticSeal(file) });
  const init = await initAuto(server, 3, 2);
  const root = init.root_token;
  await server.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv' } });
  await server.api('PUT', 'kv/a', { token: root, body: { v: '1' } });

  const status = (await server.api('GET', 'sys/rekey/init')).body;
  assert.equal(status.required, 2, 'barrier rekey on an auto seal is authorised by the recovery threshold');
  for (const [body, message] of [
    [{ secret_shares: 1, secret_threshold: 1, pgp_keys: ['AAAA'] }, 'PGP key encryption not supported when using stored keys'],
    [{ secret_shares: 1, secret_threshold: 1, backup: true }, 'key backup not supported when using stored keys'],
    [
      { secret_shares: 1, secret_threshold: 1, require_verification: true },
      'requiring verification not supported when rekeying the barrier key with recovery keys',
    ],
  ] as const) {
    const res = await server.api('PUT', 'sys/rekey/init', { body });
    assert.deepEqual([res.status, res.body], [400, { errors: [message] }]);
  }
  const rootEntry = Buffer.from((await server.storage.get(SEALED_ROOT_KEY_PATH))!).toString('hex');
  const keyringEntry = Buffer.from((await server.storage.get(KEYRING_PATH))!).toString('hex');
  const started = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 5, secret_threshold: 3 } });
  assert.deepEqual([started.body.t, started.body.n], [1, 1], 'shares/threshold are forced to 1');
  await server.api('PUT', 'sys/rekey/update', { body: { key: init.recovery_keys[0], nonce: started.body.nonce } });
  const done = await server.api('PUT', 'sys/rekey/update', { body: { key: init.recovery_keys[1], nonce: started.body.nonce } });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual([done.body.complete, done.body.keys, done.body.keys_base64], [true, [], []]);
  assert.notEqual(Buffer.from((await server.storage.get(SEALED_ROOT_KEY_PATH))!).toString('hex'), rootEntry, 'a new root key was wrapped');
  assert.notEqual(Buffer.from((await server.storage.get(KEYRING_PATH))!).toString('hex'), keyringEntry, 'the keyring is under the new root key');
  assert.equal((await server.api('GET', 'kv/a', { token: root })).body.data.v, '1');

  // Recovery rekey to 3 PGP-encrypted shares, with a backup.
  const gpg = await GpgHome.create(t);
  const holders = [await gpg.generateKey('r1@example.com'), await gpg.generateKey('r2@example.com'), await gpg.generateKey('r3@example.com')];
  const rinit = await server.api('PUT', 'sys/rekey-recovery-key/init', {
    body: { secret_shares: 3, secret_threshold: 2, pgp_keys: holders.map((h) => h.base64), backup: true },
  });
  assert.equal(rinit.status, 200, rinit.text);
  assert.equal(rinit.body.required, 2);
  assert.deepEqual(
    rinit.body.pgp_fingerprints,
    holders.map((h) => h.fingerprint),
  );
  await server.api('PUT', 'sys/rekey-recovery-key/update', { body: { key: init.recovery_keys[2], nonce: rinit.body.nonce } });
  const rdone = await server.api('PUT', 'sys/rekey-recovery-key/update', { body: { key: init.recovery_keys[0], nonce: rinit.body.nonce } });
  assert.equal(rdone.status, 200, rdone.text);
  const newShares = await Promise.all(rdone.body.keys_base64.map((m: string) => gpg.decryptBase64(m)));
  assert.ok(newShares.every((s) => /^[0-9a-f]{66}$/.test(s)));
  for (const alias of ['sys/rekey/recovery-key-backup', 'sys/rekey-recovery-key/backup']) {
    const backup = await server.api('GET', alias, { token: root });
    assert.equal(backup.status, 200, `${alias}: ${backup.text}`);
    assert.deepEqual(Object.keys(backup.body.data.keys).sort(), holders.map((h) => h.fingerprint).sort());
  }

  // The new recovery shares (decrypted by gpg) unseal after a seal, the old ones do not; and across a restart.
  await server.api('PUT', 'sys/seal', { token: root });
  assert.equal(await unsealsWith(server, init.recovery_keys.slice(0, 2)), false);
  assert.equal(await unsealsWith(server, newShares.slice(1)), true);
  await server.close();
  const again = await startTestServer(t, { dataDir, extraConfig: staticSeal(file) });
  assert.equal((await again.api('GET', 'sys/seal-status')).body.sealed, false);
  assert.equal((await again.api('GET', 'kv/a', { token: root })).body.data.v, '1');
  await again.api('PUT', 'sys/seal', { token: root });
  assert.equal(await unsealsWith(again, [newShares[0]!, newShares[2]!]), true);
});

test("Shamir seal: recovery parameters and recovery rekey are refused with Vault's messages", async (t) => {
  const server = await startTestServer(t);
  const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, recovery_shares: 3, recovery_threshold: 2 } });
  assert.deepEqual([res.status, res.body], [400, { errors: ['parameters recovery_shares,recovery_threshold not applicable to seal type shamir'] }]);
  const init = await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  await server.api('PUT', 'sys/unseal', { body: { key: init.body.keys[0] } });
  const status = (await server.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.recovery_seal, status.recovery_seal_type], [false, undefined]);
  const rekey = await server.api('PUT', 'sys/rekey-recovery-key/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  assert.deepEqual([rekey.status, rekey.body], [400, { errors: ['recovery rekeying not supported'] }]);
});

test("static seal: a key given in an environment variable is deleted from the server's environment once read", async (t) => {
  for (const stanza of ['key_env = "COFFER_SEAL_KEY"', 'current_key = "env://COFFER_SEAL_KEY"']) {
    const env: NodeJS.ProcessEnv = { COFFER_SEAL_KEY: randomBytes(32).toString('hex'), PATH: '/usr/bin' };
    const setup = sealSetupFrom(parseConfig(`seal "static" { ${stanza} }`).seals, env);
    assert.equal(setup.active.type, 'static', stanza);
    assert.deepEqual(env, { PATH: '/usr/bin' }, `${stanza}: only the key variable is gone`);
  }

  // Through the server's start: it unseals with the key, and the environment it was given no longer holds it.
  const env: NodeJS.ProcessEnv = { COFFER_SEAL_KEY: randomBytes(32).toString('base64') };
  const server = await startCoffer(testConfig(await tempDir(t), 'seal "static" { key_env = "COFFER_SEAL_KEY" }'), {
    logger: createLogger('silent'),
    env,
    maintenanceIntervalMs: 0,
  });
  t.after(() => server.close());
  assert.equal((await apiCall(server.url, 'GET', 'sys/seal-status')).body.type, 'static');
  assert.equal('COFFER_SEAL_KEY' in env, false);
});
