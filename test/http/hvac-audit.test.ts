import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { initServer, startTestServer, tempDir, unsealServer } from '../helpers/test-server.js';

const run = promisify(execFile);

/** The first python3 that can import hvac (Debian's python3-hvac installs for /usr/bin/python3). */
async function pythonWithHvac(): Promise<string | undefined> {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import hvac']);
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** hvac's audit calls, through its own request building; prints what came back as JSON. */
const SCRIPT = String.raw`
import json, os
import hvac

client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
audit = client.sys
out = {}
audit.enable_audit_device(device_type="file", description="hvac made me", options={"file_path": os.environ["AUDIT_LOG"]}, path="hvac")
listed = audit.list_enabled_audit_devices()
out["listed"] = listed["data"]
out["top_level"] = "hvac/" in listed
out["hash"] = audit.calculate_hash(path="hvac", input_to_hash="known value")["data"]["hash"]
client.sys.enable_secrets_engine(backend_type="kv", path="secret", options={"version": "2"})
client.secrets.kv.v2.create_or_update_secret(path="app", secret={"password": "known value"})
try:
    audit.enable_audit_device(device_type="file", options={"file_path": os.environ["AUDIT_LOG"]}, path="hvac")
except hvac.exceptions.InvalidRequest as err:
    out["again"] = str(err)
audit.disable_audit_device(path="hvac")
out["after_disable"] = audit.list_enabled_audit_devices()["data"]
print(json.dumps(out))
`;

test('hvac enable_audit_device, list_enabled_audit_devices, calculate_hash and disable_audit_device work against Coffer', async (t) => {
  const python = await pythonWithHvac();
  if (!python) return t.skip('python3 with hvac is not installed (Debian: apt-get install python3-hvac)');
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const dir = await tempDir(t);
  const log = path.join(dir, 'hvac-audit.log');
  const script = path.join(dir, 'hvac_audit.py');
  await writeFile(script, SCRIPT);
  const { stdout } = await run(python, [script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, VAULT_ADDR: server.url, VAULT_TOKEN: init.rootToken, AUDIT_LOG: log },
    timeout: 120_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.deepEqual(out.listed['hvac/'], { type: 'file', description: 'hvac made me', options: { file_path: log }, local: false, path: 'hvac/' });
  assert.equal(out.top_level, true, 'the list is also at the top level, as Vault injects it');
  assert.match(out.hash, /^hmac-sha256:[0-9a-f]{64}$/);
  assert.match(out.again, /path already in use/);
  assert.deepEqual(out.after_disable, {});
  const write = (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; request: { path: string; data?: { data?: { password?: string } } } })
    .find((l) => l.type === 'request' && l.request.path === 'secret/data/app');
  assert.equal(write?.request.data?.data?.password, out.hash, "calculate_hash matches the written value's entry in the log");
});
