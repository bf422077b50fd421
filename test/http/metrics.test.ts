import assert from 'node:assert/strict';
import test from 'node:test';
import parsePrometheus, { type MetricFamily } from 'parse-prometheus-text-format';
import { initServer, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

type Families = Map<string, MetricFamily>;

async function scrape(server: TestServer, token?: string): Promise<Families> {
  const res = await server.api('GET', 'sys/metrics?format=prometheus', token ? { token } : {});
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheus(res.text).map((f) => [f.name, f]));
}

/** The value of the series of `name` whose labels include `labels` (0 when absent). */
function value(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  assert.ok(family, `metric ${name} is exported`);
  const series = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return series ? Number(series.value ?? series.count) : 0;
}

test('sys/metrics: ACL-guarded Prometheus text, parsed; counts requests, seal state, term, encryptions, unseal/rekey attempts', async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 3, 2);
  const root = init.rootToken;

  // Sealed: like every authenticated path, 503 before the token is looked up.
  assert.equal((await server.api('GET', 'sys/metrics?format=prometheus', { token: root })).status, 503);
  // A wrong set of shares, then the right one.
  const strangers = await startTestServer(t);
  const other = await initServer(strangers, 3, 2);
  await unsealServer(server, [init.keys[0]!, other.keys[1]!]);
  await unsealServer(server, init.keys.slice(1));

  assert.equal((await server.api('GET', 'sys/metrics?format=prometheus')).status, 403);
  await server.api('PUT', 'sys/policies/acl/scraper', { token: root, body: { policy: 'path "sys/metrics" { capabilities = ["read"] }' } });
  const scraper = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['scraper'] } })).body.auth.client_token;
  const plain = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'] } })).body.auth.client_token;
  assert.equal((await server.api('GET', 'sys/metrics?format=prometheus', { token: plain })).status, 403);

  await server.api('POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } });
  const first = await scrape(server, scraper);
  assert.equal(value(first, 'coffer_sealed'), 0);
  assert.equal(value(first, 'coffer_barrier_keyring_term'), 1);
  assert.equal(value(first, 'coffer_unseal_attempts_total', { method: 'shares' }), 2);
  assert.equal(value(first, 'coffer_unseal_failures_total', { method: 'shares', reason: 'invalid_key' }), 1);
  assert.ok(value(first, 'coffer_http_requests_total', { route: 'sys/unseal', method: 'PUT', code: '200' }) >= 3);
  assert.equal(value(first, 'coffer_http_requests_total', { route: 'sys/unseal', method: 'PUT', code: '400' }), 1);
  assert.ok(first.get('coffer_process_resident_memory_bytes'), 'default process metrics are exported');
  const encryptionsBefore = value(first, 'coffer_barrier_active_term_encryptions');

  for (let i = 0; i < 5; i++) await server.api('PUT', `secret/data/app${i}`, { token: root, body: { data: { i } } });
  await server.api('PUT', 'sys/rotate', { token: root });
  await server.api('PUT', 'secret/data/after', { token: root, body: { data: { x: 1 } } });
  const afterWork = await scrape(server, scraper);
  assert.ok(value(afterWork, 'coffer_http_requests_total', { route: 'mount:secret/', method: 'PUT', code: '200' }) >= 6);
  // The text parser keeps only buckets of histograms, so the latency count is read from the JSON form.
  const jsonMetrics = (await server.api('GET', 'sys/metrics', { token: scraper })).body.data as Array<{
    name: string;
    values: Array<{ metricName?: string; labels: Record<string, string>; value: number }>;
  }>;
  const latency = jsonMetrics.find((m) => m.name === 'coffer_http_request_duration_seconds')!;
  const count = latency.values.find(
    (v) => v.metricName === 'coffer_http_request_duration_seconds_count' && v.labels.route === 'mount:secret/' && v.labels.method === 'PUT',
  );
  assert.ok(count && count.value >= 6, 'latency histogram count');
  assert.equal(value(afterWork, 'coffer_barrier_keyring_term'), 2);
  const encryptionsAfter = value(afterWork, 'coffer_barrier_active_term_encryptions');
  assert.ok(encryptionsAfter > 0 && encryptionsAfter < encryptionsBefore + 20, `term 2 counts only its own encryptions (${encryptionsAfter})`);

  // Rekey: a wrong set, then the right one.
  const rekey = await server.api('PUT', 'sys/rekey/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  await server.api('PUT', 'sys/rekey/update', { body: { key: init.keys[0], nonce: rekey.body.nonce } });
  await server.api('PUT', 'sys/rekey/update', { body: { key: other.keys[2], nonce: rekey.body.nonce } });
  await server.api('PUT', 'sys/rekey/update', { body: { key: init.keys[0], nonce: rekey.body.nonce } });
  await server.api('PUT', 'sys/rekey/update', { body: { key: init.keys[1], nonce: rekey.body.nonce } });
  const afterRekey = await scrape(server, scraper);
  assert.equal(value(afterRekey, 'coffer_rekey_attempts_total', { target: 'barrier' }), 2);
  assert.equal(value(afterRekey, 'coffer_rekey_failures_total', { target: 'barrier', reason: 'invalid_key' }), 1);

  // Decrypt failures by reason: a tampered entry, and one naming a term the keyring does not have.
  const key = (await server.storage.list('logical/'))[0]!;
  const mountPrefix = `logical/${key}`;
  const metadataKeys = await server.storage.list(`${mountPrefix}metadata/`);
  const victim = `${mountPrefix}metadata/${metadataKeys[0]}`;
  const entry = Buffer.from((await server.storage.get(victim))!);
  const tampered = Buffer.from(entry);
  tampered[tampered.length - 1]! ^= 1;
  await server.storage.put(victim, tampered);
  assert.equal((await server.api('GET', `secret/data/${metadataKeys[0]}`, { token: root })).status, 500);
  const unknownTerm = Buffer.from(entry);
  unknownTerm.writeUInt32BE(99, 0);
  await server.storage.put(victim, unknownTerm);
  assert.equal((await server.api('GET', `secret/data/${metadataKeys[0]}`, { token: root })).status, 500);
  const afterFailures = await scrape(server, scraper);
  assert.equal(value(afterFailures, 'coffer_barrier_decrypt_failures_total', { reason: 'auth_failure' }), 1);
  assert.equal(value(afterFailures, 'coffer_barrier_decrypt_failures_total', { reason: 'unknown_term' }), 1);
  assert.equal(value(afterFailures, 'coffer_barrier_decrypt_failures_total', { reason: 'malformed' }), 0);

  // Without format: prom-client's JSON inside data.
  const json = await server.api('GET', 'sys/metrics', { token: scraper });
  assert.ok(json.body.data.some((m: { name: string }) => m.name === 'coffer_sealed'));
});

test('sys/metrics: unauthenticated access is opt-in per listener telemetry block, and then works while sealed', async (t) => {
  const closed = await startTestServer(t);
  assert.equal((await closed.api('GET', 'sys/metrics?format=prometheus')).status, 503, 'by default: sealed → 503 like any authenticated path');

  const opted = await startTestServer(t, { listenerExtra: 'telemetry {\n unauthenticated_metrics_access = true\n}' });
  const families = await scrape(opted);
  assert.equal(value(families, 'coffer_sealed'), 1);
  assert.equal(value(families, 'coffer_barrier_keyring_term'), 0, 'term 0 while sealed');
});
