import assert from 'node:assert/strict';
import { createHash, createHmac, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/test-server.js';
import { transitServer } from '../helpers/transit.js';

import { pythonWithHvac, run } from '../helpers/hvac.js';

/** Every hvac transit call the issue names, through hvac's own request building; prints what came back as JSON. */
const SCRIPT = String.raw`
import base64, json, os, sys
import hvac

client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
transit = client.secrets.transit
b64 = lambda text: base64.b64encode(text.encode()).decode()
out = {"types": {}, "signatures": {}}

for key_type in ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "rsa-4096"]:
    transit.create_key(name="k-" + key_type, key_type=key_type, exportable=True, allow_plaintext_backup=True)
    out["types"][key_type] = transit.read_key(name="k-" + key_type)["data"]["type"]
# hvac's own type list lacks aes128-gcm96, so it goes through the generic write.
client.write("transit/keys/k-aes128-gcm96", type="aes128-gcm96")
out["types"]["aes128-gcm96"] = transit.read_key(name="k-aes128-gcm96")["data"]["type"]

for key_type, options in [
    ("ed25519", {}),
    ("ecdsa-p256", {}),
    ("ecdsa-p256", {"marshaling_algorithm": "jws"}),
    ("ecdsa-p384", {"hash_algorithm": "sha2-384"}),
    ("ecdsa-p521", {"hash_algorithm": "sha2-512"}),
    ("rsa-2048", {}),
    ("rsa-2048", {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"}),
]:
    signature = transit.sign_data(name="k-" + key_type, hash_input=b64("hvac message"), **options)["data"]["signature"]
    valid = transit.verify_signed_data(name="k-" + key_type, hash_input=b64("hvac message"), signature=signature, **options)["data"]["valid"]
    tampered = transit.verify_signed_data(name="k-" + key_type, hash_input=b64("hvac messagE"), signature=signature, **options)["data"]["valid"]
    out["signatures"][key_type + json.dumps(options)] = {"signature": signature, "valid": valid, "tampered": tampered}

mac = transit.generate_hmac(name="k-aes256-gcm96", hash_input=b64("mac me"), algorithm="sha2-256")["data"]["hmac"]
out["hmac"] = mac
out["hmac_valid"] = transit.verify_signed_data(name="k-aes256-gcm96", hash_input=b64("mac me"), hmac=mac)["data"]["valid"]
out["hmac_key"] = transit.export_key(name="k-aes256-gcm96", key_type="hmac-key")["data"]["keys"]["1"]
out["hash"] = transit.hash_data(hash_input=b64("abc"), algorithm="sha2-512", output_format="hex")["data"]["sum"]
out["random"] = transit.generate_random_bytes(n_bytes=24, output_format="hex")["data"]["random_bytes"]
out["ecdsa_private"] = transit.export_key(name="k-ecdsa-p256", key_type="signing-key")["data"]["keys"]["1"]
out["ecdsa_public"] = transit.read_key(name="k-ecdsa-p256")["data"]["keys"]["1"]["public_key"]
out["latest"] = list(transit.export_key(name="k-rsa-2048", key_type="encryption-key", version="latest")["data"]["keys"].keys())

ciphertext = transit.encrypt_data(name="k-chacha20-poly1305", plaintext=b64("kept in a backup"))["data"]["ciphertext"]
backup = transit.backup_key(name="k-chacha20-poly1305")["data"]["backup"]
transit.restore_key(backup=backup, name="restored")
out["restored_plaintext"] = base64.b64decode(transit.decrypt_data(name="restored", ciphertext=ciphertext)["data"]["plaintext"]).decode()
try:
    transit.restore_key(backup=backup, name="restored")
    out["restore_without_force"] = "accepted"
except hvac.exceptions.InvalidRequest as err:
    out["restore_without_force"] = str(err).split(",")[0]
transit.restore_key(backup=backup, name="restored", force=True)
out["restore_with_force"] = "ok"
print(json.dumps(out))
`;

test('hvac transit calls (create_key per type, sign/verify, hmac, hash, random, export, backup, restore) work against Coffer', async (t) => {
  const python = await pythonWithHvac();
  if (!python) return t.skip('python3 with hvac is not installed (Debian: apt-get install python3-hvac)');
  const ts = await transitServer(t);
  const dir = await tempDir(t);
  const script = path.join(dir, 'hvac_transit.py');
  await writeFile(script, SCRIPT);
  const { stdout } = await run(python, [script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, VAULT_ADDR: ts.server.url, VAULT_TOKEN: ts.root },
    timeout: 120_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);

  for (const [asked, got] of Object.entries(out.types)) assert.equal(got, asked);
  assert.equal(Object.keys(out.types).length, 10);
  for (const [name, result] of Object.entries<{ signature: string; valid: boolean; tampered: boolean }>(out.signatures)) {
    assert.match(result.signature, /^vault:v1:[A-Za-z0-9+/_-]+=*$/, name);
    assert.deepEqual([result.valid, result.tampered], [true, false], name);
  }
  // What hvac got back is also right by node:crypto's measure.
  const ecSig = out.signatures['ecdsa-p256{}'].signature.slice('vault:v1:'.length);
  assert.ok(verify('sha256', Buffer.from('hvac message'), createPublicKey(out.ecdsa_public), Buffer.from(ecSig, 'base64')));
  assert.equal(createPublicKey(createPrivateKey(out.ecdsa_private)).export({ format: 'pem', type: 'spki' }).toString().trim(), out.ecdsa_public);
  assert.equal(out.hmac, `vault:v1:${createHmac('sha256', Buffer.from(out.hmac_key, 'base64')).update('mac me').digest('base64')}`);
  assert.equal(out.hmac_valid, true);
  assert.equal(out.hash, createHash('sha512').update('abc').digest('hex'));
  assert.match(out.random, /^[0-9a-f]{48}$/);
  assert.deepEqual(out.latest, ['1']);
  assert.equal(out.restored_plaintext, 'kept in a backup');
  assert.equal(out.restore_without_force, 'key "restored" already exists');
  assert.equal(out.restore_with_force, 'ok');
});
