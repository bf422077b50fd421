import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_CONFIG_TEXT, loadConfigFile, parseConfig } from '../../server/config/load-config.js';
import { isCofferError } from '../../server/core/errors.js';
import { COFFER_VERSION } from '../../shared/version.js';

const configError = (pattern: RegExp) => (err: unknown) => isCofferError(err, 'config') && pattern.test(err.message);

test('the embedded default is LevelDB under ./data on 127.0.0.1:8200 over plain HTTP', () => {
  const config = parseConfig(DEFAULT_CONFIG_TEXT);
  assert.deepEqual(config.storage, { type: 'leveldb', path: './data' });
  assert.deepEqual(config.listeners, [{ address: '127.0.0.1:8200', host: '127.0.0.1', port: 8200 }]);
  assert.equal(config.apiAddr, 'http://127.0.0.1:8200');
  assert.equal(config.logLevel, 'info');
  assert.equal(config.disableUnauthedRekeyEndpoints, false);
});

test('vault.hcl.example parses', () => {
  const config = loadConfigFile('vault.hcl.example');
  assert.equal(config.storage.type, 'leveldb');
});

test('HCL and the equivalent JSON give the same configuration', () => {
  const hcl = parseConfig(`
storage "inmem" {}
listener "tcp" {
  address       = "0.0.0.0:8443"
  tls_cert_file = "/etc/coffer/cert.pem"
  tls_key_file  = "/etc/coffer/key.pem"
}
log_level = "debug"
disable_unauthed_rekey_endpoints = true
`);
  const json = parseConfig(
    JSON.stringify({
      storage: { inmem: {} },
      listener: { tcp: { address: '0.0.0.0:8443', tls_cert_file: '/etc/coffer/cert.pem', tls_key_file: '/etc/coffer/key.pem' } },
      log_level: 'debug',
      disable_unauthed_rekey_endpoints: true,
    }),
  );
  assert.deepEqual(hcl, json);
  assert.deepEqual(hcl.listeners[0]!.tls, { certFile: '/etc/coffer/cert.pem', keyFile: '/etc/coffer/key.pem' });
  assert.equal(hcl.apiAddr, 'https://0.0.0.0:8443');
});

test('an unknown top-level key is rejected by name and line', () => {
  assert.throws(() => parseConfig('storage "inmem" {}\n\nlog_levle = "info"\n', 'coffer.hcl'), configError(/^coffer\.hcl:3: unknown key "log_levle"$/));
});

test('an unknown key inside a block is rejected by name, block and line', () => {
  const text = 'storage "leveldb" {\n  path = "./d"\n}\nlistener "tcp" {\n  address = "127.0.0.1:1"\n  tls_disabled = true\n}\n';
  assert.throws(() => parseConfig(text, 'c.hcl'), configError(/^c\.hcl:6: unknown key "tls_disabled" in listener "tcp"$/));
});

test('unknown block types are rejected', () => {
  assert.throws(() => parseConfig('storage "consul" { address = "x" }'), configError(/:1: unknown storage type "consul"/));
  assert.throws(() => parseConfig('listener "unix" { address = "/tmp/s" }'), configError(/unknown listener type "unix"/));
  assert.throws(() => parseConfig('storage { path = "x" }'), configError(/storage block needs a type label/));
});

test('syntax errors report the parser position', () => {
  assert.throws(() => parseConfig('storage "inmem" {\n', 'bad.hcl'), configError(/^bad\.hcl: At \d+:\d+/));
});

test('a non-loopback listener without TLS refuses to start unless tls_disable is set', () => {
  assert.throws(() => parseConfig('listener "tcp" { address = "0.0.0.0:8200" }'), configError(/non-loopback address/));
  const allowed = parseConfig('listener "tcp" {\n address = "0.0.0.0:8200"\n tls_disable = "true"\n}');
  assert.equal(allowed.listeners[0]!.tls, undefined);
  assert.equal(parseConfig('listener "tcp" { address = "127.0.0.1:8200" }').listeners[0]!.tls, undefined);
  assert.throws(() => parseConfig('listener "tcp" {\n address = "127.0.0.1:1"\n tls_disable = false\n}'), configError(/no tls_cert_file/));
  assert.throws(() => parseConfig('listener "tcp" {\n address = "127.0.0.1:1"\n tls_cert_file = "c.pem"\n}'), configError(/both tls_cert_file and tls_key_file/));
});

test('seal stanzas: transit with Vault\'s environment fallbacks, static, migration pairs, and their errors', () => {
  const transit = parseConfig(
    'seal "transit" {\n address = "https://kms:8200"\n token = "t0ken"\n key_name = "autounseal"\n mount_path = "transit/"\n tls_skip_verify = "true"\n}',
  ).seals[0]!;
  assert.deepEqual(transit, {
    type: 'transit',
    disabled: false,
    address: 'https://kms:8200',
    token: 't0ken',
    keyName: 'autounseal',
    mountPath: 'transit/',
    tls: { skipVerify: true },
  });
  const fromEnv = parseConfig('seal "transit" {}', 'c', {
    VAULT_ADDR: 'http://127.0.0.1:8300',
    VAULT_TOKEN: 'env-token',
    VAULT_TRANSIT_SEAL_KEY_NAME: 'k',
    VAULT_TRANSIT_SEAL_MOUNT_PATH: 'kms/',
  }).seals[0]!;
  assert.equal(fromEnv.type === 'transit' && `${fromEnv.address} ${fromEnv.token} ${fromEnv.keyName} ${fromEnv.mountPath}`, 'http://127.0.0.1:8300 env-token k kms/');
  assert.throws(() => parseConfig('seal "transit" { address = "https://kms:8200" }', 'c', {}), configError(/needs a token/));

  assert.deepEqual(parseConfig('seal "static" { key_file = "/k" }').seals, [{ type: 'static', disabled: false, keyFile: '/k' }]);
  assert.deepEqual(parseConfig('seal "static" { current_key = "env://SEAL_KEY" }').seals, [{ type: 'static', disabled: false, keyEnv: 'SEAL_KEY' }]);
  assert.throws(() => parseConfig('seal "static" {}'), configError(/exactly one of key_file or key_env/));
  assert.throws(() => parseConfig('seal "static" {\n key_file = "/k"\n colour = "red"\n}'), configError(/config:3: unknown key "colour" in seal "static"/));

  const migration = parseConfig('seal "static" { key_file = "/k" }\nseal "shamir" { disabled = "true" }').seals;
  assert.deepEqual(migration.map((x) => `${x.type}:${x.disabled}`), ['static:false', 'shamir:true']);
  assert.throws(() => parseConfig('seal "static" { key_file = "/k" }\nseal "shamir" {}'), configError(/only one seal stanza may be enabled/));
  assert.throws(() => parseConfig('seal "hsm" {}'), configError(/unknown seal type "hsm"/));
});

test('the reported version matches package.json', () => {
  assert.equal(COFFER_VERSION, JSON.parse(readFileSync('package.json', 'utf8')).version);
});

test('keyring_trim_grace takes a Go duration (default 72h) and refuses anything else, naming the key and line', () => {
  assert.equal(parseConfig('storage "inmem" {}').keyringTrimGraceSeconds, 72 * 3600);
  assert.equal(parseConfig('storage "inmem" {}\nkeyring_trim_grace = "168h"').keyringTrimGraceSeconds, 168 * 3600);
  assert.throws(
    () => parseConfig('storage "inmem" {}\nkeyring_trim_grace = "a week"'),
    (err: unknown) => err instanceof Error && /:2: keyring_trim_grace must be a duration/.test(err.message),
  );
});
