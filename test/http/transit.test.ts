import assert from 'node:assert/strict';
import test from 'node:test';
import { initServer, startTestServer, unsealServer, type TestServer } from '../helpers/test-server.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

async function transitServer(t: test.TestContext): Promise<{ server: TestServer; root: string }> {
  const server = await startTestServer(t);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const mounted = await server.api('POST', 'sys/mounts/transit', { token: init.rootToken, body: { type: 'transit' } });
  assert.equal(mounted.status, 204, mounted.text);
  return { server, root: init.rootToken };
}

test('transit: encrypt/decrypt round trip, Vault ciphertext form, batches, upsert on encrypt', async (t) => {
  const { server, root } = await transitServer(t);
  const created = await server.api('POST', 'transit/keys/orders', { token: root, body: {} });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.body.data.type, 'aes256-gcm96');
  assert.equal(created.body.data.latest_version, 1);
  assert.equal(created.body.mount_type, 'transit');

  const enc = await server.api('POST', 'transit/encrypt/orders', { token: root, body: { plaintext: b64('card 4111') } });
  assert.equal(enc.status, 200, enc.text);
  assert.match(enc.body.data.ciphertext, /^vault:v1:[A-Za-z0-9+/]+=*$/);
  assert.equal(enc.body.data.key_version, 1);
  assert.ok(!enc.text.includes(b64('card 4111')));
  const dec = await server.api('POST', 'transit/decrypt/orders', { token: root, body: { ciphertext: enc.body.data.ciphertext } });
  assert.equal(dec.status, 200, dec.text);
  assert.equal(Buffer.from(dec.body.data.plaintext, 'base64').toString(), 'card 4111');

  // Batch: per-item results with references; one bad item does not fail the others.
  const batch = await server.api('POST', 'transit/encrypt/orders', {
    token: root,
    body: { batch_input: [{ plaintext: b64('a'), reference: 'r1' }, { plaintext: '***not base64***', reference: 'r2' }, { plaintext: b64('c') }] },
  });
  assert.equal(batch.status, 200, batch.text);
  const [r1, r2, r3] = batch.body.data.batch_results;
  assert.equal(r1.reference, 'r1');
  assert.match(r1.ciphertext, /^vault:v1:/);
  assert.deepEqual(r2, { error: 'failed to base64-decode plaintext', reference: 'r2' });
  const decBatch = await server.api('POST', 'transit/decrypt/orders', {
    token: root,
    body: { batch_input: [{ ciphertext: r1.ciphertext }, { ciphertext: r3.ciphertext }] },
  });
  assert.deepEqual(
    decBatch.body.data.batch_results.map((r: { plaintext: string }) => Buffer.from(r.plaintext, 'base64').toString()),
    ['a', 'c'],
  );

  // Encrypting with an unknown key creates it (Vault's upsert).
  const upsert = await server.api('POST', 'transit/encrypt/fresh', { token: root, body: { plaintext: b64('x') } });
  assert.equal(upsert.status, 200, upsert.text);
  const listed = await server.api('LIST', 'transit/keys', { token: root });
  assert.deepEqual(listed.body.data.keys.sort(), ['fresh', 'orders']);

  // Errors are 400s in Vault's words, and change nothing.
  const bad = [
    [{ ciphertext: 'v1:abc' }, 'invalid ciphertext: no prefix'],
    [{ ciphertext: 'vault:v9:AAAA' }, 'invalid ciphertext: version is too new'],
    [{ ciphertext: 'vault:vx:AAAA' }, 'invalid ciphertext: version number could not be decoded'],
    [{ ciphertext: 'vault:v1:!!' }, 'invalid ciphertext: could not decode base64'],
    [{ ciphertext: enc.body.data.ciphertext.slice(0, -6) + 'AAAA==' }, 'invalid ciphertext: unable to decrypt'],
    [{}, 'missing ciphertext to decrypt'],
  ] as const;
  for (const [body, message] of bad) {
    const res = await server.api('POST', 'transit/decrypt/orders', { token: root, body });
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
    assert.deepEqual(res.body, { errors: [message] });
  }
  const missingKey = await server.api('POST', 'transit/decrypt/nokey', { token: root, body: { ciphertext: enc.body.data.ciphertext } });
  assert.deepEqual([missingKey.status, missingKey.body], [400, { errors: ['encryption key not found'] }]);
  const wrongType = await server.api('POST', 'transit/keys/des', { token: root, body: { type: 'des-56' } });
  assert.deepEqual([wrongType.status, wrongType.body], [400, { errors: ['unknown key type des-56'] }]);
  assert.equal((await server.api('GET', 'transit/keys/des', { token: root })).status, 404);
});

test('transit: rotate keeps old ciphertext readable, rewrap moves it to the newest version, datakey round trips', async (t) => {
  const { server, root } = await transitServer(t);
  await server.api('POST', 'transit/keys/app', { token: root, body: {} });
  const v1 = (await server.api('POST', 'transit/encrypt/app', { token: root, body: { plaintext: b64('old secret') } })).body.data.ciphertext;
  const rotated = await server.api('POST', 'transit/keys/app/rotate', { token: root });
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.body.data.latest_version, 2);
  assert.deepEqual(Object.keys(rotated.body.data.keys), ['1', '2']);

  const v2 = (await server.api('POST', 'transit/encrypt/app', { token: root, body: { plaintext: b64('new secret') } })).body.data;
  assert.match(v2.ciphertext, /^vault:v2:/);
  assert.equal(v2.key_version, 2);
  const oldRead = await server.api('POST', 'transit/decrypt/app', { token: root, body: { ciphertext: v1 } });
  assert.equal(Buffer.from(oldRead.body.data.plaintext, 'base64').toString(), 'old secret');

  const rewrapped = await server.api('POST', 'transit/rewrap/app', { token: root, body: { ciphertext: v1 } });
  assert.equal(rewrapped.status, 200, rewrapped.text);
  assert.match(rewrapped.body.data.ciphertext, /^vault:v2:/);
  assert.equal(rewrapped.body.data.key_version, 2);
  const afterRewrap = await server.api('POST', 'transit/decrypt/app', { token: root, body: { ciphertext: rewrapped.body.data.ciphertext } });
  assert.equal(Buffer.from(afterRewrap.body.data.plaintext, 'base64').toString(), 'old secret');

  // Envelope encryption: a data key in the clear and wrapped; unwrapping gives the same bytes.
  const plain = await server.api('POST', 'transit/datakey/plaintext/app', { token: root, body: { bits: 512 } });
  assert.equal(plain.status, 200, plain.text);
  assert.equal(Buffer.from(plain.body.data.plaintext, 'base64').length, 64);
  const unwrapped = await server.api('POST', 'transit/decrypt/app', { token: root, body: { ciphertext: plain.body.data.ciphertext } });
  assert.equal(unwrapped.body.data.plaintext, plain.body.data.plaintext);
  const wrapped = await server.api('POST', 'transit/datakey/wrapped/app', { token: root, body: {} });
  assert.equal(wrapped.body.data.plaintext, undefined);
  assert.equal(
    Buffer.from(
      (await server.api('POST', 'transit/decrypt/app', { token: root, body: { ciphertext: wrapped.body.data.ciphertext } })).body.data.plaintext,
      'base64',
    ).length,
    32,
  );
  const badBits = await server.api('POST', 'transit/datakey/plaintext/app', { token: root, body: { bits: 100 } });
  assert.deepEqual([badBits.status, badBits.body], [400, { errors: ['invalid bit length'] }]);
  const badKind = await server.api('POST', 'transit/datakey/clear/app', { token: root, body: {} });
  assert.equal(badKind.status, 400);

  // Keys survive a seal/unseal (they live behind the barrier).
  await server.core.seal();
  assert.equal((await server.api('POST', 'transit/decrypt/app', { token: root, body: { ciphertext: v1 } })).status, 503);
});

test('transit: min_decryption_version refuses old versions; trim removes them and is refused above it', async (t) => {
  const { server, root } = await transitServer(t);
  await server.api('POST', 'transit/keys/k', { token: root, body: {} });
  const cts: string[] = [];
  for (let v = 1; v <= 4; v++) {
    cts.push((await server.api('POST', 'transit/encrypt/k', { token: root, body: { plaintext: b64(`v${v}`) } })).body.data.ciphertext);
    if (v < 4) await server.api('POST', 'transit/keys/k/rotate', { token: root });
  }
  assert.deepEqual(
    cts.map((c) => c.split(':')[1]),
    ['v1', 'v2', 'v3', 'v4'],
  );

  const tooHigh = await server.api('POST', 'transit/keys/k/config', { token: root, body: { min_decryption_version: 5 } });
  assert.deepEqual([tooHigh.status, tooHigh.body], [400, { errors: ['cannot set min decryption version of 5, latest key version is 4'] }]);
  const set = await server.api('POST', 'transit/keys/k/config', { token: root, body: { min_decryption_version: 3 } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.data.min_decryption_version, 3);

  for (const [i, expected] of [
    [0, 400],
    [1, 400],
    [2, 200],
    [3, 200],
  ] as const) {
    const res = await server.api('POST', 'transit/decrypt/k', { token: root, body: { ciphertext: cts[i] } });
    assert.equal(res.status, expected, `v${i + 1}: ${res.text}`);
    if (expected === 400) assert.deepEqual(res.body, { errors: ['ciphertext or signature version is disallowed by policy (too old)'] });
  }
  // Rewrap of a too-old ciphertext is refused as well.
  assert.equal((await server.api('POST', 'transit/rewrap/k', { token: root, body: { ciphertext: cts[0] } })).status, 400);

  // min_encryption_version must not be below min_decryption_version.
  const encBelow = await server.api('POST', 'transit/keys/k/config', { token: root, body: { min_encryption_version: 2 } });
  assert.equal(encBelow.status, 400);
  assert.match(encBelow.body.errors[0], /min encryption version of 2 must be greater than or equal to min decryption version of 3/);

  // Trim: above min_decryption_version refused and nothing changes; at it, the versions below are gone.
  const trimHigh = await server.api('POST', 'transit/keys/k/trim', { token: root, body: { min_available_version: 4 } });
  assert.deepEqual(
    [trimHigh.status, trimHigh.body],
    [400, { errors: ['minimum available version cannot be greater than minimum decryption version'] }],
  );
  assert.deepEqual(Object.keys((await server.api('GET', 'transit/keys/k', { token: root })).body.data.keys), ['1', '2', '3', '4']);
  const trim = await server.api('POST', 'transit/keys/k/trim', { token: root, body: { min_available_version: 3 } });
  assert.equal(trim.status, 200, trim.text);
  const after = (await server.api('GET', 'transit/keys/k', { token: root })).body.data;
  assert.deepEqual(Object.keys(after.keys), ['3', '4']);
  assert.equal(after.min_available_version, 3);
  // Lowering min_decryption_version cannot bring trimmed versions back.
  const lower = await server.api('POST', 'transit/keys/k/config', { token: root, body: { min_decryption_version: 1 } });
  assert.equal(lower.status, 400);
  const decrement = await server.api('POST', 'transit/keys/k/trim', { token: root, body: { min_available_version: 2 } });
  assert.deepEqual(decrement.body, { errors: ['minimum available version cannot be decremented'] });
  assert.equal(
    Buffer.from(
      (await server.api('POST', 'transit/decrypt/k', { token: root, body: { ciphertext: cts[3] } })).body.data.plaintext,
      'base64',
    ).toString(),
    'v4',
  );

  // Deletion needs deletion_allowed; exportable can be turned on but never off again.
  const del = await server.api('DELETE', 'transit/keys/k', { token: root });
  assert.deepEqual([del.status, del.body], [400, { errors: ['deletion is not allowed for this key'] }]);
  assert.equal((await server.api('POST', 'transit/keys/k/config', { token: root, body: { exportable: true } })).body.data.exportable, true);
  const off = await server.api('POST', 'transit/keys/k/config', { token: root, body: { exportable: false } });
  assert.deepEqual([off.status, off.body], [400, { errors: ['exportable cannot be disabled once enabled'] }]);
  await server.api('POST', 'transit/keys/k/config', { token: root, body: { deletion_allowed: true } });
  assert.equal((await server.api('DELETE', 'transit/keys/k', { token: root })).status, 204);
  assert.equal((await server.api('GET', 'transit/keys/k', { token: root })).status, 404);
});

test('transit: ACL-guarded like every logical path; an encrypt/decrypt-only policy cannot read, rotate or create', async (t) => {
  const { server, root } = await transitServer(t);
  await server.api('POST', 'transit/keys/autounseal', { token: root, body: {} });
  await server.api('PUT', 'sys/policies/acl/autounseal', {
    token: root,
    body: {
      policy: 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }',
    },
  });
  const child = await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['autounseal'], no_default_policy: true } });
  const token = child.body.auth.client_token as string;
  const enc = await server.api('POST', 'transit/encrypt/autounseal', { token, body: { plaintext: b64('root key') } });
  assert.equal(enc.status, 200, enc.text);
  assert.equal((await server.api('POST', 'transit/decrypt/autounseal', { token, body: { ciphertext: enc.body.data.ciphertext } })).status, 200);
  for (const [method, p] of [
    ['GET', 'transit/keys/autounseal'],
    ['POST', 'transit/keys/autounseal/rotate'],
    ['POST', 'transit/encrypt/other'],
    ['POST', 'transit/rewrap/autounseal'],
    ['POST', 'transit/datakey/plaintext/autounseal'],
  ] as const) {
    const res = await server.api(method, p, {
      token,
      ...(method === 'GET' ? {} : { body: { plaintext: b64('x'), ciphertext: enc.body.data.ciphertext } }),
    });
    assert.equal(res.status, 403, `${method} ${p}`);
  }
  assert.equal((await server.api('GET', 'transit/keys/autounseal', { token: root })).body.data.latest_version, 1);
  assert.equal((await server.api('GET', 'transit/keys/other', { token: root })).status, 404);
});
