import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock } from '../clock.js';
import type { StorageOp } from '../storage/storage-backend.js';
import type { CensusRecord } from './census.js';
import { JOBS_PREFIX, jobPath, type JobRecord } from './rewrap-job.js';

/** Where the latest census record is kept, behind the barrier. */
export const CENSUS_PATH = 'sys/rewrap/census';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Job and census records behind the barrier, as JSON encrypted under the active term. A job's record is also its
 * checkpoint: the cursor it holds is the low-water mark a resume starts from. Every method throws `sealed` when the
 * barrier is sealed.
 */
export class JobStore {
  readonly #barrier: AesGcmBarrier;
  readonly #clock: Clock;

  constructor(barrier: AesGcmBarrier, clock: Clock) {
    this.#barrier = barrier;
    this.#clock = clock;
  }

  /** Saves the job's record (stamping `updated_at`). */
  async persist(job: JobRecord): Promise<void> {
    job.updated_at = this.#clock.now().toISOString();
    await this.#barrier.put(jobPath(job.job_id), encoder.encode(JSON.stringify(job)));
  }

  /** The job's record as an encrypted storage write, to commit in the same batch as the entries it checkpoints. */
  recordOp(job: JobRecord): StorageOp {
    return this.#barrier.encryptOp({ type: 'put', path: jobPath(job.job_id), value: encoder.encode(JSON.stringify(job)) });
  }

  /** The persisted record of job `id`, if any. */
  async read(id: string): Promise<JobRecord | undefined> {
    return this.#readJson<JobRecord>(jobPath(id));
  }

  /** The ids of every persisted job, in storage order. */
  async ids(): Promise<string[]> {
    return (await this.#barrier.list(JOBS_PREFIX)).filter((id) => !id.endsWith('/'));
  }

  /** The last census written (a completed one: a running census is only kept in memory). */
  async readCensus(): Promise<CensusRecord | undefined> {
    return this.#readJson<CensusRecord>(CENSUS_PATH);
  }

  /** Saves a completed census. */
  async writeCensus(record: CensusRecord): Promise<void> {
    await this.#barrier.put(CENSUS_PATH, encoder.encode(JSON.stringify(record)));
  }

  async #readJson<T>(path: string): Promise<T | undefined> {
    const raw = await this.#barrier.get(path);
    if (!raw) return undefined;
    try {
      return JSON.parse(decoder.decode(raw)) as T;
    } finally {
      raw.fill(0);
    }
  }
}
