import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_OPERATIONS_LIMIT } from '../../server/core/barrier/keyring.js';
import { ENCRYPTION_RESERVATION_BLOCK } from '../../server/core/secrets/transit/key-store.js';
import type { TransitEngine } from '../../server/core/secrets/transit/transit.js';
import { ManualClock, startTestServer, unsealServer } from '../helpers/test-server.js';
import { b64, refused, transitServer, unb64, withHelpers, type TransitServer } from '../helpers/transit.js';

const HOUR = 3600 * 1000;

/** A backup is `CTK1`, a 4-byte header length, the JSON header, then key bytes: the header is what tests edit. */
function editBackup(backup: string, edit: (header: { versions: Array<{ version: number; encryptions: number }> }) => void): string {
  const raw = unb64(backup);
  const length = raw.readUInt32BE(4);
  const header = JSON.parse(raw.subarray(8, 8 + length).toString());
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(4);
  size.writeUInt32BE(json.length);
  return Buffer.concat([raw.subarray(0, 4), size, json, raw.subarray(8 + length)]).toString('base64');
}

const encryptionsIn = async (ts: TransitServer, name: string) => {
  const raw = unb64((await ts.read(`backup/${name}`)).data.backup);
  return JSON.parse(raw.subarray(8, 8 + raw.readUInt32BE(4)).toString()).versions.map((v: { encryptions: number }) => v.encryptions);
};

describe('transit automatic rotation and encryption limits', () => {
  test('auto_rotate_period adds a version once the period has passed on the injected clock, on the next use of the key', async (t) => {
    const clock = new ManualClock();
    const ts = await transitServer(t, { clock });
    assert.deepEqual(await refused(ts, 'keys/k', { auto_rotate_period: '30m' }), ['auto rotate period must be 0 to disable or at least an hour']);
    assert.equal((await ts.write('keys/k', { auto_rotate_period: '24h' })).data.auto_rotate_period, 86400);
    clock.advance(23 * HOUR);
    assert.equal((await ts.read('keys/k')).data.latest_version, 1);
    clock.advance(1 * HOUR);
    const enc = (await ts.write('encrypt/k', { plaintext: b64('x') })).data;
    assert.deepEqual([enc.key_version, enc.ciphertext.slice(0, 9)], [2, 'vault:v2:']);
    clock.advance(12 * HOUR);
    assert.equal((await ts.read('keys/k')).data.latest_version, 2, 'the period counts from the newest version');
    clock.advance(12 * HOUR);
    assert.equal((await ts.read('keys/k')).data.latest_version, 3, 'a read applies a due rotation too');

    // Configurable later (Go durations or seconds); 0 switches it off.
    assert.equal((await ts.write('keys/k/config', { auto_rotate_period: '1h30m' })).data.auto_rotate_period, 5400);
    assert.deepEqual(await refused(ts, 'keys/k/config', { auto_rotate_period: 60 }), ['auto rotate period must be 0 to disable or at least an hour']);
    assert.deepEqual(await refused(ts, 'keys/k/config', { auto_rotate_period: 'soon' }), [
      'invalid value for "auto_rotate_period": expected a duration such as "24h" or a number of seconds',
    ]);
    await ts.write('keys/k/config', { auto_rotate_period: 0 });
    clock.advance(100 * HOUR);
    assert.equal((await ts.read('keys/k')).data.latest_version, 3);
  });

  test("the engine's maintenance hook rotates due keys that nobody uses, and only those", async (t) => {
    const clock = new ManualClock();
    const ts = await transitServer(t, { clock });
    await ts.write('keys/daily', { auto_rotate_period: '24h' });
    await ts.write('keys/weekly', { auto_rotate_period: '168h' });
    await ts.write('keys/never', {});
    const engine = ts.server.core.mounts.find('transit/keys')!.engine as TransitEngine;
    assert.deepEqual(await engine.maintenance(), []);
    clock.advance(25 * HOUR);
    assert.deepEqual(await engine.maintenance(), ['daily']);
    assert.deepEqual(await engine.maintenance(), [], 'once per period');
    const latest = async (name: string) => (await ts.read(`keys/${name}`)).data.latest_version;
    assert.deepEqual([await latest('daily'), await latest('weekly'), await latest('never')], [2, 1, 1]);
  });

  test("the server's periodic maintenance rotates due transit keys that nobody uses", async (t) => {
    const clock = new ManualClock();
    const ts = await transitServer(t, { clock });
    await ts.write('keys/idle', { auto_rotate_period: '24h' });
    clock.advance(25 * HOUR);
    await ts.server.core.maintenance();
    const engine = ts.server.core.mounts.find('transit/keys')!.engine as TransitEngine;
    assert.deepEqual(await engine.maintenance(), [], "already rotated by the server's maintenance");
    assert.equal((await ts.read('keys/idle')).data.latest_version, 2);
  });

  test('encryptions are counted per key version and persisted ahead of use in blocks', async (t) => {
    const ts = await transitServer(t);
    await ts.write('keys/k', { exportable: true, allow_plaintext_backup: true });
    assert.deepEqual(await encryptionsIn(ts, 'k'), [0]);
    await ts.write('encrypt/k', { batch_input: [{ plaintext: b64('a') }, { plaintext: b64('b') }] });
    assert.deepEqual(await encryptionsIn(ts, 'k'), [2 + ENCRYPTION_RESERVATION_BLOCK]);
    await ts.write('keys/k/rotate');
    await ts.write('datakey/wrapped/k', {});
    assert.deepEqual(await encryptionsIn(ts, 'k'), [2 + ENCRYPTION_RESERVATION_BLOCK, 1 + ENCRYPTION_RESERVATION_BLOCK]);
    await ts.write('keys/rsa', { type: 'rsa-2048', exportable: true, allow_plaintext_backup: true });
    await ts.write('encrypt/rsa', { plaintext: b64('a') });
    assert.deepEqual(await encryptionsIn(ts, 'rsa'), [0], 'RSA-OAEP has no nonce budget');
  });

  test('a version at the GCM limit refuses to encrypt, across a restart, until the key is rotated (attack: nonce reuse)', async (t) => {
    // The count is set near the limit through the public API: a backup's header carries each version's count and
    // restore keeps it (so a restore cannot reset the budget either).
    const first = await transitServer(t);
    await first.write('keys/k', { exportable: true, allow_plaintext_backup: true });
    const old = (await first.write('encrypt/k', { plaintext: b64('old') })).data.ciphertext;
    const backup = (await first.read('backup/k')).data.backup;
    const nearLimit = editBackup(backup, (h) => {
      h.versions[0]!.encryptions = MAX_OPERATIONS_LIMIT - 3;
    });
    assert.equal((await first.server.api('POST', 'transit/restore/k', { token: first.root, body: { backup: nearLimit, force: true } })).status, 204);

    await first.write('encrypt/k', { batch_input: [{ plaintext: b64('1') }, { plaintext: b64('2') }] });
    await first.write('encrypt/k', { plaintext: b64('3') });
    const limit = `key version 1 has reached the safe limit of ${MAX_OPERATIONS_LIMIT} encryptions for aes256-gcm96; rotate the key and encrypt with the new version`;
    assert.deepEqual(await refused(first, 'encrypt/k', { plaintext: b64('4') }), [limit]);
    assert.deepEqual(await refused(first, 'datakey/plaintext/k', {}), [limit]);
    assert.deepEqual(await refused(first, 'rewrap/k', { ciphertext: old }), [limit]);
    assert.equal(unb64((await first.write('decrypt/k', { ciphertext: old })).data.plaintext).toString(), 'old', 'decryption is unaffected');
    assert.deepEqual(await encryptionsIn(first, 'k'), [MAX_OPERATIONS_LIMIT]);

    // The refusal survives a restart: the stored count never goes down.
    const dataDir = first.server.dataDir;
    await first.server.close();
    const server = await startTestServer(t, { dataDir });
    await unsealServer(server, first.keys);
    const again = withHelpers(server, first.root, first.keys);
    assert.deepEqual(await refused(again, 'encrypt/k', { plaintext: b64('5') }), [limit]);

    await again.write('keys/k/rotate');
    const fresh = (await again.write('encrypt/k', { plaintext: b64('6') })).data;
    assert.equal(fresh.key_version, 2);
    assert.deepEqual(await refused(again, 'encrypt/k', { plaintext: b64('7'), key_version: 1 }), [limit]);
    const rewrapped = (await again.write('rewrap/k', { ciphertext: old })).data.ciphertext;
    assert.match(rewrapped, /^vault:v2:/);
  });
});
