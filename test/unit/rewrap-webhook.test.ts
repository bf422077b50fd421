import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { webhookSignature } from '../../server/core/rotation/webhook.js';
import { enc, rewrapCore, spec } from '../helpers/rewrap.js';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver answering each request with the next status of `statuses`; `next(n)` resolves at the n-th request. */
async function receiver(t: TestContext, statuses: number[]) {
  const got: Delivery[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses[got.length - 1] ?? 200;
      res.end();
      for (const w of waiters) if (got.length >= w.n) w.resolve();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    next: (n: number) => new Promise<void>((resolve) => (got.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

test('the completion webhook is signed (HMAC over timestamp.body), retried after a 500 with backoff, and carries no secret, value or path', async (t) => {
  const delays: number[] = [];
  const { core } = await rewrapCore({ sleep: async (ms) => void delays.push(ms) });
  for (let i = 0; i < 4; i++) await core.barrier.put(`data/secret-path-${i}`, enc(`top-secret-value-${i}`));
  await core.rotate();
  const hook = await receiver(t, [500, 200]);
  const token = 'Bearer notify-token-8c1d';
  const hmacSecret = 'hmac-secret-2f7e9a4b6c';
  const job = await core.rewrap.start(spec({ notify: { endpoint: hook.url, token, hmacSecret } }));
  await core.rewrap.idle();
  await hook.next(2);
  assert.equal(hook.got.length, 2, 'retried once after the 500');
  const { headers, body } = hook.got[1]!;
  assert.equal(headers['x-coffer-signature'], webhookSignature(hmacSecret, String(headers['x-coffer-timestamp']), body));
  assert.equal(headers.authorization, token);
  const payload = JSON.parse(body);
  assert.equal(payload.event, 'rewrap.completed');
  assert.equal(payload.job_id, job.job_id);
  assert.equal(payload.entries.rewrapped >= 4, true);
  for (const needle of [token, 'notify-token-8c1d', hmacSecret, 'top-secret-value', 'secret-path', 'data/']) {
    assert.equal(body.includes(needle), false, `the payload contains ${needle}`);
  }
  assert.equal(hook.got[0]!.headers['x-coffer-event-id'], headers['x-coffer-event-id'], 'one event id across retries');
  assert.ok(delays.length >= 1);
  // The outcome is recorded on the job, and its status shows no secret either.
  const status = JSON.stringify(core.rewrap.status(await core.rewrap.get(job.job_id)));
  for (const needle of ['notify-token-8c1d', hmacSecret, 'top-secret-value']) assert.equal(status.includes(needle), false);
});

test('a webhook that keeps failing is given up after its attempts without changing the job outcome', async (t) => {
  const { core } = await rewrapCore({ sleep: async () => {} });
  await core.barrier.put('data/x', enc('x'));
  await core.rotate();
  const hook = await receiver(t, [503, 503, 503, 503, 503]);
  const job = await core.rewrap.start(spec({ notify: { endpoint: hook.url } }));
  await core.rewrap.idle();
  await hook.next(5);
  assert.equal((await core.rewrap.get(job.job_id)).state, 'completed');
});

test('progress events are sent every progressEveryPercent, then the completion event', async (t) => {
  const { core } = await rewrapCore({ sleep: async () => {} });
  for (let i = 0; i < 10; i++) await core.barrier.put(`data/k${i}`, enc(`v${i}`));
  await core.rotate();
  const hook = await receiver(t, []);
  await core.rewrap.start(spec({ execution: { batchSize: 2 }, notify: { endpoint: hook.url, progressEveryPercent: 25 } }));
  await core.rewrap.idle();
  const events = () => hook.got.map((d) => JSON.parse(d.body).event as string);
  // Deliveries run concurrently with the job: wait for the completion event, however the posts interleave.
  for (let n = 1; !events().includes('rewrap.completed'); n++) await hook.next(n);
  assert.ok(events().includes('rewrap.progress'), events().join(','));
  assert.equal(events().filter((e) => e === 'rewrap.completed').length, 1);
});
