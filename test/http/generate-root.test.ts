import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { decodeToken, encodeToken, OTP_LENGTH } from '../../server/core/generate-root/generate-root.js';
import { KEYRING_PATH } from '../../server/core/barrier/aes-gcm-barrier.js';
import { SEALED_ROOT_KEY_PATH } from '../../server/core/seal/seal-store.js';
import { GpgHome } from '../helpers/gpg.js';
import { rekey, unsealsWith } from '../helpers/rekey.js';
import { initServer, startTestServer, tempDir, unsealServer, type ApiResult, type TestServer } from '../helpers/test-server.js';

async function unsealed(t: TestContext, extraConfig = '') {
  const server = await startTestServer(t, { extraConfig });
  const init = await initServer(server, 5, 3);
  await unsealServer(server, init.keys);
  return { server, keys: init.keys, root: init.rootToken };
}

/** Feeds shares to the attempt; returns the last answer. */
async function feed(server: TestServer, nonce: string, keys: readonly string[]) {
  let last: ApiResult | undefined;
  for (const key of keys) last = await server.api('PUT', 'sys/generate-root/update', { body: { key, nonce } });
  if (!last) throw new Error('no share given');
  return last;
}

describe('generate-root', () => {
  test('a lost root token is recovered: a quorum of key holders mints a new root, orphan, TTL-less token that can seal', async (t) => {
    const { server, keys, root } = await unsealed(t);
    assert.equal((await server.api('PUT', 'auth/token/revoke-self', { token: root })).status, 204);
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: root })).status, 403, 'the old root token is gone');

    const idle = (await server.api('GET', 'sys/generate-root/attempt')).body;
    assert.deepEqual(idle, {
      started: false,
      nonce: '',
      progress: 0,
      required: 3,
      complete: false,
      encoded_token: '',
      encoded_root_token: '',
      pgp_fingerprint: '',
      otp: '',
      otp_length: OTP_LENGTH,
    });
    const started = await server.api('PUT', 'sys/generate-root/attempt', { body: {} });
    assert.equal(started.status, 200);
    const otp = started.body.otp as string;
    assert.match(otp, new RegExp(`^[0-9A-Za-z]{${OTP_LENGTH}}$`), 'a base62 OTP of the token length, returned once');
    assert.equal((await server.api('GET', 'sys/generate-root/attempt')).body.otp, '', 'never shown again');
    const nonce = started.body.nonce as string;
    assert.equal((await feed(server, nonce, keys.slice(0, 2))).body.progress, 2);
    const done = await feed(server, nonce, keys.slice(2, 3));
    assert.equal(done.body.complete, true);
    assert.equal(done.body.encoded_token, done.body.encoded_root_token);
    const token = decodeToken(done.body.encoded_token, otp);
    assert.match(token, /^hvs\.[0-9A-Za-z]{24}$/);
    const decoded = await server.api('PUT', 'sys/decode-token', { body: { encoded_token: done.body.encoded_token, otp } });
    assert.equal(decoded.body.data.token, token);

    const lookup = (await server.api('GET', 'auth/token/lookup-self', { token })).body.data;
    assert.deepEqual([lookup.policies, lookup.ttl, lookup.orphan, lookup.expire_time], [['root'], 0, true, null]);
    assert.equal((await server.api('GET', 'sys/generate-root/attempt')).body.started, false, 'the attempt is over');
    assert.equal((await server.api('PUT', 'sys/seal', { token })).status, 204, 'the new root token can seal');
  });

  test("Vault's refusals: already running, OTP length, wrong nonce, repeated share, wrong shares", async (t) => {
    const { server, keys } = await unsealed(t);
    assert.deepEqual((await server.api('PUT', 'sys/generate-root/attempt', { body: { otp: 'short' } })).body, {
      errors: ['OTP string has incorrect length'],
    });
    const otp = 'A'.repeat(OTP_LENGTH);
    const { nonce } = (await server.api('PUT', 'sys/generate-root/attempt', { body: { otp } })).body;
    assert.deepEqual((await server.api('PUT', 'sys/generate-root/attempt', { body: {} })).body, { errors: ['root generation already in progress'] });
    assert.deepEqual((await server.api('PUT', 'sys/generate-root/update', { body: { key: keys[0], nonce: 'x' } })).body, {
      errors: [`incorrect nonce supplied; nonce for this root generation operation is "${nonce}"`],
    });
    await feed(server, nonce, [keys[0]!]);
    assert.deepEqual((await feed(server, nonce, [keys[0]!])).body, {
      errors: ['given key has already been provided during this generation operation'],
    });
    const forged = randomBytes(33);
    forged[32] = 9;
    await feed(server, nonce, [keys[1]!]);
    const wrong = await feed(server, nonce, [forged.toString('hex')]);
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.errors[0], /^root generation aborted: /);
    const after = (await server.api('GET', 'sys/generate-root/attempt')).body;
    assert.deepEqual([after.started, after.nonce, after.progress], [true, nonce, 0], 'the attempt survives with progress 0');
    const done = await feed(server, nonce, keys.slice(2, 5));
    assert.equal(done.body.complete, true, done.text);
    assert.match(decodeToken(done.body.encoded_token, otp), /^hvs\./);
  });

  test('takeover: an attempt holding a share cannot be cancelled without sudo; disable_unauthed_generate_root_endpoints needs a sudo token for all of it', async (t) => {
    const { server, keys, root } = await unsealed(t);
    const { nonce } = (await server.api('PUT', 'sys/generate-root/attempt', { body: {} })).body;
    await feed(server, nonce, [keys[0]!]);
    const refused = await server.api('DELETE', 'sys/generate-root/attempt');
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /holds key shares: cancelling it needs a token with sudo/);
    assert.equal((await server.api('GET', 'sys/generate-root/attempt')).body.progress, 1);
    assert.equal((await server.api('DELETE', 'sys/generate-root/attempt', { token: root })).status, 204);

    const locked = await unsealed(t, 'disable_unauthed_generate_root_endpoints = true');
    assert.equal((await locked.server.api('GET', 'sys/generate-root/attempt')).status, 403);
    assert.equal((await locked.server.api('PUT', 'sys/generate-root/attempt', { body: {} })).status, 403);
    assert.equal((await locked.server.api('GET', 'sys/generate-root/attempt', { token: locked.root })).status, 200);
  });

  test("the PGP flow: the token is encrypted to the requester's key and real gpg decrypts it", async (t) => {
    const gpg = await GpgHome.create(t);
    const requester = await gpg.generateKey('ops@example.com');
    const { server, keys } = await unsealed(t);
    const started = (await server.api('PUT', 'sys/generate-root/attempt', { body: { pgp_key: requester.base64 } })).body;
    assert.equal(started.pgp_fingerprint, requester.fingerprint);
    assert.equal(started.otp, '');
    const done = await feed(server, started.nonce, keys.slice(0, 3));
    const token = (await gpg.decryptBase64(done.body.encoded_token)).trim();
    assert.match(token, /^hvs\./);
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token })).body.data.policies[0], 'root');
  });

  test('with an auto seal the recovery threshold applies and recovery shares mint the token', async (t) => {
    const dir = await tempDir(t, 'coffer-key-');
    const keyFile = path.join(dir, 'k');
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const server = await startTestServer(t, { extraConfig: `seal "static" { key_file = "${keyFile}" }` });
    const init = (await server.api('PUT', 'sys/init', { body: { recovery_shares: 3, recovery_threshold: 2 } })).body;
    const otp = 'b'.repeat(OTP_LENGTH);
    const started = (await server.api('PUT', 'sys/generate-root/attempt', { body: { otp } })).body;
    assert.equal(started.required, 2);
    const done = await feed(server, started.nonce, init.recovery_keys.slice(1, 3));
    assert.equal((await server.api('GET', 'auth/token/lookup-self', { token: decodeToken(done.body.encoded_token, otp) })).status, 200);
  });

  test("encoding is Vault's: base64 without padding of token XOR OTP", () => {
    const token = 'hvs.ABCDEFGHIJKLMNOPQRSTUVWX';
    const otp = '0123456789abcdefghijklmnopqr';
    const x = Buffer.from(token).map((b, i) => b ^ otp.charCodeAt(i));
    assert.equal(encodeToken(token, otp), Buffer.from(x).toString('base64').replace(/=+$/, ''));
    assert.equal(decodeToken(encodeToken(token, otp), otp), token);
  });
});

describe('sys/rotate/root', () => {
  test('a sudo token replaces the root key and adds a term without shares; the same shares still unseal', async (t) => {
    const { server, keys, root } = await unsealed(t);
    await server.api('PUT', 'sys/policies/acl/p', { token: root, body: { policy: 'path "x" { capabilities = ["read"] }' } });
    const wrapped = Buffer.from((await server.storage.get(SEALED_ROOT_KEY_PATH))!).toString('hex');
    const keyring = Buffer.from((await server.storage.get(KEYRING_PATH))!).toString('hex');
    const noSudo = (await server.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'] } })).body.auth.client_token;
    assert.equal((await server.api('PUT', 'sys/rotate/root', { token: noSudo })).status, 403);
    assert.equal((await server.api('PUT', 'sys/rotate/root', { token: root })).status, 204);
    assert.notEqual(Buffer.from((await server.storage.get(SEALED_ROOT_KEY_PATH))!).toString('hex'), wrapped);
    assert.notEqual(Buffer.from((await server.storage.get(KEYRING_PATH))!).toString('hex'), keyring);
    assert.equal((await server.api('GET', 'sys/key-status', { token: root })).body.data.term, 2);
    await server.api('PUT', 'sys/seal', { token: root });
    assert.equal(await unsealsWith(server, keys.slice(2, 5)), true);
    assert.equal((await server.api('GET', 'sys/policies/acl/p', { token: root })).status, 200, 'data of the old term reads back');
  });

  test('after a rekey the new root key is wrapped by the NEW unseal key: the new shares unseal, the old ones do not', async (t) => {
    const { server, keys, root } = await unsealed(t);
    const result = await rekey(server, keys.slice(0, 3), { shares: 3, threshold: 2 });
    // The pending entry is dropped once the response was delivered; wait for that before rotating.
    for (let i = 0; i < 50 && (await server.storage.get('core/sealed-root-key-previous')); i++) await new Promise((r) => setImmediate(r));
    assert.equal((await server.api('PUT', 'sys/rotate/root', { token: root })).status, 204);
    await server.api('PUT', 'sys/seal', { token: root });
    assert.equal(await unsealsWith(server, keys.slice(0, 3)), false);
    assert.equal(await unsealsWith(server, result.keys.slice(1, 3)), true);
  });

  test('refused while a rekey is unconfirmed (its fallback would be orphaned)', async (t) => {
    const { server, keys, root } = await unsealed(t);
    const { nonce } = await server.core.rekey.init('barrier', { shares: 2, threshold: 2, pgpKeys: [], backup: false, requireVerification: false });
    for (const k of keys.slice(0, 3)) await server.core.rekey.update('barrier', Buffer.from(k, 'hex'), nonce, () => {});
    const res = await server.api('PUT', 'sys/rotate/root', { token: root });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0], /a rekey is not yet confirmed delivered/);
  });
});
