import type { JobCounts, JobRecord } from './rewrap-job.js';

/**
 * The job's progress as far as a checkpoint is concerned: its counts, bytes, cursor and checkpoint time. Taken
 * before a page is committed so a page that was not written can be undone in memory.
 */
export interface CheckpointSnapshot {
  readonly counts: JobCounts;
  readonly bytes: number;
  readonly cursor: JobRecord['cursor'];
  readonly checkpoint: string | null;
}

/**
 * Where the walk goes after a page: on past `after` (the page's last key) in the same prefix, or, when the page was
 * the prefix's last (`after` undefined), to the start of the next prefix. The cursor only ever moves past entries
 * whose page is committed, so it is a low-water mark: a resume from it never skips an unfinished entry.
 */
export function advanceCursor(job: JobRecord, after: string | undefined): void {
  job.cursor = after === undefined ? { prefix: job.cursor.prefix + 1, after: null } : { prefix: job.cursor.prefix, after };
}

/** The key a walk resumes after once `page` is done: its last key, or undefined when a short page ended the prefix. */
export function nextAfter(page: readonly { key: string }[], limit: number): string | undefined {
  return page.length < limit ? undefined : page.at(-1)!.key;
}

/** Stamps the job's checkpoint time (the record still has to be persisted); returns it. */
export function markCheckpoint(job: JobRecord, now: Date): string {
  job.checkpoint_at = now.toISOString();
  return job.checkpoint_at;
}

/** The job's progress before a page, to {@link restoreCheckpoint} if the page is not committed. */
export function snapshotCheckpoint(job: JobRecord): CheckpointSnapshot {
  return { counts: { ...job.counts }, bytes: job.bytes_rewrapped, cursor: job.cursor, checkpoint: job.checkpoint_at };
}

/** Puts the in-memory job back to a snapshot: nothing of the page was written, so the persisted record stands. */
export function restoreCheckpoint(job: JobRecord, snapshot: CheckpointSnapshot): void {
  job.counts = snapshot.counts;
  job.bytes_rewrapped = snapshot.bytes;
  job.cursor = snapshot.cursor;
  job.checkpoint_at = snapshot.checkpoint;
}
