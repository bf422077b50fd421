import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Keyring } from '../barrier/keyring.js';
import type { Clock } from '../clock.js';
import { isCofferError } from '../errors.js';
import { advanceCursor, markCheckpoint, restoreCheckpoint, snapshotCheckpoint } from './checkpoint.js';
import { classifyRewrapError, type FailureQuarantine } from './failure-quarantine.js';
import type { JobStore } from './job-store.js';
import type { RewrapObserver, RewrapStorage } from './rewrap-deps.js';
import { selectEntry, type ErrorClass, type JobRecord } from './rewrap-job.js';

/** One entry to rewrap: the stored bytes it was read as, and its re-encryption under the target term. */
interface Rewrite {
  key: string;
  old: Uint8Array;
  value: Uint8Array;
}

/** An entry the job cannot rewrap: quarantined when its page is committed. */
interface Unrewrappable {
  key: string;
  term: number | null;
  error_class: ErrorClass;
}

/**
 * A page selected and re-encrypted ahead of its commit. Preparing touches neither the job record nor storage, so a
 * page can be prepared while the previous one is still being written, and dropped if the job moved on meanwhile.
 */
export interface PreparedPage {
  /** The keyring the selection was made against: a prepared page is only committed while it is still the active one. */
  readonly keyring: Keyring;
  readonly scanned: number;
  readonly filtered: number;
  readonly current: number;
  readonly failures: readonly Unrewrappable[];
  readonly work: readonly Rewrite[];
}

/**
 * The rewrap step of a job, one page at a time: each selected entry is re-encrypted under the job's target term
 * (the barrier verifies the new ciphertext decrypts to the same plaintext before it is used) and written only if the
 * stored bytes are still the ones read (compare-and-swap), so a client's write during the job always wins.
 */
export class PageRewrapper {
  readonly #barrier: AesGcmBarrier;
  readonly #clock: Clock;
  readonly #store: JobStore;
  readonly #quarantine: FailureQuarantine;
  readonly #observer: RewrapObserver;

  constructor(deps: { barrier: AesGcmBarrier; clock: Clock; store: JobStore; quarantine: FailureQuarantine; observer: RewrapObserver }) {
    this.#barrier = deps.barrier;
    this.#clock = deps.clock;
    this.#store = deps.store;
    this.#quarantine = deps.quarantine;
    this.#observer = deps.observer;
  }

  /**
   * Selects the page's entries and re-encrypts the selected ones (verified before use); nothing is recorded yet.
   * @throws CofferError `sealed` or `standby` (any other re-encryption failure becomes a quarantined entry).
   */
  prepare(job: JobRecord, page: readonly { key: string; value: Uint8Array }[]): PreparedPage {
    const keyring = this.#barrier.activeKeyring;
    const failures: Unrewrappable[] = [];
    const work: Rewrite[] = [];
    let scanned = 0;
    let filtered = 0;
    let current = 0;
    for (const { key, value } of page) {
      const sel = selectEntry(job, key, value, keyring);
      if (sel.kind === 'ignore') continue;
      scanned += 1;
      if (sel.kind === 'filtered') filtered += 1;
      else if (sel.kind === 'current') current += 1;
      else if (sel.kind === 'broken') failures.push({ key, term: sel.term, error_class: sel.error_class });
      else {
        const out = this.#reencrypt(key, value, job.target_term);
        if (out instanceof Uint8Array) work.push({ key, old: value, value: out });
        else failures.push({ key, term: sel.term, error_class: out });
      }
    }
    return { keyring, scanned, filtered, current, failures, work };
  }

  /**
   * Commits a prepared page. The fast path writes the whole page AND the advanced checkpoint in one conditional batch
   * (one sync): true. When a client wrote one of the entries meanwhile, the page is redone entry by entry and false
   * is returned (the caller then advances and persists the checkpoint). Undefined when a seal interrupted the page.
   * @throws CofferError `sealed`, and storage errors (nothing of the page is then recorded as done).
   */
  async commit(
    job: JobRecord,
    storage: RewrapStorage,
    prepared: PreparedPage,
    signal: AbortSignal,
    nextAfter: string | undefined,
  ): Promise<boolean | undefined> {
    if (signal.aborted) return undefined;
    const { work } = prepared;
    job.counts.scanned += prepared.scanned;
    job.counts.skipped_filtered += prepared.filtered;
    job.counts.skipped_current += prepared.current;
    for (const f of prepared.failures) this.#quarantine.add(job, f.key, f.term, f.error_class, 1);
    if (work.length === 0) return false;
    const before = snapshotCheckpoint(job);
    for (const w of work) {
      job.counts.rewrapped += 1;
      job.bytes_rewrapped += w.value.length;
    }
    advanceCursor(job, nextAfter);
    job.updated_at = markCheckpoint(job, this.#clock.now());
    const record = this.#store.recordOp(job);
    let ok = false;
    try {
      ok = await storage.batchIf(
        work.map((w) => ({ key: w.key, value: w.old })),
        [...work.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })), record],
      );
    } finally {
      // Nothing was written: the in-memory job goes back to what is persisted.
      if (!ok) restoreCheckpoint(job, before);
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

  /** Re-encrypts one entry under `target`, or tells why it cannot be (the entry is then left untouched). */
  #reencrypt(key: string, raw: Uint8Array, target: number): Uint8Array | ErrorClass {
    try {
      return this.#barrier.reencrypt(key, raw, target).value;
    } catch (err) {
      if (isCofferError(err, 'sealed') || isCofferError(err, 'standby')) throw err;
      return classifyRewrapError(err);
    }
  }

  /** Compare-and-swap of one entry, retried (re-read, re-encrypt) while clients keep changing it. */
  async #rewrapOne(job: JobRecord, storage: RewrapStorage, w: Rewrite): Promise<void> {
    let { old, value } = w;
    for (let attempt = 1; ; attempt++) {
      if (await storage.batchIf([{ key: w.key, value: old }], [{ type: 'put', key: w.key, value }])) {
        this.#count(job, 'rewrapped', value.length);
        return;
      }
      const now = await storage.get(w.key);
      const sel = now === undefined ? undefined : selectEntry(job, w.key, now, this.#barrier.activeKeyring);
      if (now === undefined || sel?.kind !== 'selected') {
        // A client rewrote or deleted it: its write stands, and it is under the active term now.
        this.#count(job, 'skipped_concurrent', 0);
        return;
      }
      if (attempt > job.spec.retry.attempts) {
        this.#quarantine.add(job, w.key, sel.term, 'conflict', attempt);
        return;
      }
      job.counts.retried += 1;
      this.#observer.rewrapEntries('retried', 1, 0);
      const out = this.#reencrypt(w.key, now, job.target_term);
      if (!(out instanceof Uint8Array)) {
        this.#quarantine.add(job, w.key, sel.term, out, 1);
        return;
      }
      old = now;
      value = out;
    }
  }

  #count(job: JobRecord, result: 'rewrapped' | 'skipped_concurrent', bytes: number): void {
    job.counts[result] += 1;
    if (result === 'rewrapped') job.bytes_rewrapped += bytes;
    this.#observer.rewrapEntries(result, 1, bytes);
  }
}
