import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startHaNode, until } from '../helpers/ha.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runCliProcess } from '../helpers/processes.js';
import { initServer, unsealServer } from '../helpers/test-server.js';

const run = promisify(execFile);

async function hvacPython(): Promise<string | undefined> {
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

/** hvac pointed at a STANDBY: KV v2 write/read, rotate, key status and a whole rekey go through its 307s. */
const SCRIPT = String.raw`
import json, os
import hvac
client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
out = {}
client.secrets.kv.v2.create_or_update_secret(path="app", secret={"user": "hvac"})
out["read"] = client.secrets.kv.v2.read_secret_version(path="app")["data"]["data"]
client.sys.rotate_encryption_key()
out["term"] = client.sys.get_encryption_key_status()["data"]["term"]
started = client.sys.start_rekey(secret_shares=1, secret_threshold=1)
done = client.sys.rekey(key=os.environ["UNSEAL_KEY"], nonce=started["nonce"])
out["rekey_complete"] = done["complete"]
out["new_keys"] = done["keys"]
print(json.dumps(out))
`;

describe('Vault clients pointed at a standby work through its redirect', { skip: postgresSkipReason() }, () => {
  let cluster: TestPostgres;
  let n = 0;
  before(async () => {
    cluster = await startPostgres();
  });
  after(() => cluster.stop());

  const pair = async (t: Parameters<typeof startHaNode>[0]) => {
    const table = `clients_kv_${++n}`;
    const a = await startHaNode(t, cluster.url, table);
    const b = await startHaNode(t, cluster.url, table);
    const { keys, rootToken } = await initServer(a, 1, 1);
    await unsealServer(a, keys);
    await until(async () => (await a.api('GET', 'sys/leader')).body.is_self === true);
    await unsealServer(b, keys);
    await until(async () => (await b.api('GET', 'sys/leader')).body.leader_address === a.url);
    assert.equal((await a.api('POST', 'sys/mounts/secret', { token: rootToken, body: { type: 'kv', options: { version: '2' } } })).status, 204);
    return { a, b, keys, rootToken };
  };

  test('hvac: KV v2 write and read, rotate, key status and a rekey, all sent to the standby', async (t) => {
    const python = await hvacPython();
    if (!python) return t.skip('python3 with hvac is not installed (Debian python3-hvac)');
    const { a, b, keys, rootToken } = await pair(t);
    const { stdout } = await run(python, ['-c', SCRIPT], {
      env: { ...process.env, VAULT_ADDR: b.url, VAULT_TOKEN: rootToken, UNSEAL_KEY: keys[0]! },
    });
    const out = JSON.parse(stdout) as { read: Record<string, string>; term: number; rekey_complete: boolean; new_keys: string[] };
    assert.deepEqual(out.read, { user: 'hvac' });
    assert.equal(out.term, 2);
    assert.equal(out.rekey_complete, true);
    assert.equal((await a.api('GET', 'secret/data/app', { token: rootToken })).body.data.data.user, 'hvac', 'the write landed on the active node');
    assert.equal(a.core.barrier.keyStatus().term, 3, 'the rekey added a term after the rotation');
    // The new share opens the (rekeyed) active node's data after a seal.
    assert.equal((await a.api('PUT', 'sys/seal', { token: rootToken })).status, 204);
    assert.equal((await unsealServer(a, out.new_keys)).body.sealed, false);
  });

  test('the coffer CLI: kv put/get, operator rotate, key-status and members, sent to the standby', async (t) => {
    const { a, b, rootToken } = await pair(t);
    const env = { VAULT_ADDR: b.url, VAULT_TOKEN: rootToken };
    const put = await runCliProcess(['kv', 'put', 'secret/cli', 'who=coffer'], env);
    assert.equal(put.code, 0, put.stderr);
    const get = await runCliProcess(['kv', 'get', '-field=who', 'secret/cli'], env);
    assert.equal(get.stdout.trim(), 'coffer', get.stderr);
    assert.equal((await runCliProcess(['operator', 'rotate'], env)).code, 0);
    assert.equal(a.core.barrier.keyStatus().term, 2);
    const status = await runCliProcess(['operator', 'key-status'], env);
    assert.match(status.stdout, /Key Term\s+2/);
    const members = await runCliProcess(['operator', 'members'], env);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, new RegExp(`${a.url.replace(/[.]/g, '\\.')}\\s+\\s*true`));
    assert.match(members.stdout, new RegExp(`${b.url.replace(/[.]/g, '\\.')}\\s+\\s*false`));
    const stepDown = await runCliProcess(['operator', 'step-down'], env);
    assert.equal(stepDown.code, 0, stepDown.stderr);
    await until(async () => (await b.api('GET', 'sys/leader')).body.is_self === true);
  });
});
