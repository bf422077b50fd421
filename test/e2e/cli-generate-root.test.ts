import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliInTerminal, runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('root-token recovery: after the root token is revoked, three key holders run operator generate-root and the decoded token can seal', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const cli = (args: string[], stdin?: string, extra: Record<string, string> = {}) => runCliProcess(args, { ...env, ...extra }, stdin);
  const init = JSON.parse((await cli(['operator', 'init', '-key-shares=5', '-key-threshold=3', '-format=json'])).stdout);
  for (const k of init.unseal_keys_b64.slice(0, 3)) await cli(['operator', 'unseal', k]);
  assert.equal((await cli(['token', 'revoke', '-self'], undefined, { VAULT_TOKEN: init.root_token })).code, 0);
  assert.notEqual((await cli(['token', 'lookup'], undefined, { VAULT_TOKEN: init.root_token })).code, 0, 'the root token is gone');

  const otp = (await cli(['operator', 'generate-root', '-generate-otp'])).stdout.trim();
  assert.match(otp, /^[0-9A-Za-z]{28}$/);
  const started = JSON.parse((await cli(['operator', 'generate-root', '-init', `-otp=${otp}`, '-format=json'])).stdout);
  // Holder 1 at a terminal: sees the attempt, confirms, types the share at the hidden prompt.
  const first = await runCliInTerminal(
    ['operator', 'generate-root'],
    env,
    ['Type "yes" to confirm: ', 'Unseal Key (will be hidden): '],
    ['yes', init.unseal_keys_b64[4]],
  );
  assert.equal(first.code, 0, first.stdout);
  assert.match(first.stdout, new RegExp(`Root generation operation nonce: ${started.nonce}`));
  assert.match(first.stdout, /Token Delivery\s+encoded with the one-time password/);
  assert.match(first.stdout, /Progress\s+1\/3/);
  assert.ok(!first.stdout.includes(init.unseal_keys_b64[4]), 'the share is not echoed');
  // A script without -nonce is refused; holders 2 and 3 pass the nonce and the share on standard input.
  assert.match((await cli(['operator', 'generate-root'], `${init.unseal_keys_b64[3]}\n`)).stderr, /Refusing to send a share without -nonce/);
  assert.equal((await cli(['operator', 'generate-root', `-nonce=${started.nonce}`, '-'], `${init.unseal_keys_b64[3]}\n`)).code, 0);
  const last = await cli(['operator', 'generate-root', `-nonce=${started.nonce}`, '-format=json', '-'], `${init.unseal_keys_b64[2]}\n`);
  const done = JSON.parse(last.stdout);
  assert.equal(done.complete, true);
  const decoded = await cli(['operator', 'generate-root', `-decode=${done.encoded_token}`, `-otp=${otp}`]);
  const token = decoded.stdout.trim();
  assert.match(token, /^hvs\./);

  // The new root token works: it rotates the root key without shares, then seals.
  const rotated = await cli(['operator', 'rotate', '-target=root'], undefined, { VAULT_TOKEN: token });
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /Key Term\s+2/);
  const sealed = await cli(['operator', 'seal'], undefined, { VAULT_TOKEN: token });
  assert.equal(sealed.code, 0, sealed.stderr);
  assert.match((await cli(['status'])).stdout, /^Sealed\s+true$/m);
  for (const k of init.unseal_keys_b64.slice(0, 3)) await cli(['operator', 'unseal', k]);
  assert.match((await cli(['status'])).stdout, /^Sealed\s+false$/m, 'the same shares unseal after the root-key rotation');
  await server.stop();
});
