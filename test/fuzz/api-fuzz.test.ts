import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import test from 'node:test';
import fc from 'fast-check';
import { initServer, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

/** Runs per property; `COFFER_FUZZ_RUNS` raises it for a longer local run. */
const RUNS = Number(process.env.COFFER_FUZZ_RUNS ?? 400);

/** Every sys endpoint, the token endpoints, and paths on KV v1, KV v2 and transit mounts. */
const ENDPOINTS = [
  'sys/init',
  'sys/seal-status',
  'sys/unseal',
  'sys/seal',
  'sys/step-down',
  'sys/health',
  'sys/leader',
  'sys/key-status',
  'sys/rotate',
  'sys/rotate/keyring',
  'sys/rotate/config',
  'sys/rotate/keyring/config',
  'sys/rekey/init',
  'sys/rekey/update',
  'sys/rekey/verify',
  'sys/rekey/backup',
  'sys/rekey/recovery-key-backup',
  'sys/rekey-recovery-key/init',
  'sys/rekey-recovery-key/update',
  'sys/rekey-recovery-key/verify',
  'sys/rekey-recovery-key/backup',
  'sys/policy',
  'sys/policy/app',
  'sys/policies/acl',
  'sys/policies/acl/app',
  'sys/policies/acl/root',
  'sys/capabilities-self',
  'sys/mounts',
  'sys/mounts/secret',
  'sys/mounts/new',
  'sys/mounts/secret/tune',
  'sys/internal/ui/mounts/secret',
  'sys/metrics',
  'auth/token/create',
  'auth/token/lookup',
  'auth/token/lookup-self',
  'auth/token/lookup-accessor',
  'auth/token/renew-self',
  'auth/token/revoke',
  'auth/token/revoke-self',
  'auth/token/revoke-accessor',
  'secret/data/app/one',
  'secret/metadata/app/one',
  'secret/metadata/',
  'secret/config',
  'secret/delete/app/one',
  'secret/undelete/app/one',
  'secret/destroy/app/one',
  'kv/app/one',
  'kv/',
  'transit/keys/k',
  'transit/keys/k/config',
  'transit/keys/k/rotate',
  'transit/keys/k/trim',
  'transit/encrypt/k',
  'transit/decrypt/k',
  'transit/rewrap/k',
  'transit/datakey/plaintext/k',
  'transit/keys',
  'transit/sign/e',
  'transit/sign/e/sha2-384',
  'transit/verify/e',
  'transit/sign/r',
  'transit/verify/r/sha2-512',
  'transit/encrypt/r',
  'transit/decrypt/r',
  'transit/hmac/k',
  'transit/hmac/k/sha2-512',
  'transit/verify/k',
  'transit/hash',
  'transit/hash/sha3-256',
  'transit/random',
  'transit/random/16',
  'transit/random/seal/8',
  'transit/export/encryption-key/x',
  'transit/export/signing-key/e',
  'transit/export/public-key/r/latest',
  'transit/backup/x',
  'transit/backup/k',
  'transit/restore',
  'transit/restore/y',
  'transit/keys/x/config',
];
const FIELDS = [
  'key',
  'reset',
  'migrate',
  'nonce',
  'secret_shares',
  'secret_threshold',
  'pgp_keys',
  'backup',
  'require_verification',
  'recovery_shares',
  'policy',
  'policies',
  'ttl',
  'type',
  'options',
  'data',
  'cas',
  'versions',
  'max_versions',
  'plaintext',
  'ciphertext',
  'batch_input',
  'min_decryption_version',
  'min_available_version',
  'max_operations',
  'interval',
  'enabled',
  'token',
  'accessor',
  'paths',
  'bits',
  'deletion_allowed',
  'version',
  'num_uses',
  'input',
  'signature',
  'hmac',
  'hash_algorithm',
  'algorithm',
  'prehashed',
  'signature_algorithm',
  'marshaling_algorithm',
  'salt_length',
  'context',
  'associated_data',
  'key_version',
  'exportable',
  'allow_plaintext_backup',
  'auto_rotate_period',
  'derived',
  'convergent_encryption',
  'format',
  'force',
  'bytes',
  'source',
];

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.stringMatching(/^[0-9a-f]{0,80}$/),
  fc.stringMatching(/^[A-Za-z0-9+/]{0,60}={0,2}$/),
  fc.constantFrom('', '..', '%2F', 'vault:v1:AAAA', 'vault:v99:', 'null', '-1', '1e9', '\u0000', '💥', 'x'.repeat(5000)),
);
const value = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(text, { maxLength: 4 }),
  fc.dictionary(text, text, { maxKeys: 3 }),
);
/** Bodies: valid JSON of odd shapes, objects with the real field names and wrong types, and broken text. */
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => j),
  fc.dictionary(fc.constantFrom(...FIELDS, ...FIELDS.map((f) => f.toUpperCase())), value, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
  fc.string().map((s) => `{"key":${s}`),
  fc.constantFrom('{', '[]', '"x"', '{"data":{"a":', 'null', '{"key":"\\ud800"}'),
);
const pathVariant = fc
  .tuple(
    fc.constantFrom(...ENDPOINTS),
    fc.constantFrom(
      '',
      '/..',
      '/../../sys/seal',
      '%2F..%2Fsys',
      '/%',
      '/%zz',
      '?list=true',
      '?format=prometheus',
      '//',
      `/${'a'.repeat(3000)}`,
      '/%E2%82%AC',
      '/ü',
    ),
  )
  .map(([p, suffix]) => p + suffix);
const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'LIST', 'PATCH', 'HEAD', 'OPTIONS');

/** Percent-encodes what node:http refuses to put in a request line, keeping everything else as sent. */
function rawPath(p: string): string {
  return `/v1/${p}`.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function send(
  server: TestServer,
  m: string,
  p: string,
  headers: Record<string, string>,
  payload: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // Always framed: without Content-Length Node's client sends a DELETE or OPTIONS body unframed.
    const framed = payload === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(payload)) };
    const req = http.request({ host: '127.0.0.1', port: server.port, method: m, path: rawPath(p), headers: framed }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (out += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: out }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A digest of every stored entry, plus the in-memory states a request could change. */
async function stateDigest(server: TestServer): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (prefix: string): Promise<void> => {
    for (const child of await server.storage.list(prefix)) {
      if (child.endsWith('/')) await walk(prefix + child);
      else hash.update(prefix + child).update((await server.storage.get(prefix + child))!);
    }
  };
  await walk('');
  const status = await server.core.sealStatus();
  hash.update(JSON.stringify([status.sealed, status.progress, status.nonce]));
  if (!server.core.barrier.sealed) hash.update(JSON.stringify([await server.core.rekey.status('barrier'), server.core.barrier.keyStatus().term]));
  return hash.digest('hex');
}

test(`fuzz (fast-check, ${RUNS} runs): no 5xx but 503-while-sealed, no crash, and no state change on any 4xx`, async (t) => {
  const server = await startTestServer(t);
  const init = await initServer(server, 3, 2);
  await unsealServer(server, init.keys.slice(0, 2));
  const root = init.rootToken;
  for (const [mount, type, options] of [
    ['secret', 'kv', { version: '2' }],
    ['kv', 'kv', {}],
    ['transit', 'transit', {}],
  ] as const) {
    await server.api('POST', `sys/mounts/${mount}`, { token: root, body: { type, options } });
  }
  await server.api('PUT', 'sys/policies/acl/app', {
    token: root,
    body: {
      policy:
        'path "secret/*" { capabilities = ["create","read","update","delete","list"] }\npath "kv/*" { capabilities = ["create","read","update","list"] }\npath "transit/*" { capabilities = ["create","read","update","list"] }',
    },
  });
  const appToken = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['app'] } })).body.auth.client_token as string;
  await server.api('POST', 'transit/keys/k', { token: root, body: {} });
  await server.api('POST', 'transit/keys/e', { token: root, body: { type: 'ecdsa-p256' } });
  await server.api('POST', 'transit/keys/r', { token: root, body: { type: 'rsa-2048' } });
  await server.api('POST', 'transit/keys/x', { token: root, body: { exportable: true, allow_plaintext_backup: true, derived: true } });

  const headers = fc.record(
    {
      'x-vault-token': fc.oneof(
        { weight: 4, arbitrary: fc.constant(appToken) },
        { weight: 1, arbitrary: fc.constantFrom('hvs.bogus', '', appToken.slice(0, -1)) },
        { weight: 1, arbitrary: fc.stringMatching(/^[\x21-\x7e]{0,64}$/) },
      ),
      authorization: fc.oneof(fc.constant(`Bearer ${appToken}`), fc.stringMatching(/^[\x21-\x7e ]{0,40}$/)),
      'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'),
      'x-vault-request': fc.constantFrom('true', 'false'),
    },
    { requiredKeys: ['content-type'] },
  );

  let requests = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(method, pathVariant, headers, body, async (m, p, h, payload) => {
      const before = await stateDigest(server);
      const res = await send(server, m, p, h, m === 'GET' || m === 'HEAD' ? undefined : payload);
      requests++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const sealed = res.status === 503 && (m === 'HEAD' || /Vault is sealed/.test(res.text));
      assert.ok(
        res.status < 500 || sealed || (p.startsWith('sys/health') && res.status === 503),
        `${m} ${p} → ${res.status} ${res.text.slice(0, 200)}`,
      );
      if (res.status >= 400 && res.status < 500) assert.equal(await stateDigest(server), before, `${m} ${p} → ${res.status} changed state`);
      if (res.status >= 400 && m !== 'HEAD') {
        let parsed: { errors?: unknown } | undefined;
        try {
          parsed = JSON.parse(res.text) as { errors?: unknown };
        } catch {
          parsed = undefined;
        }
        assert.ok(Array.isArray(parsed?.errors), `${m} ${p} → ${res.status}: errors in Vault's shape, got ${JSON.stringify(res.text.slice(0, 100))}`);
      }
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  // Still alive and answering.
  assert.equal((await server.api('GET', 'sys/health')).status < 600, true);
  assert.equal((await server.api('GET', 'sys/seal-status')).status, 200);
  t.diagnostic(
    `fuzz: ${RUNS} generated requests (${requests} sent); statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
  );
});
