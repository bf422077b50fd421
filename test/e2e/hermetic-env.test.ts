import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { isolatedEnv, runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test("processes started by tests never see the runner's ~/.vault-token or VAULT_* variables", async (t) => {
  // What a developer who followed the README has: a stored (since revoked) token, and VAULT_* set in the shell.
  const parentHome = await tempDir(t);
  await writeFile(path.join(parentHome, '.vault-token'), 'hvs.revoked-token-in-the-runners-home');
  const saved = {
    HOME: process.env.HOME,
    VAULT_TOKEN: process.env.VAULT_TOKEN,
    VAULT_ADDR: process.env.VAULT_ADDR,
    VAULT_FORMAT: process.env.VAULT_FORMAT,
  };
  Object.assign(process.env, {
    HOME: parentHome,
    VAULT_TOKEN: 'hvs.token-in-the-runners-env',
    VAULT_ADDR: 'https://127.0.0.1:8200',
    VAULT_FORMAT: 'json',
  });
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const { env, cleanup } = isolatedEnv({});
  cleanup();
  assert.deepEqual(
    Object.keys(env).filter((k) => k.startsWith('VAULT_')),
    [],
  );
  assert.notEqual(env.HOME, parentHome);

  // The CLI flow of the other tests still works: the child uses only what the test gives it.
  const dir = await tempDir(t);
  const server = await startServerProcess(t, [`-config=${await writeServerConfig(dir)}`]);
  assert.equal((await runCliProcess(['print', 'token'], {})).stdout, '\n', 'no token reaches the child');
  const init = await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], { VAULT_ADDR: server.url });
  assert.equal(init.code, 0, init.stderr);
  const { unseal_keys_b64: keys, root_token: root } = JSON.parse(init.stdout);
  assert.equal((await runCliProcess(['operator', 'unseal', '-'], { VAULT_ADDR: server.url }, keys[0])).code, 0);
  const status = await runCliProcess(['status'], { VAULT_ADDR: server.url });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^Sealed\s+false$/m, 'table output: VAULT_FORMAT=json did not leak in');
  const lookup = await runCliProcess(['token', 'lookup'], { VAULT_ADDR: server.url, VAULT_TOKEN: root });
  assert.equal(lookup.code, 0, lookup.stderr);
  // A test that gives HOME keeps it: login's token file goes there, not into the runner's home.
  const home = await tempDir(t);
  assert.equal((await runCliProcess(['login', '-'], { VAULT_ADDR: server.url, HOME: home }, root)).code, 0);
  assert.equal((await runCliProcess(['print', 'token'], { HOME: home })).stdout, `${root}\n`);
  await server.stop();
});
