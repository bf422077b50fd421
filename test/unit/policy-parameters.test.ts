import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Acl, globMatch, type RequestFacts } from '../../server/core/policy/acl.js';
import { parsePolicy } from '../../server/core/policy/policy.js';
import { isCofferError } from '../../server/core/errors.js';

const acl = (...texts: string[]) =>
  new Acl(
    texts.map((t, i) => parsePolicy(`p${i}`, t)),
    false,
  );
const rule = (body: string, pattern = 'secret/foo') =>
  `path "${pattern}" {\n  capabilities = ["create", "read", "update", "patch", "list", "delete"]\n  ${body}\n}`;

type Case = [name: string, policies: string[], request: RequestFacts, allowed: boolean, reason?: RegExp];

/** Runs `cases` as `update` requests on secret/foo (unless the case says otherwise). */
function table(title: string, cases: Case[], operation: 'update' | 'read' | 'list' | 'delete' = 'update') {
  describe(title, () => {
    for (const [name, policies, request, allowed, reason] of cases) {
      test(name, () => {
        const decision = acl(...policies).allowsRequest('secret/foo', operation, request, false);
        assert.equal(decision.allowed, allowed, JSON.stringify(decision));
        if (reason && !decision.allowed) assert.match(decision.reason, reason);
      });
    }
  });
}

table('allowed_parameters', [
  ['an empty list allows any value of that parameter', [rule('allowed_parameters = { "bar" = [] }')], { data: { bar: 'anything' } }, true],
  [
    'a parameter that is not listed is refused',
    [rule('allowed_parameters = { "bar" = [] }')],
    { data: { bar: 'x', other: 1 } },
    false,
    /parameter "other" is not allowed/,
  ],
  ['a populated list allows only its values', [rule('allowed_parameters = { "bar" = ["zip", "zap"] }')], { data: { bar: 'zap' } }, true],
  [
    'a value outside a populated list is refused',
    [rule('allowed_parameters = { "bar" = ["zip", "zap"] }')],
    { data: { bar: 'zoo' } },
    false,
    /value of parameter "bar"/,
  ],
  [
    '"*" = [] allows every other parameter with any value',
    [rule('allowed_parameters = { "bar" = ["zip"] "*" = [] }')],
    { data: { other: 'x', bar: 'zip' } },
    true,
  ],
  [
    'with "*", listed parameters stay restricted to their values',
    [rule('allowed_parameters = { "bar" = ["zip"] "*" = [] }')],
    { data: { other: 'x', bar: 'zap' } },
    false,
  ],
  ['a trailing * matches by prefix', [rule('allowed_parameters = { "bar" = ["foo-*"] }')], { data: { bar: 'foo-123' } }, true],
  ['a trailing * does not match another prefix', [rule('allowed_parameters = { "bar" = ["foo-*"] }')], { data: { bar: 'bar-foo-1' } }, false],
  ['a leading * matches by suffix', [rule('allowed_parameters = { "bar" = ["*.example.com"] }')], { data: { bar: 'db.example.com' } }, true],
  ['* at both ends matches a substring', [rule('allowed_parameters = { "bar" = ["*prod*"] }')], { data: { bar: 'eu-prod-1' } }, true],
  [
    'a list value is allowed when every element is listed',
    [rule('allowed_parameters = { "policies" = ["a", "b"] }')],
    { data: { policies: ['a', 'b'] } },
    true,
  ],
  [
    'a list value with one unlisted element is refused',
    [rule('allowed_parameters = { "policies" = ["a", "b"] }')],
    { data: { policies: ['a', 'root'] } },
    false,
  ],
  [
    'a comma-separated string is checked element by element',
    [rule('allowed_parameters = { "policies" = ["a", "b"] }')],
    { data: { policies: 'a, root' } },
    false,
  ],
  ['numbers match their text', [rule('allowed_parameters = { "ttl" = ["60"] }')], { data: { ttl: 60 } }, true],
  ['parameter names compare case-insensitively', [rule('allowed_parameters = { "Bar" = ["zip"] }')], { data: { BAR: 'zip' } }, true],
  ['a request without parameters is allowed', [rule('allowed_parameters = { "bar" = ["zip"] }')], { data: {} }, true],
]);

table('denied_parameters', [
  [
    'an empty list denies any value of that parameter',
    [rule('denied_parameters = { "bar" = [] }')],
    { data: { bar: 'x' } },
    false,
    /parameter "bar" is denied/,
  ],
  ['other parameters stay allowed', [rule('denied_parameters = { "bar" = [] }')], { data: { baz: 'x' } }, true],
  ['a populated list denies only its values', [rule('denied_parameters = { "bar" = ["zip", "zap"] }')], { data: { bar: 'zip' } }, false],
  ['values outside a populated denied list pass', [rule('denied_parameters = { "bar" = ["zip", "zap"] }')], { data: { bar: 'zoo' } }, true],
  ['"*" denies any parameter', [rule('denied_parameters = { "*" = [] }')], { data: { anything: 1 } }, false, /all parameters are denied/],
  ['"*" still lets a request without parameters through', [rule('denied_parameters = { "*" = [] }')], {}, true],
  ['globs work in denied lists', [rule('denied_parameters = { "bar" = ["admin-*"] }')], { data: { bar: 'admin-root' } }, false],
  [
    'one denied element of a list value denies',
    [rule('denied_parameters = { "policies" = ["root"] }')],
    { data: { policies: ['a', 'root'] } },
    false,
  ],
  [
    'one denied element of a comma-separated string denies',
    [rule('denied_parameters = { "policies" = ["root"] }')],
    { data: { policies: 'a,root' } },
    false,
  ],
  ['denied names compare case-insensitively', [rule('denied_parameters = { "bar" = [] }')], { data: { Bar: 'x' } }, false],
  [
    'denied wins over allowed',
    [rule('allowed_parameters = { "bar" = [] }\n denied_parameters = { "bar" = ["zip"] }')],
    { data: { bar: 'zip' } },
    false,
  ],
  [
    'allowed values not denied pass',
    [rule('allowed_parameters = { "bar" = [] }\n denied_parameters = { "bar" = ["zip"] }')],
    { data: { bar: 'zap' } },
    true,
  ],
]);

table('required_parameters', [
  ['a request with every required parameter passes', [rule('required_parameters = ["bar", "baz"]')], { data: { bar: 1, baz: 2 } }, true],
  [
    'a missing required parameter is refused by name',
    [rule('required_parameters = ["bar", "baz"]')],
    { data: { bar: 1 } },
    false,
    /required parameter "baz" is missing/,
  ],
  ['a request without parameters misses them', [rule('required_parameters = ["bar"]')], {}, false],
  ['required names compare case-insensitively', [rule('required_parameters = ["Bar"]')], { data: { bar: 1 } }, true],
]);

table('wrapping TTL bounds', [
  ['min_wrapping_ttl makes wrapping mandatory', [rule('min_wrapping_ttl = "1s"')], {}, false, /at least 1s/],
  ['a wrap TTL at or above the minimum passes', [rule('min_wrapping_ttl = "1s"')], { wrapTtlSeconds: 60 }, true],
  ['a wrap TTL below the minimum is refused', [rule('min_wrapping_ttl = "5m"')], { wrapTtlSeconds: 60 }, false],
  ['max_wrapping_ttl also requires wrapping', [rule('max_wrapping_ttl = "90s"')], {}, false, /at most 90s/],
  ['a wrap TTL above the maximum is refused', [rule('max_wrapping_ttl = "90s"')], { wrapTtlSeconds: 91 }, false],
  ['a wrap TTL within both bounds passes', [rule('min_wrapping_ttl = 1\n max_wrapping_ttl = "1h"')], { wrapTtlSeconds: 3600 }, true],
]);

table("merging the same path across policies (Vault's merge)", [
  [
    'allowed values of the same parameter add up',
    [rule('allowed_parameters = { "bar" = ["zip"] }'), rule('allowed_parameters = { "bar" = ["zap"] }')],
    { data: { bar: 'zap' } },
    true,
  ],
  [
    'an empty list in one policy allows any value',
    [rule('allowed_parameters = { "bar" = ["zip"] }'), rule('allowed_parameters = { "bar" = [] }')],
    { data: { bar: 'zoo' } },
    true,
  ],
  [
    'allowed parameter names add up',
    [rule('allowed_parameters = { "bar" = [] }'), rule('allowed_parameters = { "baz" = [] }')],
    { data: { bar: 1, baz: 2 } },
    true,
  ],
  [
    "a policy without constraints does not lift another's allowed list",
    [rule('allowed_parameters = { "bar" = [] }'), rule('')],
    { data: { other: 1 } },
    false,
  ],
  [
    'denied values add up',
    [rule('denied_parameters = { "bar" = ["zip"] }'), rule('denied_parameters = { "bar" = ["zap"] }')],
    { data: { bar: 'zip' } },
    false,
  ],
  [
    'required parameters are unioned',
    [rule('required_parameters = ["bar"]'), rule('required_parameters = ["baz"]')],
    { data: { bar: 1 } },
    false,
    /"baz"/,
  ],
  ['the lowest max_wrapping_ttl wins', [rule('max_wrapping_ttl = "1h"'), rule('max_wrapping_ttl = "90s"')], { wrapTtlSeconds: 120 }, false],
  ['the lowest min_wrapping_ttl wins', [rule('min_wrapping_ttl = "1h"'), rule('min_wrapping_ttl = "1m"')], { wrapTtlSeconds: 120 }, true],
  [
    'merged bounds that cross deny everything',
    [rule('min_wrapping_ttl = "10m"'), rule('max_wrapping_ttl = "5m"')],
    { wrapTtlSeconds: 300 },
    false,
    /below min_wrapping_ttl/,
  ],
  [
    'a deny in another policy drops the constraints and denies',
    [rule('allowed_parameters = { "*" = [] }'), 'path "secret/foo" { capabilities = ["deny"] }'],
    { data: { bar: 1 } },
    false,
    /denied by the rule/,
  ],
]);

describe('where parameter constraints apply', () => {
  const a = acl(rule('required_parameters = ["bar"]\n denied_parameters = { "*" = [] }'));
  test('list and delete do not look at parameters (as in Vault)', () => {
    assert.equal(a.allowsRequest('secret/foo', 'list', { data: { x: 1 } }, false).allowed, true);
    assert.equal(a.allowsRequest('secret/foo', 'delete', {}, false).allowed, true);
  });
  test('read looks at parameters (query parameters), as in Vault', () => {
    assert.equal(a.allowsRequest('secret/foo', 'read', {}, false).allowed, false);
  });
  test('the capability check still comes first', () => {
    const readOnly = acl('path "secret/foo" { capabilities = ["read"]\n allowed_parameters = { "*" = [] } }');
    const decision = readOnly.allowsRequest('secret/foo', 'update', { data: {} }, false);
    assert.equal(decision.allowed, false);
    assert.match(!decision.allowed ? decision.reason : '', /does not grant update/);
  });
  test('a rule without constraints behaves as before', () => {
    assert.deepEqual(acl('path "secret/*" { capabilities = ["update"] }').allowsRequest('secret/foo', 'update', { data: { any: 1 } }, false), {
      allowed: true,
    });
  });
  test('the root policy allows any parameters', () => {
    assert.equal(new Acl([], true).allowsRequest('secret/foo', 'update', { data: { x: 1 } }).allowed, true);
  });
  test('the reason names parameters but never their values', () => {
    const decision = acl(rule('allowed_parameters = { "password" = ["*-ok"] }')).allowsRequest(
      'secret/foo',
      'update',
      { data: { password: 's3cr3t-value' } },
      false,
    );
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed && !decision.reason.includes('s3cr3t'));
  });
  test('allows() without the request refuses a constrained rule instead of skipping the constraints', () => {
    assert.equal(acl(rule('allowed_parameters = { "bar" = [] }')).allows('secret/foo', 'update', false), false);
    assert.equal(acl(rule('')).allows('secret/foo', 'update', false), true);
  });
  test('capabilities() reports the capabilities of a constrained rule', () => {
    assert.deepEqual(acl(rule('required_parameters = ["bar"]')).capabilities('secret/foo'), ['create', 'delete', 'list', 'patch', 'read', 'update']);
  });
});

describe('value globs', () => {
  const cases: Array<[string, string, boolean]> = [
    ['foo-*', 'foo-1', true],
    ['foo-*', 'xfoo-1', false],
    ['*-prod', 'eu-prod', true],
    ['*prod*', 'eu-prod-1', true],
    ['*', '*', true],
    ['*', 'anything', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
  ];
  for (const [pattern, value, expected] of cases)
    test(`${pattern} ${expected ? 'matches' : 'does not match'} ${value}`, () => assert.equal(globMatch(pattern, value), expected));
});

describe('parsing parameter constraints', () => {
  test('HCL and JSON forms give the same rule', () => {
    const hcl = parsePolicy(
      'h',
      'path "s/x" {\n capabilities = ["update"]\n allowed_parameters = { "Bar" = ["a"] }\n required_parameters = ["c"]\n max_wrapping_ttl = "90s"\n}',
    ).rules[0]!;
    const json = parsePolicy(
      'j',
      JSON.stringify({
        path: { 's/x': { capabilities: ['update'], allowed_parameters: { bar: ['a'] }, required_parameters: ['c'], max_wrapping_ttl: 90 } },
      }),
    ).rules[0]!;
    assert.deepEqual([...hcl.allowedParameters!], [['bar', ['a']]]);
    assert.deepEqual(hcl, { ...json });
  });
  const invalid: Array<[string, RegExp]> = [
    ['allowed_parameters = { "*" = ["x"] }', /"\*" only takes the empty list/],
    ['allowed_parameters = { "bar" = "zip" }', /"bar" must be a list of values/],
    ['required_parameters = "bar"', /required_parameters must be a list of names/],
    ['min_wrapping_ttl = "soon"', /min_wrapping_ttl must be a duration/],
    ['min_wrapping_ttl = "2m"\n max_wrapping_ttl = "1m"', /max_wrapping_ttl cannot be less than min_wrapping_ttl/],
    ['control_group = { }', /"control_group" is not supported/],
  ];
  for (const [body, message] of invalid) {
    test(`rejects ${body.split('\n')[0]}`, () => {
      assert.throws(
        () => parsePolicy('bad', rule(body)),
        (err) => isCofferError(err, 'invalid_request') && message.test(err.message),
      );
    });
  }
});
