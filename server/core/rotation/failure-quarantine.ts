import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { RewrapObserver } from './rewrap-deps.js';
import { MAX_RECORDED_FAILURES, type ErrorClass, type JobRecord } from './rewrap-job.js';

/** The class of a re-encryption failure, from the barrier's message (never the message itself, which is not kept). */
export function classifyRewrapError(err: unknown): ErrorClass {
  const message = (err as Error).message;
  return message.includes('retired')
    ? 'retired_term'
    : message.includes('verify')
      ? 'verify_mismatch'
      : message.includes('no decryption key')
        ? 'unknown_term'
        : 'auth_failure';
}

/**
 * Failure quarantine: an entry a job cannot rewrap is left untouched, counted, and listed in the job's failures
 * (path, term and error class only — never a value; at most {@link MAX_RECORDED_FAILURES} listed) while the job goes
 * on. Such entries keep their term in the census, which then blocks retiring it.
 */
export class FailureQuarantine {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #observer: RewrapObserver;

  constructor(deps: { clock: Clock; logger: Logger; observer: RewrapObserver }) {
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#observer = deps.observer;
  }

  /** Records that the entry at `path` (under `term`, if known) was left untouched after `attempts` tries. */
  add(job: JobRecord, path: string, term: number | null, cls: ErrorClass, attempts: number): void {
    job.counts.failed += 1;
    job.failures_total += 1;
    if (job.failures.length < MAX_RECORDED_FAILURES)
      job.failures.push({ path, term, error_class: cls, attempts, at: this.#clock.now().toISOString() });
    this.#observer.rewrapEntries('failed', 1, 0);
    this.#logger.warn({ job_id: job.job_id, term, error_class: cls }, 'rewrap left an entry untouched');
  }
}
