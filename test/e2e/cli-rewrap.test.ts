import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('operator rewrap from a YAML file with -watch, census, retire (dry run, then for real) and a trim refused before its grace period', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const init = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], env)).stdout);
  await runCliProcess(['operator', 'unseal', init.unseal_keys_b64[0]], env);
  const cli = (args: string[], stdin?: string) => runCliProcess(args, { ...env, VAULT_TOKEN: init.root_token }, stdin);
  assert.equal((await cli(['secrets', 'enable', '-path=secret', 'kv'])).code, 0);
  for (let i = 0; i < 5; i++) assert.equal((await cli(['write', `secret/app/s${i}`, `value=v${i}`])).code, 0);
  assert.equal((await cli(['operator', 'rotate'])).code, 0);

  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, 'rewrap:\n  apiVersion: v1\n  execution:\n    batchSize: -3\n');
  const refused = await cli(['operator', 'rewrap', bad]);
  // The server checks the spec and names the field; nothing is started.
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /batchSize/);

  const spec = path.join(dir, 'rewrap.yaml');
  await writeFile(spec, 'rewrap:\n  apiVersion: v1\n  description: after rotation\n  execution:\n    batchSize: 2\n');
  const run = await cli(['operator', 'rewrap', spec, '-watch', '-interval=0.2', '-format=json']);
  assert.equal(run.code, 0, run.stderr);
  const job = JSON.parse(run.stdout);
  assert.equal(job.state, 'completed');
  assert.ok(job.entries.rewrapped >= 5);
  const status = await cli(['operator', 'rewrap', '-status']);
  assert.match(status.stdout, /State\s+completed/);

  const census = await cli(['operator', 'census', '-format=json']);
  assert.equal(census.code, 0, census.stderr);
  const counted = JSON.parse(census.stdout);
  assert.equal(counted.terms['1'], undefined, census.stdout);
  assert.ok(counted.terms['2'].entries >= 5);

  const dry = await cli(['operator', 'retire', '2', '-dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /can be retired/);
  assert.equal((await cli(['operator', 'retire', '2'])).code, 0);
  const trim = await cli(['operator', 'trim', '2', '-yes']);
  assert.equal(trim.code, 2);
  assert.match(trim.stderr, /grace period/);
  const read = await cli(['read', '-format=json', 'secret/app/s3']);
  assert.equal(JSON.parse(read.stdout).data.value, 'v3');
});
