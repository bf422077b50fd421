import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliInTerminal, runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('operator rekey: interactively at the prompt and with -nonce, with and without -verify; new shares then unseal', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const cli = (args: string[], stdin?: string) => runCliProcess(args, env, stdin);
  const init = JSON.parse((await cli(['operator', 'init', '-key-shares=3', '-key-threshold=2', '-format=json'])).stdout);
  for (const k of init.unseal_keys_b64.slice(0, 2)) await cli(['operator', 'unseal', k]);
  const withToken = { ...env, VAULT_TOKEN: init.root_token };

  // 1. Interactive, no verification: 3/2 → 2/2.
  const started = await cli(['operator', 'rekey', '-init', '-key-shares=2', '-key-threshold=2']);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stderr, /^WARNING! The new key shares will be printed in plain text/);
  assert.match(
    started.stdout,
    /^Key\s+Value\n---\s+-----\nNonce\s+[0-9a-f-]{36}\nStarted\s+true\nRekey Progress\s+0\/2\nNew Shares\s+2\nNew Threshold\s+2\nVerification Required\s+false\n$/,
  );
  const status = await cli(['operator', 'rekey', '-status', '-format=json']);
  const nonce = JSON.parse(status.stdout).nonce;
  const confirm = 'Type "yes" to confirm: ';
  const first = await runCliInTerminal(['operator', 'rekey'], env, [confirm, 'Unseal Key (will be hidden): '], ['yes', init.unseal_keys_b64[0]]);
  assert.equal(first.code, 0, first.stdout);
  assert.match(first.stdout, new RegExp(`Rekey operation nonce: ${nonce}`));
  assert.match(first.stdout, /Rekey Progress\s+1\/2/);
  assert.ok(!first.stdout.includes(init.unseal_keys_b64[0]), 'the share is not echoed');
  const second = await runCliInTerminal(['operator', 'rekey'], env, [confirm, 'Unseal Key (will be hidden): '], ['yes', init.unseal_keys_b64[2]]);
  assert.equal(second.code, 0, second.stdout);
  const newKeys = [...second.stdout.matchAll(/^Key (\d): (\S+)\r?$/gm)].map((m) => m[2]!);
  assert.equal(newKeys.length, 2);
  assert.match(second.stdout, new RegExp(`Operation nonce: ${nonce}`));
  assert.match(second.stdout, /rekeyed with 2 key shares and a key threshold of 2/);

  // 2. Missing nonce with a key argument is a usage error.
  await cli(['operator', 'rekey', '-init', '-key-shares=1', '-key-threshold=1', '-verify']);
  const noNonce = await cli(['operator', 'rekey', newKeys[0]!]);
  assert.equal(noNonce.code, 1);
  assert.match(noNonce.stderr, /Missing nonce value: specify it via the -nonce flag/);

  // 3. -nonce with arguments and stdin, with verification: 2/2 → 1/1.
  const verifyNonce = JSON.parse((await cli(['operator', 'rekey', '-status', '-format=json'])).stdout).nonce;
  assert.equal((await cli(['operator', 'rekey', `-nonce=${verifyNonce}`, newKeys[0]!])).code, 0);
  const produced = await cli(['operator', 'rekey', `-nonce=${verifyNonce}`, '-'], `${newKeys[1]}\n`);
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stdout, /These will not be active until after verification is complete/);
  const single = /^Key 1: (\S+)$/m.exec(produced.stdout)![1]!;
  const vStatus = await cli(['operator', 'rekey', '-status', '-verify']);
  const vNonce = /^Verification Nonce\s+(\S+)$/m.exec(vStatus.stdout)![1]!;
  assert.match(vStatus.stdout, /^Verification Progress\s+0\/1$/m);
  const verified = await cli(['operator', 'rekey', '-verify', `-nonce=${vNonce}`, single]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /Rekey verification successful/);

  // The verified single key is now the only one that unseals.
  assert.equal((await runCliProcess(['operator', 'seal'], withToken)).code, 0);
  const old = await cli(['operator', 'unseal', newKeys[0]!]);
  assert.equal(old.code, 2);
  const ok = await cli(['operator', 'unseal', single]);
  assert.match(ok.stdout, /^Sealed\s+false$/m);
  assert.equal((await cli(['operator', 'rekey', '-cancel'])).stdout, 'Success! Canceled rekeying (if it was started)\n');
  await server.stop();
});

test("rekey takeover: a key holder's CLI never feeds a share to an operation it did not confirm", async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const cli = (args: string[], stdin?: string) => runCliProcess(args, env, stdin);
  const init = JSON.parse((await cli(['operator', 'init', '-key-shares=3', '-key-threshold=2', '-format=json'])).stdout);
  for (const k of init.unseal_keys_b64.slice(0, 2)) await cli(['operator', 'unseal', k]);
  // The operators start a rekey and note its nonce...
  const theirs = JSON.parse((await cli(['operator', 'rekey', '-init', '-key-shares=3', '-key-threshold=2', '-format=json'])).stdout).nonce;
  // ...and before any share is in, an unauthenticated client replaces it with its own (here: 1 share, 1 of 1).
  assert.equal((await fetch(`${server.url}/v1/sys/rekey/init`, { method: 'DELETE', body: JSON.stringify({ nonce: theirs }) })).status, 204);
  const attacker = await (
    await fetch(`${server.url}/v1/sys/rekey/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) })
  ).json();

  // A script without -nonce is refused; with the operators' nonce it is refused too: nothing is sent.
  const blind = await cli(['operator', 'rekey'], `${init.unseal_keys_b64[0]}\n`);
  assert.equal(blind.code, 1);
  assert.match(blind.stderr, /Refusing to send a share without -nonce/);
  const stale = await cli(['operator', 'rekey', `-nonce=${theirs}`, init.unseal_keys_b64[0]]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, new RegExp(`has nonce ${attacker.nonce}, not ${theirs}: no share was sent`));
  // At the prompt the holder sees what the operation would produce, and declines.
  const shown = await runCliInTerminal(['operator', 'rekey'], env, ['Type "yes" to confirm: '], ['no']);
  assert.equal(shown.code, 1);
  assert.match(shown.stdout, /New Shares\s+1\r?\n/);
  assert.match(shown.stdout, /PGP Fingerprints\s+none: the new shares will be returned in plain text/);
  assert.match(shown.stdout, /Not confirmed: no share was sent/);
  const status = JSON.parse((await cli(['operator', 'rekey', '-status', '-format=json'])).stdout);
  assert.equal(status.progress, 0, "no share reached the attacker's operation");
  await server.stop();
});
