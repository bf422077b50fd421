import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { startTestServer } from '../helpers/test-server.js';

test('a TLS ClientHello sent to a plain-http listener gets an immediate 400, not a 408 after the header timeout', async (t) => {
  const server = await startTestServer(t);
  const socket = net.connect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  // The first bytes of a TLS 1.2 ClientHello record: handshake (0x16), version 3.1, a length; no line ending anywhere.
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]));
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /malformed HTTP request/);
});
