import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
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
  assert.throws(
    () => parseConfig('storage "inmem" {}\n\nlog_levle = "info"\n', 'coffer.hcl'),
    configError(/^coffer\.hcl:3: unknown key "log_levle"$/),
  );
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
  assert.throws(
    () => parseConfig('listener "tcp" {\n address = "127.0.0.1:1"\n tls_cert_file = "c.pem"\n}'),
    configError(/both tls_cert_file and tls_key_file/),
  );
});

test("seal stanzas: transit with Vault's environment fallbacks, static, migration pairs, and their errors", () => {
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
    disableRenewal: false,
    tls: { skipVerify: true },
  });
  const fromEnv = parseConfig('seal "transit" {}', 'c', {
    VAULT_ADDR: 'http://127.0.0.1:8300',
    VAULT_TOKEN: 'env-token',
    VAULT_TRANSIT_SEAL_KEY_NAME: 'k',
    VAULT_TRANSIT_SEAL_MOUNT_PATH: 'kms/',
  }).seals[0]!;
  assert.equal(
    fromEnv.type === 'transit' && `${fromEnv.address} ${fromEnv.token} ${fromEnv.keyName} ${fromEnv.mountPath}`,
    'http://127.0.0.1:8300 env-token k kms/',
  );
  assert.throws(() => parseConfig('seal "transit" { address = "https://kms:8200" }', 'c', {}), configError(/needs a token/));

  assert.deepEqual(parseConfig('seal "static" { key_file = "/k" }').seals, [{ type: 'static', disabled: false, keyFile: '/k' }]);
  assert.deepEqual(parseConfig('seal "static" { current_key = "env://SEAL_KEY" }').seals, [{ type: 'static', disabled: false, keyEnv: 'SEAL_KEY' }]);
  assert.throws(() => parseConfig('seal "static" {}'), configError(/exactly one of key_file or key_env/));
  assert.throws(
    () => parseConfig('seal "static" {\n key_file = "/k"\n colour = "red"\n}'),
    configError(/config:3: unknown key "colour" in seal "static"/),
  );

  const migration = parseConfig('seal "static" { key_file = "/k" }\nseal "shamir" { disabled = "true" }').seals;
  assert.deepEqual(
    migration.map((x) => `${x.type}:${x.disabled}`),
    ['static:false', 'shamir:true'],
  );
  assert.throws(() => parseConfig('seal "static" { key_file = "/k" }\nseal "shamir" {}'), configError(/only one seal stanza may be enabled/));
  assert.throws(() => parseConfig('seal "hsm" {}'), configError(/unknown seal type "hsm"/));
});

test('the reported version matches package.json', () => {
  assert.equal(COFFER_VERSION, JSON.parse(readFileSync('package.json', 'utf8')).version);
});

/** Every Vault key of issue 17 item 3, as a Vault operator writes them. */
const VAULT_STYLE_CONFIG = `
ui            = true
disable_mlock = true
cluster_addr  = "http://127.0.0.1:8201"
cluster_name  = "prod-secrets"
api_addr      = "http://127.0.0.1:8200"
default_lease_ttl = "1h"
max_lease_ttl     = "24h"
log_level  = "warn"
log_format = "standard"
log_file   = "/var/log/coffer/"
pid_file   = "/run/coffer.pid"

storage "inmem" {}
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
telemetry {
  prometheus_retention_time = "30s"
  disable_hostname          = true
  usage_gauge_period        = "10m"
  metrics_prefix            = "vault"
  enable_hostname_label     = true
}
`;

describe("Vault's common top-level keys", () => {
  test('a config using every common Vault key parses, with each value where the server reads it', () => {
    const config = parseConfig(VAULT_STYLE_CONFIG, 'vault.hcl');
    assert.equal(config.ui, true);
    assert.equal(config.clusterName, 'prod-secrets');
    assert.equal(config.defaultLeaseTtlSeconds, 3600);
    assert.equal(config.maxLeaseTtlSeconds, 86_400);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.logFormat, 'standard');
    assert.equal(config.logFile, '/var/log/coffer/');
    assert.equal(config.pidFile, '/run/coffer.pid');
    assert.deepEqual(config.telemetry, { prometheusEnabled: true, metricsPrefix: 'vault', hostnameLabel: true });
    assert.deepEqual(config.notes.map((n) => n.key).sort(), [
      'cluster_addr',
      'disable_mlock',
      'telemetry.prometheus_retention_time',
      'telemetry.usage_gauge_period',
    ]);
  });

  test('the same config as JSON gives the same result', () => {
    const json = JSON.stringify({
      ui: true,
      disable_mlock: true,
      cluster_addr: 'http://127.0.0.1:8201',
      cluster_name: 'prod-secrets',
      api_addr: 'http://127.0.0.1:8200',
      default_lease_ttl: '1h',
      max_lease_ttl: '24h',
      log_level: 'warn',
      log_format: 'standard',
      log_file: '/var/log/coffer/',
      pid_file: '/run/coffer.pid',
      storage: { inmem: {} },
      listener: { tcp: { address: '127.0.0.1:8200', tls_disable: true } },
      telemetry: {
        prometheus_retention_time: '30s',
        disable_hostname: true,
        usage_gauge_period: '10m',
        metrics_prefix: 'vault',
        enable_hostname_label: true,
      },
    });
    assert.deepEqual(parseConfig(json), parseConfig(VAULT_STYLE_CONFIG));
  });

  test('keys with nothing to act on are accepted with a note saying why', () => {
    const notes = parseConfig(
      'cluster_addr = "https://10.0.0.1:8201"\ndisable_mlock = true\nplugin_directory = "/p"\ndisable_clustering = true',
    ).notes;
    const byKey = new Map(notes.map((n) => [n.key, n.reason]));
    assert.match(byKey.get('cluster_addr')!, /redirect clients \(307\).*no cluster port/);
    assert.match(byKey.get('disable_mlock')!, /cannot lock memory/);
    assert.match(byKey.get('plugin_directory')!, /no external plugins/);
    assert.match(byKey.get('disable_clustering')!, /no cluster listener/);
    assert.deepEqual(parseConfig('storage "inmem" {}').notes, []);
  });

  test('default_lease_ttl and max_lease_ttl take Vault durations or seconds and default to 768h', () => {
    const none = parseConfig('');
    assert.equal(none.defaultLeaseTtlSeconds, 768 * 3600);
    assert.equal(none.maxLeaseTtlSeconds, 768 * 3600);
    const set = parseConfig('default_lease_ttl = 600\nmax_lease_ttl = "1h30m"');
    assert.equal(set.defaultLeaseTtlSeconds, 600);
    assert.equal(set.maxLeaseTtlSeconds, 5400);
    assert.throws(
      () => parseConfig('default_lease_ttl = "48h"\nmax_lease_ttl = "24h"'),
      configError(/:1: default_lease_ttl cannot be larger than max_lease_ttl/),
    );
    assert.throws(() => parseConfig('\nmax_lease_ttl = "a week"'), configError(/:2: max_lease_ttl must be a duration/));
    assert.throws(() => parseConfig('default_lease_ttl = 0'), configError(/must be more than 0/));
  });

  test('log_format is json (default) or standard', () => {
    assert.equal(parseConfig('').logFormat, 'json');
    assert.equal(parseConfig('log_format = "JSON"').logFormat, 'json');
    assert.throws(() => parseConfig('log_format = "logfmt"'), configError(/:1: invalid log_format "logfmt" \(json or standard\)/));
  });

  test('ui is off unless set, on in the embedded default, and takes effect without a note', () => {
    assert.equal(parseConfig('').ui, false);
    assert.equal(parseConfig(DEFAULT_CONFIG_TEXT).ui, true);
    assert.equal(parseConfig('ui = true').notes.length, 0);
    assert.equal(parseConfig('ui = false').notes.length, 0);
    assert.throws(() => parseConfig('ui = "maybe"'), configError(/ui must be a boolean/));
  });

  test('log_file, pid_file and cluster_name must be non-empty strings', () => {
    for (const key of ['log_file', 'pid_file', 'cluster_name']) {
      assert.throws(() => parseConfig(`${key} = ""`), configError(new RegExp(`${key} must be a non-empty string`)));
    }
  });

  test('storage "file" and "raft" name the backends Coffer has, postgresql among them', () => {
    for (const type of ['file', 'raft']) {
      assert.throws(
        () => parseConfig(`ui = true\nstorage "${type}" {\n  path = "/opt/vault/data"\n}`, 'vault.hcl'),
        configError(new RegExp(`^vault\\.hcl:2: storage "${type}" is not available in Coffer: use storage "leveldb".*inmem.*storage "postgresql"`)),
      );
    }
  });

  test('backend is read as the old name of storage', () => {
    assert.deepEqual(parseConfig('backend "leveldb" { path = "/d" }').storage, { type: 'leveldb', path: '/d' });
    assert.throws(() => parseConfig('backend "inmem" {}\nstorage "inmem" {}'), configError(/either storage or its old name backend/));
  });

  test('keys that would promise missing features are refused by name and line', () => {
    assert.throws(
      () => parseConfig('storage "inmem" {}\nha_storage "consul" {}', 'c.hcl'),
      configError(/^c\.hcl:2: Coffer takes its HA lock from the storage itself: use storage "postgresql"/),
    );
    assert.throws(() => parseConfig('raw_storage_endpoint = true'), configError(/no sys\/raw endpoint/));
  });

  test('telemetry: prometheus_retention_time = 0 turns Prometheus off; push sinks and unknown keys are refused', () => {
    assert.equal(parseConfig('telemetry { prometheus_retention_time = "0s" }').telemetry.prometheusEnabled, false);
    assert.equal(parseConfig('telemetry { prometheus_retention_time = 0 }').notes.length, 0);
    assert.deepEqual(parseConfig('').telemetry, { prometheusEnabled: true, metricsPrefix: 'coffer', hostnameLabel: false });
    assert.match(parseConfig('telemetry { disable_hostname = false }').notes[0]!.reason, /never prefixes metric names with the hostname/);
    assert.equal(parseConfig('telemetry { disable_hostname = true }').notes.length, 0);
    assert.throws(
      () => parseConfig('ui = false\ntelemetry {\n  statsd_address = "127.0.0.1:8125"\n}'),
      configError(/:3: telemetry statsd_address: Coffer does not push metrics/),
    );
    assert.throws(() => parseConfig('telemetry {\n  colour = "red"\n}'), configError(/:2: unknown key "colour" in telemetry/));
    assert.throws(() => parseConfig('telemetry { metrics_prefix = "my-app" }'), configError(/metrics_prefix must be a Prometheus name/));
  });

  test('an unknown top-level key is still an error naming key and line', () => {
    assert.throws(() => parseConfig('ui = true\ncluster_adr = "x"', 'v.hcl'), configError(/^v\.hcl:2: unknown key "cluster_adr"$/));
  });
});

test('keyring_trim_grace takes a Go duration (default 72h) and refuses anything else, naming the key and line', () => {
  assert.equal(parseConfig('storage "inmem" {}').keyringTrimGraceSeconds, 72 * 3600);
  assert.equal(parseConfig('storage "inmem" {}\nkeyring_trim_grace = "168h"').keyringTrimGraceSeconds, 168 * 3600);
  assert.throws(
    () => parseConfig('storage "inmem" {}\nkeyring_trim_grace = "a week"'),
    (err: unknown) => err instanceof Error && /:2: keyring_trim_grace must be a duration/.test(err.message),
  );
});

test("disable_cache and cache_size take effect: the storage read cache is on with Vault's 131072 entries unless told otherwise", () => {
  const base = 'storage "inmem" {}\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}\n';
  const plain = parseConfig(base);
  assert.equal(plain.disableCache, false);
  assert.equal(plain.cacheSize, 131_072);
  const tuned = parseConfig(`${base}disable_cache = true\ncache_size = "5000"\n`);
  assert.equal(tuned.disableCache, true);
  assert.equal(tuned.cacheSize, 5000);
  assert.equal(parseConfig(`${base}cache_size = 0\n`).cacheSize, 131_072);
  assert.ok(!tuned.notes.some((n) => n.key === 'disable_cache'), 'disable_cache is no longer a key without effect');
  assert.throws(() => parseConfig(`${base}cache_size = -1\n`), configError(/cache_size/));
  assert.throws(() => parseConfig(`${base}cache_size = 1.5\n`), configError(/cache_size/));
  assert.throws(() => parseConfig(`${base}disable_cache = "maybe"\n`), configError(/disable_cache/));
});
