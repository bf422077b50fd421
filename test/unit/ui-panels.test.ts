import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shortTime } from '../../server/http/ui/dom.js';
import { termsOf } from '../../server/http/ui/keys-panel.js';

// The page's modules touch the DOM only when called, so their pure parts load and run under node.

test('the key panel reads sys/key-status terms oldest first, with no entries (not 0) before any census has completed', () => {
  const status = {
    term: 3,
    terms: [
      { term: 3, install_time: '2026-01-03T00:00:00.000000000Z', state: 'active', encryptions: 1, entries: null, bytes: null },
      { term: 1, install_time: '2026-01-01T00:00:00.000000000Z', state: 'retired', encryptions: 9, entries: null, bytes: null },
      { term: 2, install_time: '2026-01-02T00:00:00.000000000Z', state: 'enabled', encryptions: 4, entries: 0, bytes: 0 },
      'not a term',
    ],
  };
  assert.deepEqual(termsOf(status), [
    { term: 1, installTime: '2026-01-01T00:00:00.000000000Z', state: 'retired', entries: undefined },
    { term: 2, installTime: '2026-01-02T00:00:00.000000000Z', state: 'enabled', entries: 0 },
    { term: 3, installTime: '2026-01-03T00:00:00.000000000Z', state: 'active', entries: undefined },
  ]);
  assert.deepEqual(termsOf({ term: 1 }), [], 'a server without per-term status shows no table rather than failing');
});

test('install and census times are shown to the second in UTC; anything else is shown as the server sent it', () => {
  assert.equal(shortTime('2026-11-30T07:56:19.581000000Z'), '2026-11-30 07:56:19 UTC');
  assert.equal(shortTime('2026-11-30T07:56:19Z'), '2026-11-30 07:56:19 UTC');
  assert.equal(shortTime('yesterday'), 'yesterday');
  assert.equal(shortTime(null), '');
});
