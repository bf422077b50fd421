import type { Clock } from '../clock.js';
import type { JobNotifier, RewrapObserver } from './rewrap-deps.js';
import { jobStatus, type JobRecord, type JobState } from './rewrap-job.js';

/**
 * Progress reporting of a job: its state, percent and checkpoint age to the observer (metrics), and its events to
 * the webhook notifier — `rewrap.progress` every N % when the spec asks, `rewrap.<state>` when it ends. Delivery is
 * queued, never awaited: it never changes the job's outcome and never holds the lifecycle lock.
 */
export class JobReporter {
  readonly #clock: Clock;
  readonly #observer: RewrapObserver;
  readonly #notifier: JobNotifier | undefined;

  constructor(deps: { clock: Clock; observer: RewrapObserver; notifier?: JobNotifier | undefined }) {
    this.#clock = deps.clock;
    this.#observer = deps.observer;
    this.#notifier = deps.notifier;
  }

  /** Reports the job's state, percent (as its status derives it) and checkpoint time to the observer. */
  report(job: JobRecord): void {
    const status = jobStatus(job, this.#clock.now(), () => ({}));
    this.#observer.rewrapJob({
      job_id: job.job_id,
      state: job.state,
      percent: (status.progress as { percent: number }).percent,
      checkpointAt: job.checkpoint_at ? new Date(job.checkpoint_at) : undefined,
    });
  }

  /** Queues a `rewrap.progress` event when the job crossed the next `progressEveryPercent` step (never at 100 %). */
  progress(job: JobRecord): void {
    const every = job.spec.notify?.progressEveryPercent;
    const notifier = this.#notifier;
    if (!every || !notifier || job.totals.entries === 0) return;
    const percent = Math.floor(((job.counts.rewrapped + job.counts.failed + job.counts.skipped_concurrent) / job.totals.entries) * 100);
    if (percent >= job.notify.last_percent + every && percent < 100) {
      job.notify.last_percent = percent - (percent % every);
      queueMicrotask(() => void notifier(job, 'rewrap.progress'));
    }
  }

  /** Queues the `rewrap.<state>` event of a job that ended. */
  finished(job: JobRecord, state: JobState): void {
    const notifier = this.#notifier;
    if (notifier) queueMicrotask(() => void notifier(job, `rewrap.${state}`));
  }
}
