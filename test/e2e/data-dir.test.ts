import assert from 'node:assert/strict';
import { chmod, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startServerProcess, writeServerConfig } from '../helpers/processes.js';
import { apiCall, tempDir } from '../helpers/test-server.js';

/** Permission bits of `file` as an octal string, e.g. `0600`. */
async function modeOf(file: string): Promise<string> {
  return ((await stat(file)).mode & 0o777).toString(8).padStart(4, '0');
}

test('the server keeps its data directory private: a new one is 0700 with 0600 files (no other local user can copy the storage)', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const dataDir = path.join(dir, 'data');
  const server = await startServerProcess(t, [`-config=${config}`]);
  const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  assert.equal(init.status, 200, init.text);
  await server.stop();

  assert.equal(await modeOf(dataDir), '0700');
  const files = await readdir(dataDir);
  assert.ok(files.length > 0);
  for (const file of files) assert.equal(await modeOf(path.join(dataDir, file)), '0600', file);
});

test('the server refuses to start on a data directory readable by group or others, naming the chmod that fixes it', async (t) => {
  const dir = await tempDir(t);
  const config = await writeServerConfig(dir);
  const dataDir = path.join(dir, 'data');
  const first = await startServerProcess(t, [`-config=${config}`]);
  await first.stop();

  for (const mode of [0o750, 0o705, 0o755]) {
    await chmod(dataDir, mode);
    await assert.rejects(startServerProcess(t, [`-config=${config}`]), (err: Error) => {
      assert.match(err.message, /Error starting Coffer: storage directory .* is accessible by group or others/);
      assert.ok(err.message.includes(`chmod 700 ${dataDir}`), err.message);
      return true;
    });
  }
  await chmod(dataDir, 0o700);
  const fixed = await startServerProcess(t, [`-config=${config}`]);
  await fixed.stop();
});
