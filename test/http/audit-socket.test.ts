import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { initServer, startTestServer, tempDir, unsealServer } from '../helpers/test-server.js';

/** Collects what arrives and resolves `until(pattern)` once the text received so far matches. */
class Collector {
  text = '';
  readonly #waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  add(chunk: string): void {
    this.text += chunk;
    for (const w of [...this.#waiters]) {
      if (w.pattern.test(this.text)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
  until(pattern: RegExp): Promise<void> {
    if (pattern.test(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ pattern, resolve }));
  }
}

async function streamServer(t: TestContext, listen: (s: Server) => void): Promise<{ server: Server; got: Collector; stop: () => Promise<void> }> {
  const got = new Collector();
  const connections = new Set<Socket>();
  const server = createServer((conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    conn.on('data', (d) => got.add(String(d)));
  });
  listen(server);
  await new Promise<void>((r) => server.once('listening', r));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const c of connections) c.destroy();
    await closed;
  };
  t.after(stop);
  return { server, got, stop };
}

test('the socket device sends each record as a JSON line over TCP, UDP and a Unix socket', async (t) => {
  const dir = await tempDir(t);
  const tcp = await streamServer(t, (s) => s.listen(0, '127.0.0.1'));
  const unixPath = path.join(dir, 'audit.sock');
  const unix = await streamServer(t, (s) => s.listen(unixPath));
  const udpGot = new Collector();
  const udp = createSocket('udp4');
  udp.on('message', (m) => udpGot.add(String(m)));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.after(() => udp.close());

  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;
  const enable = (p: string, options: Record<string, string>) =>
    server.api('PUT', `sys/audit/${p}`, { token: root, body: { type: 'socket', options } });
  assert.equal((await enable('tcp', { address: `127.0.0.1:${(tcp.server.address() as AddressInfo).port}` })).status, 204);
  assert.equal((await enable('unix', { address: unixPath, socket_type: 'unix' })).status, 204);
  assert.equal((await enable('udp', { address: `127.0.0.1:${udp.address().port}`, socket_type: 'udp' })).status, 204);
  assert.equal((await server.api('GET', 'sys/audit', { token: root })).status, 200);
  const listed = /"type":"response"[^\n]*"path":"sys\/audit"/;
  await Promise.all([tcp.got.until(listed), unix.got.until(listed), udpGot.until(listed)]);
  for (const text of [tcp.got.text, unix.got.text, udpGot.text]) {
    assert.ok(!text.includes(root), 'the token is HMACd on the wire too');
    for (const line of text.trim().split('\n')) JSON.parse(line);
  }

  const bad = await enable('bad', { address: 'no-port', socket_type: 'tcp' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.errors[0], /invalid address "no-port"/);
  const badType = await enable('bad', { address: '127.0.0.1:1', socket_type: 'carrier-pigeon' });
  assert.match(badType.body.errors[0], /unsupported socket_type "carrier-pigeon"/);
});

test('a socket device whose listener is gone fails its records: as the only device, requests are refused', async (t) => {
  const tcp = await streamServer(t, (s) => s.listen(0, '127.0.0.1'));
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;
  const port = (tcp.server.address() as AddressInfo).port;
  assert.equal(
    (await server.api('PUT', 'sys/audit/tcp', { token: root, body: { type: 'socket', options: { address: `127.0.0.1:${port}` } } })).status,
    204,
  );
  await server.api('PUT', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } });
  // Stop accepting, and cut the open connection.
  await tcp.stop();
  const res = await server.api('PUT', 'secret/data/x', { token: root, body: { data: { v: '1' } } });
  assert.equal(res.status, 500);
});
