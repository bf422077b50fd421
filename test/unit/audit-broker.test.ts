import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditBroker, hashEntry } from '../../server/core/audit/audit-broker.js';
import { hashStructure, identifiedHmac, isRfc3339 } from '../../server/core/audit/audit-hash.js';
import { deviceSettings } from '../../server/core/audit/audit-options.js';
import type { AuditEntry } from '../../server/core/audit/audit-record.js';
import type { AuditSink } from '../../server/core/audit/file-device.js';
import type { Barrier, BarrierOp } from '../../server/core/barrier/barrier.js';
import { systemRandom } from '../../server/core/clock.js';
import { isCofferError } from '../../server/core/errors.js';
import { NO_OBSERVER } from '../../server/core/observer.js';
import { createLogger } from '../../server/log/logger.js';

/** A barrier over a Map: the broker only needs get/list/batch. */
class MapBarrier implements Barrier {
  readonly sealed = false;
  readonly data = new Map<string, Uint8Array>();
  get(p: string) {
    return Promise.resolve(this.data.get(p));
  }
  has(p: string) {
    return Promise.resolve(this.data.has(p));
  }
  put(p: string, v: Uint8Array) {
    this.data.set(p, v);
    return Promise.resolve();
  }
  delete(p: string) {
    this.data.delete(p);
    return Promise.resolve();
  }
  list(prefix: string) {
    return Promise.resolve([...this.data.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
  }
  batch(ops: readonly BarrierOp[]) {
    for (const op of ops)
      if (op.type === 'put') this.data.set(op.path, op.value);
      else this.data.delete(op.path);
    return Promise.resolve();
  }
  encryptOp(): never {
    throw new Error('not used');
  }
}

/** A sink whose writes wait until the test releases them (or never, for a hung device). */
class HeldSink implements AuditSink {
  lines: string[] = [];
  constructor(private readonly mode: 'ok' | 'hang' | 'fail') {}
  write(line: string): Promise<void> {
    if (this.mode === 'hang') return new Promise<void>(() => {});
    if (this.mode === 'fail') return Promise.reject(new Error('broken'));
    this.lines.push(line);
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
}

function brokerWith(sinks: Record<string, HeldSink>, fireTimeouts: Array<() => void>, counts: { device: string[]; log: string[] }) {
  return new AuditBroker({
    barrier: new MapBarrier(),
    clock: { now: () => new Date('2026-01-01T00:00:00Z') },
    random: systemRandom,
    logger: createLogger('silent'),
    observer: { ...NO_OBSERVER, auditDeviceFailure: (p) => counts.device.push(p), auditLogFailure: (k) => counts.log.push(k) },
    sinkFor: (entry) => sinks[entry.path]!,
    // Timeouts fire only when the test says so: no real time passes.
    delay: () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      fireTimeouts.push(resolve);
      return { promise, cancel: () => {} };
    },
  });
}

const entry = (): AuditEntry => ({
  type: 'request',
  time: '2026-01-01T00:00:00Z',
  request: { id: 'r1', operation: 'update', path: 'secret/data/x', data: { v: 'value' } },
});

test('a hung device is bounded by its write timeout: the record counts as logged by the other device', async () => {
  const timeouts: Array<() => void> = [];
  const counts = { device: [] as string[], log: [] as string[] };
  const sinks = { 'good/': new HeldSink('ok'), 'hung/': new HeldSink('hang') };
  const broker = brokerWith(sinks, timeouts, counts);
  await broker.enable('good', 'file', '', { file_path: '/unused', skip_test: 'true' });
  await broker.enable('hung', 'file', '', { file_path: '/unused2', skip_test: 'true' });
  const logged = broker.logRequest(entry());
  // Both writes and their timers start synchronously; the good write has already finished, so firing every timer
  // only times out the hung one.
  assert.equal(timeouts.length, 2);
  for (const fire of timeouts) fire();
  await logged;
  assert.equal(sinks['good/'].lines.length, 1);
  assert.deepEqual(counts.device, ['hung/']);
  assert.deepEqual(counts.log, []);
});

test('with every device failing the broker refuses (fail closed) and counts it', async () => {
  const counts = { device: [] as string[], log: [] as string[] };
  const broker = brokerWith({ 'a/': new HeldSink('fail'), 'b/': new HeldSink('fail') }, [], counts);
  await broker.enable('a', 'file', '', { file_path: '/a', skip_test: 'true' });
  await broker.enable('b', 'file', '', { file_path: '/b', skip_test: 'true' });
  await assert.rejects(broker.logResponse({ ...entry(), type: 'response' }), (err) => isCofferError(err, 'internal'));
  assert.deepEqual(counts.device.sort(), ['a/', 'b/']);
  assert.deepEqual(counts.log, ['response']);
});

test('a device whose test record fails is not enabled', async () => {
  const counts = { device: [] as string[], log: [] as string[] };
  const broker = brokerWith({ 'a/': new HeldSink('fail') }, [], counts);
  await assert.rejects(broker.enable('a', 'file', '', { file_path: '/a' }), /audit backend failed test message: broken/);
  assert.equal(broker.list().length, 0);
  assert.equal(broker.enabled, false);
});

test('the HMAC walker hashes every string at any depth but not map keys, timestamps, numbers, booleans or nulls', () => {
  const salt = new Uint8Array(32).fill(7);
  const h = (s: string) => identifiedHmac(salt, s);
  const out = hashStructure(
    { a: 'x', n: 3, b: true, z: null, list: ['y', 1, { deep: 'w' }], t: '2026-01-01T10:00:00.123456Z', off: '2026-01-01T10:00:00+02:00' },
    salt,
  );
  assert.deepEqual(out, {
    a: h('x'),
    n: 3,
    b: true,
    z: null,
    list: [h('y'), 1, { deep: h('w') }],
    t: '2026-01-01T10:00:00.123456Z',
    off: '2026-01-01T10:00:00+02:00',
  });
  assert.match(h('x'), /^hmac-sha256:[0-9a-f]{64}$/);
  assert.equal(isRfc3339('2026-13-45T99:00:00Z'), false, 'a timestamp-shaped string that is no date is hashed');
  assert.equal(isRfc3339('2026-01-01 10:00:00Z'), false);
});

test('hmac_accessor=false leaves accessors in clear but still hashes tokens; elide_list_responses replaces keys by their count', () => {
  const salt = new Uint8Array(32).fill(1);
  const record: AuditEntry = {
    type: 'response',
    time: '2026-01-01T00:00:00Z',
    auth: { client_token: 'hvs.token', accessor: 'acc' },
    request: { id: 'r', operation: 'list', path: 'secret/metadata/', client_token: 'hvs.token', client_token_accessor: 'acc' },
    response: { data: { keys: ['a', 'b', 'c'], key_info: { a: {}, b: {} } }, wrap_info: { token: 'hvs.wrap', accessor: 'wacc' } },
  };
  const out = hashEntry(record, salt, deviceSettings({ hmac_accessor: 'false', elide_list_responses: 'true' }));
  assert.equal(out.auth!.accessor, 'acc');
  assert.equal(out.request.client_token_accessor, 'acc');
  assert.equal(out.auth!.client_token, identifiedHmac(salt, 'hvs.token'));
  assert.equal(out.response!.wrap_info!.token, identifiedHmac(salt, 'hvs.wrap'), 'wrapping tokens are always hashed');
  assert.deepEqual(out.response!.data, { keys: 3, key_info: 2 });
  assert.deepEqual(record.response!.data, { keys: ['a', 'b', 'c'], key_info: { a: {}, b: {} } }, 'the shared record is not modified');
});
