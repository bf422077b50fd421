import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { GpgHome } from '../helpers/gpg.js';
import { runCliProcess, startServerProcess, type CliResult, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

/**
 * A whole operator flow at debug log level — init, unseal, rekey (plain, PGP, then 1-of-1 so the share IS the
 * unseal key), rotate, tokens, KV and transit — with every share, token, key and secret value collected. None of
 * them may appear in anything the server printed, in any CLI's standard error, or in the standard output of CLI
 * commands whose job is not to show them.
 */
test('secrets-in-logs: nothing secret reaches the server output or CLI diagnostics over a full flow', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir, { logLevel: 'debug' });
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const secrets = new Set<string>();
  const watched: string[] = [];
  /** Runs the CLI; its stderr is always searched, its stdout unless the command exists to print a secret. */
  const cli = async (args: string[], options: { stdin?: string; token?: string; showsSecrets?: boolean } = {}): Promise<CliResult> => {
    const result = await runCliProcess(args, { ...env, ...(options.token ? { VAULT_TOKEN: options.token } : {}) }, options.stdin);
    watched.push(result.stderr);
    if (!options.showsSecrets) watched.push(result.stdout);
    return result;
  };
  const keep = (...values: string[]) => values.forEach((v) => secrets.add(v));

  const init = JSON.parse((await cli(['operator', 'init', '-key-shares=3', '-key-threshold=2', '-format=json'], { showsSecrets: true })).stdout);
  keep(...init.unseal_keys_b64, ...init.unseal_keys_hex, init.root_token);
  const root = init.root_token as string;
  assert.notEqual((await cli(['operator', 'unseal', 'deadbeef'])).code, 0, 'a wrong-length share is refused');
  await cli(['operator', 'unseal', '-'], { stdin: `${init.unseal_keys_b64[0]}\n` });
  assert.match((await cli(['operator', 'unseal', '-'], { stdin: `${init.unseal_keys_hex[1]}\n` })).stdout, /^Sealed\s+false$/m);

  // Rekey without PGP: 3/2 → 2/2.
  const rekey = async (current: string[], flags: string[], stdinShares = true): Promise<string> => {
    const started = await cli(['operator', 'rekey', '-init', ...flags, '-format=json']);
    assert.equal(started.code, 0, started.stderr);
    const nonce = JSON.parse(started.stdout).nonce as string;
    let last: CliResult | undefined;
    for (const share of current) {
      last = await cli(['operator', 'rekey', `-nonce=${nonce}`, '-format=json', '-'], { stdin: stdinShares ? `${share}\n` : '', showsSecrets: true });
    }
    assert.equal(last!.code, 0, last!.stderr);
    return last!.stdout;
  };
  const plain = JSON.parse(await rekey(init.unseal_keys_b64.slice(0, 2), ['-key-shares=2', '-key-threshold=2']));
  keep(...plain.keys, ...plain.keys_base64);
  const wrongNonce = await cli(['operator', 'rekey', '-nonce=00000000-0000-0000-0000-000000000000', '-'], { stdin: `${plain.keys_base64[0]}\n` });
  assert.notEqual(wrongNonce.code, 0);

  // Rekey to PGP-encrypted shares; gpg decrypts them; they are secrets too.
  const gpg = await GpgHome.create(t);
  const holders = [await gpg.generateKey('a@example.com'), await gpg.generateKey('b@example.com')];
  const files = await Promise.all(
    holders.map(async (h, i) => {
      const file = path.join(dir, `k${i}.b64`);
      await writeFile(file, h.base64);
      return file;
    }),
  );
  const pgp = JSON.parse(await rekey(plain.keys_base64, ['-key-shares=2', '-key-threshold=2', `-pgp-keys=${files.join(',')}`, '-backup']));
  const decrypted = await Promise.all(pgp.keys_base64.map((m: string) => gpg.decryptBase64(m)));
  keep(...decrypted, ...decrypted.map((hex) => Buffer.from(hex, 'hex').toString('base64')));
  await cli(['operator', 'rekey', '-backup-retrieve', '-format=json'], { token: root, showsSecrets: true });

  // 1-of-1: the single share is the unseal key itself.
  const single = JSON.parse(await rekey(decrypted, ['-key-shares=1', '-key-threshold=1']));
  keep(...single.keys, ...single.keys_base64);
  assert.equal(Buffer.from(single.keys_base64[0], 'base64').length, 32, 'the unseal key itself');

  assert.equal((await cli(['operator', 'rotate'], { token: root })).code, 0);
  await cli(['operator', 'key-status'], { token: root });
  assert.equal((await cli(['operator', 'seal'], { token: root })).code, 0);
  await cli(['operator', 'unseal', '-'], { stdin: `${single.keys_base64[0]}\n` });

  // Tokens, KV and transit.
  const policy = path.join(dir, 'app.hcl');
  await writeFile(
    policy,
    'path "secret/*" { capabilities = ["create","read","update","list"] }\npath "transit/*" { capabilities = ["create","update"] }\n',
  );
  await cli(['policy', 'write', 'app', policy], { token: root });
  const child = JSON.parse((await cli(['token', 'create', '-policy=app', '-format=json'], { token: root, showsSecrets: true })).stdout).auth
    .client_token as string;
  keep(child);
  await cli(['secrets', 'enable', '-version=2', '-path=secret', 'kv'], { token: root });
  await cli(['secrets', 'enable', 'transit'], { token: root });
  const password = 'correct horse battery staple 9f8e7d';
  keep(password);
  assert.equal((await cli(['kv', 'put', 'secret/db', 'password=-'], { token: child, stdin: password })).code, 0);
  assert.match((await cli(['kv', 'get', 'secret/db'], { token: child, showsSecrets: true })).stdout, new RegExp(password));
  await cli(['kv', 'get', 'secret/missing'], { token: child });
  const plaintext = 'card 4111 1111 1111 1111';
  const b64 = Buffer.from(plaintext).toString('base64');
  keep(plaintext, b64);
  assert.equal((await cli(['write', 'transit/encrypt/payments', `plaintext=${b64}`], { token: child, showsSecrets: true })).code, 0);
  await cli(['kv', 'get', 'secret/db'], { token: 'hvs.not-a-real-token' });
  await cli(['token', 'revoke', child], { token: root });
  await server.stop();

  const serverOutput = server.output();
  assert.ok(serverOutput.split('\n').filter((l) => l.includes('"msg":"request"')).length > 30, 'debug request logs were written');
  const everything = [serverOutput, ...watched].join('\n');
  const hits = [...secrets].filter((s) => s.length >= 8 && everything.includes(s));
  assert.deepEqual(
    hits.map((h) => `${h.slice(0, 4)}…(${h.length} chars)`),
    [],
    'secrets found in output',
  );
  t.diagnostic(
    `secrets-in-logs: ${secrets.size} secrets searched in ${serverOutput.length} bytes of server output and ${watched.length} CLI streams: 0 hits`,
  );
});
