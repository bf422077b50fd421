import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { b64, refused, transitServer, unb64, type TransitServer } from '../helpers/transit.js';

async function exportRes(ts: TransitServer, path: string) {
  return ts.server.api('GET', `transit/export/${path}`, { token: ts.root });
}

describe('transit export, backup and restore', () => {
  test('private material is exported only from exportable keys; public keys always; exportable is one-way', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/closed', {});
    await ts.write('keys/sig', { type: 'ecdsa-p256' });
    for (const path of ['encryption-key/closed', 'hmac-key/closed', 'signing-key/sig', 'hmac-key/sig']) {
      const res = await exportRes(ts, path);
      assert.deepEqual([res.status, res.body], [400, { errors: ['private key material is not exportable'] }], path);
    }
    const pub = await exportRes(ts, 'public-key/sig');
    assert.equal(pub.status, 200, pub.text);
    assert.deepEqual(Object.keys(pub.body.data), ['name', 'type', 'keys']);
    assert.equal(createPublicKey(pub.body.data.keys['1']).asymmetricKeyDetails!.namedCurve, 'prime256v1');
    assert.equal((await exportRes(ts, 'encryption-key/nosuch')).status, 404);
    assert.deepEqual((await exportRes(ts, 'private-key/sig')).body, { errors: ['invalid export type: private-key'] });

    await ts.write('keys/closed/config', { exportable: true });
    const opened = await exportRes(ts, 'encryption-key/closed');
    assert.equal(unb64(opened.body.data.keys['1']).length, 32);
    assert.deepEqual(await refused(ts, 'keys/closed/config', { exportable: false }), ['exportable cannot be disabled once enabled']);
    assert.equal((await ts.read('keys/closed')).data.exportable, true);
  });

  test("export picks versions (all, a number, vN, latest) and Vault's formats for each type", async (t) => {
    const ts = await transitServer(t);
    for (const type of ['ed25519', 'ecdsa-p384', 'rsa-2048', 'aes128-gcm96']) await ts.write(`keys/${type}`, { type, exportable: true });
    await ts.write('keys/ecdsa-p384/rotate');
    assert.deepEqual(Object.keys((await ts.read('export/signing-key/ecdsa-p384')).data.keys), ['1', '2']);
    assert.deepEqual(Object.keys((await ts.read('export/signing-key/ecdsa-p384/latest')).data.keys), ['2']);
    assert.deepEqual(Object.keys((await ts.read('export/signing-key/ecdsa-p384/v1')).data.keys), ['1']);
    assert.deepEqual((await exportRes(ts, 'signing-key/ecdsa-p384/7')).body, { errors: ['version does not exist or cannot be found'] });
    await ts.write('keys/ecdsa-p384/config', { min_decryption_version: 2 });
    assert.deepEqual((await exportRes(ts, 'signing-key/ecdsa-p384/1')).body, { errors: ['version for export is below minimum decryption version'] });

    const ec = (await ts.read('export/signing-key/ecdsa-p384/2')).data.keys['2'];
    assert.match(ec, /^-----BEGIN EC PRIVATE KEY-----\n[\s\S]+-----END EC PRIVATE KEY-----$/, 'SEC1, trimmed');
    const ecPkcs8 = (await ts.read('export/signing-key/ecdsa-p384/2?format=pem')).data.keys['2'];
    assert.match(ecPkcs8, /^-----BEGIN PRIVATE KEY-----/);
    const ecDer = (await ts.read('export/signing-key/ecdsa-p384/2?format=der')).data.keys['2'];
    const fromDer = createPrivateKey({ key: unb64(ecDer), format: 'der', type: 'pkcs8' });
    assert.equal(
      createPublicKey(fromDer).export({ format: 'pem', type: 'spki' }).toString().trim(),
      createPublicKey(ec).export({ format: 'pem', type: 'spki' }).toString().trim(),
    );
    assert.deepEqual((await exportRes(ts, 'signing-key/ecdsa-p384/2?format=raw')).body, {
      errors: ['unknown key format for ec key; supported values are ``, `der`, or `pem`'],
    });

    const rsa = (await ts.read('export/signing-key/rsa-2048')).data.keys['1'];
    assert.match(rsa, /^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+-----END RSA PRIVATE KEY-----\n$/, 'PKCS#1 with its final newline');
    assert.equal((await ts.read('export/encryption-key/rsa-2048')).data.keys['1'], rsa);

    const ed = unb64((await ts.read('export/signing-key/ed25519')).data.keys['1']);
    assert.equal(ed.length, 64, 'seed ‖ public key');
    const edPub = unb64((await ts.read('export/public-key/ed25519')).data.keys['1']);
    assert.deepEqual(ed.subarray(32), edPub);
    assert.match((await ts.read('export/public-key/ed25519?format=pem')).data.keys['1'], /^-----BEGIN PUBLIC KEY-----/);

    assert.equal(unb64((await ts.read('export/encryption-key/aes128-gcm96')).data.keys['1']).length, 16);
    assert.deepEqual((await exportRes(ts, 'signing-key/aes128-gcm96')).body, { errors: ['signing not supported for the key'] });
    assert.deepEqual((await exportRes(ts, 'encryption-key/ed25519')).body, { errors: ['encryption not supported for the key'] });
  });

  test('backup needs exportable and allow_plaintext_backup; restore brings back a key that decrypts old ciphertext', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/k', {});
    const backupOf = (name: string) => ts.server.api('GET', `transit/backup/${name}`, { token: ts.root });
    assert.deepEqual((await backupOf('k')).body, { errors: ['exporting is disallowed on the policy'] });
    await ts.write('keys/k/config', { exportable: true });
    assert.deepEqual((await backupOf('k')).body, { errors: ['plaintext backup is disallowed on the policy'] });
    await ts.write('keys/k/config', { allow_plaintext_backup: true });
    assert.deepEqual(await refused(ts, 'keys/k/config', { allow_plaintext_backup: false }), [
      'allow_plaintext_backup cannot be disabled once enabled',
    ]);
    const ct = (await ts.write('encrypt/k', { plaintext: b64('kept') })).data.ciphertext;
    await ts.write('keys/k/rotate');
    const ct2 = (await ts.write('encrypt/k', { plaintext: b64('kept 2') })).data.ciphertext;
    const backup = (await backupOf('k')).body.data.backup as string;
    assert.match(backup, /^[A-Za-z0-9+/]+=*$/);
    assert.equal((await ts.read('keys/k')).data.backup_info.version, 2);

    // Restore needs force over an existing key, and may rename.
    assert.deepEqual(await refused(ts, 'restore', { backup }), ['key "k" already exists']);
    assert.equal((await ts.server.api('POST', 'transit/restore/k2', { token: ts.root, body: { backup } })).status, 204);
    const restored = (await ts.read('keys/k2')).data;
    assert.deepEqual(
      [restored.latest_version, restored.exportable, restored.allow_plaintext_backup, restored.restore_info.version],
      [2, true, true, 2],
    );
    for (const [c, text] of [
      [ct, 'kept'],
      [ct2, 'kept 2'],
    ])
      assert.equal(unb64((await ts.write('decrypt/k2', { ciphertext: c })).data.plaintext).toString(), text);

    await ts.write('keys/k/config', { deletion_allowed: true });
    assert.equal((await ts.server.api('DELETE', 'transit/keys/k', { token: ts.root })).status, 204);
    assert.equal((await ts.server.api('POST', 'transit/restore', { token: ts.root, body: { backup } })).status, 204);
    assert.equal(unb64((await ts.write('decrypt/k', { ciphertext: ct })).data.plaintext).toString(), 'kept');

    // force replaces an existing key wholesale.
    await ts.write('keys/other', { type: 'ed25519' });
    assert.equal((await ts.server.api('POST', 'transit/restore/other', { token: ts.root, body: { backup, force: true } })).status, 204);
    assert.equal((await ts.read('keys/other')).data.type, 'aes256-gcm96');
  });

  test('restore refuses malformed backups and changes nothing', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/k', { exportable: true, allow_plaintext_backup: true, type: 'ecdsa-p256' });
    const backup = unb64((await ts.read('backup/k')).data.backup);
    const truncated = backup.subarray(0, backup.length - 5).toString('base64');
    const tampered = Buffer.from(backup);
    tampered[tampered.length - 40]! ^= 0xff;
    for (const [body, message] of [
      [{}, "'backup' must be supplied"],
      [{ backup: '%%%' }, 'invalid backup: not base64'],
      [{ backup: b64('{"policy":{}}') }, 'invalid backup: legacy entry'],
      [{ backup: b64('hello world') }, 'invalid backup: unknown format'],
      [{ backup: truncated }, 'invalid backup: truncated key material'],
      [{ backup: tampered.toString('base64') }, 'invalid backup: private key does not parse'],
    ] as const) {
      assert.deepEqual(await refused(ts, 'restore/fresh', body), [message], JSON.stringify(body).slice(0, 80));
    }
    assert.equal((await ts.server.api('GET', 'transit/keys/fresh', { token: ts.root })).status, 404);
  });
});
