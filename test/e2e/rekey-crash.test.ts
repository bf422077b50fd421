import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startServerProcess } from '../helpers/processes.js';
import { apiCall, tempDir } from '../helpers/test-server.js';

const ITERATIONS = Number(process.env.COFFER_REKEY_CRASH_ITERATIONS ?? 20);

test(`kill -9 during ${ITERATIONS} rekeys: the shares the client holds always unseal and all data reads back`, async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'coffer.hcl');
  await writeFile(config, `storage "leveldb" { path = "${path.join(dir, 'data')}" }\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\nlog_level = "warn"\n`);
  let server = await startServerProcess(t, [`-config=${config}`]);
  const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  const token: string = init.body.root_token;
  let held: string[] = init.body.keys;
  let threshold = 2;
  const written: string[] = [];
  let newSharesReceived = 0;
  let warnings = 0;

  const unseal = async (url: string) => {
    let status;
    for (const key of held.slice(0, threshold)) status = await apiCall(url, 'PUT', 'sys/unseal', { body: { key } });
    return status!;
  };

  for (let i = 0; i < ITERATIONS; i++) {
    const unsealed = await unseal(server.url);
    assert.equal(unsealed.body.sealed, false, `iteration ${i}: the held shares unseal (${server.output()})`);
    for (const name of written) assert.equal((await apiCall(server.url, 'GET', `sys/policies/acl/${name}`, { token })).status, 200, `iteration ${i}: ${name} reads back`);
    const name = `data-${i}`;
    assert.equal((await apiCall(server.url, 'PUT', `sys/policies/acl/${name}`, { token, body: { policy: `path "${name}" { capabilities = ["read"] }` } })).status, 204);
    written.push(name);

    const shares = 2 + (i % 3);
    const nextThreshold = 2 + (i % 2);
    const started = await apiCall(server.url, 'PUT', 'sys/rekey/init', { body: { secret_shares: shares, secret_threshold: nextThreshold } });
    for (const key of held.slice(0, threshold - 1)) await apiCall(server.url, 'PUT', 'sys/rekey/update', { body: { key, nonce: started.body.nonce } });
    // Send the share that completes the rekey and kill the server at a random moment around the commit.
    const final = apiCall(server.url, 'PUT', 'sys/rekey/update', { body: { key: held[threshold - 1], nonce: started.body.nonce } }).catch(() => undefined);
    const killDelay = Math.floor(Math.random() * 12);
    const killed = new Promise<void>((resolve) => setTimeout(() => { server.child.kill('SIGKILL'); resolve(); }, killDelay));
    const [response] = await Promise.all([final, killed]);
    await server.stop();
    if (response?.status === 200 && response.body.complete) {
      held = response.body.keys;
      threshold = nextThreshold;
      newSharesReceived++;
    }
    server = await startServerProcess(t, [`-config=${config}`]);
    if (/a rekey result may have been lost/.test(server.output())) warnings++;
  }
  assert.equal((await unseal(server.url)).body.sealed, false);
  for (const name of written) assert.equal((await apiCall(server.url, 'GET', `sys/policies/acl/${name}`, { token })).status, 200);
  t.diagnostic(`rekey crash test: ${ITERATIONS} kill -9 iterations; new shares received ${newSharesReceived} times; restarts warning of a lost rekey result ${warnings}`);
  await server.stop();
});
