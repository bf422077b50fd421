import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { RewrapService } from './job-runner.js';
import type { JobNotifier } from './rewrap-deps.js';
import type { JobRecord } from './rewrap-job.js';
import { endpointProblem } from './rewrap-spec.js';

export const WEBHOOK_ATTEMPTS = 5;
export const WEBHOOK_FIRST_DELAY_MS = 1000;
export const WEBHOOK_TIMEOUT_MS = 10_000;

export interface WebhookDeps {
  clock: Clock;
  logger: Logger;
  /** Waits between attempts (injected so tests need no real time). */
  sleep(ms: number): Promise<void>;
  fetch?: typeof fetch;
  attempts?: number;
  firstDelayMs?: number;
}

/**
 * The payload of a job event: counts and terms only — never a value, a path, key material, the token or the HMAC
 * secret (the failures list stays behind `sys/rewrap/jobs/:id/failures`).
 */
export function webhookPayload(job: JobRecord, event: string, eventId: string): Record<string, unknown> {
  return {
    event_id: eventId,
    event,
    job_id: job.job_id,
    state: job.state,
    target_term: job.target_term,
    source_terms: job.source_terms,
    started_at: job.started_at,
    finished_at: job.finished_at,
    entries: {
      total: job.totals.entries,
      rewrapped: job.counts.rewrapped,
      skipped_current: job.counts.skipped_current,
      skipped_concurrent: job.counts.skipped_concurrent,
      failed: job.counts.failed,
    },
    bytes: { total: job.totals.bytes, rewrapped: job.bytes_rewrapped },
    remaining_by_term: job.remaining_by_term,
    links: { status: `/v1/sys/rewrap/jobs/${job.job_id}`, failures: `/v1/sys/rewrap/jobs/${job.job_id}/failures` },
  };
}

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the value of `X-Coffer-Signature`. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Posts job events to the spec's `notify.endpoint`: JSON, signed when `hmacSecret` is set, `Authorization` from
 * `token`, retried with doubling delays on a network error or a non-2xx answer. Redirects are not followed (the
 * endpoint was checked, a redirect target was not). A delivery outcome is recorded on the job; it never changes the
 * job's own outcome.
 */
export function webhookNotifier(rewrap: RewrapService, deps: WebhookDeps): JobNotifier {
  const doFetch = deps.fetch ?? fetch;
  const attempts = deps.attempts ?? WEBHOOK_ATTEMPTS;
  const firstDelay = deps.firstDelayMs ?? WEBHOOK_FIRST_DELAY_MS;
  return async (job, event) => {
    const notify = job.spec.notify;
    if (!notify || endpointProblem(notify.endpoint)) return;
    const eventId = randomUUID();
    const body = JSON.stringify(webhookPayload(job, event, eventId));
    let status = 'failed';
    let tried = 0;
    for (; tried < attempts;) {
      tried += 1;
      const timestamp = String(Math.floor(deps.clock.now().getTime() / 1000));
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'X-Coffer-Event-Id': eventId,
        'X-Coffer-Timestamp': timestamp,
      };
      if (notify.token) headers.Authorization = notify.token;
      if (notify.hmacSecret) headers['X-Coffer-Signature'] = webhookSignature(notify.hmacSecret, timestamp, body);
      try {
        const res = await doFetch(notify.endpoint, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (res.status >= 200 && res.status < 300) {
          status = `delivered (${res.status})`;
          break;
        }
        status = `http ${res.status}`;
      } catch (err) {
        status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable';
      }
      deps.logger.warn({ job_id: job.job_id, event, attempt: tried, status }, 'rewrap webhook delivery failed');
      if (tried < attempts) await deps.sleep(firstDelay * 2 ** (tried - 1));
    }
    await rewrap.recordNotify(job, event, status, tried);
  };
}
