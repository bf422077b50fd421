import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCliInTerminal, runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('login, policy, token, secrets, kv and raw path commands against a real server process', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const init = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], env)).stdout);
  await runCliProcess(['operator', 'unseal', '-'], env, init.unseal_keys_b64[0]);

  // login at the hidden prompt stores the token in ~/.vault-token (mode 0600) for later commands.
  const login = await runCliInTerminal(['login'], env, 'Token (will be hidden): ', init.root_token);
  assert.equal(login.code, 0, login.stdout);
  assert.match(login.stdout, /Success! You are now authenticated/);
  assert.equal((await readFile(path.join(dir, '.vault-token'), 'utf8')).trim(), init.root_token);
  assert.equal((await stat(path.join(dir, '.vault-token'))).mode & 0o777, 0o600);

  const run = (...args: string[]) => runCliProcess(args, env);
  const ok = async (args: string[], stdin?: string) => {
    const res = await runCliProcess(args, env, stdin);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  assert.equal(await ok(['secrets', 'enable', '-path=secret', '-version=2', 'kv']), 'Success! Enabled the kv secrets engine at: secret/\n');
  assert.match(await ok(['secrets', 'list']), /^secret\/\s+kv\s+kv_[0-9a-f]{8}\s+n\/a$/m);
  assert.match(await ok(['kv', 'put', 'secret/app/db', 'user=alice', 'pass=-'], 's3cret\n'), /^version\s+1$/m);
  assert.match(await ok(['kv', 'put', '-cas=1', 'secret/app/db', 'user=alice', 'pass=rotated']), /^version\s+2$/m);
  const cas = await run('kv', 'put', '-cas=1', 'secret/app/db', 'x=y');
  assert.equal(cas.code, 2);
  assert.match(cas.stderr, /check-and-set parameter did not match the current version/);
  const got = await ok(['kv', 'get', 'secret/app/db']);
  assert.match(got, /\n==== Data ====\nKey     Value\n---     -----\npass    rotated\nuser    alice\n$/);
  assert.equal(
    await ok(['kv', 'get', '-version=1', '-field=pass', 'secret/app/db']),
    's3cret',
    'a raw field into a pipe has no newline, as in Vault',
  );
  assert.equal(await ok(['kv', 'list', 'secret/app']), 'Keys\n----\ndb\n');
  assert.match(await ok(['kv', 'metadata', 'get', 'secret/app/db']), /^current_version\s+2$/m);

  await writeFile(path.join(dir, 'app.hcl'), 'path "secret/data/app/*" { capabilities = ["read"] }\n');
  assert.equal(await ok(['policy', 'write', 'app-ro', path.join(dir, 'app.hcl')]), 'Success! Uploaded policy: app-ro\n');
  assert.equal(await ok(['policy', 'list']), 'app-ro\ndefault\nroot\n');
  assert.match(await ok(['policy', 'read', 'app-ro']), /capabilities = \["read"\]/);

  const created = JSON.parse(await ok(['token', 'create', '-policy=app-ro', '-ttl=1h', '-format=json']));
  const appEnv = { ...env, VAULT_TOKEN: created.auth.client_token };
  assert.deepEqual(created.auth.policies, ['app-ro', 'default']);
  const appRead = await runCliProcess(['kv', 'get', '-field=user', 'secret/app/db'], appEnv);
  assert.equal(appRead.stdout, 'alice');
  const appWrite = await runCliProcess(['kv', 'put', 'secret/app/db', 'user=mallory'], appEnv);
  assert.equal(appWrite.code, 2);
  assert.match(appWrite.stderr, /Code: 403/);
  assert.match(await ok(['token', 'lookup', created.auth.client_token]), /^policies\s+\[app-ro default\]$/m);
  assert.equal(await ok(['token', 'revoke', created.auth.client_token]), 'Success! Revoked token (if it existed)\n');
  assert.equal((await runCliProcess(['kv', 'get', 'secret/app/db'], appEnv)).code, 2);

  assert.equal(await ok(['secrets', 'enable', '-path=legacy', 'kv']), 'Success! Enabled the kv secrets engine at: legacy/\n');
  assert.equal(await ok(['write', 'legacy/x', 'a=b']), 'Success! Data written to: legacy/x\n');
  assert.match(await ok(['kv', 'get', 'legacy/x']), /^a\s+b$/m);
  assert.match(await ok(['read', 'legacy/x']), /^a\s+b$/m);
  assert.equal(await ok(['list', 'legacy']), 'Keys\n----\nx\n');
  assert.equal(await ok(['delete', 'legacy/x']), 'Success! Data deleted (if it existed) at: legacy/x\n');
  assert.equal(await ok(['kv', 'delete', 'secret/app/db']), 'Success! Data deleted (if it existed) at: secret/data/app/db\n');
  assert.equal(await ok(['policy', 'delete', 'app-ro']), 'Success! Deleted policy: app-ro\n');
  assert.equal(await ok(['secrets', 'disable', 'legacy']), 'Success! Disabled the secrets engine (if it existed) at: legacy/\n');
  await server.stop();
});
