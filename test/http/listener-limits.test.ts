import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import { parseConfig } from '../../server/config/load-config.js';
import { isCofferError } from '../../server/core/errors.js';
import { startTestServer } from '../helpers/test-server.js';

/** A raw connection that collects what the server sends and records whether the server closed it. */
async function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => true);
  await once(socket, 'connect');
  return {
    socket,
    closed,
    received: () => received,
    /** Sends one keep-alive request and waits for its complete answer. */
    async request(path: string, method = 'GET'): Promise<string> {
      const before = received.length;
      socket.write(`${method} /v1/${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      for (;;) {
        const answer = received.slice(before);
        const length = /content-length: (\d+)/i.exec(answer);
        const head = answer.indexOf('\r\n\r\n');
        if (length && head >= 0 && answer.length >= head + 4 + Number(length[1])) return answer;
        await Promise.race([once(socket, 'data'), closed.then(() => assert.fail(`closed before answering: ${JSON.stringify(answer)}`))]);
      }
    },
  };
}

test('a client that never completes its request head is disconnected after http_read_header_timeout (slowloris)', { timeout: 30_000 }, async (t) => {
  const server = await startTestServer(t, { listenerExtra: 'http_read_header_timeout = "300ms"' });
  const partial = await rawClient(server.port);
  partial.socket.write('GET /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\n');
  const silent = await rawClient(server.port);
  assert.equal(await partial.closed, true);
  assert.equal(await silent.closed, true);
  assert.match(partial.received(), /^HTTP\/1\.1 408 /);
});

test('a kept-alive connection that trickles its next request head is disconnected after http_read_header_timeout', { timeout: 30_000 }, async (t) => {
  const server = await startTestServer(t, { listenerExtra: 'http_read_header_timeout = "300ms"' });
  const client = await rawClient(server.port);
  assert.match(await client.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
  client.socket.write('GET /v1/sys/seal-status HTTP/1.1\r\n');
  client.socket.write('Host: x\r\n');
  assert.equal(await client.closed, true);
});

test(
  'after a LIST (the connection then runs through the rewriting stream), a trickled next head is still cut off after http_read_header_timeout',
  { timeout: 30_000 },
  async (t) => {
    const server = await startTestServer(t, { listenerExtra: 'http_read_header_timeout = "300ms"' });
    const client = await rawClient(server.port);
    assert.match(await client.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
    assert.match(await client.request('sys/seal-status', 'LIST'), /^HTTP\/1\.1 405 /);
    client.socket.write('GET /v1/sys/seal-status HTTP/1.1\r\n');
    client.socket.write('Host: x\r\n');
    assert.equal(await client.closed, true);
  },
);

test('after a LIST, a kept-alive connection idle longer than http_idle_timeout is still closed', { timeout: 30_000 }, async (t) => {
  const server = await startTestServer(t, { listenerExtra: 'http_idle_timeout = "300ms"' });
  const client = await rawClient(server.port);
  assert.match(await client.request('sys/seal-status', 'LIST'), /^HTTP\/1\.1 405 /);
  assert.match(await client.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
  assert.equal(await client.closed, true);
});

test('a kept-alive connection idle longer than http_idle_timeout is closed', { timeout: 30_000 }, async (t) => {
  const server = await startTestServer(t, { listenerExtra: 'http_idle_timeout = "300ms"' });
  const client = await rawClient(server.port);
  assert.match(await client.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
  assert.equal(await client.closed, true);
});

test('connections beyond max_connections are closed at once while the open ones keep being served', { timeout: 30_000 }, async (t) => {
  const server = await startTestServer(t, { listenerExtra: 'max_connections = 2' });
  const first = await rawClient(server.port);
  const second = await rawClient(server.port);
  assert.match(await first.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
  assert.match(await second.request('sys/seal-status'), /^HTTP\/1\.1 200 /);

  const third = await rawClient(server.port);
  third.socket.write('GET /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await third.closed, true);
  assert.equal(third.received(), '', 'the third connection got no answer');

  assert.match(await first.request('sys/health'), /^HTTP\/1\.1 501 /);
  assert.match(await second.request('sys/seal-status'), /^HTTP\/1\.1 200 /);
  // A slot frees up when a connection ends.
  first.socket.destroy();
  await first.closed;
  let fourth = await rawClient(server.port);
  // The server may see the freed slot a moment after the client does; a refused attempt is simply retried.
  while (await Promise.race([fourth.closed, fourth.request('sys/seal-status').then(() => false)])) fourth = await rawClient(server.port);
  second.socket.destroy();
  fourth.socket.destroy();
});

test('listener limits: Go durations or seconds, 0 for none; anything else is a config error naming the key', () => {
  const listener = (extra: string) => parseConfig(`listener "tcp" {\n address = "127.0.0.1:8200"\n ${extra}\n}`).listeners[0]!;
  assert.equal(listener('').limits, undefined, 'defaults come from the listener');
  assert.deepEqual(
    listener(
      'http_read_header_timeout = "1m30s"\n http_read_timeout = 45\n http_write_timeout = "0"\n http_idle_timeout = "250ms"\n max_connections = "100"',
    ).limits,
    { readHeaderTimeoutMs: 90_000, readTimeoutMs: 45_000, writeTimeoutMs: 0, idleTimeoutMs: 250, maxConnections: 100 },
  );
  for (const [extra, key] of [
    ['http_read_header_timeout = "soon"', 'http_read_header_timeout'],
    ['http_idle_timeout = "-5s"', 'http_idle_timeout'],
    ['max_connections = -1', 'max_connections'],
    ['max_connections = "many"', 'max_connections'],
  ]) {
    assert.throws(
      () => listener(extra!),
      (err: unknown) => isCofferError(err, 'config') && err.message.includes(key!) && /:3:/.test(err.message),
      extra,
    );
  }
});
