import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import express from 'express';
import { routerMethod } from '../../server/http/router-method.js';
import { listen } from '../../server/http/http-server.js';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

/** Writes raw bytes on one connection and collects everything the server answers until it goes quiet or closes. */
async function rawExchange(port: number, payload: string, expectResponses: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (d) => {
      received += d.toString('latin1');
      if ((received.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= expectResponses && /\r\n\r\n[^]*$/.test(received)) {
        const bodies = received.split(/HTTP\/1\.1 /).slice(1);
        if (bodies.every((b) => /\r\n\r\n[^]*\n$/.test(b))) resolve();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.write(payload);
  });
  socket.destroy();
  return received;
}

describe('transport rules (behaviour 9)', () => {
  test('every response has Content-Type exactly application/json and Cache-Control no-store, and errors use {"errors":[...]}', async (t) => {
    const server = await startTestServer(t);
    const { rootToken } = await initServer(server, 1, 1);
    const cases: Array<[string, string, number]> = [
      ['GET', 'sys/seal-status', 200],
      ['GET', 'sys/init', 200],
      ['PUT', 'sys/unseal', 400],
      ['GET', 'sys/nope', 503],
      ['DELETE', 'sys/init', 405],
      ['GET', 'sys/key-status', 503],
      ['GET', 'sys/health', 503],
    ];
    for (const [method, path, status] of cases) {
      const res = await server.api(method, path, { token: rootToken });
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.headers.get('content-type'), 'application/json', `${method} ${path}`);
      assert.equal(res.headers.get('cache-control'), 'no-store', `${method} ${path}`);
      assert.ok(res.text.endsWith('\n'), 'compact JSON followed by a newline');
      if (status >= 400 && path !== 'sys/health') assert.ok(Array.isArray(res.body.errors), `${method} ${path}`);
    }
  });

  test('a path outside /v1 is 404 {"errors":[]}; an unknown /v1 path is 503 while sealed and 404 once unsealed', async (t) => {
    const server = await startTestServer(t);
    for (const url of [`${server.url}/`, `${server.url}/v2/sys/init`]) {
      const res = await fetch(url);
      assert.equal(res.status, 404, url);
      assert.deepEqual(await res.json(), { errors: [] });
      assert.equal(res.headers.get('content-type'), 'application/json');
    }
    const { keys, rootToken } = await initServer(server, 1, 1);
    assert.equal((await server.api('GET', 'secret/foo', { token: rootToken })).status, 503);
    await unsealServer(server, keys);
    for (const path of ['sys/Init', 'secret/foo']) {
      const res = await server.api('GET', path, { token: rootToken });
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { errors: [`no handler for route "${path}". route entry not found.`] });
    }
    assert.equal((await server.api('GET', 'secret/foo')).status, 403, 'no probing without a token');
  });

  test('a body is parsed as JSON whatever Content-Type says, or without one', async (t) => {
    const server = await startTestServer(t);
    const res = await fetch(`${server.url}/v1/sys/init`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: '{"secret_shares":2,"secret_threshold":2}',
    });
    assert.equal(res.status, 200);
    const raw = await rawExchange(server.port, 'GET /v1/sys/init HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 1);
    assert.match(raw, /"initialized":true/);
  });

  test('the token is read from X-Vault-Token, else from Authorization: Bearer', async (t) => {
    const server = await startTestServer(t);
    const { keys, rootToken } = await initServer(server, 1, 1);
    await unsealServer(server, keys);
    assert.equal((await server.api('GET', 'sys/key-status', { headers: { Authorization: `Bearer ${rootToken}` } })).status, 200);
    assert.equal((await server.api('GET', 'sys/key-status', { headers: { Authorization: `Basic ${rootToken}` } })).status, 403);
    // X-Vault-Token wins over Authorization.
    const both = await server.api('GET', 'sys/key-status', { token: 'hvs.wrong', headers: { Authorization: `Bearer ${rootToken}` } });
    assert.equal(both.status, 403);
  });

  test("the LIST method reaches the router instead of being rejected by Node's HTTP parser", async (t) => {
    const server = await startTestServer(t);
    const raw = await rawExchange(server.port, 'LIST /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 1);
    // seal-status has no LIST handler: the router answers 405 in Vault's shape (Node's parser would send a bare 400).
    assert.match(raw, /^HTTP\/1\.1 405 /);
    assert.match(raw, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(raw, /\{"errors":\[\]\}\n$/);
    const viaFetch = await fetch(`${server.url}/v1/sys/init`, { method: 'LIST' });
    assert.equal(viaFetch.status, 405);
  });
});

describe('LIST rewriting and request framing', () => {
  async function echoServer(t: TestContext) {
    const app = express();
    app.use(express.json({ type: () => true }));
    app.all('/*path', (req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ method: routerMethod(req), path: req.path, body: req.body ?? null }) + '\n');
    });
    const listener = await listen(app, { host: '127.0.0.1', port: 0 });
    t.after(() => listener.close());
    return listener;
  }

  test('LIST and GET ?list=true are both LIST to the router; other methods keep their meaning', async (t) => {
    const listener = await echoServer(t);
    const methods: Array<[string, string, string]> = [
      ['LIST', '/v1/secret/metadata/', 'LIST'],
      ['GET', '/v1/secret/metadata/?list=true', 'LIST'],
      ['GET', '/v1/secret/data/a', 'GET'],
      ['POST', '/v1/secret/data/a', 'PUT'],
      ['PUT', '/v1/secret/data/a', 'PUT'],
      ['DELETE', '/v1/secret/data/a', 'DELETE'],
    ];
    for (const [method, path, expected] of methods) {
      const res = await fetch(`${listener.url}${path}`, { method });
      const body = (await res.json()) as { method: string; path: string };
      assert.equal(body.method, expected, `${method} ${path}`);
    }
  });

  test('on one keep-alive connection, a request with a body that contains "LIST /" text is not rewritten, and a pipelined LIST after it is', async (t) => {
    const listener = await echoServer(t);
    const body = JSON.stringify({ note: '\r\n\r\nLIST /v1/x HTTP/1.1\r\n' });
    const payload =
      `PUT /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
      'LIST /v1/b/ HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /v1/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const raw = await rawExchange(listener.port, payload, 3);
    const bodies = [...raw.matchAll(/\{"method":"(\w+)","path":"([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(bodies, ['PUT /v1/a', 'LIST /v1/b/', 'GET /v1/c']);
    assert.match(raw, /LIST \/v1\/x/, 'the body arrived unchanged');
  });

  test('a request split into tiny chunks is still framed correctly', async (t) => {
    const listener = await echoServer(t);
    const socket = net.connect(listener.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    const payload = 'LIST /v1/split/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    for (const ch of payload) {
      socket.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((resolve) => socket.on('close', resolve));
    assert.match(received, /"method":"LIST","path":"\/v1\/split\/"/);
  });
});
