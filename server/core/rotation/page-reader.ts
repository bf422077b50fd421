import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { ScanEntry } from '../storage/storage-backend.js';
import type { PageRewrapper, PreparedPage } from './page-rewrapper.js';
import type { RewrapStorage } from './rewrap-deps.js';
import type { JobRecord } from './rewrap-job.js';

/** Entries scanned per storage call when pages are smaller (a scan call costs about as much as reading 100 entries). */
export const READ_CHUNK = 1000;

/** A page of a job's walk, and — while rewrapping — its selection and re-encryption, prepared ahead. */
export interface JobPage {
  readonly page: readonly ScanEntry[];
  readonly prepared?: PreparedPage;
}

/** Entries scanned but not yet handed out: they follow `after` in the walk of one prefix, in order. */
interface Chunk {
  /** The job, phase, pass, target and prefix the entries were read for. */
  readonly walk: string;
  after: string | null;
  entries: ScanEntry[];
  /** The scan came back short: nothing follows these entries in the prefix. */
  readonly last: boolean;
}

interface Ahead {
  /** Which page this is: the walk and the cursor the page follows. */
  readonly at: string;
  readonly result: Promise<JobPage>;
}

/**
 * Reads a job's pages, one ahead. Pages smaller than {@link READ_CHUNK} are cut from one larger scan. While a rewrap
 * page is being written (its sync is most of its time), the next page is read and re-encrypted, so the scan, the
 * crypto and the sync overlap. A page read ahead is used only if the job reaches exactly that point of its walk in
 * the same phase, pass and target, and its re-encryption only while the keyring it was made with is still active;
 * anything else reads afresh. Using an entry read a moment earlier is as safe as using a fresh one: a rewrapped entry
 * is written by compare-and-swap against the bytes read, so an entry a client changed in between is never
 * overwritten, and the verifying pass reads everything again.
 */
export class PageReader {
  readonly #rewrapper: PageRewrapper;
  readonly #barrier: AesGcmBarrier;
  #chunk: Chunk | undefined;
  #ahead: Ahead | undefined;
  /** Bumped by {@link drop}: a read that was under way then does not keep its entries. */
  #generation = 0;

  constructor(rewrapper: PageRewrapper, barrier: AesGcmBarrier) {
    this.#rewrapper = rewrapper;
    this.#barrier = barrier;
  }

  /** The page at the job's cursor: the one read ahead when it is that page, else read now. */
  async take(job: JobRecord, storage: RewrapStorage, prefix: string, limit: number): Promise<JobPage> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    const after = job.cursor.after;
    if (ahead?.at === position(job, after)) {
      try {
        const got = await ahead.result;
        return got.prepared && got.prepared.keyring !== this.#barrier.activeKeyring ? { page: got.page } : got;
      } catch {
        // The read ahead failed (a seal, a storage error): read again, and let that read report.
      }
    }
    return { page: await this.#read(job, storage, prefix, after, limit) };
  }

  /**
   * Starts reading the page after `after`; while rewrapping, it is also re-encrypted — on a later turn of the event
   * loop, once the current page's write is under way. Its re-encryptions count toward the target term's encryptions
   * even if the page is then dropped (a pause, a seal): an over-count, the safe side of the rotation limit.
   */
  readAhead(job: JobRecord, storage: RewrapStorage, prefix: string, after: string, limit: number): void {
    const rewrapping = job.phase === 'rewrapping';
    const result = (async (): Promise<JobPage> => {
      const page = await this.#read(job, storage, prefix, after, limit);
      if (!rewrapping) return { page };
      await new Promise((resolve) => setImmediate(resolve)); // the current page's write is dispatched first
      return { page, prepared: this.#rewrapper.prepare(job, page) };
    })();
    result.catch(() => {}); // a page never taken is dropped with its failure
    this.#ahead = { at: position(job, after), result };
  }

  /** Forgets what was read ahead, including a read still under way (pause, seal, end of the job). */
  drop(): void {
    this.#generation += 1;
    this.#ahead = undefined;
    this.#chunk = undefined;
  }

  /** The next `limit` entries of the prefix after `after`, from the chunk already read when it holds them. */
  async #read(job: JobRecord, storage: RewrapStorage, prefix: string, after: string | null, limit: number): Promise<ScanEntry[]> {
    const walk = walkOf(job);
    let chunk = this.#chunk;
    if (chunk?.walk !== walk || chunk.after !== after || (chunk.entries.length < limit && !chunk.last)) {
      const want = Math.max(limit, READ_CHUNK);
      const forUpdate = job.phase === 'rewrapping';
      const generation = this.#generation;
      const entries = await storage.scan({ prefix, limit: want, forUpdate, ...(after === null ? {} : { after }) });
      chunk = { walk, after, entries, last: entries.length < want };
      if (generation !== this.#generation) return entries.slice(0, limit); // dropped meanwhile: keep nothing
    }
    const page = chunk.entries.slice(0, limit);
    chunk.entries = chunk.entries.slice(limit);
    chunk.after = page.at(-1)?.key ?? after;
    this.#chunk = chunk.entries.length > 0 || !chunk.last ? chunk : undefined;
    return page;
  }
}

function walkOf(job: JobRecord): string {
  return JSON.stringify([job.job_id, job.phase, job.passes, job.target_term, job.cursor.prefix]);
}

function position(job: JobRecord, after: string | null): string {
  return JSON.stringify([walkOf(job), after]);
}
