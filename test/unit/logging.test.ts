import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, logFilePath } from '../../server/log/logger.js';
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
  log.info(
    { key: 'share-1', keys: ['a'], root_token: 'hvs.x', token: 't', req: { headers: { 'x-vault-token': 'hvs.y', authorization: 'Bearer z' } } },
    'm',
  );
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

test('share counts and thresholds are shown; shares themselves stay hidden', () => {
  const { lines, stream } = captured();
  const log = createLogger('info', stream);
  log.info({ seal: 'shamir', shares: 5, threshold: 3, nonce: 'n-1' }, 'initialized');
  log.info({ shares: ['c2hhcmUtMQ=='], share: 'c2hhcmUtMg==', key: 7, keys: [1, 2] }, 'body');
  const [first, second] = lines.map((l) => JSON.parse(l));
  assert.equal(first.shares, 5);
  assert.equal(first.threshold, 3);
  assert.equal(first.nonce, 'n-1');
  assert.equal(second.shares, '[REDACTED]');
  assert.equal(second.share, '[REDACTED]');
  assert.equal(second.keys, '[REDACTED]', 'a list is never shown, even of numbers');
  assert.equal(second.key, 7);
});

test('plaintext, recovery keys and client tokens are redacted too', () => {
  const { lines, stream } = captured();
  createLogger('info', stream).info({ plaintext: 'c2VjcmV0', recovery_keys: ['r'], auth: { client_token: 'hvs.z' } }, 'm');
  const out = lines.join('');
  for (const secret of ['c2VjcmV0', '"r"', 'hvs.z']) assert.ok(!out.includes(secret), secret);
});

test('log_format "standard" writes Vault-style text lines, still redacted', () => {
  const { lines, stream } = captured();
  const log = createLogger('info', stream, { format: 'standard' });
  log.warn({ config_key: 'cluster_addr', token: 'hvs.secret' }, 'config: cluster_addr has no effect');
  log.info('listening');
  assert.match(
    lines[0]!,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[WARN\]  config: cluster_addr has no effect: config_key=cluster_addr token=\[REDACTED\]\n$/,
  );
  assert.match(lines[1]!, /^\S+ \[INFO\]  listening\n$/);
  assert.ok(!lines.join('').includes('hvs.secret'));
});

test('log_file: every line also goes to the file; a directory gets vault.log', async (t) => {
  const dir = await tempDir(t);
  const { lines, stream } = captured();
  const file = path.join(dir, 'logs', 'coffer.log');
  createLogger('info', stream, { file }).info({ token: 'hvs.x' }, 'to both');
  const written = readFileSync(file, 'utf8');
  assert.equal(JSON.parse(written).msg, 'to both');
  assert.equal(JSON.parse(written).token, '[REDACTED]');
  assert.equal(lines.length, 1, 'the main destination still gets the line');
  createLogger('info', captured().stream, { file: `${dir}/`, format: 'standard' }).info('in the directory');
  assert.match(readFileSync(path.join(dir, 'vault.log'), 'utf8'), /\[INFO\]  in the directory/);
  assert.equal(logFilePath(dir), path.join(dir, 'vault.log'));
});

test('a log_file that cannot be opened is an error with the OS code', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(path.join(dir, 'plain-file'), '');
  assert.throws(
    () => createLogger('info', captured().stream, { file: path.join(dir, 'plain-file', 'x.log') }),
    (err: NodeJS.ErrnoException) => /ENOTDIR|EEXIST/.test(String(err.code)),
  );
});
