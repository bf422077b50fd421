import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import test from 'node:test';
import { parseConfig } from '../../server/config/load-config.js';
import { isCofferError } from '../../server/core/errors.js';
import { TransitSeal } from '../../server/core/seal/transit-seal.js';
import { createLogger } from '../../server/log/logger.js';
import type { Scheduler } from '../../server/start.js';
import { unsealsWith } from '../helpers/rekey.js';
import { initServer, ManualClock, startTestServer, tempDir, unsealServer, type TestServer } from '../helpers/test-server.js';

/** Server A: Shamir, with a transit key `autounseal` and a token that may only encrypt and decrypt with it. */
async function keyServer(t: test.TestContext, clock?: ManualClock): Promise<{ a: TestServer; keys: string[]; root: string; sealToken: string }> {
  const a = await startTestServer(t, clock ? { clock } : {});
  const init = await initServer(a, 1, 1);
  await unsealServer(a, init.keys);
  const root = init.rootToken;
  await a.api('POST', 'sys/mounts/transit', { token: root, body: { type: 'transit' } });
  await a.api('POST', 'transit/keys/autounseal', { token: root, body: {} });
  await a.api('PUT', 'sys/policies/acl/autounseal', {
    token: root,
    body: {
      policy: 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }',
    },
  });
  const created = await a.api('POST', 'auth/token/create', { token: root, body: { policies: ['autounseal'], no_default_policy: true } });
  return { a, keys: init.keys, root, sealToken: created.body.auth.client_token };
}

const transitStanza = (url: string, token: string, extra = '') =>
  `seal "transit" {\n address = "${url}"\n token = "${token}"\n key_name = "autounseal"\n mount_path = "transit/"\n ${extra}\n}`;

/** A scheduler the test fires by hand: the retry loop's clock. */
function manualScheduler(): { schedule: Scheduler; delays: number[]; fire(): void } {
  let pending: (() => void) | undefined;
  const delays: number[] = [];
  return {
    schedule: (fn, ms) => {
      pending = fn;
      delays.push(ms);
      return () => (pending = undefined);
    },
    delays,
    fire: () => {
      const fn = pending;
      pending = undefined;
      fn?.();
    },
  };
}

test('transit seal: B initialises with recovery shares, restarts unsealed, waits while A is sealed, recovers with A', async (t) => {
  const { a, keys: aKeys, root: aRoot, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const b = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  const init = await b.api('PUT', 'sys/init', { body: { recovery_shares: 3, recovery_threshold: 2 } });
  assert.equal(init.status, 200, init.text);
  const bRoot = init.body.root_token;
  const status = (await b.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.t, status.n, status.recovery_seal], ['transit', false, 2, 3, true]);
  await b.api('POST', 'sys/mounts/kv', { token: bRoot, body: { type: 'kv' } });
  await b.api('PUT', 'kv/db', { token: bRoot, body: { password: 's3cret' } });
  await b.close();

  const b2 = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  assert.equal((await b2.api('GET', 'sys/seal-status')).body.sealed, false, 'unsealed through A at start');
  assert.equal((await b2.api('GET', 'kv/db', { token: bRoot })).body.data.password, 's3cret');
  await b2.close();

  // A sealed: B starts, answers "sealed", and keeps retrying with growing delays.
  await a.api('PUT', 'sys/seal', { token: aRoot });
  const clock = manualScheduler();
  const b3 = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken), schedule: clock.schedule });
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.equal((await b3.api('GET', 'kv/db', { token: bRoot })).status, 503);
  for (let i = 0; i < 3; i++) {
    const before = clock.delays.length;
    clock.fire();
    while (clock.delays.length === before) await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(clock.delays, [500, 1000, 2000, 4000]);
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, true);

  // A unsealed again: the next retry unseals B.
  await unsealServer(a, aKeys);
  clock.fire();
  await b3.core.unsealWithSeal(); // waits for the state lock the retry holds, then sees it unsealed
  assert.equal((await b3.api('GET', 'sys/seal-status')).body.sealed, false);
  assert.equal((await b3.api('GET', 'kv/db', { token: bRoot })).body.data.password, 's3cret');

  // sys/seal on B: its recovery shares unseal it (the key service still unwraps the root key).
  await b3.api('PUT', 'sys/seal', { token: bRoot });
  assert.equal(await unsealsWith(b3, init.body.recovery_keys.slice(1)), true);
});

test('transit seal: a token without permission stops the start with a clear error; an unreachable service is retried', async (t) => {
  const { a, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const b = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  await b.api('PUT', 'sys/init', { body: { recovery_shares: 1, recovery_threshold: 1 } });
  await b.close();

  await assert.rejects(startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, 'hvs.not-a-token') }), (err: Error) => {
    assert.match(
      err.message,
      /transit seal: decrypt with transit key "autounseal" at .* was refused with 403: .*permission denied.* \(check the seal token and its policy\)/,
    );
    assert.ok(!err.message.includes('hvs.not-a-token'), 'the token is not in the error');
    return true;
  });
  const clock = manualScheduler();
  const down = await startTestServer(t, { dataDir, extraConfig: transitStanza('http://127.0.0.1:9', sealToken), schedule: clock.schedule });
  assert.equal((await down.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.deepEqual(clock.delays, [500]);
  await assert.rejects(down.core.unsealWithSeal(), /transit seal: cannot reach http:\/\/127.0.0.1:9: ECONNREFUSED/);
});

test('seal migration Shamir → transit → Shamir keeps every secret readable and the same shares working', async (t) => {
  const { a, sealToken } = await keyServer(t);
  const dataDir = await tempDir(t);
  const shamir = await startTestServer(t, { dataDir });
  const init = await initServer(shamir, 3, 2);
  await unsealServer(shamir, init.keys.slice(0, 2));
  const root = init.rootToken;
  await shamir.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv', options: { version: '2' } } });
  for (let i = 0; i < 20; i++) await shamir.api('PUT', `kv/data/s${i}`, { token: root, body: { data: { i } } });
  const readAll = async (server: TestServer) => {
    for (let i = 0; i < 20; i++) assert.equal((await server.api('GET', `kv/data/s${i}`, { token: root })).body.data.data.i, i);
  };
  await shamir.close();

  // Shamir → transit: only the new stanza (Vault needs no shamir stanza for this direction).
  const toTransit = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  let status = (await toTransit.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.t, status.n], ['shamir', true, true, 2, 3]);
  const noFlag = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0] } });
  assert.deepEqual([noFlag.status, noFlag.body], [400, { errors: ['migrate option not provided and seal migration is pending'] }]);
  await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  const migrated = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[2], migrate: true } });
  assert.equal(migrated.status, 200, migrated.text);
  status = migrated.body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.recovery_seal, status.t, status.n], ['transit', false, false, true, 2, 3]);
  await readAll(toTransit);
  const noMigration = await toTransit.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  assert.equal(noMigration.status, 200, 'unsealed: nothing to do');
  await toTransit.close();

  // Now an auto seal: restarts unseal by themselves, and the old unseal shares are the recovery shares.
  const auto = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken) });
  assert.equal((await auto.api('GET', 'sys/seal-status')).body.sealed, false);
  await auto.api('PUT', 'sys/seal', { token: root });
  assert.equal(await unsealsWith(auto, [init.keys[1]!, init.keys[2]!]), true);
  await readAll(auto);
  await auto.close();

  // Transit → Shamir: the transit stanza marked disabled; unseal with the recovery shares and migrate.
  const toShamir = await startTestServer(t, { dataDir, extraConfig: transitStanza(a.url, sealToken, 'disabled = "true"') });
  status = (await toShamir.api('GET', 'sys/seal-status')).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.t, status.n], ['transit', true, true, 2, 3]);
  await toShamir.api('PUT', 'sys/unseal', { body: { key: init.keys[0], migrate: true } });
  status = (await toShamir.api('PUT', 'sys/unseal', { body: { key: init.keys[1], migrate: true } })).body;
  assert.deepEqual([status.type, status.sealed, status.migration, status.recovery_seal], ['shamir', false, false, false]);
  await readAll(toShamir);
  await toShamir.close();

  // Plain Shamir again: sealed at start, the same shares unseal, everything reads back.
  const back = await startTestServer(t, { dataDir });
  assert.equal((await back.api('GET', 'sys/seal-status')).body.sealed, true);
  assert.equal(await unsealsWith(back, [init.keys[2]!, init.keys[0]!]), true);
  await readAll(back);
});

/** A scheduler that keeps every pending callback, for the token renewal (which may wait while others run). */
function recordingScheduler(): { schedule: Scheduler; delays: number[]; fire(): void; next(count: number): Promise<void> } {
  const pending: Array<() => void> = [];
  const delays: number[] = [];
  return {
    schedule: (fn, ms) => {
      pending.push(fn);
      delays.push(ms);
      return () => pending.splice(pending.indexOf(fn) >>> 0, 1);
    },
    delays,
    fire: () => pending.shift()?.(),
    /** Waits (on the event loop, not on time) until `count` callbacks have been scheduled in all. */
    next: async (count) => {
      while (delays.length < count) await new Promise((r) => setImmediate(r));
    },
  };
}

/** A logger whose JSON lines the test can read. */
function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger('info', stream), lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** An HTTP proxy in front of `target` that records every request's method, path and headers. */
async function recordingProxy(t: test.TestContext, target: string) {
  const seen: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({ method: req.method!, path: req.url!, headers: req.headers });
    const forwarded = await fetch(`${target}${req.url}`, {
      method: req.method!,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-vault-') || k === 'content-type')) as Record<
        string,
        string
      >,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    res.writeHead(forwarded.status, { 'content-type': 'application/json' }).end(await forwarded.text());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A seal token on A that may use the transit key and (through the default policy) look itself up and renew itself. */
async function renewableToken(a: TestServer, root: string, ttl = '1h'): Promise<string> {
  const created = await a.api('POST', 'auth/token/create', { token: root, body: { policies: ['autounseal'], ttl } });
  assert.equal(created.status, 200, created.text);
  return created.body.auth.client_token;
}

test('transit seal: a plain http:// key service on another machine is refused at start (the root key would cross the network in the clear)', async (t) => {
  const plainRemote = /seal "transit": address http:\/\/10\.0\.0\.5:8200 is plain HTTP to another machine.*use https:\/\//;
  const isPlainRemote = (err: unknown) => isCofferError(err, 'config') && plainRemote.test(err.message);
  assert.throws(() => parseConfig(transitStanza('http://10.0.0.5:8200', 'tok')), isPlainRemote);
  assert.throws(
    () => parseConfig('seal "transit" { key_name = "k"\n mount_path = "transit/" }', 'c', { VAULT_ADDR: 'http://10.0.0.5:8200', VAULT_TOKEN: 'tok' }),
    isPlainRemote,
  );
  assert.throws(
    () => new TransitSeal({ address: 'http://10.0.0.5:8200', token: 'tok', keyName: 'k', mountPath: 'transit/', tls: {} }),
    isPlainRemote,
  );
  assert.throws(
    () => parseConfig(transitStanza('http://kms.example.com', 'tok')),
    (err: unknown) => isCofferError(err, 'config') && /plain HTTP/.test(err.message),
  );
  for (const allowed of ['http://127.0.0.1:8200', 'http://127.8.9.10:1', 'http://localhost:8200', 'http://[::1]:8200', 'https://10.0.0.5:8200']) {
    assert.equal(parseConfig(transitStanza(allowed, 'tok')).seals[0]!.type, 'transit', allowed);
  }
  await assert.rejects(startTestServer(t, { extraConfig: transitStanza('http://192.168.1.20:8200', 'tok') }), (err: unknown) =>
    isCofferError(err, 'config'),
  );
});

test(
  'transit seal: the seal token is renewed at half its TTL, after every renewal, and a failed renewal is logged and retried',
  { timeout: 60_000 },
  async (t) => {
    const clockA = new ManualClock();
    const { a, keys: aKeys, root } = await keyServer(t, clockA);
    const token = await renewableToken(a, root, '1h');
    const ttlOnA = async () => (await a.api('PUT', 'auth/token/lookup', { token: root, body: { token } })).body.data.ttl as number;
    const log = capturedLogger();
    const renewals = recordingScheduler();
    await startTestServer(t, { extraConfig: transitStanza(a.url, token), sealTokenSchedule: renewals.schedule, logger: log.logger });

    await renewals.next(1);
    assert.deepEqual(renewals.delays, [1_800_000], 'looked up at start: renewal planned at half of 1h');
    clockA.advance(40 * 60_000);
    assert.equal(await ttlOnA(), 1200);
    renewals.fire();
    await renewals.next(2);
    assert.equal(await ttlOnA(), 3600, 'renew-self restored the full TTL');
    assert.equal(renewals.delays[1], 1_800_000);

    // The key service is sealed when the renewal is due: logged, retried after 1 s, 2 s, … until it works again.
    await a.api('PUT', 'sys/seal', { token: root });
    renewals.fire();
    await renewals.next(3);
    renewals.fire();
    await renewals.next(4);
    assert.deepEqual(renewals.delays.slice(2), [1000, 2000]);
    const failures = log.entries().filter((e) => e.msg === 'cannot renew the seal token; retrying');
    assert.equal(failures.length, 2);
    assert.match(String(failures[0]!.err), /answered 503 to token renewal/);
    await unsealServer(a, aKeys);
    clockA.advance(10 * 60_000);
    renewals.fire();
    await renewals.next(5);
    assert.equal(renewals.delays[4], 1_800_000);
    assert.equal(await ttlOnA(), 3600);
    assert.ok(!log.lines.join('').includes(token), 'the token is never logged');
  },
);

test(
  'transit seal: disable_renewal (or VAULT_TRANSIT_SEAL_DISABLE_RENEWAL) means the token is never looked up or renewed',
  { timeout: 60_000 },
  async (t) => {
    const { a, root } = await keyServer(t);
    const token = await renewableToken(a, root);
    const proxy = await recordingProxy(t, a.url);
    const renewals = recordingScheduler();
    const b = await startTestServer(t, {
      extraConfig: transitStanza(proxy.url, token, 'disable_renewal = "true"'),
      sealTokenSchedule: renewals.schedule,
    });
    assert.equal((await b.api('PUT', 'sys/init', { body: { recovery_shares: 1, recovery_threshold: 1 } })).status, 200);
    await b.close();
    assert.deepEqual(
      proxy.seen.map((r) => r.path),
      ['/v1/transit/encrypt/autounseal'],
    );
    assert.deepEqual(renewals.delays, []);

    // The same server without the option does look its token up.
    await startTestServer(t, { dataDir: b.dataDir, extraConfig: transitStanza(proxy.url, token), sealTokenSchedule: renewals.schedule });
    await renewals.next(1);
    assert.ok(proxy.seen.some((r) => r.path === '/v1/auth/token/lookup-self'));

    const fromEnv = parseConfig(transitStanza(a.url, token), 'c', { VAULT_TRANSIT_SEAL_DISABLE_RENEWAL: 'true' }).seals[0]!;
    assert.equal(fromEnv.type === 'transit' && fromEnv.disableRenewal, true);
    assert.throws(
      () => parseConfig(transitStanza(a.url, token, 'disable_renewal = "sometimes"')),
      (err: unknown) => isCofferError(err, 'config') && /disable_renewal must be a boolean/.test(err.message),
    );
  },
);

test(
  'transit seal: namespace (or VAULT_NAMESPACE) is sent as X-Vault-Namespace on every request to the key service',
  { timeout: 60_000 },
  async (t) => {
    const { a, root } = await keyServer(t);
    const token = await renewableToken(a, root);
    const proxy = await recordingProxy(t, a.url);
    const renewals = recordingScheduler();
    const stanza = transitStanza(proxy.url, token, 'namespace = "team-a/"');
    const b = await startTestServer(t, { extraConfig: stanza, sealTokenSchedule: renewals.schedule });
    assert.equal((await b.api('PUT', 'sys/init', { body: { recovery_shares: 1, recovery_threshold: 1 } })).status, 200);
    await renewals.next(1);
    renewals.fire();
    await renewals.next(2);
    await b.close();
    const b2 = await startTestServer(t, { dataDir: b.dataDir, extraConfig: stanza });
    assert.equal((await b2.api('GET', 'sys/seal-status')).body.sealed, false, 'unsealed through the proxy');

    const paths = new Set(proxy.seen.map((r) => r.path));
    for (const path of [
      '/v1/transit/encrypt/autounseal',
      '/v1/transit/decrypt/autounseal',
      '/v1/auth/token/lookup-self',
      '/v1/auth/token/renew-self',
    ]) {
      assert.ok(paths.has(path), path);
    }
    for (const request of proxy.seen) assert.equal(request.headers['x-vault-namespace'], 'team-a/', request.path);

    const fromEnv = parseConfig(transitStanza(a.url, token), 'c', { VAULT_NAMESPACE: 'team-b/' }).seals[0]!;
    assert.equal(fromEnv.type === 'transit' && fromEnv.namespace, 'team-b/');
    const none = parseConfig(transitStanza(a.url, token), 'c', {}).seals[0]!;
    assert.equal(none.type === 'transit' && none.namespace, undefined);
  },
);

test('transit seal: tls_skip_verify = true logs a loud security warning at start', async (t) => {
  const { a, sealToken } = await keyServer(t);
  const log = capturedLogger();
  await startTestServer(t, { extraConfig: transitStanza(a.url, sealToken, 'tls_skip_verify = "true"'), logger: log.logger });
  const warnings = log.entries().filter((e) => e.level === 40 && /SECURITY WARNING: .*tls_skip_verify = true/.test(String(e.msg)));
  assert.equal(warnings.length, 1, log.lines.join(''));

  const quiet = capturedLogger();
  await startTestServer(t, { extraConfig: transitStanza(a.url, sealToken), logger: quiet.logger });
  assert.ok(!quiet.lines.some((l) => l.includes('tls_skip_verify')));
});
