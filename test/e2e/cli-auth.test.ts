import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCliInTerminal, runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('auth enable/list/tune/disable, write auth/approle/…, unwrap once, and login -method=userpass|approle against a real server', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const bare = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const init = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], bare)).stdout);
  await runCliProcess(['operator', 'unseal', '-'], bare, init.unseal_keys_b64[0]);
  const env = { ...bare, VAULT_TOKEN: init.root_token };
  const ok = async (args: string[], stdin?: string, e: NodeJS.ProcessEnv = env) => {
    const res = await runCliProcess(args, e, stdin);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  assert.equal(await ok(['auth', 'enable', 'userpass']), 'Success! Enabled userpass auth method at: userpass/\n');
  assert.equal(
    await ok(['auth', 'enable', '-path=apps', '-description=applications', 'approle']),
    'Success! Enabled approle auth method at: apps/\n',
  );
  const listed = await ok(['auth', 'list']);
  assert.match(listed, /^apps\/\s+approle\s+auth_approle_[0-9a-f]{8}\s+applications$/m);
  assert.match(listed, /^token\/\s+token\s+auth_token_[0-9a-f]{8}/m);
  assert.equal(await ok(['auth', 'tune', '-max-lease-ttl=2h', 'userpass']), 'Success! Tuned the auth method at: userpass/\n');
  assert.match(await ok(['read', 'sys/auth/userpass/tune']), /^max_lease_ttl\s+2h$/m);

  assert.equal(
    await ok(['write', 'auth/userpass/users/alice', 'password=-', 'token_policies=default'], 'correct horse\n'),
    'Success! Data written to: auth/userpass/users/alice\n',
  );
  const login = await runCliInTerminal(['login', '-method=userpass', 'username=alice'], bare, 'Password (will be hidden): ', 'correct horse');
  assert.equal(login.code, 0, login.stdout);
  assert.match(login.stdout, /Success! You are now authenticated/);
  assert.match(login.stdout, /token_meta_username\s+alice/);
  const stored = (await readFile(path.join(dir, '.vault-token'), 'utf8')).trim();
  assert.match(await ok(['token', 'lookup'], undefined, bare), /^path\s+auth\/userpass\/login\/alice$/m);
  assert.match(await ok(['token', 'lookup'], undefined, bare), new RegExp(`^id\\s+${stored}$`, 'm'));
  const wrong = await runCliProcess(['login', '-method=userpass', 'username=alice', 'password=nope'], bare);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /invalid username or password/);

  assert.equal(
    await ok(['write', 'auth/apps/role/web', 'token_policies=default', 'secret_id_num_uses=1']),
    'Success! Data written to: auth/apps/role/web\n',
  );
  const roleId = (await ok(['read', '-field=role_id', 'auth/apps/role/web/role-id'])).trim();
  const table = await ok(['write', '-wrap-ttl=5m', 'auth/apps/role/web/secret-id']);
  assert.match(table, /^wrapping_token_ttl:\s+300s$/m);
  assert.doesNotMatch(table, /secret_id/, 'the secret id is not shown, only its wrapping token');
  const wrapToken = /^wrapping_token:\s+(\S+)$/m.exec(table)![1]!;
  const secretId = (await ok(['unwrap', '-field=secret_id', wrapToken], undefined, bare)).trim();
  assert.match(secretId, /^[0-9a-f-]{36}$/);
  const again = await runCliProcess(['unwrap', wrapToken], bare);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /wrapping token is not valid or does not exist/);
  const approle = JSON.parse(
    await ok(['login', '-method=approle', '-path=apps', '-no-store', '-format=json', `role_id=${roleId}`, `secret_id=${secretId}`], undefined, bare),
  );
  assert.deepEqual(approle.auth.metadata, { role_name: 'web' });
  assert.equal((await readFile(path.join(dir, '.vault-token'), 'utf8')).trim(), stored, '-no-store left the stored token alone');

  assert.equal(await ok(['auth', 'disable', 'apps']), 'Success! Disabled the auth method (if it existed) at: apps/\n');
  assert.equal(
    (await runCliProcess(['token', 'lookup'], { ...bare, VAULT_TOKEN: approle.auth.client_token })).code,
    2,
    "the method's tokens went with it",
  );
});
