import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { initServer, startTestServer, unsealServer } from '../helpers/test-server.js';

test('default_lease_ttl and max_lease_ttl: tokens get the default, never outlive the maximum, and KV v1 reports the default', async (t) => {
  const server = await startTestServer(t, { extraConfig: 'default_lease_ttl = "1h"\nmax_lease_ttl = "2h"' });
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const root = init.rootToken;

  const plain = await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'] } });
  assert.equal(plain.status, 200, plain.text);
  assert.equal(plain.body.auth.lease_duration, 3600, 'no TTL asked: the configured default');

  const long = await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '10h' } });
  assert.equal(long.body.auth.lease_duration, 7200, 'capped at max_lease_ttl');

  const renewed = await server.api('POST', 'auth/token/renew-self', { token: plain.body.auth.client_token, body: { increment: '5h' } });
  assert.equal(renewed.status, 200, renewed.text);
  assert.ok(renewed.body.auth.lease_duration <= 7200, `a renewal never goes past creation + max_lease_ttl (${renewed.body.auth.lease_duration})`);

  assert.equal((await server.api('POST', 'sys/mounts/kv1', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);
  await server.api('PUT', 'kv1/app', { token: root, body: { a: 'b' } });
  const read = await server.api('GET', 'kv1/app', { token: root });
  assert.equal(read.body.lease_duration, 3600);
});

test("without lease settings tokens keep Vault's 768h", async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const created = await server.api('POST', 'auth/token/create', { token: init.rootToken, body: { policies: ['default'] } });
  assert.equal(created.body.auth.lease_duration, 768 * 3600);
});

test('telemetry: metrics_prefix renames the metrics and enable_hostname_label adds host', async (t) => {
  const server = await startTestServer(t, {
    extraConfig: 'telemetry {\n  metrics_prefix = "vault"\n  enable_hostname_label = true\n}',
    listenerExtra: 'telemetry { unauthenticated_metrics_access = true }',
  });
  const res = await server.api('GET', 'sys/metrics?format=prometheus');
  assert.equal(res.status, 200);
  assert.match(res.text, new RegExp(`^vault_sealed\\{host="${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\} 1$`, 'm'));
  assert.ok(!res.text.includes('coffer_'));
});

test('telemetry: prometheus_retention_time = 0 turns the Prometheus format off, as in Vault', async (t) => {
  const server = await startTestServer(t, {
    extraConfig: 'telemetry { prometheus_retention_time = 0 }',
    listenerExtra: 'telemetry { unauthenticated_metrics_access = true }',
  });
  const res = await server.api('GET', 'sys/metrics?format=prometheus');
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { errors: ['prometheus is not enabled'] });
  assert.equal((await server.api('GET', 'sys/metrics')).status, 200, 'the JSON form stays');
});

test('cluster_name names the cluster at init, as seal-status and health report it', async (t) => {
  const server = await startTestServer(t, { extraConfig: 'cluster_name = "prod-secrets"' });
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  assert.equal((await server.api('GET', 'sys/seal-status')).body.cluster_name, 'prod-secrets');
  assert.equal((await server.api('GET', 'sys/health')).body.cluster_name, 'prod-secrets');
});
