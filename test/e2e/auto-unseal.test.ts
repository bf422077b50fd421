import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { GpgHome } from '../helpers/gpg.js';
import { runCliProcess, startServerProcess, writeServerConfig, type ServerProcess } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

/**
 * Two server processes: A (Shamir) serves a transit key `autounseal` under a policy that allows only encrypt and
 * decrypt; B is configured with `seal "transit"` pointing at A, and is driven with the built CLI.
 */
test("auto-unseal: B unseals itself through A's transit key, waits while A is sealed, uses recovery shares and rekeys them (PGP)", async (t) => {
  const dir = await tempDir(t);
  const writeConfig = (name: string, extra: string) => writeServerConfig(dir, { name, dataName: name, logLevel: 'info', extra });
  const a = await startServerProcess(t, [`-config=${await writeConfig('a', '')}`]);
  const aEnv = { VAULT_ADDR: a.url, HOME: dir, VAULT_TOKEN: '' };
  const aInit = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], aEnv)).stdout);
  await runCliProcess(['operator', 'unseal', aInit.unseal_keys_b64[0]], aEnv);
  const aRoot = { ...aEnv, VAULT_TOKEN: aInit.root_token };
  assert.equal((await runCliProcess(['secrets', 'enable', 'transit'], aRoot)).code, 0);
  assert.equal((await runCliProcess(['write', 'transit/keys/autounseal', 'type=aes256-gcm96'], aRoot)).code, 0);
  const policyFile = path.join(dir, 'autounseal.hcl');
  await writeFile(
    policyFile,
    'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }\n',
  );
  assert.equal((await runCliProcess(['policy', 'write', 'autounseal', policyFile], aRoot)).code, 0);
  const created = await runCliProcess(['token', 'create', '-policy=autounseal', '-no-default-policy', '-format=json'], aRoot);
  const sealToken = JSON.parse(created.stdout).auth.client_token as string;

  const bConfig = await writeConfig(
    'b',
    `seal "transit" {\n  address = "${a.url}"\n  token = "${sealToken}"\n  key_name = "autounseal"\n  mount_path = "transit/"\n}`,
  );
  let b: ServerProcess = await startServerProcess(t, [`-config=${bConfig}`]);
  const bEnv = () => ({ VAULT_ADDR: b.url, HOME: dir, VAULT_TOKEN: '' });
  const bCli = (args: string[], stdin?: string) => runCliProcess(args, bEnv(), stdin);

  // Init with recovery shares: the server is unsealed right away.
  const bInitRun = await bCli(['operator', 'init', '-recovery-shares=3', '-recovery-threshold=2', '-format=json']);
  assert.equal(bInitRun.code, 0, bInitRun.stderr);
  const bInit = JSON.parse(bInitRun.stdout);
  assert.deepEqual(bInit.unseal_keys_b64, []);
  assert.equal(bInit.recovery_keys_b64.length, 3);
  const status = await bCli(['status']);
  assert.equal(status.code, 0, status.stdout);
  assert.match(status.stdout, /^Seal Type\s+transit$/m);
  assert.match(status.stdout, /^Recovery Seal Type\s+shamir$/m);
  assert.match(status.stdout, /^Total Recovery Shares\s+3$/m);
  assert.match(status.stdout, /^Threshold\s+2$/m);
  const bRoot = () => ({ ...bEnv(), VAULT_TOKEN: bInit.root_token });
  await runCliProcess(['secrets', 'enable', '-version=2', 'kv'], bRoot());
  assert.equal((await runCliProcess(['kv', 'put', 'kv/app', 'password=hunter2'], bRoot())).code, 0);

  // Restart: B comes up unsealed by itself.
  await b.stop();
  b = await startServerProcess(t, [`-config=${bConfig}`]);
  assert.equal((await bCli(['status'])).code, 0, 'unsealed after a restart');
  assert.match((await runCliProcess(['kv', 'get', 'kv/app'], bRoot())).stdout, /^password\s+hunter2$/m);

  // A sealed: B restarts sealed and retries; once A is unsealed, B unseals by itself.
  assert.equal((await runCliProcess(['operator', 'seal'], aRoot)).code, 0);
  await b.stop();
  b = await startServerProcess(t, [`-config=${bConfig}`]);
  await b.waitForOutput(/cannot unseal through the seal yet; retrying/);
  assert.equal((await bCli(['status'])).code, 2, 'sealed while A is sealed');
  const mark = b.output().length;
  await runCliProcess(['operator', 'unseal', aInit.unseal_keys_b64[0]], aEnv);
  await b.waitForOutput(/unsealed through the seal/, mark);
  assert.equal((await bCli(['status'])).code, 0);

  // operator seal on B, then recovery shares unseal it.
  assert.equal((await runCliProcess(['operator', 'seal'], bRoot())).code, 0);
  assert.equal((await bCli(['status'])).code, 2);
  const u1 = await bCli(['operator', 'unseal', bInit.recovery_keys_b64[0]]);
  assert.match(u1.stdout, /^Unseal Progress\s+1\/2$/m);
  const u2 = await bCli(['operator', 'unseal', '-'], `${bInit.recovery_keys_b64[2]}\n`);
  assert.match(u2.stdout, /^Sealed\s+false$/m);

  // Recovery rekey to two PGP-encrypted shares; gpg decrypts them; they unseal B after a seal, the old ones do not.
  const gpg = await GpgHome.create(t);
  const holders = [await gpg.generateKey('ops1@example.com'), await gpg.generateKey('ops2@example.com')];
  const keyFiles = await Promise.all(
    holders.map(async (h, i) => {
      const file = path.join(dir, `holder${i}.b64`);
      await writeFile(file, h.base64);
      return file;
    }),
  );
  const started = await bCli([
    'operator',
    'rekey',
    '-init',
    '-target=recovery',
    '-key-shares=2',
    '-key-threshold=2',
    `-pgp-keys=${keyFiles.join(',')}`,
    '-format=json',
  ]);
  assert.equal(started.code, 0, started.stderr);
  const nonce = JSON.parse(started.stdout).nonce as string;
  assert.equal((await bCli(['operator', 'rekey', '-target=recovery', `-nonce=${nonce}`, bInit.recovery_keys_b64[1]])).code, 0);
  const done = await bCli(['operator', 'rekey', '-target=recovery', `-nonce=${nonce}`, '-'], `${bInit.recovery_keys_b64[0]}\n`);
  assert.equal(done.code, 0, done.stderr);
  const messages = [...done.stdout.matchAll(/^Key \d fingerprint: ([0-9a-f]+); value: (\S+)$/gm)];
  assert.deepEqual(
    messages.map((m) => m[1]),
    holders.map((h) => h.fingerprint),
  );
  const newShares = await Promise.all(messages.map((m) => gpg.decryptBase64(m[2]!)));

  assert.equal((await runCliProcess(['operator', 'seal'], bRoot())).code, 0);
  await bCli(['operator', 'unseal', bInit.recovery_keys_b64[0]]);
  const oldSet = await bCli(['operator', 'unseal', bInit.recovery_keys_b64[1]]);
  assert.equal(oldSet.code, 2, 'the old recovery shares no longer unseal');
  await bCli(['operator', 'unseal', newShares[0]!]);
  const newSet = await bCli(['operator', 'unseal', newShares[1]!]);
  assert.match(newSet.stdout, /^Sealed\s+false$/m);
  assert.match((await runCliProcess(['kv', 'get', 'kv/app'], bRoot())).stdout, /^password\s+hunter2$/m);

  // Nothing B printed contains the seal token, a recovery share or the plaintext secret.
  for (const secret of [sealToken, ...bInit.recovery_keys_b64, ...newShares, 'hunter2']) {
    assert.ok(!b.output().includes(secret), 'a secret reached the server output');
  }
  await b.stop();
  await a.stop();
});
