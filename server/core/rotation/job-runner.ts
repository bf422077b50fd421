import { performance } from 'node:perf_hooks';
import { CofferError, isCofferError } from '../errors.js';
import type { CensusRecord } from './census.js';
import { CENSUS_PAGE, CensusRunner } from './census-runner.js';
import { advanceCursor, markCheckpoint, nextAfter } from './checkpoint.js';
import { FailureQuarantine } from './failure-quarantine.js';
import { countPage, nextPhase } from './job-phases.js';
import { JobReporter } from './job-reporter.js';
import { JobStore } from './job-store.js';
import { PageReader } from './page-reader.js';
import { PageRewrapper } from './page-rewrapper.js';
import { NO_REWRAP_OBSERVER, rewrapStorage, type RewrapDeps, type RewrapStorage } from './rewrap-deps.js';
import { jobStatus, newJobRecord, normalisePrefixes, resolveSourceTerms, TERMINAL_STATES, type JobRecord, type JobState } from './rewrap-job.js';
import { redactedSpec, type RewrapSpec } from './rewrap-spec.js';

// The service's dependencies and what it reports to live in rewrap-deps.ts; re-exported for the modules that wire it.
export { CENSUS_PATH } from './job-store.js';
export { NO_REWRAP_OBSERVER, type JobNotifier, type RewrapDeps, type RewrapObserver } from './rewrap-deps.js';

/** Longest the job holds the lifecycle's read side at once (a seal request still ends it after the current page). */
const SLICE_MS = 200;

/**
 * The counting and verifying passes only read: their cursor and counts are persisted after this many entries
 * (and at the end of the pass, on pause, cancel and seal). A crash goes back at most this far, and recounts it.
 */
const READ_PASS_CHECKPOINT_ENTRIES = 5 * CENSUS_PAGE;

/**
 * Rewrap jobs and the term census: the background work that moves stored entries to the active term and counts what
 * is left under each term. One job or census at a time. Each page of work runs under the lifecycle's read side, so a
 * seal waits for at most one page and never meets a half-written one; sealing pauses a job (`paused_sealed`) and
 * unsealing — or a restart — resumes it from its checkpoint, which is stored behind the barrier.
 *
 * The parts: {@link JobStore} (records and checkpoints), {@link PageRewrapper} (verify-before-write and
 * compare-and-swap of each entry), {@link FailureQuarantine}, {@link JobReporter} (metrics and webhook events),
 * the phase machine in job-phases.ts, the cursor bookkeeping in checkpoint.ts and the {@link CensusRunner}.
 */
export class RewrapService {
  readonly #d: RewrapDeps;
  readonly #store: JobStore;
  readonly #reporter: JobReporter;
  readonly #rewrapper: PageRewrapper;
  readonly #censusRunner: CensusRunner;
  readonly #pages: PageReader;
  #job: JobRecord | undefined;
  #driving: Promise<void> | undefined;
  #again = false;
  #pauseRequested = false;
  /** Aborted to end the loop's current wait (rate limit, retry delay) early. */
  #wake = new AbortController();
  /** Entries the counting or verifying pass counted since the job was last persisted. */
  #readSinceCheckpoint = 0;
  #cancelRequested = false;

  constructor(deps: RewrapDeps) {
    this.#d = deps;
    const observer = deps.observer ?? NO_REWRAP_OBSERVER;
    this.#store = new JobStore(deps.barrier, deps.clock);
    this.#reporter = new JobReporter({ clock: deps.clock, observer, notifier: deps.notifier });
    const quarantine = new FailureQuarantine({ clock: deps.clock, logger: deps.logger, observer });
    this.#rewrapper = new PageRewrapper({ barrier: deps.barrier, clock: deps.clock, store: this.#store, quarantine, observer });
    this.#censusRunner = new CensusRunner({ ...deps, observer, store: this.#store });
    this.#pages = new PageReader(this.#rewrapper, deps.barrier);
    deps.lifecycle.onUnsealed(() => this.#load());
    deps.lifecycle.onSealing(() => this.#onSealing());
  }

  #storage(): RewrapStorage {
    return rewrapStorage(this.#d.storage);
  }

  /** Resolves when no job or census is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#driving || this.#censusRunner.running) await Promise.all([this.#driving, this.#censusRunner.running]);
  }

  /** The latest census (the running one while it runs). */
  get census(): CensusRecord | undefined {
    return this.#censusRunner.current;
  }

  /** The latest COMPLETED census, for the retire and trim gates. @throws `sealed`. */
  async lastCompletedCensus(): Promise<CensusRecord | undefined> {
    return this.#censusRunner.lastCompleted();
  }

  #busy(): boolean {
    return this.#censusRunner.running !== undefined || (this.#job !== undefined && !TERMINAL_STATES.has(this.#job.state));
  }

  /**
   * Starts a rewrap job; it runs in the background.
   * @throws CofferError `conflict` when a job (also a paused one) or census exists, `invalid_request` for a spec
   * that does not fit the keyring, `sealed`.
   */
  async start(spec: RewrapSpec): Promise<JobRecord> {
    this.#storage();
    return this.#d.lifecycle.whileUnsealed(async () => {
      if (this.#busy()) throw new CofferError('conflict', 'a rewrap job or census is already in progress');
      const keyring = this.#d.barrier.activeKeyring;
      const now = this.#d.clock.now();
      const target = keyring.activeTerm;
      const source = resolveSourceTerms(spec, keyring, target, now);
      const job = newJobRecord({
        jobId: `rw-${this.#d.random.uuid()}`,
        spec,
        now,
        targetTerm: target,
        sourceTerms: source,
        storagePrefixes: normalisePrefixes(spec.selection.prefixes.map((p) => this.#d.resolvePrefix(p))),
        storageExcludes: spec.selection.exclude.map((p) => this.#d.resolvePrefix(p)),
      });
      await this.#store.persist(job);
      this.#job = job;
      this.#d.logger.info({ job_id: job.job_id, target_term: target, source_terms: source, dry_run: spec.dryRun }, 'rewrap job started');
      this.#drive();
      return job;
    });
  }

  /** Every job record, newest first. @throws `sealed`. */
  async list(): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    for (const id of await this.#store.ids()) {
      const job = this.#job?.job_id === id ? this.#job : await this.#store.read(id);
      if (job) jobs.push(job);
    }
    return jobs.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  }

  /** @throws CofferError `unsupported_path` for an unknown id, `sealed`. */
  async get(id: string): Promise<JobRecord> {
    if (this.#job?.job_id === id) return this.#job;
    const job = /^rw-[0-9a-f-]{36}$/.test(id) ? await this.#store.read(id) : undefined;
    if (!job) throw new CofferError('unsupported_path', 'no such rewrap job');
    return job;
  }

  /** The job's status as the API shows it (secrets redacted, progress, rate and ETA derived). */
  status(job: JobRecord): Record<string, unknown> {
    return jobStatus(job, this.#d.clock.now(), redactedSpec);
  }

  /** Pauses a running job once its current page is committed (a checkpoint is flushed). @throws `conflict`, `sealed`. */
  async pause(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (job !== this.#job || !['pending', 'counting', 'running'].includes(job.state))
      throw new CofferError('conflict', `the job is ${job.state}: only a running job can be paused`);
    this.#pauseRequested = true;
    this.#wakeUp();
    await this.#driving;
    return job;
  }

  /** Resumes a paused job. @throws `conflict`, `sealed`. */
  async resume(id: string): Promise<JobRecord> {
    return this.#d.lifecycle.whileUnsealed(async () => {
      const job = await this.get(id);
      if (job.state !== 'paused') throw new CofferError('conflict', `the job is ${job.state}: only a paused job can be resumed`);
      if (this.#busy() && this.#job !== job) throw new CofferError('conflict', 'another rewrap job or census is in progress');
      job.state = job.phase === 'counting' ? 'counting' : 'running';
      await this.#store.persist(job);
      this.#job = job;
      this.#drive();
      return job;
    });
  }

  /** Cancels a job that has not finished; entries already rewrapped stay rewrapped. @throws `conflict`, `sealed`. */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (TERMINAL_STATES.has(job.state)) throw new CofferError('conflict', `the job is already ${job.state}`);
    if (this.#driving && job === this.#job) {
      this.#cancelRequested = true;
      this.#wakeUp();
      await this.#driving;
      if (TERMINAL_STATES.has(job.state)) return job;
    }
    await this.#d.lifecycle.whileUnsealed(async () => {
      if (TERMINAL_STATES.has(job.state)) return;
      await this.#finish(job, 'canceled');
    });
    return job;
  }

  // ---- the job loop ----

  #drive(): void {
    if (this.#driving) {
      // A loop from before a seal may still be winding down (it stops on the paused_sealed state): start again after it.
      this.#again = true;
      return;
    }
    this.#pauseRequested = false;
    this.#readSinceCheckpoint = 0; // the job starts (or resumes) from what is persisted
    this.#cancelRequested = false;
    this.#driving = this.#loop().finally(() => {
      this.#driving = undefined;
      if (this.#again) {
        this.#again = false;
        this.#drive();
      }
    });
  }

  async #loop(): Promise<void> {
    const job = this.#job;
    if (!job) return;
    let failures = 0;
    for (;;) {
      if (this.#job !== job || TERMINAL_STATES.has(job.state) || job.state === 'paused' || job.state === 'paused_sealed') return;
      const started = this.#d.clock.now().getTime();
      let processed: number | undefined;
      try {
        processed = await this.#d.lifecycle.whileUnsealed(async (signal) => {
          if (this.#job !== job) return undefined; // a seal and an unseal passed while this waited: the reload drives
          if (this.#cancelRequested) {
            await this.#finish(job, 'canceled');
            return undefined;
          }
          if (this.#pauseRequested) {
            // A pause can last any time: what was read ahead is read again on resume.
            this.#pages.drop();
            job.state = 'paused';
            await this.#store.persist(job);
            this.#d.logger.info({ job_id: job.job_id }, 'rewrap job paused');
            return undefined;
          }
          // Several pages per hold of the read side (taking it costs more than a page), but never past a seal
          // request (the signal), a pause or cancel, a rate limit or a short time slice.
          // Only the rewrapping pages count against maxEntriesPerSecond: counting and verifying only read.
          const slice = performance.now();
          let total = 0;
          for (;;) {
            const rated = job.phase === 'rewrapping' && job.spec.execution.maxEntriesPerSecond !== undefined;
            const n = await this.#step(job, signal);
            if (n === undefined) return total > 0 ? total : undefined;
            if (rated) total += n;
            if (signal.aborted || this.#pauseRequested || this.#cancelRequested || TERMINAL_STATES.has(job.state)) return total;
            if (rated || performance.now() - slice > SLICE_MS) return total;
          }
        });
        failures = 0;
      } catch (err) {
        // Sealed: the sealing hook recorded paused_sealed. HA standby: the active node runs the job (a takeover resumes it).
        if (isCofferError(err, 'sealed') || isCofferError(err, 'standby')) return;
        failures += 1;
        this.#d.logger.warn({ job_id: job.job_id, err: (err as Error).message, attempt: failures }, 'rewrap job page failed');
        if (failures > job.spec.retry.attempts) {
          job.last_error = isCofferError(err) ? err.code : 'internal';
          try {
            await this.#d.lifecycle.whileUnsealed(() => this.#finish(job, 'failed'));
          } catch (e) {
            this.#d.logger.error({ job_id: job.job_id, err: (e as Error).message }, 'could not record the failed rewrap job');
          }
          return;
        }
        await this.#sleep(job.spec.retry.delayMs * 2 ** (failures - 1));
        // The failed page may have counted entries it did not commit: go back to the persisted record.
        try {
          const persisted = await this.#d.lifecycle.whileUnsealed(() => this.#store.read(job.job_id));
          if (persisted) Object.assign(job, persisted);
          this.#readSinceCheckpoint = 0;
        } catch {
          // sealed or storage still failing: the next attempt tells
        }
        continue;
      }
      if (processed === undefined) return;
      const rate = job.spec.execution.maxEntriesPerSecond;
      if (rate !== undefined && processed > 0) {
        const wanted = (processed / rate) * 1000 - (this.#d.clock.now().getTime() - started);
        if (wanted > 0) await this.#sleep(wanted);
      }
    }
  }

  /** Waits `ms` (a rate limit or a retry delay); a pause, cancel or seal request ends the wait at once. */
  async #sleep(ms: number): Promise<void> {
    const signal = this.#wake.signal;
    if (signal.aborted) return;
    if (this.#d.sleep) return this.#d.sleep(ms, signal);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  /** Ends the loop's current wait (the loop then sees the pause, cancel or seal request). */
  #wakeUp(): void {
    this.#wake.abort();
    this.#wake = new AbortController();
  }

  /** One page of the current phase; returns the number of entries it handled (undefined: the loop stops). */
  async #step(job: JobRecord, signal: AbortSignal): Promise<number | undefined> {
    if (job.state === 'pending') {
      job.state = 'counting';
      job.started_at = this.#d.clock.now().toISOString();
    }
    const storage = this.#storage();
    const prefix = job.storage_prefixes[job.cursor.prefix];
    if (prefix === undefined) return this.#endOfPhase(job);
    const limit = job.phase === 'rewrapping' ? job.spec.execution.batchSize : CENSUS_PAGE;
    const { page, prepared } = await this.#pages.take(job, storage, prefix, limit);
    if (signal.aborted) return undefined;
    const after = nextAfter(page, limit);
    // The next page is read (and re-encrypted) while this one is written: its I/O and crypto overlap this sync.
    if (after !== undefined) this.#pages.readAhead(job, storage, prefix, after, limit);
    if (job.phase === 'counting' || job.phase === 'verifying') {
      countPage(job, page, this.#d.barrier.activeKeyring);
      this.#readSinceCheckpoint += page.length;
      if (after !== undefined && this.#readSinceCheckpoint < READ_PASS_CHECKPOINT_ENTRIES) {
        // Counts and cursor move together in memory; the record is persisted every few pages.
        advanceCursor(job, after);
        this.#reporter.report(job);
        return page.length;
      }
    } else {
      const committed = await this.#rewrapper.commit(job, storage, prepared ?? this.#rewrapper.prepare(job, page), signal, after);
      if (committed === undefined) return undefined;
      if (committed) {
        this.#reporter.report(job);
        this.#reporter.progress(job);
        return page.length;
      }
    }
    advanceCursor(job, after);
    markCheckpoint(job, this.#d.clock.now());
    await this.#store.persist(job);
    this.#readSinceCheckpoint = 0;
    this.#reporter.report(job);
    if (job.phase === 'rewrapping') this.#reporter.progress(job);
    return page.length;
  }

  /** The walk over every prefix ended: next phase, another pass, or the end. */
  async #endOfPhase(job: JobRecord): Promise<number> {
    const end = nextPhase(job, this.#d.barrier.activeKeyring);
    if (end !== undefined) {
      await this.#finish(job, end);
      return 0;
    }
    await this.#store.persist(job);
    this.#reporter.report(job);
    return 0;
  }

  async #finish(job: JobRecord, state: JobState): Promise<void> {
    this.#pages.drop();
    job.state = state;
    job.phase = 'done';
    job.finished_at = this.#d.clock.now().toISOString();
    await this.#store.persist(job);
    this.#reporter.report(job);
    this.#d.logger.info({ job_id: job.job_id, state, rewrapped: job.counts.rewrapped, failed: job.counts.failed }, 'rewrap job finished');
    this.#reporter.finished(job, state);
  }

  /** Records a job's notification outcome (called by the notifier, outside the job loop). */
  async recordNotify(job: JobRecord, event: string, status: string, attempts: number): Promise<void> {
    job.notify = { ...job.notify, last_event: event, last_status: status, attempts };
    try {
      await this.#d.lifecycle.whileUnsealed(() => this.#store.persist(job));
    } catch {
      // Sealed meanwhile: the outcome is reported in memory until the next write of the record.
    }
  }

  async #load(): Promise<void> {
    await this.#censusRunner.load();
    for (const id of await this.#store.ids()) {
      const job = await this.#store.read(id);
      if (!job || TERMINAL_STATES.has(job.state)) continue;
      this.#job = job;
      if (job.state === 'paused') continue;
      if (job.state === 'paused_sealed') job.state = job.state_before_seal ?? 'running';
      else job.resumes += 1; // it was running when the process stopped: a restart
      job.state_before_seal = null;
      this.#d.logger.info({ job_id: job.job_id, state: job.state, resumes: job.resumes }, 'resuming rewrap job');
      // Not awaited: its first page waits for the unseal (which holds the lifecycle's write side) to finish.
      this.#drive();
      break;
    }
  }

  async #onSealing(): Promise<void> {
    this.#wakeUp();
    this.#pages.drop();
    const job = this.#job;
    this.#job = undefined;
    this.#censusRunner.forget();
    if (!job || TERMINAL_STATES.has(job.state) || job.state === 'paused' || this.#d.barrier.sealed) return;
    job.state_before_seal = job.state;
    job.state = 'paused_sealed';
    try {
      await this.#store.persist(job);
    } catch (err) {
      // The record keeps "running": the next unseal resumes it all the same.
      this.#d.logger.error({ job_id: job.job_id, err: (err as Error).message }, 'could not record the paused rewrap job');
    }
    this.#reporter.report(job);
  }

  // ---- census ----

  /**
   * Starts a census of the whole barrier: entries and bytes per term read from entry headers alone.
   * @throws CofferError `conflict` while a job or census runs, `sealed`.
   */
  async startCensus(): Promise<CensusRecord> {
    const storage = this.#storage();
    return this.#d.lifecycle.whileUnsealed(async () => {
      if (this.#busy()) throw new CofferError('conflict', 'a rewrap job or census is already in progress');
      return this.#censusRunner.start(storage);
    });
  }
}
