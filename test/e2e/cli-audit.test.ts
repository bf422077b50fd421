import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCliProcess, startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { tempDir } from '../helpers/test-server.js';

test('coffer audit enable, list (table, -detailed, json, yaml) and disable print what Vault prints; stdout devices write to the server output', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const server = await startServerProcess(t, [`-config=${config}`]);
  const env = { VAULT_ADDR: server.url, HOME: dir, VAULT_TOKEN: '' };
  const init = JSON.parse((await runCliProcess(['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], env)).stdout);
  await runCliProcess(['operator', 'unseal', '-'], env, init.unseal_keys_b64[0]);
  const rootEnv = { ...env, VAULT_TOKEN: init.root_token };
  const ok = async (...args: string[]) => {
    const res = await runCliProcess(args, rootEnv);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  const none = await runCliProcess(['audit', 'list'], rootEnv);
  assert.deepEqual([none.code, none.stdout], [2, 'No audit devices are enabled.\n']);
  const log = path.join(dir, 'audit.log');
  assert.equal(await ok('audit', 'enable', 'file', `file_path=${log}`), 'Success! Enabled the file audit device at: file/\n');
  assert.equal(
    await ok('audit', 'enable', '-path=out', '-description=to the terminal', 'file', 'file_path=stdout'),
    'Success! Enabled the file audit device at: out/\n',
  );
  assert.equal(
    await ok('audit', 'list'),
    ['Path     Type    Description', '----     ----    -----------', 'file/    file    n/a', 'out/     file    to the terminal', ''].join('\n'),
  );
  const detailed = await ok('audit', 'list', '-detailed');
  assert.match(detailed, /^Path\s+Type\s+Description\s+Replication\s+Options$/m);
  assert.match(detailed, new RegExp(`^file/\\s+file\\s+n/a\\s+replicated\\s+file_path=${log.replace(/[/.]/g, '\\$&')}$`, 'm'));
  const listed = JSON.parse(await ok('audit', 'list', '-format=json'));
  assert.equal(listed['out/'].options.file_path, 'stdout');
  assert.match(await ok('audit', 'list', '-format=yaml'), /^file\/:\n\s+description: ""/m);

  // The stdout device writes its JSON lines into the server's own output.
  const mark = server.output().length;
  await ok('token', 'lookup');
  await server.waitForOutput(/"type":"response".*"path":"auth\/token\/lookup-self"/, mark);
  assert.ok(!server.output().includes(init.root_token), 'the token never appears in the server output');

  const refused = await runCliProcess(['audit', 'enable', 'file', 'file_path=/tmp/x.log', 'mode=0755'], rootEnv);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /Error enabling audit device: .*may not be executable/s);
  assert.equal(await ok('audit', 'disable', 'out'), 'Success! Disabled audit device (if it was enabled) at: out/\n');
  assert.equal(await ok('audit', 'disable', 'file'), 'Success! Disabled audit device (if it was enabled) at: file/\n');
  const lines = (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { request: { path: string } });
  assert.ok(
    lines.some((l) => l.request.path === 'sys/audit/file'),
    'the disabling request itself was recorded before it ran',
  );
});
