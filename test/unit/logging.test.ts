import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../server/log/logger.js';
import { startCoffer } from '../../server/start.js';
import { tempDir, testConfig, apiCall } from '../helpers/test-server.js';

function captured() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

test('fields that could carry secrets are redacted by the logger itself', () => {
  const { lines, stream } = captured();
  const log = createLogger('debug', stream);
  log.info({ key: 'share-1', keys: ['a'], root_token: 'hvs.x', token: 't', req: { headers: { 'x-vault-token': 'hvs.y', authorization: 'Bearer z' } } }, 'm');
  const out = lines.join('');
  for (const secret of ['share-1', '"a"', 'hvs.x', '"t"', 'hvs.y', 'Bearer z']) assert.ok(!out.includes(secret), secret);
  assert.match(out, /\[REDACTED\]/);
});

test('an init → unseal → seal flow at debug level logs no share, token or key', async (t) => {
  const { lines, stream } = captured();
  const server = await startCoffer(testConfig(await tempDir(t)), { logger: createLogger('trace', stream) });
  t.after(() => server.close());
  const init = await apiCall(server.url, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  const secrets: string[] = [...init.body.keys, ...init.body.keys_base64, init.body.root_token];
  await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: 'garbage-share' } });
  await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: init.body.keys[0] } });
  await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: init.body.keys_base64[1] } });
  await apiCall(server.url, 'GET', 'sys/key-status', { token: init.body.root_token });
  await apiCall(server.url, 'PUT', 'sys/seal', { token: init.body.root_token });
  await apiCall(server.url, 'PUT', 'sys/unseal', { body: { key: init.body.keys[2] } });
  const out = lines.join('');
  assert.ok(lines.length >= 8, 'requests were logged');
  for (const secret of secrets) assert.ok(!out.includes(secret), 'a secret appeared in the logs');
  assert.ok(!out.includes('garbage-share'));
});
