import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { rekey } from '../helpers/rekey.js';
import { initServer, startTestServer, tempDir, unsealServer, type TestServer } from '../helpers/test-server.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- audit lines are arbitrary JSON
type Line = any;

async function readLog(file: string): Promise<Line[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** An initialised, unsealed server with KV v2 at `secret/` and (unless `devices` is empty) a file device at `file/`. */
async function auditedServer(t: TestContext, options: { extraConfig?: string; devices?: Record<string, Record<string, string>> } = {}) {
  const dir = await tempDir(t);
  const server = await startTestServer(t, options.extraConfig ? { extraConfig: options.extraConfig } : {});
  const init = await initServer(server, 5, 3);
  await unsealServer(server, init.keys.slice(0, 3));
  const root = init.rootToken;
  const mounted = await server.api('PUT', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } });
  assert.equal(mounted.status, 204, mounted.text);
  const devices = options.devices ?? { file: { file_path: path.join(dir, 'audit.log') } };
  for (const [p, deviceOptions] of Object.entries(devices)) {
    const res = await server.api('PUT', `sys/audit/${p}`, { token: root, body: { type: 'file', options: deviceOptions } });
    assert.equal(res.status, 204, res.text);
  }
  return { server, init, root, dir, log: path.join(dir, 'audit.log') };
}

async function hashOf(server: TestServer, token: string, device: string, input: string): Promise<string> {
  const res = await server.api('PUT', `sys/audit-hash/${device}`, { token, body: { input } });
  assert.equal(res.status, 200, res.text);
  return res.body.data.hash as string;
}

test('the audit log has one request and one response record per call, with paths, operations and HMACd accessors, and no secret in clear', async (t) => {
  const { server, init, root, log } = await auditedServer(t);
  const secrets: string[] = [root, ...init.keys, ...init.keysBase64];
  await server.api('PUT', 'sys/policy/writer', {
    token: root,
    body: { policy: 'path "secret/data/mine" { capabilities = ["create", "update", "read"] }' },
  });
  const created = await server.api('PUT', 'auth/token/create', { token: root, body: { policies: ['writer'], meta: { team: 'ops' } } });
  assert.equal(created.status, 200);
  const child = created.body.auth.client_token as string;
  const childAccessor = created.body.auth.accessor as string;
  secrets.push(child);
  const looked = await server.api('PUT', 'auth/token/lookup', { token: root, body: { token: child } });
  assert.equal(looked.status, 200);
  const value = 'correct-horse-battery-staple-7f3a';
  secrets.push(value);
  assert.equal((await server.api('PUT', 'secret/data/mine', { token: child, body: { data: { password: value } } })).status, 200);
  const read = await server.api('GET', 'secret/data/mine', { token: child });
  assert.equal(read.body.data.data.password, value);
  assert.equal((await server.api('PUT', 'sys/rotate', { token: root })).status, 204);
  const rekeyed = await rekey(server, init.keys.slice(0, 3), { shares: 3, threshold: 2 });
  secrets.push(...rekeyed.keys, ...rekeyed.keys_base64, rekeyed.nonce);
  const denied = await server.api('PUT', 'secret/data/other', { token: child, body: { data: { password: 'x-denied-value-91' } } });
  assert.equal(denied.status, 403);
  secrets.push('x-denied-value-91');

  const text = await readFile(log, 'utf8');
  for (const secret of secrets) assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) appears in clear in the audit log`);
  assert.ok(!text.includes(childAccessor), 'accessors are HMACd by default');
  const lines = await readLog(log);
  const pairs = (p: string, operation: string) => {
    const requests = lines.filter((l) => l.type === 'request' && l.request.path === p && l.request.operation === operation);
    const responses = lines.filter((l) => l.type === 'response' && l.request.path === p && l.request.operation === operation);
    return { requests, responses };
  };
  const expectOne = (p: string, operation: string) => {
    const { requests, responses } = pairs(p, operation);
    assert.equal(requests.length, 1, `one request record for ${operation} ${p}`);
    assert.equal(responses.length, 1, `one response record for ${operation} ${p}`);
    assert.equal(requests[0].request.id, responses[0].request.id, 'the request id joins the two records');
    return { request: requests[0], response: responses[0] };
  };
  const rootAccessorHash = expectOne('auth/token/create', 'update').request.auth.accessor as string;
  assert.match(rootAccessorHash, /^hmac-sha256:[0-9a-f]{64}$/);
  const createRecord = expectOne('auth/token/create', 'update');
  assert.equal(
    createRecord.response.response.auth.client_token,
    await hashOf(server, root, 'file', child),
    'the new token is HMACd in response.auth',
  );
  assert.equal(createRecord.response.response.auth.accessor, await hashOf(server, root, 'file', childAccessor));
  assert.deepEqual(createRecord.request.auth.policies, ['root']);
  expectOne('auth/token/lookup', 'update');
  const write = expectOne('secret/data/mine', 'update');
  assert.equal(write.request.request.mount_point, 'secret/');
  assert.equal(write.request.request.mount_type, 'kv');
  assert.equal(write.request.auth.accessor, await hashOf(server, root, 'file', childAccessor), "the writer's accessor, HMACd");
  assert.equal(write.request.request.client_token, await hashOf(server, root, 'file', child));
  assert.equal(write.request.request.data.data.password, await hashOf(server, root, 'file', value), 'sys/audit-hash of the value matches the log');
  assert.deepEqual(write.request.auth.policies, ['writer', 'default']);
  assert.equal(write.request.auth.metadata.team, 'ops', 'metadata is not hashed');
  const readBack = expectOne('secret/data/mine', 'read');
  assert.equal(readBack.response.response.data.data.password, await hashOf(server, root, 'file', value));
  assert.match(readBack.response.response.data.metadata.created_time, /^\d{4}-\d{2}-\d{2}T/, 'RFC3339 timestamps stay in clear');
  assert.equal(typeof readBack.response.response.data.metadata.version, 'number', 'numbers are not hashed');
  expectOne('sys/rotate', 'update');
  expectOne('sys/rekey/init', 'update');
  const updates = pairs('sys/rekey/update', 'update');
  assert.equal(updates.requests.length, 3, 'each share submission is audited');
  assert.equal(updates.responses.length, 3);
  for (const [i, r] of updates.requests.entries()) {
    assert.equal(r.request.data.key, await hashOf(server, root, 'file', init.keys[i]!), 'the submitted share is HMACd');
    assert.equal(r.request.data.nonce, await hashOf(server, root, 'file', rekeyed.nonce), 'the nonce is HMACd');
  }
  const deniedRecord = expectOne('secret/data/other', 'update');
  assert.match(deniedRecord.response.error, /permission denied/);
  assert.equal(deniedRecord.response.response.status_code, 403);
  assert.equal(deniedRecord.request.auth.accessor, await hashOf(server, root, 'file', childAccessor), 'who was denied is attributable');
  for (const l of lines) assert.ok(!('headers' in l.request), 'no request headers are logged (X-Vault-Token never raw)');
});

test('Vault does not audit seal-status, health, init, unseal: neither does Coffer; sys/audit-hash and the key-holder endpoints are', async (t) => {
  const { server, root, log } = await auditedServer(t);
  await server.api('GET', 'sys/seal-status');
  await server.api('GET', 'sys/health');
  await server.api('GET', 'sys/leader');
  await server.api('PUT', 'sys/unseal', { body: { key: 'ab'.repeat(33) } });
  await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  await server.api('GET', 'sys/rekey/init');
  const lines = await readLog(log);
  const paths = new Set(lines.map((l) => l.request.path));
  for (const p of ['sys/seal-status', 'sys/health', 'sys/leader', 'sys/unseal', 'sys/init']) assert.ok(!paths.has(p), `${p} is not audited`);
  assert.ok(paths.has('sys/rekey/init'), 'the rekey status read is audited');
  assert.ok(paths.has('sys/audit/test'), "the device's test record, written when it was enabled");
  await server.api('PUT', 'sys/audit-hash/file', { token: root, body: { input: 'x' } });
  assert.ok((await readLog(log)).some((l) => l.request.path === 'sys/audit-hash/file'));
});

test('fail closed: with the only device unable to write, a KV write answers an opaque 500 and the value is not written', async (t) => {
  const { server, root, log } = await auditedServer(t);
  assert.equal((await server.api('PUT', 'secret/data/before', { token: root, body: { data: { v: '1' } } })).status, 200);
  // Root ignores file modes, so the path is made impossible to open as a file instead.
  await rm(log);
  await mkdir(log);
  const res = await server.api('PUT', 'secret/data/refused', { token: root, body: { data: { v: 'never-stored' } } });
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { errors: ['internal error'] });
  const metrics = await server.metrics.text();
  assert.match(metrics, /^coffer_audit_log_request_failures_total 1$/m, 'the refusal is counted');
  assert.match(metrics, /^coffer_audit_device_failures_total\{path="file\/"\} 1$/m);
  // Once the device can write again, the refused write turns out never to have happened.
  await rm(log, { recursive: true });
  const after = await server.api('GET', 'secret/data/refused', { token: root });
  assert.equal(after.status, 404, 'the refused write changed nothing');
  assert.equal((await server.api('GET', 'secret/data/before', { token: root })).status, 200);
});

test('a limited-use token loses no use to auditing, and a refused request uses none', async (t) => {
  const { server, root, log } = await auditedServer(t);
  const created = await server.api('PUT', 'auth/token/create', { token: root, body: { policies: ['default'], num_uses: 2 } });
  const limited = created.body.auth.client_token as string;
  await rm(log);
  await mkdir(log);
  assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: limited })).status, 500);
  await rm(log, { recursive: true });
  assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: limited })).status, 200);
  assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: limited })).status, 200, 'both uses remain after the refused request');
  assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: limited })).status, 403, 'and then the token is used up');
});

test('with two devices and one broken, requests succeed and the working device has the records', async (t) => {
  const dir = await tempDir(t);
  const a = path.join(dir, 'a', 'audit.log');
  const b = path.join(dir, 'b.log');
  const { server, root } = await auditedServer(t, { devices: { a: { file_path: a }, b: { file_path: b } } });
  await rm(path.dirname(a), { recursive: true });
  await mkdir(path.dirname(path.dirname(a)), { recursive: true });
  // The parent directory of a's file becomes a file: a cannot write any more.
  await import('node:fs/promises').then((fs) => fs.writeFile(path.dirname(a), 'not a directory'));
  const res = await server.api('PUT', 'secret/data/x', { token: root, body: { data: { v: 'two-devices-value' } } });
  assert.equal(res.status, 200);
  const lines = await readLog(b);
  assert.equal(lines.filter((l) => l.request.path === 'secret/data/x').length, 2, 'b has the request and the response');
  assert.match(await server.metrics.text(), /^coffer_audit_device_failures_total\{path="a\/"\} 2$/m);
});

test('each device hashes its own copy: log_raw on one leaves the other HMACd (CVE-2024-0831)', async (t) => {
  const dir = await tempDir(t);
  const raw = path.join(dir, 'raw.log');
  const hashed = path.join(dir, 'hashed.log');
  const { server, root } = await auditedServer(t, { devices: { raw: { file_path: raw, log_raw: 'true' }, hashed: { file_path: hashed } } });
  await server.api('PUT', 'secret/data/x', { token: root, body: { data: { v: 'raw-or-not-value' } } });
  assert.ok((await readFile(raw, 'utf8')).includes('raw-or-not-value'));
  assert.ok(!(await readFile(hashed, 'utf8')).includes('raw-or-not-value'));
  assert.ok(!(await readFile(hashed, 'utf8')).includes(root));
});

test('disabling then re-enabling a device changes its salt', async (t) => {
  const { server, root, log } = await auditedServer(t);
  const before = await hashOf(server, root, 'file', 'some-value');
  assert.equal((await server.api('DELETE', 'sys/audit/file', { token: root })).status, 204);
  assert.equal((await server.api('PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: log } } })).status, 204);
  const after = await hashOf(server, root, 'file', 'some-value');
  assert.match(after, /^hmac-sha256:[0-9a-f]{64}$/);
  assert.notEqual(after, before);
});

test('the salt survives a seal and unseal (hashes stay comparable) and the device logs again after it', async (t) => {
  const { server, init, root, log } = await auditedServer(t);
  const before = await hashOf(server, root, 'file', 'some-value');
  await server.api('PUT', 'sys/seal', { token: root });
  await unsealServer(server, init.keys.slice(0, 3));
  assert.equal(await hashOf(server, root, 'file', 'some-value'), before);
  assert.ok((await readLog(log)).some((l) => l.request.path === 'sys/audit-hash/file'));
});

test('enable refuses executable modes, prefixes without the config flag, other formats, unknown options and types; Vault error strings', async (t) => {
  const { server, root, dir } = await auditedServer(t);
  const enable = (p: string, body: unknown) => server.api('PUT', `sys/audit/${p}`, { token: root, body });
  const file = path.join(dir, 'other.log');
  const cases: Array<[unknown, RegExp]> = [
    [{ type: 'file', options: { file_path: file, mode: '0755' } }, /may not be executable/],
    [{ type: 'file', options: { file_path: file, mode: '0700' } }, /may not be executable/],
    [{ type: 'file', options: { file_path: file, prefix: '#!/bin/sh\n' } }, /prefixing is not allowed/],
    [{ type: 'file', options: { file_path: file, format: 'jsonx' } }, /unsupported format "jsonx"/],
    [{ type: 'file', options: { file_path: file, bogus: '1', other: '2' } }, /unknown option\(s\) for a file audit device: bogus, other/],
    [{ type: 'syslog' }, /^unknown backend type: "syslog"$/],
    [{ type: 'file', options: {} }, /file_path is required/],
    [{ type: 'file', options: { file_path: file }, sneaky: true }, /unknown field\(s\): sneaky/],
  ];
  for (const [body, message] of cases) {
    const res = await enable('other', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.errors[0], message);
  }
  const taken = await enable('file', { type: 'file', options: { file_path: file } });
  assert.equal(taken.status, 400);
  assert.deepEqual(taken.body.errors, ['path already in use']);
  const missing = await server.api('DELETE', 'sys/audit/nothing', { token: root });
  assert.deepEqual([missing.status, missing.body.errors], [400, ['no matching backend']]);
  const listed = await server.api('GET', 'sys/audit', { token: root });
  assert.deepEqual(Object.keys(listed.body.data), ['file/'], 'nothing was enabled by the refused calls');
  assert.equal(listed.body.data['file/'].type, 'file');
});

test('a prefix is written before each JSON line when allow_audit_log_prefixing is set; mode 0600 by default', async (t) => {
  const { server, root, dir } = await auditedServer(t, { extraConfig: 'allow_audit_log_prefixing = true', devices: {} });
  const file = path.join(dir, 'prefixed.log');
  assert.equal(
    (await server.api('PUT', 'sys/audit/p', { token: root, body: { type: 'file', options: { file_path: file, prefix: 'COFFER ' } } })).status,
    204,
  );
  await server.api('GET', 'sys/audit', { token: root });
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  assert.ok(lines.length >= 3);
  for (const l of lines) assert.ok(l.startsWith('COFFER {'), l);
  const { stat } = await import('node:fs/promises');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('sys/audit needs sudo: a token with update but not sudo on sys/audit/* is refused', async (t) => {
  const { server, root, dir } = await auditedServer(t, { devices: {} });
  await server.api('PUT', 'sys/policy/auditor', {
    token: root,
    body: { policy: 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete", "list"] }' },
  });
  const token = (await server.api('PUT', 'auth/token/create', { token: root, body: { policies: ['auditor'] } })).body.auth.client_token as string;
  const body = { type: 'file', options: { file_path: path.join(dir, 'x.log') } };
  assert.equal((await server.api('PUT', 'sys/audit/x', { token, body })).status, 403);
  assert.equal((await server.api('GET', 'sys/audit', { token })).status, 403);
  await server.api('PUT', 'sys/policy/auditor', {
    token: root,
    body: { policy: 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }' },
  });
  assert.equal((await server.api('PUT', 'sys/audit/x', { token, body })).status, 204, 'enabling through the API works with sudo, as in Vault');
});

test('a device declared in the server configuration is created at unseal, logs, and cannot be changed or disabled through the API', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'declared.log');
  const extraConfig = `audit "file" "declared" {\n  description = "from the config"\n  options {\n    file_path = "${file}"\n  }\n}`;
  const { server, root } = await auditedServer(t, { extraConfig, devices: {} });
  const listed = await server.api('GET', 'sys/audit', { token: root });
  assert.equal(listed.body.data['declared/'].description, 'from the config');
  assert.ok((await readLog(file)).some((l) => l.request.path === 'sys/audit'));
  const disable = await server.api('DELETE', 'sys/audit/declared', { token: root });
  assert.equal(disable.status, 400);
  assert.match(disable.body.errors[0], /declared in the server configuration/);
  const replace = await server.api('PUT', 'sys/audit/declared', {
    token: root,
    body: { type: 'file', options: { file_path: path.join(dir, 'y.log') } },
  });
  assert.deepEqual(replace.body.errors, ['path already in use']);
});

test('a userpass login and a generate-root ceremony leave one request and one response record per call, with no password, share, OTP, nonce or token in clear', async (t) => {
  const { server, init, root, log } = await auditedServer(t);
  // A login through an auth method is audited too, the password never in clear.
  assert.equal((await server.api('POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } })).status, 204);
  await server.api('POST', 'auth/userpass/users/ada', { token: root, body: { password: 'lovelace-engine-1843' } });
  const login = await server.api('POST', 'auth/userpass/login/ada', { body: { password: 'lovelace-engine-1843' } });
  assert.equal(login.status, 200, login.text);
  const otp = 'Q'.repeat(28);
  const started = await server.api('PUT', 'sys/generate-root/attempt', { body: { otp } });
  assert.equal(started.status, 200, started.text);
  const nonce = started.body.nonce as string;
  let last;
  for (const key of init.keys.slice(0, 3)) last = await server.api('PUT', 'sys/generate-root/update', { body: { key, nonce } });
  assert.equal(last?.body.complete, true);
  const encoded = last?.body.encoded_token as string;
  const lines = await readLog(log);
  const of = (p: string, type: string) => lines.filter((l: Line) => l.type === type && l.request?.path === p);
  assert.equal(of('sys/generate-root/attempt', 'request').length, 1);
  assert.equal(of('sys/generate-root/attempt', 'response').length, 1);
  assert.equal(of('sys/generate-root/update', 'request').length, 3);
  assert.equal(of('sys/generate-root/update', 'response').length, 3);
  assert.equal(of('auth/userpass/login/ada', 'request').length, 1);
  assert.equal(of('auth/userpass/login/ada', 'response').length, 1);
  const text = await readFile(log, 'utf8');
  for (const secret of [otp, nonce, encoded, ...init.keys.slice(0, 3), 'lovelace-engine-1843', login.body.auth.client_token as string])
    assert.ok(!text.includes(secret), 'a secret of the ceremony reached the log in clear');
});
