import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/hvac-auth-flow.py', import.meta.url));

/** A Python that can import hvac (Debian's python3-hvac installs into the system Python). */
function pythonWithHvac(): string | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(python, ['-c', 'import hvac'], { stdio: 'ignore' }).status === 0) return python;
  }
  return undefined;
}

test('hvac drives AppRole (wrapped secret id unwrapped once, login, 403 outside the policy), userpass, and periodic and role token renewal', async (t) => {
  const python = pythonWithHvac();
  if (!python) return t.skip('python3-hvac is not installed (apt-get install python3-hvac)');
  const server = await startTestServer(t);
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  const { spawn } = await import('node:child_process');
  const child = spawn(python, [SCRIPT], { env: { ...process.env, COFFER_ADDR: server.url, COFFER_ROOT: rootToken } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `${out}\n${err}`);
  assert.equal(out, 'approle ok\nuserpass ok\nrenewal ok\n');
});
