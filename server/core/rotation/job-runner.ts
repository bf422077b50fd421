import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError, isCofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { hasConditionalBatch, hasOrderedScan, type ConditionalBatch, type OrderedScan, type StorageBackend } from '../storage/storage-backend.js';
import { tally, type CensusRecord } from './census.js';
import {
  emptyCounts,
  JOBS_PREFIX,
  jobPath,
  jobStatus,
  MAX_RECORDED_FAILURES,
  normalisePrefixes,
  resolveSourceTerms,
  selectEntry,
  TERMINAL_STATES,
  type ErrorClass,
  type JobRecord,
  type JobState,
} from './rewrap-job.js';
import { redactedSpec, type RewrapSpec } from './rewrap-spec.js';

export const CENSUS_PATH = 'sys/rewrap/census';
const CENSUS_PAGE = 1000;
const MAX_PASSES = 3;
/** Longest the job holds the lifecycle's read side at once (a seal request still ends it after the current page). */
const SLICE_MS = 200;

/** What the rewrap service reports (metrics). */
export interface RewrapObserver {
  rewrapEntries(result: string, n: number, bytes: number): void;
  rewrapJob(job: { job_id: string; state: JobState; percent: number; checkpointAt: Date | undefined }): void;
  census(record: CensusRecord): void;
}

export const NO_REWRAP_OBSERVER: RewrapObserver = { rewrapEntries: () => {}, rewrapJob: () => {}, census: () => {} };

/** Delivers job events to the spec's webhook; must never throw. */
export type JobNotifier = (job: JobRecord, event: string) => Promise<void>;

export interface RewrapDeps {
  barrier: AesGcmBarrier;
  storage: StorageBackend;
  lifecycle: Lifecycle;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Maps an API path prefix (`secret/app/`) to the storage prefix its entries live under. */
  resolvePrefix(apiPath: string): string;
  observer?: RewrapObserver;
  notifier?: JobNotifier;
  /** Waits (rate limit, retry backoff); resolves early when `signal` fires. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

type Storage = StorageBackend & OrderedScan & ConditionalBatch;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Rewrap jobs and the term census: the background work that moves stored entries to the active term and counts what
 * is left under each term. One job or census at a time. Each page of work runs under the lifecycle's read side, so a
 * seal waits for at most one page and never meets a half-written one; sealing pauses a job (`paused_sealed`) and
 * unsealing — or a restart — resumes it from its checkpoint, which is stored behind the barrier.
 */
export class RewrapService {
  readonly #d: RewrapDeps;
  readonly #observer: RewrapObserver;
  #job: JobRecord | undefined;
  #driving: Promise<void> | undefined;
  #again = false;
  #pauseRequested = false;
  #cancelRequested = false;
  #census: CensusRecord | undefined;
  #censusRun: Promise<void> | undefined;

  constructor(deps: RewrapDeps) {
    this.#d = deps;
    this.#observer = deps.observer ?? NO_REWRAP_OBSERVER;
    deps.lifecycle.onUnsealed(() => this.#load());
    deps.lifecycle.onSealing(() => this.#onSealing());
  }

  #storage(): Storage {
    const s = this.#d.storage;
    if (!hasOrderedScan(s) || !hasConditionalBatch(s)) throw new CofferError('unsupported_operation', 'the storage backend cannot run rewrap jobs');
    return s;
  }

  /** Resolves when no job or census is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#driving || this.#censusRun) await Promise.all([this.#driving, this.#censusRun]);
  }

  /** The latest census (the running one while it runs). */
  get census(): CensusRecord | undefined {
    return this.#census;
  }

  /** The latest COMPLETED census, for the retire and trim gates. */
  async lastCompletedCensus(): Promise<CensusRecord | undefined> {
    if (this.#census?.state === 'completed') return this.#census;
    return this.#readJson<CensusRecord>(CENSUS_PATH);
  }

  #busy(): boolean {
    return this.#censusRun !== undefined || (this.#job !== undefined && !TERMINAL_STATES.has(this.#job.state));
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
      const prefixes = normalisePrefixes(spec.selection.prefixes.map((p) => this.#d.resolvePrefix(p)));
      const job: JobRecord = {
        job_id: `rw-${this.#d.random.uuid()}`,
        state: 'pending',
        state_before_seal: null,
        phase: 'counting',
        created_at: now.toISOString(),
        started_at: null,
        updated_at: now.toISOString(),
        finished_at: null,
        spec,
        target_term: target,
        source_terms: source,
        passes: 1,
        storage_prefixes: prefixes,
        storage_excludes: spec.selection.exclude.map((p) => this.#d.resolvePrefix(p)),
        cursor: { prefix: 0, after: null },
        totals: { entries: 0, bytes: 0 },
        counts: emptyCounts(),
        bytes_rewrapped: 0,
        remaining_by_term: {},
        failures: [],
        failures_total: 0,
        resumes: 0,
        checkpoint_at: null,
        last_error: null,
        notify: { last_event: null, last_status: null, attempts: 0, last_percent: 0 },
      };
      await this.#persist(job);
      this.#job = job;
      this.#d.logger.info({ job_id: job.job_id, target_term: target, source_terms: source, dry_run: spec.dryRun }, 'rewrap job started');
      this.#drive();
      return job;
    });
  }

  /** Every job record, newest first. @throws `sealed`. */
  async list(): Promise<JobRecord[]> {
    const ids = await this.#d.barrier.list(JOBS_PREFIX);
    const jobs: JobRecord[] = [];
    for (const id of ids) {
      if (id.endsWith('/')) continue;
      const job = this.#job?.job_id === id ? this.#job : await this.#readJson<JobRecord>(jobPath(id));
      if (job) jobs.push(job);
    }
    return jobs.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  }

  /** @throws CofferError `unsupported_path` for an unknown id, `sealed`. */
  async get(id: string): Promise<JobRecord> {
    if (this.#job?.job_id === id) return this.#job;
    const job = /^rw-[0-9a-f-]{36}$/.test(id) ? await this.#readJson<JobRecord>(jobPath(id)) : undefined;
    if (!job) throw new CofferError('unsupported_path', 'no such rewrap job');
    return job;
  }

  status(job: JobRecord): Record<string, unknown> {
    return jobStatus(job, this.#d.clock.now(), redactedSpec);
  }

  /** Pauses a running job once its current page is committed (a checkpoint is flushed). @throws `conflict`, `sealed`. */
  async pause(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (job !== this.#job || !['pending', 'counting', 'running'].includes(job.state))
      throw new CofferError('conflict', `the job is ${job.state}: only a running job can be paused`);
    this.#pauseRequested = true;
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
      await this.#persist(job);
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
            job.state = 'paused';
            await this.#persist(job);
            this.#d.logger.info({ job_id: job.job_id }, 'rewrap job paused');
            return undefined;
          }
          // Several pages per hold of the read side (taking it costs more than a page), but never past a seal
          // request (the signal), a pause or cancel, a rate limit or a short time slice.
          const slice = performance.now();
          let total = 0;
          for (;;) {
            const n = await this.#step(job, signal);
            if (n === undefined) return total > 0 ? total : undefined;
            total += n;
            if (signal.aborted || this.#pauseRequested || this.#cancelRequested || TERMINAL_STATES.has(job.state)) return total;
            if (job.spec.execution.maxEntriesPerSecond !== undefined || performance.now() - slice > SLICE_MS) return total;
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
          const persisted = await this.#d.lifecycle.whileUnsealed(() => this.#readJson<JobRecord>(jobPath(job.job_id)));
          if (persisted) Object.assign(job, persisted);
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

  async #sleep(ms: number): Promise<void> {
    const signal = new AbortController().signal;
    if (this.#d.sleep) return this.#d.sleep(ms, signal);
    await new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
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
    const page = await storage.scan({ prefix, limit, ...(job.cursor.after === null ? {} : { after: job.cursor.after }) });
    if (signal.aborted) return undefined;
    const keyring = this.#d.barrier.activeKeyring;
    if (job.phase === 'counting' || job.phase === 'verifying') {
      for (const { key, value } of page) {
        const sel = selectEntry(job, key, value, keyring);
        if (sel.kind !== 'selected' && sel.kind !== 'broken') continue;
        const term = sel.kind === 'selected' ? String(sel.term) : String(sel.term ?? 'malformed');
        job.remaining_by_term[term] = (job.remaining_by_term[term] ?? 0) + 1;
        if (job.phase === 'counting') {
          job.totals.entries += 1;
          job.totals.bytes += value.length;
        }
      }
    } else {
      const committed = await this.#rewrapPage(job, storage, page, signal, page.length < limit ? undefined : page.at(-1)!.key);
      if (committed === undefined) return undefined;
      if (committed) {
        this.#report(job);
        await this.#maybeNotifyProgress(job);
        return page.length;
      }
    }
    this.#advance(job, page.length < limit ? undefined : page.at(-1)!.key);
    job.checkpoint_at = this.#d.clock.now().toISOString();
    await this.#persist(job);
    this.#report(job);
    if (job.phase === 'rewrapping') await this.#maybeNotifyProgress(job);
    return page.length;
  }

  #advance(job: JobRecord, after: string | undefined): void {
    job.cursor = after === undefined ? { prefix: job.cursor.prefix + 1, after: null } : { prefix: job.cursor.prefix, after };
  }

  /**
   * Rewraps one page. The fast path writes the whole page AND the advanced checkpoint in one conditional batch (one
   * sync): true. When a client wrote one of the entries meanwhile, the page is redone entry by entry and false is
   * returned (the caller then advances and persists the checkpoint). Undefined when a seal interrupted the page.
   */
  async #rewrapPage(
    job: JobRecord,
    storage: Storage,
    page: readonly { key: string; value: Uint8Array }[],
    signal: AbortSignal,
    nextAfter: string | undefined,
  ): Promise<boolean | undefined> {
    const { barrier } = this.#d;
    const work: Array<{ key: string; old: Uint8Array; value: Uint8Array }> = [];
    for (const { key, value } of page) {
      const keyring = barrier.activeKeyring;
      const sel = selectEntry(job, key, value, keyring);
      if (sel.kind === 'ignore') continue;
      job.counts.scanned += 1;
      if (sel.kind === 'filtered') job.counts.skipped_filtered += 1;
      else if (sel.kind === 'current') job.counts.skipped_current += 1;
      else if (sel.kind === 'broken') this.#fail(job, key, sel.term, sel.error_class, 1);
      else {
        const out = this.#reencrypt(job, key, value, sel.term);
        if (out) work.push({ key, old: value, value: out });
      }
    }
    if (signal.aborted) return undefined;
    if (work.length === 0) return false;
    const before = { counts: { ...job.counts }, bytes: job.bytes_rewrapped, cursor: job.cursor, checkpoint: job.checkpoint_at };
    for (const w of work) {
      job.counts.rewrapped += 1;
      job.bytes_rewrapped += w.value.length;
    }
    this.#advance(job, nextAfter);
    job.checkpoint_at = this.#d.clock.now().toISOString();
    job.updated_at = job.checkpoint_at;
    const record = barrier.encryptOp({ type: 'put', path: jobPath(job.job_id), value: encoder.encode(JSON.stringify(job)) });
    let ok = false;
    try {
      ok = await storage.batchIf(
        work.map((w) => ({ key: w.key, value: w.old })),
        [...work.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })), record],
      );
    } finally {
      if (!ok) {
        // Nothing was written: the in-memory job goes back to what is persisted.
        job.counts = before.counts;
        job.bytes_rewrapped = before.bytes;
        job.cursor = before.cursor;
        job.checkpoint_at = before.checkpoint;
      }
    }
    if (ok) {
      this.#observer.rewrapEntries(
        'rewrapped',
        work.length,
        work.reduce((n, w) => n + w.value.length, 0),
      );
      return true;
    }
    for (const w of work) await this.#rewrapOne(job, storage, w);
    return false;
  }

  /** Re-encrypts one entry; a failure is recorded (the entry is left untouched) and undefined returned. */
  #reencrypt(job: JobRecord, key: string, raw: Uint8Array, term: number): Uint8Array | undefined {
    try {
      return this.#d.barrier.reencrypt(key, raw, job.target_term).value;
    } catch (err) {
      if (isCofferError(err, 'sealed') || isCofferError(err, 'standby')) throw err;
      const message = (err as Error).message;
      const cls: ErrorClass = message.includes('retired')
        ? 'retired_term'
        : message.includes('verify')
          ? 'verify_mismatch'
          : message.includes('no decryption key')
            ? 'unknown_term'
            : 'auth_failure';
      this.#fail(job, key, term, cls, 1);
      return undefined;
    }
  }

  /** Compare-and-swap of one entry, retried (re-read, re-encrypt) while clients keep changing it. */
  async #rewrapOne(job: JobRecord, storage: Storage, w: { key: string; old: Uint8Array; value: Uint8Array }): Promise<void> {
    let { old, value } = w;
    for (let attempt = 1; ; attempt++) {
      if (await storage.batchIf([{ key: w.key, value: old }], [{ type: 'put', key: w.key, value }])) {
        this.#count(job, 'rewrapped', value.length);
        return;
      }
      const now = await storage.get(w.key);
      const sel = now === undefined ? undefined : selectEntry(job, w.key, now, this.#d.barrier.activeKeyring);
      if (now === undefined || sel?.kind !== 'selected') {
        // A client rewrote or deleted it: its write stands, and it is under the active term now.
        this.#count(job, 'skipped_concurrent', 0);
        return;
      }
      if (attempt > job.spec.retry.attempts) {
        this.#fail(job, w.key, sel.term, 'conflict', attempt);
        return;
      }
      job.counts.retried += 1;
      this.#observer.rewrapEntries('retried', 1, 0);
      const out = this.#reencrypt(job, w.key, now, sel.term);
      if (!out) return;
      old = now;
      value = out;
    }
  }

  #count(job: JobRecord, result: 'rewrapped' | 'skipped_concurrent', bytes: number): void {
    job.counts[result] += 1;
    if (result === 'rewrapped') job.bytes_rewrapped += bytes;
    this.#observer.rewrapEntries(result, 1, bytes);
  }

  #fail(job: JobRecord, path: string, term: number | null, cls: ErrorClass, attempts: number): void {
    job.counts.failed += 1;
    job.failures_total += 1;
    if (job.failures.length < MAX_RECORDED_FAILURES)
      job.failures.push({ path, term, error_class: cls, attempts, at: this.#d.clock.now().toISOString() });
    this.#observer.rewrapEntries('failed', 1, 0);
    this.#d.logger.warn({ job_id: job.job_id, term, error_class: cls }, 'rewrap left an entry untouched');
  }

  /** The walk over every prefix ended: next phase, another pass, or the end. */
  async #endOfPhase(job: JobRecord): Promise<number> {
    job.cursor = { prefix: 0, after: null };
    const keyring = this.#d.barrier.activeKeyring;
    if (job.phase === 'counting') {
      if (job.spec.dryRun) {
        // A plan only: totals and what remains per term, nothing written.
        await this.#finish(job, 'completed');
        return 0;
      }
      job.phase = 'rewrapping';
      job.state = 'running';
    } else if (job.phase === 'rewrapping') {
      job.phase = 'verifying';
      job.remaining_by_term = {};
    } else {
      const remaining = Object.values(job.remaining_by_term).reduce((a, b) => a + b, 0);
      // `latest` follows a rotation made during the job: the old target's entries are rewrapped by another pass.
      if (job.spec.target === 'latest' && keyring.activeTerm > job.target_term && job.passes < MAX_PASSES) {
        // The old target and the terms the job already took from are the sources of the next pass.
        const wanted = new Set([...job.source_terms, job.target_term]);
        job.passes += 1;
        job.target_term = keyring.activeTerm;
        job.source_terms = keyring.allTerms.filter(
          (t) => wanted.has(t) && t < job.target_term && t >= keyring.bounds.minDecryptionTerm && keyring.keyFor(t),
        );
        job.phase = 'rewrapping';
        job.remaining_by_term = {};
      } else {
        const ok = remaining === 0 && job.counts.failed === 0;
        if (!ok && remaining > 0 && job.counts.failed === 0) job.last_error = 'entries remain under source terms';
        await this.#finish(job, ok ? 'completed' : 'completed_with_failures');
        return 0;
      }
    }
    await this.#persist(job);
    this.#report(job);
    return 0;
  }

  async #finish(job: JobRecord, state: JobState): Promise<void> {
    job.state = state;
    job.phase = 'done';
    job.finished_at = this.#d.clock.now().toISOString();
    await this.#persist(job);
    this.#report(job);
    this.#d.logger.info({ job_id: job.job_id, state, rewrapped: job.counts.rewrapped, failed: job.counts.failed }, 'rewrap job finished');
    if (this.#d.notifier) {
      const notifier = this.#d.notifier;
      // Delivery never changes the job's outcome, and never holds the lifecycle lock.
      queueMicrotask(() => void notifier(job, `rewrap.${state}`));
    }
  }

  async #maybeNotifyProgress(job: JobRecord): Promise<void> {
    const every = job.spec.notify?.progressEveryPercent;
    if (!every || !this.#d.notifier || job.totals.entries === 0) return;
    const percent = Math.floor(((job.counts.rewrapped + job.counts.failed + job.counts.skipped_concurrent) / job.totals.entries) * 100);
    if (percent >= job.notify.last_percent + every && percent < 100) {
      job.notify.last_percent = percent - (percent % every);
      const notifier = this.#d.notifier;
      queueMicrotask(() => void notifier(job, 'rewrap.progress'));
    }
  }

  #report(job: JobRecord): void {
    const status = jobStatus(job, this.#d.clock.now(), () => ({}));
    this.#observer.rewrapJob({
      job_id: job.job_id,
      state: job.state,
      percent: (status.progress as { percent: number }).percent,
      checkpointAt: job.checkpoint_at ? new Date(job.checkpoint_at) : undefined,
    });
  }

  /** Saves the job's record (through the barrier, encrypted under the active term). */
  async #persist(job: JobRecord): Promise<void> {
    job.updated_at = this.#d.clock.now().toISOString();
    await this.#d.barrier.put(jobPath(job.job_id), encoder.encode(JSON.stringify(job)));
  }

  /** Records a job's notification outcome (called by the notifier, outside the job loop). */
  async recordNotify(job: JobRecord, event: string, status: string, attempts: number): Promise<void> {
    job.notify = { ...job.notify, last_event: event, last_status: status, attempts };
    try {
      await this.#d.lifecycle.whileUnsealed(() => this.#persist(job));
    } catch {
      // Sealed meanwhile: the outcome is reported in memory until the next write of the record.
    }
  }

  async #readJson<T>(path: string): Promise<T | undefined> {
    const raw = await this.#d.barrier.get(path);
    if (!raw) return undefined;
    try {
      return JSON.parse(decoder.decode(raw)) as T;
    } finally {
      raw.fill(0);
    }
  }

  async #load(): Promise<void> {
    this.#census = await this.#readJson<CensusRecord>(CENSUS_PATH);
    if (this.#census) this.#observer.census(this.#census);
    const ids = await this.#d.barrier.list(JOBS_PREFIX);
    for (const id of ids) {
      if (id.endsWith('/')) continue;
      const job = await this.#readJson<JobRecord>(jobPath(id));
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
    const job = this.#job;
    this.#job = undefined;
    this.#census = undefined;
    if (!job || TERMINAL_STATES.has(job.state) || job.state === 'paused' || this.#d.barrier.sealed) return;
    job.state_before_seal = job.state;
    job.state = 'paused_sealed';
    try {
      await this.#persist(job);
    } catch (err) {
      // The record keeps "running": the next unseal resumes it all the same.
      this.#d.logger.error({ job_id: job.job_id, err: (err as Error).message }, 'could not record the paused rewrap job');
    }
    this.#report(job);
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
      const previous = await this.lastCompletedCensus();
      const keyring = this.#d.barrier.activeKeyring;
      const record: CensusRecord = {
        census_id: `census-${this.#d.random.uuid()}`,
        seq: (previous?.seq ?? 0) + 1,
        state: 'running',
        started_at: this.#d.clock.now().toISOString(),
        completed_at: null,
        active_term: keyring.activeTerm,
        scanned: 0,
        terms: {},
        exempt: {},
        unknown_terms: {},
        malformed: { entries: 0, bytes: 0 },
        error: null,
      };
      this.#census = record;
      this.#censusRun = this.#runCensus(record, storage).finally(() => (this.#censusRun = undefined));
      return record;
    });
  }

  async #runCensus(record: CensusRecord, storage: Storage): Promise<void> {
    let after: string | undefined;
    try {
      for (;;) {
        const done = await this.#d.lifecycle.whileUnsealed(async (signal) => {
          const page = await storage.scan({ prefix: '', limit: CENSUS_PAGE, ...(after === undefined ? {} : { after }) });
          if (signal.aborted) throw new CofferError('sealed', 'Vault is sealed');
          const keyring = this.#d.barrier.activeKeyring;
          for (const { key, value } of page) tally(record, key, value, keyring);
          if (page.length < CENSUS_PAGE) {
            record.state = 'completed';
            record.completed_at = this.#d.clock.now().toISOString();
            await this.#d.barrier.put(CENSUS_PATH, encoder.encode(JSON.stringify(record)));
            return true;
          }
          after = page.at(-1)!.key;
          return false;
        });
        if (done) break;
      }
      this.#observer.census(record);
      this.#d.logger.info({ census_id: record.census_id, scanned: record.scanned }, 'census completed');
    } catch (err) {
      record.state = 'failed';
      record.error = isCofferError(err) ? err.code : 'internal';
      this.#d.logger.warn({ census_id: record.census_id, err: (err as Error).message }, 'census did not complete');
    }
  }
}
