import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { decodeToken } from '../../server/core/generate-root/generate-root.js';
import { pythonWithHvac, run } from '../helpers/hvac.js';
import { initServer, startTestServer, tempDir, unsealServer } from '../helpers/test-server.js';

const SCRIPT = String.raw`
import json, os, sys
import hvac

client = hvac.Client(url=os.environ["VAULT_ADDR"])
keys = json.loads(os.environ["KEYS"])
otp = os.environ["OTP"]
out = {}
started = client.sys.start_root_token_generation(otp=otp)
out["required"] = started["required"]
out["progress_read"] = client.sys.read_root_generation_progress()["started"]
result = None
for key in keys:
    result = client.sys.generate_root(key=key, nonce=started["nonce"])
out["complete"] = result["complete"]
out["encoded"] = result["encoded_token"]
again = client.sys.start_root_token_generation(otp=otp)
client.sys.cancel_root_generation()
out["after_cancel"] = client.sys.read_root_generation_progress()["started"]
print(json.dumps(out))
`;

test('hvac drives generate-root: start_root_token_generation, generate_root, read progress, cancel_root_generation', async (t) => {
  const python = await pythonWithHvac();
  if (!python) return t.skip('python3 with hvac is not installed (Debian: apt-get install python3-hvac)');
  const server = await startTestServer(t);
  const init = await initServer(server, 5, 3);
  await unsealServer(server, init.keys);
  const dir = await tempDir(t);
  const script = path.join(dir, 'generate_root.py');
  await writeFile(script, SCRIPT);
  const otp = 'Z'.repeat(28);
  const { stdout } = await run(python, [script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, VAULT_ADDR: server.url, KEYS: JSON.stringify(init.keys.slice(0, 3)), OTP: otp },
  });
  const out = JSON.parse(stdout) as { required: number; progress_read: boolean; complete: boolean; encoded: string; after_cancel: boolean };
  assert.deepEqual([out.required, out.progress_read, out.complete, out.after_cancel], [3, true, true, false]);
  const token = decodeToken(out.encoded, otp);
  assert.equal((await server.api('GET', 'auth/token/lookup-self', { token })).body.data.policies[0], 'root');
});
