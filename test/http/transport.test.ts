import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import tls from 'node:tls';
import express from 'express';
import { routerMethod } from '../../server/http/router-method.js';
import { listen, type ListenerLimits } from '../../server/http/http-server.js';
import { refusedListRequest } from '../../server/http/list-method.js';
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

/** The complete answers in what one connection received so far (each framed by its Content-Length). */
function completeAnswers(received: string): string[] {
  const answers: string[] = [];
  let rest = received;
  for (;;) {
    const head = rest.indexOf('\r\n\r\n');
    const length = /content-length: (\d+)/i.exec(rest.slice(0, Math.max(0, head)));
    if (head < 0 || !length || rest.length < head + 4 + Number(length[1])) return answers;
    answers.push(rest.slice(0, head + 4 + Number(length[1])));
    rest = rest.slice(head + 4 + Number(length[1]));
  }
}

/** One raw kept-alive connection: write bytes, then wait until `n` complete answers have come back on it. */
function conversation(socket: net.Socket) {
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  return {
    send: (bytes: string) => socket.write(bytes),
    async answers(n: number): Promise<string[]> {
      while (completeAnswers(received).length < n)
        await Promise.race([once(socket, 'data'), closed.then(() => assert.fail(`closed after ${JSON.stringify(received)}`))]);
      return completeAnswers(received);
    },
    /** The method and path each answer echoed, in order. */
    async echoed(n: number): Promise<string[]> {
      return (await this.answers(n)).map((a) => {
        const m = /\{"method":"(\w+)","path":"([^"]+)"/.exec(a);
        return m ? `${m[1]} ${m[2]}` : a.split('\r\n')[0]!;
      });
    },
  };
}

describe('LIST rewriting and request framing', () => {
  /** Echoes the router's method and the path; `GET /v1/gate` answers only once the test calls `open()`. */
  async function echoServer(t: TestContext, options: { tls?: boolean; limits?: Partial<ListenerLimits> } = {}) {
    let open!: () => void;
    let reach!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const reached = new Promise<void>((resolve) => (reach = resolve));
    const app = express();
    app.use(express.json({ type: () => true }));
    app.all('/*path', (req, res) => {
      res.setHeader('Content-Type', 'application/json');
      // `/v1/big` answers more than a socket's write buffer holds, so Node stops reading the connection behind it.
      const pad = req.path === '/v1/big' ? 'x'.repeat(256 * 1024) : undefined;
      const answer = () => res.end(JSON.stringify({ method: routerMethod(req), path: req.path, body: req.body ?? null, pad }) + '\n');
      if (req.path === '/v1/gate') {
        reach();
        void gate.then(answer);
      } else answer();
    });
    const listener = await listen(app, {
      host: '127.0.0.1',
      port: 0,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.tls ? { tls: { cert: readFileSync('test/fixtures/test-tls-cert.pem'), key: readFileSync('test/fixtures/test-tls-key.pem') } } : {}),
    });
    t.after(() => listener.close());
    return Object.assign(listener, { open: () => open(), reached });
  }

  const request = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

  test('one kept-alive connection serves GET, LIST, PUT with a body, LIST and GET in turn, each answered once and in order', async (t) => {
    const listener = await echoServer(t);
    const c = conversation(net.connect(listener.port, '127.0.0.1'));
    const body = '{"a":1}';
    const steps = [
      request('GET', '/v1/one'),
      request('LIST', '/v1/two/'),
      `PUT /v1/three HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      request('LIST', '/v1/four/'),
      request('GET', '/v1/five'),
    ];
    for (const [i, step] of steps.entries()) {
      c.send(step);
      await c.answers(i + 1);
    }
    assert.deepEqual(await c.echoed(5), ['GET /v1/one', 'LIST /v1/two/', 'PUT /v1/three', 'LIST /v1/four/', 'GET /v1/five']);
  });

  test('a LIST pipelined behind a request still being answered is answered after it, not before', async (t) => {
    const listener = await echoServer(t);
    const c = conversation(net.connect(listener.port, '127.0.0.1'));
    c.send(request('GET', '/v1/gate') + request('LIST', '/v1/after/') + request('GET', '/v1/last'));
    // The LIST and the GET behind it must wait for the gated answer, however long it takes: the gate opens only once
    // the server has read all three requests and had its turns to act on the LIST.
    await listener.reached;
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    listener.open();
    assert.deepEqual(await c.echoed(3), ['GET /v1/gate', 'LIST /v1/after/', 'GET /v1/last']);
  });

  test(
    'a LIST pipelined behind answers the client is slow to read still leaves the connection reading: the request after it is answered',
    { timeout: 30_000 },
    async (t) => {
      const listener = await echoServer(t);
      const c = conversation(net.connect(listener.port, '127.0.0.1'));
      // The big answer fills the socket's write buffer, so Node stops reading when the next request arrives; the LIST
      // behind it is then taken over by the rewriting stream, which must start reading again.
      c.send(request('GET', '/v1/big') + request('GET', '/v1/gate') + request('LIST', '/v1/list/'));
      await listener.reached;
      listener.open();
      await c.answers(3);
      c.send(request('GET', '/v1/after'));
      assert.deepEqual((await c.echoed(4)).slice(1), ['GET /v1/gate', 'LIST /v1/list/', 'GET /v1/after']);
    },
  );

  test(
    "a LIST slower than the idle timeout, after a kept-alive request, is answered: the first parser's idle timer does not run on",
    { timeout: 30_000 },
    async (t) => {
      const listener = await echoServer(t, { limits: { idleTimeoutMs: 200 } });
      const c = conversation(net.connect(listener.port, '127.0.0.1'));
      c.send(request('GET', '/v1/first'));
      await c.answers(1);
      c.send(request('LIST', '/v1/gate'));
      await listener.reached;
      // A witness connection whose idle timer starts after the first connection last saw any traffic: once the server
      // has closed it, the first connection's old timer would have fired too.
      const witness = net.connect(listener.port, '127.0.0.1');
      const witnessed = conversation(witness);
      witnessed.send(request('GET', '/v1/witness'));
      await witnessed.answers(1);
      await once(witness, 'close');
      listener.open();
      assert.deepEqual(await c.echoed(2), ['GET /v1/first', 'LIST /v1/gate']);
    },
  );

  test('the refused request is found from its first byte, whether llhttp read its start in this chunk or an earlier one, and only if it is a LIST', () => {
    const found = (raw: string, errorAt: number) => refusedListRequest(Buffer.from(raw, 'latin1'), errorAt)?.toString('latin1');
    // llhttp accepts `LI` (as in LINK) and refuses the `S` (Node's bytesParsed points at it).
    assert.equal(found('LIST /a HTTP/1.1\r\n', 2), 'LIST /a HTTP/1.1\r\n');
    assert.equal(found('GET /x HTTP/1.1\r\n\r\nLIST /a', 21), 'LIST /a');
    assert.equal(found('\r\nLIST /a', 4), 'LIST /a');
    // The chunk began after `L` or after `LI`, which the parser consumed with the previous chunk.
    assert.equal(found('IST /a HTTP/1.1\r\n', 1), 'LIST /a HTTP/1.1\r\n');
    assert.equal(found('ST /a HTTP/1.1\r\n', 0), 'LIST /a HTTP/1.1\r\n');
    // The chunk ends right after the refused byte: the rest of the head comes later.
    assert.equal(found('LIS', 2), 'LIS');
    // Methods that are not LIST.
    assert.equal(found('LISTEN /a HTTP/1.1\r\n', 2), undefined);
    assert.equal(found('LIS /a HTTP/1.1\r\n', 2), undefined);
    assert.equal(found('LINX /a HTTP/1.1\r\n', 3), undefined);
    assert.equal(found('FOO /a HTTP/1.1\r\n', 0), undefined);
    assert.equal(found('', 0), undefined);
  });

  test('a LIST whose first bytes end one TCP segment, after a request on the same connection, is still a LIST', async (t) => {
    const listener = await echoServer(t);
    for (const cut of [1, 2, 3, 4]) {
      const socket = net.connect(listener.port, '127.0.0.1');
      socket.setNoDelay(true);
      const c = conversation(socket);
      c.send(request('GET', '/v1/first'));
      await c.answers(1);
      const list = request('LIST', `/v1/cut${cut}/`);
      c.send(list.slice(0, cut));
      await new Promise((resolve) => setImmediate(resolve));
      c.send(list.slice(cut));
      assert.deepEqual(await c.echoed(2), ['GET /v1/first', `LIST /v1/cut${cut}/`], `cut after ${cut} bytes`);
      socket.destroy();
    }
  });

  test('over TLS, a LIST after a GET on one kept-alive connection is a LIST, and the connection goes on serving', async (t) => {
    const listener = await echoServer(t, { tls: true });
    const socket = tls.connect({ port: listener.port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    const c = conversation(socket);
    for (const [i, [method, path]] of [
      ['GET', '/v1/a'],
      ['LIST', '/v1/b/'],
      ['GET', '/v1/c'],
    ].entries()) {
      c.send(request(method!, path!));
      await c.answers(i + 1);
    }
    assert.deepEqual(await c.echoed(3), ['GET /v1/a', 'LIST /v1/b/', 'GET /v1/c']);
    socket.destroy();
  });

  test("a method that only begins like LIST, or an unknown one, is refused with 400 in Vault's shape, first or after a request", async (t) => {
    const listener = await echoServer(t);
    for (const method of ['LISTEN', 'LIS', 'LINX', 'FOO']) {
      for (const after of [false, true]) {
        const c = conversation(net.connect(listener.port, '127.0.0.1'));
        if (after) c.send(request('GET', '/v1/first'));
        c.send(request(method, '/v1/x/'));
        const answers = await c.answers(after ? 2 : 1);
        const refused = answers.at(-1)!;
        assert.match(refused, /^HTTP\/1\.1 400 /, `${method}${after ? ' after a request' : ''}`);
        assert.match(refused, /\{"errors":\["malformed HTTP request: HPE_INVALID_METHOD"\]\}\n$/);
      }
    }
  });

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
