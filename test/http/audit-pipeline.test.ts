import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { AuditBroker } from '../../server/core/audit/audit-broker.js';
import type { AuditSink } from '../../server/core/audit/file-device.js';
import type { Barrier, BarrierOp } from '../../server/core/barrier/barrier.js';
import { systemClock, systemRandom } from '../../server/core/clock.js';
import type { MountTable } from '../../server/core/mounts/mount-table.js';
import { NO_OBSERVER } from '../../server/core/observer.js';
import type { TokenStore } from '../../server/core/token/token-store.js';
import { createLogger } from '../../server/log/logger.js';
import { CofferMetrics } from '../../server/metrics/metrics.js';
import type { Authorizer } from '../../server/http/authorizer.js';
import { createPipeline } from '../../server/http/pipeline.js';
import { RequestAuditor } from '../../server/http/request-audit.js';
import { json, type RouteTable } from '../../server/http/routes/route-table.js';

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
  list() {
    return Promise.resolve([]);
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

/** A sink that accepts request records and refuses response records. */
class RequestsOnlySink implements AuditSink {
  readonly lines: string[] = [];
  write(line: string): Promise<void> {
    if (line.includes('"type":"response"')) return Promise.reject(new Error('disk full'));
    this.lines.push(line);
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
}

test('a response nobody could record becomes an opaque 500 after the operation ran, and its after-delivery work is not run', async (t) => {
  const sink = new RequestsOnlySink();
  const broker = new AuditBroker({
    barrier: new MapBarrier(),
    clock: systemClock,
    random: systemRandom,
    logger: createLogger('silent'),
    observer: NO_OBSERVER,
    sinkFor: () => sink,
  });
  await broker.enable('only', 'file', '', { file_path: '/unused', skip_test: 'true' });
  let ran = 0;
  let delivered = 0;
  const routes: RouteTable = {
    'sys/effect': {
      PUT: (ctx) => {
        ran++;
        ctx.afterDelivery(() => {
          delivered++;
          return Promise.resolve();
        }, 'the effect');
        return Promise.resolve(json(200, { secret: 'shown-only-if-recorded' }));
      },
    },
  };
  const app = createPipeline({
    routes,
    fallback: () => Promise.resolve(json(404, {})),
    help: () => undefined,
    authorizer: undefined as unknown as Authorizer,
    logger: createLogger('silent'),
    metrics: new CofferMetrics(),
    auditor: new RequestAuditor({
      broker,
      tokens: undefined as unknown as TokenStore,
      mounts: undefined as unknown as MountTable,
      clock: systemClock,
    }),
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/sys/effect`;
  const res = await fetch(url, { method: 'PUT', body: '{"v":"x"}' });
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { errors: ['internal error'] });
  assert.equal(ran, 1, 'the request was recorded, so the operation ran');
  assert.equal(sink.lines.length, 1);
  assert.equal(delivered, 0, 'the reply was not delivered: its after-delivery work did not run');
});
