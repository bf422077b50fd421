import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCliProcess, startServerProcess } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

/** A Vault operator's config using every common top-level key (issue 17, item 3). */
function vaultStyleConfig(dir: string, storage = `storage "leveldb" {\n  path = "${path.join(dir, 'data')}"\n}`): string {
  return `
ui                = true
disable_mlock     = true
cluster_addr      = "http://127.0.0.1:8201"
cluster_name      = "prod-secrets"
api_addr          = "http://127.0.0.1:8200"
default_lease_ttl = "1h"
max_lease_ttl     = "24h"
log_level         = "info"
log_format        = "standard"
log_file          = "${path.join(dir, 'logs')}/"
pid_file          = "${path.join(dir, 'coffer.pid')}"

${storage}

listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}

telemetry {
  prometheus_retention_time = "30s"
  disable_hostname          = true
  usage_gauge_period        = "10m"
}
`;
}

test('a Vault-style config with every common key starts: pid file, standard-format log file, one note per key without effect', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'vault.hcl');
  await writeFile(file, vaultStyleConfig(dir));
  const server = await startServerProcess(t, [`-config=${file}`]);

  const pidFile = path.join(dir, 'coffer.pid');
  assert.equal(readFileSync(pidFile, 'utf8'), `${server.child.pid}\n`, 'pid_file holds the server pid');

  const status = await fetch(`${server.url}/v1/sys/seal-status`);
  assert.equal(status.status, 200);

  const logFile = path.join(dir, 'logs', 'vault.log');
  const logged = readFileSync(logFile, 'utf8');
  for (const key of ['cluster_addr', 'disable_mlock', 'telemetry.usage_gauge_period', 'telemetry.prometheus_retention_time']) {
    assert.match(
      logged,
      new RegExp(`^\\S+Z \\[WARN\\]  config: ${key.replace('.', '\\.')} has no effect: .+ config_key=${key.replace('.', '\\.')}$`, 'm'),
      key,
    );
  }
  assert.match(logged, /^\S+Z \[INFO\]  listening: addresses=/m, 'the log file has the standard format');
  assert.match(server.output(), /\[WARN\]  config: disable_mlock has no effect: Node\.js cannot lock memory/, 'stdout gets the same lines');
  assert.ok(!/"level":/.test(logged), 'no JSON lines with log_format = "standard"');

  await server.stop('SIGTERM');
  assert.equal(server.child.exitCode, 0);
  assert.equal(existsSync(pidFile), false, 'pid_file is removed at a clean stop');
});

test('storage "raft" in a Vault config stops the start with a message naming leveldb and postgresql', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'vault.hcl');
  await writeFile(file, vaultStyleConfig(dir, 'storage "raft" {\n  path    = "/opt/vault/data"\n  node_id = "node1"\n}'));
  const result = await runCliProcess(['server', `-config=${file}`], {});
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /Error loading configuration: vault\.hcl:\d+: storage "raft" is not available in Coffer: use storage "leveldb" .*storage "postgresql" for a shared, highly available database/,
  );
  assert.equal(existsSync(path.join(dir, 'coffer.pid')), false, 'nothing was written');
});

test('a data directory that cannot be created stops the start naming the OS error, and leaves no pid file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'not-a-dir'), '');
  const file = path.join(dir, 'vault.hcl');
  await writeFile(file, vaultStyleConfig(dir, `storage "leveldb" { path = "${path.join(dir, 'not-a-dir', 'data')}" }`));
  const result = await runCliProcess(['server', `-config=${file}`], {});
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Error starting Coffer: cannot open LevelDB storage at .*not-a-dir\/data: ENOTDIR/);
  assert.equal(existsSync(path.join(dir, 'coffer.pid')), false);
});
