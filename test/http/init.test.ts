import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SEAL_CONFIG_PATH } from '../../server/core/seal/seal-store.js';
import { InmemBackend } from '../../server/core/storage/inmem-backend.js';
import { RecordingStorage } from '../helpers/recording-storage.js';
import { initServer, startTestServer } from '../helpers/test-server.js';

describe('sys/init and sys/seal-status before init (behaviours 1–3)', () => {
  test('an uninitialised server reports itself as such on seal-status, init and health', async (t) => {
    const server = await startTestServer(t);
    const status = await server.api('GET', 'sys/seal-status');
    assert.equal(status.status, 200);
    assert.equal(status.body.initialized, false);
    assert.equal(status.body.sealed, true);
    assert.equal(status.body.t, 0);
    assert.equal(status.body.n, 0);
    assert.equal(status.body.type, 'shamir');
    assert.equal(status.body.storage_type, 'leveldb');
    assert.deepEqual((await server.api('GET', 'sys/init')).body, { initialized: false });
    const health = await server.api('GET', 'sys/health');
    assert.equal(health.status, 501);
    assert.equal(health.body.initialized, false);
  });

  test('init 5/3 returns five unique shares in hex and base64, a root token, and leaves the server sealed', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 5, secret_threshold: 3 } });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['keys', 'keys_base64', 'root_token']);
    assert.equal(res.body.keys.length, 5);
    assert.equal(new Set(res.body.keys).size, 5);
    res.body.keys.forEach((hex: string, i: number) => {
      assert.match(hex, /^[0-9a-f]{66}$/);
      assert.equal(res.body.keys_base64[i].length, 44);
      assert.equal(Buffer.from(res.body.keys_base64[i], 'base64').toString('hex'), hex);
    });
    assert.match(res.body.root_token, /^hvs\.[A-Za-z0-9]{24}$/);
    const status = (await server.api('GET', 'sys/seal-status')).body;
    assert.deepEqual([status.initialized, status.sealed, status.t, status.n, status.progress], [true, true, 3, 5, 0]);
    assert.deepEqual((await server.api('GET', 'sys/init')).body, { initialized: true });
  });

  test('a second init is refused with "Vault is already initialized" and the first shares still work', async (t) => {
    const server = await startTestServer(t);
    const first = await initServer(server, 3, 2);
    const again = await server.api('POST', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { errors: ['Vault is already initialized'] });
    await server.api('PUT', 'sys/unseal', { body: { key: first.keys[0] } });
    const res = await server.api('PUT', 'sys/unseal', { body: { key: first.keys[2] } });
    assert.equal(res.body.sealed, false);
  });

  test('1-of-1 init returns the 32-byte key itself (64 hex characters)', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.match(res.body.keys[0], /^[0-9a-f]{64}$/);
    const unsealed = await server.api('PUT', 'sys/unseal', { body: { key: res.body.keys_base64[0] } });
    assert.equal(unsealed.body.sealed, false);
  });

  const invalid: Array<[string, unknown, string]> = [
    ['threshold above shares', { secret_shares: 3, secret_threshold: 5 }, 'invalid seal configuration: threshold cannot be larger than shares'],
    [
      'threshold 1 with 5 shares',
      { secret_shares: 5, secret_threshold: 1 },
      'invalid seal configuration: threshold must be greater than one for multiple shares',
    ],
    ['no shares', { secret_shares: 0, secret_threshold: 0 }, 'invalid seal configuration: shares must be at least one'],
    ['an empty body', {}, 'invalid seal configuration: shares must be at least one'],
    ['256 shares', { secret_shares: 256, secret_threshold: 3 }, 'invalid seal configuration: shares must be less than 256'],
    ['threshold 0', { secret_shares: 5, secret_threshold: 0 }, 'invalid seal configuration: threshold must be at least one'],
    [
      'a PGP key count that differs from the shares',
      { secret_shares: 3, secret_threshold: 2, pgp_keys: ['a', 'b'] },
      'invalid seal configuration: count mismatch between number of provided PGP keys and number of shares',
    ],
    [
      'recovery parameters on a Shamir seal',
      { secret_shares: 3, secret_threshold: 2, recovery_shares: 5, recovery_threshold: 3 },
      'parameters recovery_shares,recovery_threshold not applicable to seal type shamir',
    ],
    [
      'a string where a number belongs',
      { secret_shares: '5', secret_threshold: 3 },
      'failed to parse JSON input: json: cannot unmarshal string into Go struct field InitRequest.secret_shares of type int',
    ],
    [
      'a fractional number',
      { secret_shares: 2.5, secret_threshold: 2 },
      'failed to parse JSON input: json: cannot unmarshal number 2.5 into Go struct field InitRequest.secret_shares of type int',
    ],
    [
      'a number in pgp_keys',
      { secret_shares: 1, secret_threshold: 1, pgp_keys: [7] },
      'failed to parse JSON input: json: cannot unmarshal number 7 into Go struct field InitRequest.pgp_keys of type string',
    ],
    [
      'a PGP key that is not base64',
      { secret_shares: 1, secret_threshold: 1, pgp_keys: ['%%%'] },
      'error decoding given PGP key: illegal base64 data',
    ],
    ['an array body', [1], 'failed to parse JSON input: json: cannot unmarshal array into Go value of type http.InitRequest'],
  ];
  for (const [what, body, message] of invalid) {
    test(`init with ${what} is a 400 "${message}" and initialises nothing`, async (t) => {
      const server = await startTestServer(t);
      const res = await server.api('PUT', 'sys/init', { body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { errors: [message] });
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.deepEqual((await server.api('GET', 'sys/init')).body, { initialized: false });
      assert.deepEqual(await server.storage.list(''), []);
    });
  }

  test('a PGP key that base64-decodes to garbage is rejected as unparseable', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', {
      body: { secret_shares: 1, secret_threshold: 1, pgp_keys: [Buffer.from('not a key').toString('base64')] },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0], /^error parsing given PGP key: /);
  });

  test('body keys are matched case-insensitively and null means unset', async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { body: { Secret_Shares: 3, SECRET_THRESHOLD: 2, root_token_pgp_key: null, pgp_keys: null } });
    assert.equal(res.status, 200);
    assert.equal(res.body.keys.length, 3);
  });

  test("malformed JSON is a 400 in Vault's error shape", async (t) => {
    const server = await startTestServer(t);
    const res = await server.api('PUT', 'sys/init', { rawBody: '{"secret_shares": 5,' });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0], /^failed to parse JSON input: /);
  });
});

describe('init is one atomic batch', () => {
  test('when the storage batch fails, nothing is written and the server stays uninitialised', async (t) => {
    const storage = new RecordingStorage(new InmemBackend());
    storage.beforeWrite = () => {
      storage.beforeWrite = undefined;
      throw new Error('disk full');
    };
    const server = await startTestServer(t, { storage });
    const res = await server.api('PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { errors: ['internal error'] });
    assert.equal(await storage.get(SEAL_CONFIG_PATH), undefined);
    assert.deepEqual(await storage.list(''), []);
    assert.deepEqual((await server.api('GET', 'sys/init')).body, { initialized: false });
    // The next attempt succeeds from a clean slate.
    const retry = await server.api('PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(retry.status, 200);
    assert.deepEqual(await storage.list(''), ['core/', 'sys/']);
  });

  test('everything init writes lands in a single batch call', async (t) => {
    const storage = new RecordingStorage(new InmemBackend());
    const server = await startTestServer(t, { storage });
    await server.api('PUT', 'sys/init', { body: { secret_shares: 5, secret_threshold: 3 } });
    assert.deepEqual(
      storage.writes.map((w) => w.kind),
      ['batch'],
    );
    const keys = storage.writes[0]!.ops.map((op) => op.key);
    assert.deepEqual(keys.filter((k) => !k.startsWith('sys/token/')).sort(), [
      'core/cluster',
      'core/keyring',
      'core/seal-config',
      'core/sealed-root-key',
      'core/token-hmac-key',
    ]);
    assert.equal(keys.filter((k) => k.startsWith('sys/token/id/')).length, 1);
    assert.equal(keys.filter((k) => k.startsWith('sys/token/accessor/')).length, 1);
  });
});
