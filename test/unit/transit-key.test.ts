import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isCofferError } from '../../server/core/errors.js';
import { generateKeyMaterial } from '../../server/core/secrets/transit/key-types.js';
import { decodeKey, destroyKey, encodeKey, type TransitKey } from '../../server/core/secrets/transit/transit-key.js';

const bytes = (n: number) => new Uint8Array(randomBytes(n));

async function sample(): Promise<TransitKey> {
  return {
    name: 'orders',
    type: 'ecdsa-p256',
    derived: false,
    convergent: false,
    exportable: true,
    allowPlaintextBackup: false,
    autoRotatePeriod: 86400,
    deletionAllowed: true,
    latestVersion: 3,
    minDecryptionVersion: 2,
    minEncryptionVersion: 0,
    minAvailableVersion: 2,
    versions: new Map([
      [2, { time: 100, encryptions: 0, material: await generateKeyMaterial('ecdsa-p256', bytes), hmacKey: bytes(32) }],
      [3, { time: 200, encryptions: 7, material: await generateKeyMaterial('ecdsa-p256', bytes), hmacKey: bytes(32) }],
    ]),
    backupInfo: { time: '2026-01-01T00:00:00.000Z', version: 3 },
  };
}

describe('transit key stored form', () => {
  test("encode/decode round-trips every setting and every version's bytes; key material never passes through a string", async () => {
    const key = await sample();
    const encoded = encodeKey(key);
    assert.equal(new TextDecoder().decode(encoded.subarray(0, 4)), 'CTK1');
    // The header names lengths, not keys: no base64 of any key material appears in the stored form.
    const text = Buffer.from(encoded).toString('latin1');
    for (const v of key.versions.values()) assert.ok(!text.includes(Buffer.from(v.hmacKey).toString('base64')));
    const { key: back, legacy } = decodeKey(encoded, 'integrity');
    assert.equal(legacy, false);
    assert.deepEqual({ ...back, versions: undefined }, { ...key, versions: undefined });
    for (const [v, entry] of key.versions) {
      assert.deepEqual(back.versions.get(v), entry);
      assert.ok(back.versions.get(v)!.material instanceof Uint8Array);
      assert.notEqual(back.versions.get(v)!.material.buffer, encoded.buffer, 'the decoded key owns copies');
    }
  });

  test("destroyKey zeroes every version's key material and HMAC key", async () => {
    const key = await sample();
    const held = [...key.versions.values()].flatMap((v) => [v.material, v.hmacKey]);
    destroyKey(key);
    for (const b of held) assert.ok(b.every((x) => x === 0));
  });

  test('malformed stored entries are integrity errors, never casts (truncated, trailing bytes, bad header, bad key)', async () => {
    const encoded = encodeKey(await sample());
    const headerLength = new DataView(encoded.buffer).getUint32(4);
    const withHeader = (edit: (h: Record<string, any>) => void) => {
      const h = JSON.parse(new TextDecoder().decode(encoded.subarray(8, 8 + headerLength)));
      edit(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + encoded.length - 8 - headerLength);
      out.set(encoded.subarray(0, 4));
      new DataView(out.buffer).setUint32(4, json.length);
      out.set(json, 8);
      out.set(encoded.subarray(8 + headerLength), 8 + json.length);
      return out;
    };
    const cases: Array<[Uint8Array, RegExp]> = [
      [encoded.subarray(0, encoded.length - 1), /truncated key material/],
      [new Uint8Array([...encoded, 0]), /trailing bytes/],
      [new TextEncoder().encode('CTK2xxxx'), /unknown format/],
      [withHeader((h) => (h.type = 'des')), /type/],
      [withHeader((h) => (h.latest_version = 9)), /latest version is missing/],
      [withHeader((h) => (h.versions[0].encryptions = -1)), /version fields/],
      [withHeader((h) => (h.convergent = true)), /convergent without derived/],
      [withHeader((h) => (h.versions[0].hmac_length = 31)), /HMAC key length|truncated|trailing/],
    ];
    for (const [raw, message] of cases) {
      assert.throws(
        () => decodeKey(raw, 'integrity'),
        (err: unknown) => isCofferError(err, 'integrity') && message.test(err.message),
        String(message),
      );
    }
  });

  test('a key stored by an earlier Coffer (JSON, base64 keys) still decodes, flagged for upgrade', () => {
    const material = bytes(32);
    const legacy = new TextEncoder().encode(
      JSON.stringify({
        name: 'old',
        type: 'aes256-gcm96',
        latest_version: 1,
        min_decryption_version: 1,
        min_encryption_version: 0,
        min_available_version: 0,
        deletion_allowed: false,
        versions: { '1': { key: Buffer.from(material).toString('base64'), time: 5 } },
      }),
    );
    const { key, legacy: flagged } = decodeKey(legacy, 'integrity');
    assert.equal(flagged, true);
    assert.deepEqual(key.versions.get(1)!.material, material);
    assert.equal(key.versions.get(1)!.hmacKey.length, 0, 'the engine adds the HMAC key when it loads it');
  });
});
