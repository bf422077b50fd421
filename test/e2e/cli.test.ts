import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCliInTerminal, runCliProcess, startServerProcess } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

async function configFile(dir: string, listener: string): Promise<string> {
  const file = path.join(dir, 'coffer.hcl');
  await writeFile(file, `storage "leveldb" { path = "${path.join(dir, 'data')}" }\n${listener}\nlog_level = "warn"\n`);
  return file;
}

describe('the coffer CLI against a real server process', () => {
  test('init 5/3, unseal three times (once at the hidden prompt), status, seal, restart, unseal again', async (t) => {
    const dir = await tempDir(t);
    const config = await configFile(dir, 'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}');
    let server = await startServerProcess(t, [`-config=${config}`]);
    const env = { VAULT_ADDR: server.url, VAULT_TOKEN: '' };

    const before = await runCliProcess(['status'], env);
    assert.equal(before.code, 2, before.stderr);
    assert.match(before.stdout, /^Initialized\s+false$/m);

    const init = await runCliProcess(['operator', 'init', '-key-shares=5', '-key-threshold=3', '-format=json'], env);
    assert.equal(init.code, 0, init.stderr);
    const result = JSON.parse(init.stdout);
    assert.equal(result.unseal_keys_b64.length, 5);
    assert.equal(result.unseal_keys_hex.length, 5);
    assert.equal(result.unseal_shares, 5);
    assert.equal(result.unseal_threshold, 3);
    assert.deepEqual(result.recovery_keys_b64, []);
    assert.match(result.root_token, /^hvs\./);
    const keys: string[] = result.unseal_keys_b64;
    const withToken = { ...env, VAULT_TOKEN: result.root_token };

    const first = await runCliProcess(['operator', 'unseal', keys[0]!], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Unseal Progress\s+1\/3$/m);

    const prompted = await runCliInTerminal(['operator', 'unseal'], env, 'Unseal Key (will be hidden): ', keys[1]!);
    assert.equal(prompted.code, 0, prompted.stdout);
    assert.match(prompted.stdout, /^Unseal Progress\s+2\/3\r?$/m);
    assert.ok(!prompted.stdout.includes(keys[1]!), 'the share is not echoed to the terminal');

    const third = await runCliProcess(['operator', 'unseal', '-'], env, `${keys[2]}\n`);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^Sealed\s+false$/m);

    const up = await runCliProcess(['status'], env);
    assert.equal(up.code, 0);
    assert.match(up.stdout, /^Key\s+Value\n---\s+-----\nSeal Type\s+shamir\nInitialized\s+true\nSealed\s+false\nTotal Shares\s+5\nThreshold\s+3\n/);

    const seal = await runCliProcess(['operator', 'seal'], withToken);
    assert.equal(seal.code, 0, seal.stderr);
    assert.equal(seal.stdout, 'Success! Vault is sealed.\n');
    assert.equal((await runCliProcess(['status'], env)).code, 2);

    await server.stop();
    server = await startServerProcess(t, [`-config=${config}`]);
    const restarted = { VAULT_ADDR: server.url };
    for (const key of [keys[4]!, keys[3]!]) assert.equal((await runCliProcess(['operator', 'unseal', key], restarted)).code, 0);
    assert.equal((await runCliProcess(['status'], restarted)).code, 2);
    const last = await runCliProcess(['operator', 'unseal', keys[0]!], restarted);
    assert.match(last.stdout, /^Sealed\s+false$/m);
    const status = await runCliProcess(['status', '-format=json'], restarted);
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.stdout).sealed, false);
    await server.stop();
  });

  test('operator rotate adds a term and prints it; operator key-status shows the same in table and JSON', async (t) => {
    const dir = await tempDir(t);
    const config = await configFile(dir, 'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}');
    const server = await startServerProcess(t, [`-config=${config}`]);
    const env = { VAULT_ADDR: server.url };
    const init = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], env)).stdout);
    await runCliProcess(['operator', 'unseal', '-'], env, init.unseal_keys_b64[0]);
    const withToken = { ...env, VAULT_TOKEN: init.root_token };

    const before = await runCliProcess(['operator', 'key-status'], withToken);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /^Key Term            1\nInstall Time        \d\d [A-Z][a-z]{2} \d\d \d\d:\d\d UTC\nEncryption Count    \d+\n$/);

    const rotated = await runCliProcess(['operator', 'rotate'], withToken);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^Success! Rotated key\n\nKey Term            2\nInstall Time        .+ UTC\nEncryption Count    0\n$/);

    const json = await runCliProcess(['operator', 'key-status', '-format=json'], withToken);
    const status = JSON.parse(json.stdout);
    assert.equal(status.term, 2);
    assert.equal(status.encryptions, 0);
    assert.match(status.install_time, /Z$/);

    const denied = await runCliProcess(['operator', 'rotate'], env);
    assert.equal(denied.code, 2);
    assert.match(
      denied.stderr,
      /^Error rotating key: Error making API request\.\n\nURL: PUT .*\/v1\/sys\/rotate\nCode: 403\. Errors:\n\n\* permission denied\n$/,
    );
    await server.stop();
  });

  test('errors are printed as Vault prints them, with exit code 2; usage errors exit 1', async (t) => {
    const dir = await tempDir(t);
    const config = await configFile(dir, 'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}');
    const server = await startServerProcess(t, [`-config=${config}`]);
    const env = { VAULT_ADDR: server.url };
    const bad = await runCliProcess(['operator', 'init', '-key-shares=3', '-key-threshold=5'], env);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      `Error initializing: Error making API request.\n\nURL: PUT ${server.url}/v1/sys/init\nCode: 400. Errors:\n\n* invalid seal configuration: threshold cannot be larger than shares\n`,
    );
    assert.equal((await runCliProcess(['operator', 'init', '-status'], env)).code, 2);
    assert.equal((await runCliProcess(['operator', 'frobnicate'], env)).code, 1);
    const unreachable = await runCliProcess(['status'], { VAULT_ADDR: 'http://127.0.0.1:1' });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^Error checking seal status: /);
    await server.stop();
  });

  test('a TLS listener serves the CLI when VAULT_CACERT names its CA, and refuses it otherwise', async (t) => {
    const dir = await tempDir(t);
    const cert = path.resolve('test/fixtures/test-tls-cert.pem');
    const key = path.resolve('test/fixtures/test-tls-key.pem');
    const config = await configFile(dir, `listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_cert_file = "${cert}"\n  tls_key_file = "${key}"\n}`);
    const server = await startServerProcess(t, [`-config=${config}`]);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const trusted = await runCliProcess(['status'], { VAULT_ADDR: server.url, VAULT_CACERT: cert });
    assert.equal(trusted.code, 2, trusted.stderr);
    assert.match(trusted.stdout, /^Initialized\s+false$/m);
    const untrusted = await runCliProcess(['status'], { VAULT_ADDR: server.url, VAULT_CACERT: '' });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /certificate/);
    const skipped = await runCliProcess(['status'], { VAULT_ADDR: server.url, VAULT_SKIP_VERIFY: 'true' });
    assert.equal(skipped.code, 2);
    await server.stop();
  });

  test('a server whose data directory is held by another server refuses to start with a clear message', async (t) => {
    const dir = await tempDir(t);
    const config = await configFile(dir, 'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}');
    const first = await startServerProcess(t, [`-config=${config}`]);
    await assert.rejects(startServerProcess(t, [`-config=${config}`]), /locked by another process/);
    await first.stop();
  });
});
