import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { encryptEntry } from '../../server/core/barrier/aes-gcm-barrier.js';
import { readEntryHeader } from '../../server/core/barrier/entry-header.js';
import { hasOrderedScan } from '../../server/core/storage/storage-backend.js';
import { initServer, ManualClock, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

async function unsealed(t: TestContext) {
  const clock = new ManualClock();
  const server = await startTestServer(t, { clock });
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const token = init.rootToken;
  assert.equal((await server.api('POST', 'sys/mounts/secret', { token, body: { type: 'kv' } })).status, 204);
  return { server, token, clock, keys: init.keys };
}

async function writeSecrets(server: TestServer, token: string, n: number, prefix = 'secret/app/s') {
  for (let i = 0; i < n; i++) {
    const res = await server.api('PUT', `${prefix}${i}`, { token, body: { value: `value-${i}` } });
    assert.equal(res.status, 204, res.text);
  }
}

/** Entries per header term under `logical/`, straight from storage. */
async function dataTerms(server: TestServer): Promise<Record<number, number>> {
  const storage = server.storage;
  assert.ok(hasOrderedScan(storage));
  const out: Record<number, number> = {};
  for (const { value } of await storage.scan({ prefix: 'logical/', limit: 1e9 })) {
    const term = readEntryHeader(value)!.term;
    out[term] = (out[term] ?? 0) + 1;
  }
  return out;
}

describe('sys/rewrap/census and sys/key-status terms', () => {
  test('the census counts entries and bytes per term from headers alone, lists the exempt entries and reports an unknown term', async (t) => {
    const { server, token } = await unsealed(t);
    await writeSecrets(server, token, 4);
    assert.equal((await server.api('PUT', 'sys/rotate', { token })).status, 204);
    await writeSecrets(server, token, 2, 'secret/new/s');
    await server.storage.put('logical/stray', encryptEntry(new Uint8Array(32), 99, 'logical/stray', new Uint8Array([1])));
    const started = await server.api('POST', 'sys/rewrap/census', { token });
    assert.equal(started.status, 202, started.text);
    await server.core.rewrap.idle();
    const res = await server.api('GET', 'sys/rewrap/census', { token });
    assert.equal(res.status, 200, res.text);
    const census = res.body.data;
    assert.equal(census.state, 'completed');
    assert.ok(census.terms['1'].entries >= 4);
    assert.ok(census.terms['2'].entries >= 2);
    assert.ok(census.terms['1'].bytes > 0);
    assert.deepEqual(census.unknown_terms, { '99': { entries: 1, bytes: (await server.storage.get('logical/stray'))!.length } });
    assert.ok(census.exempt['core/keyring']);
    assert.ok(census.exempt['core/seal-config']);
    assert.ok(census.exempt['core/sealed-root-key']);
    const status = await server.api('GET', 'sys/key-status', { token });
    assert.deepEqual(
      status.body.data.terms.map((x: { term: number; state: string; entries: number }) => [x.term, x.state, x.entries]),
      [
        [1, 'enabled', census.terms['1'].entries],
        [2, 'active', census.terms['2'].entries],
      ],
    );
    assert.equal(status.body.term, 2, 'the old fields are still there');
    assert.equal(status.body.data.min_decryption_term, 1);
  });
});

describe('sys/rewrap/jobs', () => {
  test('a JSON spec starts a job (202) that rewraps the selected secrets; status, list and failures answer; a second job is 409', async (t) => {
    const { server, token } = await unsealed(t);
    await writeSecrets(server, token, 7);
    await writeSecrets(server, token, 2, 'secret/other/s');
    await server.api('PUT', 'sys/rotate', { token });
    const res = await server.api('POST', 'sys/rewrap/jobs', {
      token,
      body: { spec: { rewrap: { apiVersion: 'v1', selection: { prefixes: ['secret/app/'] }, execution: { batchSize: 2 } } } },
    });
    assert.equal(res.status, 202, res.text);
    assert.match(res.body.job_id, /^rw-/);
    assert.equal(res.body.target_term, 2);
    const busy = await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1' } } });
    assert.ok(busy.status === 409 || busy.status === 202, busy.text); // the first may already be done on a fast machine
    await server.core.rewrap.idle();
    const status = await server.api('GET', `sys/rewrap/jobs/${res.body.job_id}`, { token });
    assert.equal(status.status, 200);
    assert.equal(status.body.data.state, 'completed');
    assert.equal(status.body.data.entries.rewrapped, 7);
    assert.equal(status.body.data.totals.entries, 7);
    assert.equal(status.body.data.progress.percent, 100);
    assert.deepEqual(status.body.data.remaining_by_term, {});
    for (let i = 0; i < 7; i++) assert.equal((await server.api('GET', `secret/app/s${i}`, { token })).body.data.value, `value-${i}`);
    const list = await server.api('LIST', 'sys/rewrap/jobs', { token });
    assert.ok(list.body.data.keys.includes(res.body.job_id));
    const failures = await server.api('GET', `sys/rewrap/jobs/${res.body.job_id}/failures`, { token });
    assert.deepEqual(failures.body.data.failures, []);
    assert.equal((await server.api('GET', 'sys/rewrap/jobs/rw-00000000-0000-0000-0000-000000000000', { token })).status, 404);
  });

  test('a second job while one is paused is refused with 409; pause, resume and cancel answer over HTTP', async (t) => {
    const { server, token } = await unsealed(t);
    await writeSecrets(server, token, 3);
    await server.api('PUT', 'sys/rotate', { token });
    const job = (await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1' } } })).body.job_id;
    await server.core.rewrap.idle();
    const again = await server.api('POST', `sys/rewrap/jobs/${job}/pause`, { token });
    assert.equal(again.status, 409, 'a finished job cannot be paused');
    assert.equal((await server.api('POST', `sys/rewrap/jobs/${job}/cancel`, { token })).status, 409);
  });

  test('a YAML spec is accepted; an unknown key or a bad value is a 400 naming the field and its line', async (t) => {
    const { server, token } = await unsealed(t);
    const headers = { 'Content-Type': 'application/yaml' };
    const ok = await server.api('POST', 'sys/rewrap/jobs', {
      token,
      headers,
      rawBody: 'rewrap:\n  apiVersion: v1\n  execution:\n    batchSize: 50\n  dryRun: true\n',
    });
    assert.equal(ok.status, 202, ok.text);
    await server.core.rewrap.idle();
    const unknown = await server.api('POST', 'sys/rewrap/jobs', {
      token,
      headers,
      rawBody: 'rewrap:\n  apiVersion: v1\n  execution:\n    batchSize: 50\n    workerz: 4\n',
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.errors[0], /rewrap\.execution\.workerz \(line 5\): unknown field/);
    const bad = await server.api('POST', 'sys/rewrap/jobs', { token, headers, rawBody: 'rewrap:\n  apiVersion: v1\n  retry:\n    attempts: many\n' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /rewrap\.retry\.attempts \(line 4\): must be an integer/);
    const syntax = await server.api('POST', 'sys/rewrap/jobs', { token, headers, rawBody: 'rewrap:\n  apiVersion: v1\n   bad: [\n' });
    assert.equal(syntax.status, 400);
    assert.match(syntax.body.errors[0], /invalid YAML/);
  });

  test('JSON specs: unknown fields, bad values, a plain-http webhook to a remote host and a missing spec are 400s naming the field', async (t) => {
    const { server, token } = await unsealed(t);
    const cases: Array<[unknown, RegExp]> = [
      [{ spec: { apiVersion: 'v1', selection: { prefix: ['x/'] } } }, /selection\.prefix: unknown field/],
      [{ spec: { apiVersion: 'v2' } }, /apiVersion: must be "v1"/],
      [{ spec: { apiVersion: 'v1', execution: { batchSize: 0 } } }, /execution\.batchSize: must be an integer/],
      [{ spec: { apiVersion: 'v1', target: 'oldest' } }, /target: must be "latest" or "pinned"/],
      [{ spec: { apiVersion: 'v1', retry: { delay: 'soon' } } }, /retry\.delay: must be a duration/],
      [
        { spec: { apiVersion: 'v1', notify: { endpoint: 'http://hooks.example.com/x' } } },
        /notify\.endpoint: http:\/\/ is allowed only to a loopback/,
      ],
      [{ spec: { apiVersion: 'v1', selection: { sourceTerms: [5] } } }, /sourceTerms: term 5/],
      [{ spec: { apiVersion: 'v1' }, extra: 1 }, /unknown field "extra"/],
      [{}, /missing field "spec"/],
    ];
    for (const [body, pattern] of cases) {
      const res = await server.api('POST', 'sys/rewrap/jobs', { token, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.match(res.body.errors[0], pattern);
    }
    assert.deepEqual((await server.api('LIST', 'sys/rewrap/jobs', { token })).body.data.keys, [], 'no refused spec left a job behind');
  });

  test('every rewrap and keyring route needs sudo; sealed they answer 503', async (t) => {
    const { server, token } = await unsealed(t);
    await server.api('PUT', 'sys/policies/acl/nosudo', {
      token,
      body: { policy: 'path "sys/*" { capabilities = ["create", "read", "update", "list"] }' },
    });
    const weak = (await server.core.tokens.create({ policies: ['nosudo'] })).token;
    const routes: Array<[string, string, unknown]> = [
      ['POST', 'sys/rewrap/jobs', { spec: { apiVersion: 'v1' } }],
      ['GET', 'sys/rewrap/jobs', undefined],
      ['POST', 'sys/rewrap/census', undefined],
      ['GET', 'sys/rewrap/census', undefined],
      ['POST', 'sys/keyring/retire', { min_decryption_term: 2 }],
      ['POST', 'sys/keyring/unretire', { min_decryption_term: 1 }],
      ['POST', 'sys/keyring/trim', { min_available_term: 2 }],
    ];
    for (const [method, path, body] of routes) {
      const res = await server.api(method, path, { token: weak, ...(body ? { body } : {}) });
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
    }
    await server.api('PUT', 'sys/seal', { token });
    for (const [method, path, body] of routes) {
      const res = await server.api(method, path, { token, ...(body ? { body } : {}) });
      assert.equal(res.status, 503, `${method} ${path}: ${res.text}`);
    }
  });

  test('the job status shows the webhook token and HMAC secret only as redacted', async (t) => {
    const { server, token } = await unsealed(t);
    const secretToken = 'Bearer tok-3f9a1c2e7b';
    const hmacSecret = 'hmac-5e8d2b7c4a9f1e6d';
    const res = await server.api('POST', 'sys/rewrap/jobs', {
      token,
      body: { spec: { apiVersion: 'v1', dryRun: true, notify: { endpoint: 'https://127.0.0.1:1/hook', token: secretToken, hmacSecret } } },
    });
    assert.equal(res.status, 202, res.text);
    await server.core.rewrap.idle();
    const status = await server.api('GET', `sys/rewrap/jobs/${res.body.job_id}`, { token });
    assert.equal(status.body.data.spec.notify.token, '**REDACTED**');
    assert.ok(!status.text.includes('tok-3f9a1c2e7b') && !status.text.includes(hmacSecret));
    const list = await server.api('GET', 'sys/rewrap/jobs', { token });
    assert.ok(!list.text.includes('tok-3f9a1c2e7b') && !list.text.includes(hmacSecret));
  });
});

describe('sys/keyring retire and trim over HTTP', () => {
  test('retire answers 409 with the blocking counts per term, then succeeds after a rewrap and a census; trim previews then trims', async (t) => {
    const { server, token, clock } = await unsealed(t);
    await writeSecrets(server, token, 3);
    await server.api('PUT', 'sys/rotate', { token });
    await server.api('POST', 'sys/rewrap/census', { token });
    await server.core.rewrap.idle();
    const blocked = await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2 } });
    assert.equal(blocked.status, 409, blocked.text);
    assert.ok(blocked.body.blocking_terms['1'].entries >= 3);
    assert.equal((await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2, bogus: 1 } })).status, 400);
    await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1' } } });
    await server.core.rewrap.idle();
    assert.deepEqual(Object.keys(await dataTerms(server)), ['2'], 'every secret is under term 2');
    await server.api('POST', 'sys/rewrap/census', { token });
    await server.core.rewrap.idle();
    const dry = await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2, dry_run: true } });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(server.core.barrier.activeKeyring.bounds.minDecryptionTerm, 1, 'a dry run changes nothing');
    const retired = await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2 } });
    assert.equal(retired.status, 200, retired.text);
    const early = await server.api('POST', 'sys/keyring/trim', { token, body: { min_available_term: 2 } });
    assert.equal(early.status, 409);
    clock.advance(72 * 3600_000);
    const preview = await server.api('POST', 'sys/keyring/trim', { token, body: { min_available_term: 2 } });
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual(preview.body.data.terms_to_destroy, [1]);
    const trimmed = await server.api('POST', 'sys/keyring/trim', {
      token,
      body: { min_available_term: 2, confirm_token: preview.body.data.confirm_token },
    });
    assert.equal(trimmed.status, 200, trimmed.text);
    const status = await server.api('GET', 'sys/key-status', { token });
    assert.deepEqual(
      status.body.data.terms.map((x: { state: string }) => x.state),
      ['trimmed', 'active'],
    );
    for (let i = 0; i < 3; i++) assert.equal((await server.api('GET', `secret/app/s${i}`, { token })).body.data.value, `value-${i}`);
  });

  test('trim is refused while a fresh census still finds entries under an older term, and changes nothing', async (t) => {
    const { server, token, clock } = await unsealed(t);
    await writeSecrets(server, token, 3);
    // A copy of one secret as stored under term 1 (an old backup of it).
    const mount = (await server.api('GET', 'sys/mounts', { token })).body.data['secret/'].uuid;
    const path = `logical/${mount}/app/s0`;
    const backup = (await server.storage.get(path))!.slice();
    assert.equal(readEntryHeader(backup)!.term, 1);
    assert.equal((await server.api('PUT', 'sys/rotate', { token })).status, 204);
    await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1' } } });
    await server.core.rewrap.idle();
    await server.api('POST', 'sys/rewrap/census', { token });
    await server.core.rewrap.idle();
    assert.equal((await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2 } })).status, 200);
    // The backup is restored after the retire: an entry is under term 1 again, and a census made now finds it.
    await server.storage.put(path, backup);
    clock.advance(72 * 3600_000);
    await server.api('POST', 'sys/rewrap/census', { token });
    await server.core.rewrap.idle();
    const census = await server.api('GET', 'sys/rewrap/census', { token });
    assert.equal(census.body.data.terms['1'].entries, 1, census.text);
    const before = await server.api('GET', 'sys/key-status', { token });

    const refused = await server.api('POST', 'sys/keyring/trim', { token, body: { min_available_term: 2 } });
    assert.equal(refused.status, 409, refused.text);
    assert.ok(Array.isArray(refused.body.errors) && refused.body.errors.length === 1, refused.text);
    assert.match(refused.body.errors[0], /census still shows entries under terms below 2/);
    assert.deepEqual(refused.body.blocking_terms, { '1': { entries: 1 } });
    assert.equal(refused.body.data, undefined, 'no preview and no confirm token');

    // Nothing changed: key-status is the same, term 1's key is still there and still decrypts the restored entry.
    assert.deepEqual((await server.api('GET', 'sys/key-status', { token })).body.data, before.body.data);
    assert.equal(server.core.barrier.activeKeyring.bounds.minAvailableTerm, 1);
    assert.deepEqual(await dataTerms(server), { 1: 1, 2: 2 });
    assert.equal((await server.api('POST', 'sys/keyring/unretire', { token, body: { min_decryption_term: 1 } })).status, 200);
    assert.equal((await server.api('GET', 'secret/app/s0', { token })).body.data.value, 'value-0');
  });
});

test('metrics: entries by result, job state and progress, entries per term from the census, refused reads of retired terms', async (t) => {
  const { server, token } = await unsealed(t);
  await writeSecrets(server, token, 3);
  await server.api('PUT', 'sys/rotate', { token });
  await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1' } } });
  await server.core.rewrap.idle();
  await server.api('POST', 'sys/rewrap/census', { token });
  await server.core.rewrap.idle();
  assert.equal((await server.api('POST', 'sys/keyring/retire', { token, body: { min_decryption_term: 2 } })).status, 200);
  // An entry under the retired term appears (as from an old backup): reading it is refused and counted.
  const retiredKey = server.core.barrier.activeKeyring.keyFor(1)!;
  const mount = (await server.api('GET', 'sys/mounts', { token })).body.data['secret/'].uuid;
  const path = `logical/${mount}/app/restored`;
  await server.storage.put(path, encryptEntry(retiredKey, 1, path, new TextEncoder().encode('{"value":"x"}')));
  assert.equal((await server.api('GET', 'secret/app/restored', { token })).status, 500);
  const text = (await server.api('GET', 'sys/metrics?format=prometheus', { token })).text;
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
  assert.ok(value(/^coffer_rewrap_entries_total\{result="rewrapped"\} (\d+)/m) >= 3, text);
  assert.equal(value(/^coffer_rewrap_job_state\{state="completed"\} (\d+)/m), 1);
  assert.equal(value(/^coffer_rewrap_job_progress_ratio (\S+)/m), 1);
  assert.ok(value(/^coffer_keyring_term_entries\{term="2"\} (\d+)/m) >= 3);
  assert.ok(value(/^coffer_keyring_census_timestamp_seconds (\S+)/m) > 0);
  assert.equal(value(/^coffer_barrier_retired_reads_denied_total\{term="1"\} (\d+)/m), 1);
});

test('concurrent writers during a job lose nothing: every acknowledged value reads back and every entry ends under the active term', async (t) => {
  const { server, token } = await unsealed(t);
  await writeSecrets(server, token, 60);
  await server.api('PUT', 'sys/rotate', { token });
  const acked = new Map<string, string>();
  let stop = false;
  const writer = async (w: number) => {
    for (let seq = 0; !stop; seq++) {
      const name = `secret/app/s${(seq * 7 + w * 11) % 60}`;
      const value = `w${w}-${seq}`;
      const res = await server.api('PUT', name, { token, body: { value } });
      assert.equal(res.status, 204);
      acked.set(name, value);
    }
  };
  const job = await server.api('POST', 'sys/rewrap/jobs', { token, body: { spec: { apiVersion: 'v1', execution: { batchSize: 3 } } } });
  assert.equal(job.status, 202);
  const writers = [0, 1, 2].map(writer);
  await server.core.rewrap.idle();
  stop = true;
  await Promise.all(writers);
  const status = (await server.api('GET', `sys/rewrap/jobs/${job.body.job_id}`, { token })).body.data;
  assert.equal(status.state, 'completed', JSON.stringify(status));
  for (const [name, value] of acked) assert.equal((await server.api('GET', name, { token })).body.data.value, value);
  for (let i = 0; i < 60; i++) assert.equal((await server.api('GET', `secret/app/s${i}`, { token })).status, 200);
  assert.deepEqual(Object.keys(await dataTerms(server)), ['2']);
});
