import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { afterDelivery } from '../../server/http/pipeline.js';
import { decodeKeyShare } from '../../server/http/routes/sys-seal.js';
import { RecordingStorage } from '../helpers/recording-storage.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { EventEmitter } from 'node:events';

async function initialised(t: test.TestContext): Promise<{ server: TestServer; keys: string[]; root: string }> {
  const server = await startTestServer(t);
  const init = (await server.api('PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } })).body;
  return { server, keys: init.keys, root: init.root_token };
}

describe('cross-site requests', () => {
  test('attack: a web page on another site posting text/plain to sys/unseal is refused and changes nothing', async (t) => {
    const { server, keys } = await initialised(t);
    const forged = await fetch(`${server.url}/v1/sys/unseal`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', Origin: 'https://evil.example' },
      body: JSON.stringify({ key: keys[0] }),
    });
    assert.equal(forged.status, 403);
    assert.match(((await forged.json()) as { errors: string[] }).errors[0]!, /cross-site request refused/);
    const marked = await server.api('PUT', 'sys/rekey/init', {
      headers: { 'Sec-Fetch-Site': 'cross-site' },
      body: { secret_shares: 1, secret_threshold: 1 },
    });
    assert.equal(marked.status, 403);
    assert.equal((await server.api('GET', 'sys/seal-status')).body.progress, 0, 'no share was taken');
  });

  test('a same-origin request and a client that sends no Origin are served', async (t) => {
    const { server, keys } = await initialised(t);
    const host = new URL(server.url).host;
    const same = await server.api('PUT', 'sys/unseal', {
      headers: { Origin: `http://${host}`, 'Sec-Fetch-Site': 'same-origin' },
      body: { key: keys[0] },
    });
    assert.equal(same.status, 200);
    assert.equal(same.body.progress, 1);
    assert.equal(
      (await server.api('GET', 'sys/seal-status', { headers: { Origin: 'https://evil.example' } })).status,
      200,
      'reads are not state changes',
    );
  });
});

describe('request bodies', () => {
  test('an unauthenticated sys/* body over 1 MiB is refused with 413 before it is parsed', async (t) => {
    const { server } = await initialised(t);
    const res = await server.api('PUT', 'sys/unseal', { rawBody: JSON.stringify({ key: 'a'.repeat(1024 * 1024 + 10) }) });
    assert.equal(res.status, 413);
  });

  test('an authenticated secret write keeps the 32 MiB limit', async (t) => {
    const { server, keys, root } = await initialised(t);
    for (const k of keys.slice(0, 2)) await server.api('PUT', 'sys/unseal', { body: { key: k } });
    await server.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv' } });
    const res = await server.api('PUT', 'kv/big', { token: root, body: { value: 'x'.repeat(2 * 1024 * 1024) } });
    assert.equal(res.status, 204, res.text);
  });

  test('a PGP key far larger than any real one is refused, naming the field', async (t) => {
    const { server, keys } = await initialised(t);
    for (const k of keys.slice(0, 2)) await server.api('PUT', 'sys/unseal', { body: { key: k } });
    const res = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 1, secret_threshold: 1, pgp_keys: ['A'.repeat(70 * 1024)] } });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0], /^pgp_keys: /);
    assert.equal((await server.api('GET', 'sys/rekey/init')).body.started, false);
  });

  test('attack: a "__proto__" key in a body pollutes nothing and is stored as plain data', async (t) => {
    const { server, keys, root } = await initialised(t);
    for (const k of keys.slice(0, 2)) await server.api('PUT', 'sys/unseal', { body: { key: k } });
    await server.api('POST', 'sys/mounts/kv', { token: root, body: { type: 'kv' } });
    const put = await server.api('PUT', 'kv/proto', { token: root, rawBody: '{"__proto__":{"polluted":"yes"},"plain":"v"}' });
    assert.equal(put.status, 204, put.text);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const read = await server.api('GET', 'kv/proto', { token: root });
    assert.equal(read.body.data.plain, 'v');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('errors and probes', () => {
  test('a 5xx from the seal is opaque: no seal address or upstream error in the body, the detail in the log', async (t) => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const server = await startTestServer(t, {
      logger: createLogger('info', sink),
      extraConfig:
        'seal "transit" {\n address = "http://127.0.0.1:9"\n token = "s.not-a-real-token"\n key_name = "autounseal"\n mount_path = "transit/"\n}',
    });
    const res = await server.api('PUT', 'sys/init', { body: { recovery_shares: 1, recovery_threshold: 1 } });
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text, /127\.0\.0\.1|ECONNREFUSED|transit|autounseal|s\.not-a-real-token/);
    assert.match(lines.join(''), /ECONNREFUSED/);
    assert.doesNotMatch(lines.join(''), /s\.not-a-real-token/);
  });

  test('attack: without a valid token a write learns nothing from the engine (its existence check never runs)', async (t) => {
    const storage = new RecordingStorage(new InmemBackend());
    // No read cache: the test corrupts the entry under the server's storage layer.
    const server = await startTestServer(t, { storage, extraConfig: 'disable_cache = true' });
    const init = (await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } })).body;
    await server.api('PUT', 'sys/unseal', { body: { key: init.keys[0] } });
    await server.api('POST', 'sys/mounts/kv', { token: init.root_token, body: { type: 'kv' } });
    await server.api('PUT', 'kv/present', { token: init.root_token, body: { v: 1 } });
    // A corrupt entry makes the existence check fail loudly (500): an unauthenticated probe must never get that far.
    const mountEntry = (await storage.list('logical/')).find((k) => k.endsWith('/'))!;
    const dataKeys = await storage.list(`logical/${mountEntry}`);
    for (const k of dataKeys) await storage.inner.put(`logical/${mountEntry}${k}`, new Uint8Array([0, 0, 0, 9, 2, ...new Uint8Array(40)]));
    assert.ok(dataKeys.length > 0, 'the engine stored the secret');
    assert.equal(
      (await server.api('PUT', 'kv/present', { token: init.root_token, body: { v: 2 } })).status,
      500,
      'a valid token reaches the corrupt entry',
    );
    for (const token of [undefined, 'hvs.bogus']) {
      const res = await server.api('PUT', 'kv/present', { ...(token ? { token } : {}), body: { v: 2 } });
      assert.equal(res.status, 403, `token ${String(token)}: ${res.text}`);
    }
  });

  test('a share is decoded into its own bytes, not a view of a shared pool buffer', () => {
    const share = decodeKeyShare('00112233445566778899aabbccddeeff');
    assert.equal(share.byteOffset, 0);
    assert.equal(share.buffer.byteLength, 16);
  });
});

describe('a rekey result that may not have been delivered', () => {
  test('the old wrapping is dropped once the response was fully written, even if the client closed first', async () => {
    const res = Object.assign(new EventEmitter(), { writableFinished: true });
    let ran = 0;
    afterDelivery(res as never, async () => void (ran += 1), 'a rekey', createLogger('silent'));
    res.emit('close');
    res.emit('finish');
    assert.equal(ran, 1);
  });

  test('a response cut off before it was written leaves the old shares valid', async () => {
    const res = Object.assign(new EventEmitter(), { writableFinished: false });
    let ran = 0;
    afterDelivery(res as never, async () => void (ran += 1), 'a rekey', createLogger('silent'));
    res.emit('close');
    assert.equal(ran, 0);
  });

  test('an unconfirmed rekey is loud at start (log and metric) and a rollback by the old shares is logged as one', async (t) => {
    const storage = new InmemBackend();
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const first = await startTestServer(t, { storage });
    const init = (await first.api('PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } })).body;
    for (const k of init.keys.slice(0, 2)) await first.api('PUT', 'sys/unseal', { body: { key: k } });
    // The commit happens but the response is never delivered: the core-level update, with no finaliser run.
    const { nonce } = await first.core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
    await first.core.rekey.update('barrier', Buffer.from(init.keys[0], 'hex'), nonce, () => {});
    await first.core.rekey.update('barrier', Buffer.from(init.keys[1], 'hex'), nonce, () => {});
    const metricsText = await first.metrics.text();
    assert.match(metricsText, /coffer_rekey_unconfirmed\{target="barrier"\} 1/);
    await first.close();

    const second = await startTestServer(t, {
      storage,
      logger: createLogger('info', sink),
      listenerExtra: 'telemetry {\n unauthenticated_metrics_access = true\n}',
    });
    assert.match(lines.join(''), /a rekey result may have been lost/);
    assert.match(await second.metrics.text(), /coffer_rekey_unconfirmed\{target="barrier"\} 1/);
    for (const k of init.keys.slice(1, 3)) await second.api('PUT', 'sys/unseal', { body: { key: k } });
    assert.match(lines.join(''), /ROLLBACK: the shares from before an unconfirmed rekey were used/);
    const after = await second.metrics.text();
    assert.match(after, /coffer_rekey_unconfirmed\{target="barrier"\} 0/);
    assert.match(after, /coffer_rekey_rollbacks_total\{target="barrier"\} 1/);
  });
});
