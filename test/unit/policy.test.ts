import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Acl, isSudoPath } from '../../server/core/policy/acl.js';
import { comparePriority, parsePolicy, patternMatches } from '../../server/core/policy/policy.js';
import { isCofferError } from '../../server/core/errors.js';

const acl = (...texts: string[]) =>
  new Acl(
    texts.map((t, i) => parsePolicy(`p${i}`, t)),
    false,
  );

describe('policy pattern matching', () => {
  const cases: Array<[string, string, boolean]> = [
    ['secret/foo', 'secret/foo', true],
    ['secret/foo', 'secret/foo/bar', false],
    ['secret/*', 'secret/foo/bar', true],
    ['secret/*', 'secret/', true],
    ['secret/*', 'secret', false],
    ['secret/zip-*', 'secret/zip-code', true],
    ['secret/zip-*', 'secret/zap', false],
    ['secret/+/teamb', 'secret/a/teamb', true],
    ['secret/+/teamb', 'secret/a/b/teamb', false],
    ['secret/+/teamb', 'secret//teamb', false],
    ['secret/+/+/x', 'secret/a/b/x', true],
    ['secret/+/tea*', 'secret/a/team/more', true],
    ['+/data/*', 'kv/data/app/db', true],
  ];
  for (const [pattern, path, expected] of cases) {
    test(`${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, () => assert.equal(patternMatches(pattern, path), expected));
  }
});

describe('policy priority (higher wins)', () => {
  const higher: Array<[string, string]> = [
    ['secret/foo', 'secret/*'], // exact beats glob
    ['secret/foo/*', 'secret/*'], // the first wildcard comes later
    ['secret/+/bar', 'secret/*'], // wildcard at the same place: a pattern not ending in * wins
    ['secret/a/+', 'secret/+/b'], // first wildcard later
    ['secret/+/b', 'secret/+/+'], // fewer + segments
    ['secret/abc*', 'secret/ab*'], // longer
    ['secret/b*', 'secret/a*'], // same length: lexicographically greater
  ];
  for (const [a, b] of higher) {
    test(`${a} outranks ${b}`, () => {
      assert.ok(comparePriority(a, b) > 0);
      assert.ok(comparePriority(b, a) < 0);
    });
  }
});

describe('ACL evaluation', () => {
  test('deny by default', () => {
    const a = acl('path "secret/app" { capabilities = ["read"] }');
    assert.equal(a.allows('secret/other', 'read'), false);
    assert.deepEqual(a.capabilities('secret/other'), ['deny']);
  });

  test('only the highest-priority matching pattern applies', () => {
    const a = acl('path "secret/*" { capabilities = ["read", "update"] }\npath "secret/locked" { capabilities = ["read"] }');
    assert.equal(a.allows('secret/open', 'update'), true);
    assert.equal(a.allows('secret/locked', 'update'), false);
    assert.equal(a.allows('secret/locked', 'read'), true);
  });

  test('deny overrides every other capability of the same path, across policies', () => {
    const a = acl('path "secret/x" { capabilities = ["read", "sudo", "update"] }', 'path "secret/x" { capabilities = ["deny"] }');
    assert.deepEqual(a.capabilities('secret/x'), ['deny']);
    assert.equal(a.allows('secret/x', 'read'), false);
  });

  test('rules for the same path in several policies are unioned', () => {
    const a = acl('path "secret/x" { capabilities = ["read"] }', 'path "secret/x" { capabilities = ["update"] }');
    assert.deepEqual(a.capabilities('secret/x'), ['read', 'update']);
  });

  test('a deny on a lower-priority pattern does not override a higher one', () => {
    const a = acl('path "secret/*" { capabilities = ["deny"] }', 'path "secret/ok" { capabilities = ["read"] }');
    assert.equal(a.allows('secret/ok', 'read'), true);
    assert.equal(a.allows('secret/other', 'read'), false);
  });

  test('sudo paths need sudo in addition to the operation', () => {
    assert.ok(isSudoPath('sys/rotate') && isSudoPath('sys/seal') && isSudoPath('sys/audit/file'));
    assert.ok(!isSudoPath('sys/rotate/config') && !isSudoPath('sys/key-status'));
    const without = acl('path "sys/rotate" { capabilities = ["update"] }');
    const withSudo = acl('path "sys/rotate" { capabilities = ["update", "sudo"] }');
    assert.equal(without.allows('sys/rotate', 'update'), false);
    assert.equal(withSudo.allows('sys/rotate', 'update'), true);
    assert.equal(withSudo.allows('sys/rotate', 'read'), false);
  });

  test('the root policy allows everything', () => {
    const root = new Acl([], true);
    assert.equal(root.allows('anything/at/all', 'delete', true), true);
  });

  test('the legacy policy shorthand still works', () => {
    const a = acl('path "secret/*" { policy = "read" }');
    assert.equal(a.allows('secret/a', 'list'), true);
    assert.equal(a.allows('secret/a', 'update'), false);
  });
});

describe('policy parsing', () => {
  test('JSON policies are accepted', () => {
    const p = parsePolicy('j', JSON.stringify({ path: { 'secret/*': { capabilities: ['read'] } } }));
    assert.deepEqual([...p.rules[0]!.capabilities], ['read']);
  });

  const invalid: Array<[string, RegExp]> = [
    ['path "secret/*" { capabilities = ["reed"] }', /invalid capability "reed"/],
    ['path "secret/*/x" { capabilities = ["read"] }', /only allowed as the last character/],
    ['path "secret/x" { capabilities = ["read"] mfa_methods = ["m"] }', /"mfa_methods" is not supported/],
    ['pathh "x" { capabilities = ["read"] }', /unknown key "pathh"/],
    ['', /policy is empty/],
    ['path "x" {', /failed to parse policy/],
  ];
  for (const [text, message] of invalid) {
    test(`rejects ${JSON.stringify(text).slice(0, 60)}`, () => {
      assert.throws(
        () => parsePolicy('bad', text),
        (err) => isCofferError(err, 'invalid_request') && message.test(err.message),
      );
    });
  }
});
