import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock } from '../clock.js';
import { isCofferError } from '../errors.js';
import { advanceCursor, markCheckpoint, restoreCheckpoint, snapshotCheckpoint } from './checkpoint.js';
import { classifyRewrapError, type FailureQuarantine } from './failure-quarantine.js';
import type { JobStore } from './job-store.js';
import type { RewrapObserver, RewrapStorage } from './rewrap-deps.js';
import { selectEntry, type JobRecord } from './rewrap-job.js';

/** One entry to rewrap: the stored bytes it was read as, and its re-encryption under the target term. */
interface Rewrite {
  key: string;
  old: Uint8Array;
  value: Uint8Array;
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
   * Rewraps one page. The fast path writes the whole page AND the advanced checkpoint in one conditional batch (one
   * sync): true. When a client wrote one of the entries meanwhile, the page is redone entry by entry and false is
   * returned (the caller then advances and persists the checkpoint). Undefined when a seal interrupted the page.
   * @throws CofferError `sealed`, and storage errors (nothing of the page is then recorded as done).
   */
  async rewrapPage(
    job: JobRecord,
    storage: RewrapStorage,
    page: readonly { key: string; value: Uint8Array }[],
    signal: AbortSignal,
    nextAfter: string | undefined,
  ): Promise<boolean | undefined> {
    const work: Rewrite[] = [];
    for (const { key, value } of page) {
      const keyring = this.#barrier.activeKeyring;
      const sel = selectEntry(job, key, value, keyring);
      if (sel.kind === 'ignore') continue;
      job.counts.scanned += 1;
      if (sel.kind === 'filtered') job.counts.skipped_filtered += 1;
      else if (sel.kind === 'current') job.counts.skipped_current += 1;
      else if (sel.kind === 'broken') this.#quarantine.add(job, key, sel.term, sel.error_class, 1);
      else {
        const out = this.#reencrypt(job, key, value, sel.term);
        if (out) work.push({ key, old: value, value: out });
      }
    }
    if (signal.aborted) return undefined;
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

  /** Re-encrypts one entry; a failure is quarantined (the entry is left untouched) and undefined returned. */
  #reencrypt(job: JobRecord, key: string, raw: Uint8Array, term: number): Uint8Array | undefined {
    try {
      return this.#barrier.reencrypt(key, raw, job.target_term).value;
    } catch (err) {
      if (isCofferError(err, 'sealed') || isCofferError(err, 'standby')) throw err;
      this.#quarantine.add(job, key, term, classifyRewrapError(err), 1);
      return undefined;
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
}
