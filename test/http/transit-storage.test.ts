import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { b64, refused, transitServer, unb64, type TransitServer } from '../helpers/transit.js';

async function transitPrefix(ts: TransitServer): Promise<string> {
  const mounts = (await ts.server.api('GET', 'sys/mounts', { token: ts.root })).body;
  return `logical/${mounts['transit/'].uuid}/policy/`;
}

describe('transit key storage', () => {
  test('a key stored by an earlier Coffer (JSON with a base64 key) keeps decrypting, and is upgraded to the byte form with an HMAC key', async (t) => {
    const ts = await transitServer(t);
    const prefix = await transitPrefix(ts);
    const material = randomBytes(32);
    const legacy = {
      name: 'old',
      type: 'aes256-gcm96',
      latest_version: 1,
      min_decryption_version: 1,
      min_encryption_version: 0,
      min_available_version: 0,
      deletion_allowed: false,
      versions: { '1': { key: material.toString('base64'), time: 1_700_000_000 } },
    };
    await ts.server.core.barrier.batch([{ type: 'put', path: `${prefix}old`, value: new TextEncoder().encode(JSON.stringify(legacy)) }]);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', material, nonce);
    const made = Buffer.concat([nonce, cipher.update('from before'), cipher.final(), cipher.getAuthTag()]);

    const dec = (await ts.write('decrypt/old', { ciphertext: `vault:v1:${made.toString('base64')}` })).data.plaintext;
    assert.equal(unb64(dec).toString(), 'from before');
    const stored = (await ts.server.core.barrier.get(`${prefix}old`))!;
    assert.equal(Buffer.from(stored.subarray(0, 4)).toString(), 'CTK1', 'rewritten in the byte form');
    assert.ok(!Buffer.from(stored).toString('latin1').includes(material.toString('base64')), 'no base64 key left in storage');
    // The HMAC key added on upgrade was persisted: HMACs are stable across requests.
    const mac1 = (await ts.write('hmac/old', { input: b64('m') })).data.hmac;
    const mac2 = (await ts.write('hmac/old', { input: b64('m') })).data.hmac;
    assert.equal(mac1, mac2);
    assert.equal((await ts.read('keys/old')).data.keys['1'], 1_700_000_000);
  });

  test('a stored key that does not parse is an integrity failure (500, opaque), not a crash or a cast', async (t) => {
    const ts = await transitServer(t);
    const prefix = await transitPrefix(ts);
    await ts.server.core.barrier.batch([{ type: 'put', path: `${prefix}bad`, value: new TextEncoder().encode('CTK1\u0000\u0000\u0000\u0002{}') }]);
    const res = await ts.server.api('POST', 'transit/encrypt/bad', { token: ts.root, body: { plaintext: b64('x') } });
    assert.equal(res.status, 500);
    assert.ok(!res.text.includes('CTK1'));
  });

  test('a refused encrypt changes nothing: no key is created for an unknown name, no encryptions are counted', async (t) => {
    const ts = await transitServer(t);
    assert.deepEqual(await refused(ts, 'encrypt/ghost', { plaintext: '***' }), ['failed to base64-decode plaintext']);
    assert.deepEqual(await refused(ts, 'encrypt/ghost', { batch_input: [{ plaintext: '***' }, { plaintext: '%%' }] }), [
      'failed to base64-decode plaintext',
    ]);
    assert.equal((await ts.server.api('GET', 'transit/keys/ghost', { token: ts.root })).status, 404);

    await ts.write('keys/k', { exportable: true, allow_plaintext_backup: true, derived: true });
    const before = (await ts.read('backup/k')).data.backup;
    assert.match((await refused(ts, 'encrypt/k', { plaintext: b64('x') }))[0]!, /^missing 'context'/);
    assert.deepEqual(await refused(ts, 'encrypt/k', { plaintext: b64('x'), context: b64('c'), key_version: 5 }), [
      'requested version for encryption is higher than the latest key version',
    ]);
    const after = (await ts.read('backup/k')).data.backup;
    const header = (backup: string) => {
      const raw = unb64(backup);
      const h = JSON.parse(raw.subarray(8, 8 + raw.readUInt32BE(4)).toString());
      return h.versions;
    };
    assert.deepEqual(header(after), header(before));

    await ts.write('keys/rsa', { type: 'rsa-2048' });
    assert.deepEqual(await refused(ts, 'encrypt/rsa', { plaintext: b64('x'.repeat(191)) }), [
      'plaintext is too long for a rsa-2048 key (at most 190 bytes)',
    ]);
  });
});
