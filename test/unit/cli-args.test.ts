import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeVaultArgs } from '../../cli/normalize-args.js';
import { formatKeyValueTable } from '../../cli/io/output.js';

test('single-dash long flags become double-dash, short flags and stdin stay', () => {
  assert.deepEqual(normalizeVaultArgs(['operator', 'init', '-key-shares=3', '-key-threshold', '2', '-n', '5', '-']), [
    'operator',
    'init',
    '--key-shares=3',
    '--key-threshold',
    '2',
    '-n',
    '5',
    '-',
  ]);
});

test('Go-style boolean values are understood and everything after -- is left alone', () => {
  assert.deepEqual(normalizeVaultArgs(['-reset=true', '-verify=false', '--format=json', '--', '-not-a-flag']), [
    '--reset',
    '--format=json',
    '--',
    '-not-a-flag',
  ]);
});

test("tables are padded like Vault's columnize output with n/a for empty values", () => {
  assert.equal(
    formatKeyValueTable([
      ['Sealed', true],
      ['Unseal Nonce', ''],
    ]),
    'Key             Value\n---             -----\nSealed          true\nUnseal Nonce    n/a\n',
  );
});
