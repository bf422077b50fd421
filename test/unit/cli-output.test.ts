import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curlString } from '../../cli/client/curl-string.js';
import { goValue, humanDuration, padEqualSigns } from '../../cli/io/go-format.js';
import { formatHcl } from '../../cli/io/hcl-format.js';
import { dataTable, formatYaml } from '../../cli/io/output.js';
import { secretTable } from '../../cli/io/secret-output.js';
import { extractGlobalFlags } from '../../cli/normalize-args.js';

test('durations print as Vault prints them: Go Duration strings without trailing zero units', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [30, '30s'],
    [60, '1m'],
    [90, '1m30s'],
    [3600, '1h'],
    [5400, '1h30m'],
    [86400, '24h'],
    [2764800, '768h'],
    [3630, '1h30s'],
  ];
  for (const [seconds, text] of cases) assert.equal(humanDuration(seconds), text, `${seconds}s`);
});

test("values print as Go's %v: maps as map[k:v] with sorted keys, lists as [a b], null as <nil>", () => {
  assert.equal(goValue({ b: '2', a: 'x' }), 'map[a:x b:2]');
  assert.equal(goValue(['read', 'list']), '[read list]');
  assert.equal(goValue({ n: { x: [1, true] } }), 'map[n:map[x:[1 true]]]');
  assert.equal(goValue(null), '<nil>');
  assert.equal(
    dataTable({ ttl: 3600, policies: ['a', 'b'], meta: null }),
    'Key         Value\n---         -----\nmeta        <nil>\npolicies    [a b]\nttl         1h\n',
  );
});

test('a lease without an id shows as refresh_interval in the same table as the data', () => {
  assert.equal(
    secretTable({ lease_duration: 2764800, lease_id: '', data: { a: 'b' } }),
    'Key                 Value\n---                 -----\nrefresh_interval    768h\na                   b\n',
  );
});

test('section headers are padded with equal signs the way Vault pads them', () => {
  assert.equal(padEqualSigns('Secret Path', 'secret/data/creds'.length), '== Secret Path ==');
  assert.equal(padEqualSigns('Metadata', 'created_time'.length + 9), '====== Metadata ======');
  assert.equal(padEqualSigns('Data', 2), '== Data ==');
});

test('-output-curl-string shows the request with a token placeholder, never the token', () => {
  assert.equal(
    curlString({
      method: 'PUT',
      url: 'http://127.0.0.1:8200/v1/secret/data/a',
      body: { data: { it: "'s" } },
      hasToken: true,
      skipVerify: true,
      caCert: '/ca.pem',
    }),
    `curl --insecure -X PUT --cacert '/ca.pem' -H "X-Vault-Request: true" -H "X-Vault-Token: $(coffer print token)" -d '{"data":{"it":"'"'"'s"}}' "http://127.0.0.1:8200/v1/secret/data/a"`,
  );
  assert.equal(
    curlString({ method: 'GET', url: 'http://h/v1/sys/health', hasToken: false, skipVerify: false }),
    'curl -H "X-Vault-Request: true" "http://h/v1/sys/health"',
  );
});

test('-output-curl-string is taken out of the arguments wherever it stands, but not after --', () => {
  assert.deepEqual(extractGlobalFlags(['-output-curl-string', 'kv', 'get', 'x']), { args: ['kv', 'get', 'x'], outputCurlString: true });
  assert.deepEqual(extractGlobalFlags(['kv', 'get', '--output-curl-string=false', 'x']), { args: ['kv', 'get', 'x'], outputCurlString: false });
  assert.deepEqual(extractGlobalFlags(['write', 'p', '--', '-output-curl-string']), {
    args: ['write', 'p', '--', '-output-curl-string'],
    outputCurlString: false,
  });
});

test('YAML output has sorted keys, as Vault (which converts its JSON) prints it', () => {
  assert.equal(formatYaml({ b: 1, a: { d: [1, 2], c: null } }), 'a:\n  c: null\n  d:\n    - 1\n    - 2\nb: 1\n');
});

test('policy fmt: indentation, aligned =, one-line lists, blank lines between blocks, comments kept, idempotent', () => {
  const input = [
    '# team policy',
    'path "secret/data/app/*" {',
    'capabilities=["read","list"]   # basics',
    '    min_wrapping_ttl="1s"',
    '}',
    'path "secret/metadata/*" { capabilities = [',
    '  "list", # listing',
    '  "read"',
    '] }',
    '',
    '',
    '',
    'path "sys/*" {}',
  ].join('\n');
  const expected = [
    '# team policy',
    'path "secret/data/app/*" {',
    '  capabilities     = ["read", "list"] # basics',
    '  min_wrapping_ttl = "1s"',
    '}',
    '',
    'path "secret/metadata/*" {',
    '  capabilities = [',
    '    "list", # listing',
    '    "read",',
    '  ]',
    '}',
    '',
    'path "sys/*" {}',
    '',
  ].join('\n');
  assert.equal(formatHcl(input), expected);
  assert.equal(formatHcl(expected), expected);
});
