import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { hasConditionalBatch, hasOrderedScan, type ConditionalBatch, type OrderedScan, type StorageBackend } from '../storage/storage-backend.js';
import type { CensusRecord } from './census.js';
import type { JobRecord, JobState } from './rewrap-job.js';

/** What the rewrap service reports (metrics). */
export interface RewrapObserver {
  rewrapEntries(result: string, n: number, bytes: number): void;
  rewrapJob(job: { job_id: string; state: JobState; percent: number; checkpointAt: Date | undefined }): void;
  census(record: CensusRecord): void;
}

/** An observer that records nothing (no metrics wired). */
export const NO_REWRAP_OBSERVER: RewrapObserver = { rewrapEntries: () => {}, rewrapJob: () => {}, census: () => {} };

/** Delivers job events to the spec's webhook; must never throw. */
export type JobNotifier = (job: JobRecord, event: string) => Promise<void>;

/** What the rewrap service and its parts (page rewrapper, census runner, job store, reporter) are built from. */
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

/** A storage backend that can run rewrap jobs and censuses: ordered scans and conditional (compare-and-swap) batches. */
export type RewrapStorage = StorageBackend & OrderedScan & ConditionalBatch;

/**
 * The backend as a {@link RewrapStorage}.
 * @throws CofferError `unsupported_operation` when it cannot scan in order or write conditionally.
 */
export function rewrapStorage(storage: StorageBackend): RewrapStorage {
  if (!hasOrderedScan(storage) || !hasConditionalBatch(storage))
    throw new CofferError('unsupported_operation', 'the storage backend cannot run rewrap jobs');
  return storage;
}
