import type { Keyring } from '../barrier/keyring.js';
import { readEntryHeader } from '../barrier/entry-header.js';
import { CofferError } from '../errors.js';
import { EXEMPT_PATHS } from './census.js';
import type { RewrapSpec } from './rewrap-spec.js';

export type JobState =
  'pending' | 'counting' | 'running' | 'paused' | 'paused_sealed' | 'completed' | 'completed_with_failures' | 'failed' | 'canceled';

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'completed_with_failures', 'failed', 'canceled']);

export type JobPhase = 'counting' | 'rewrapping' | 'verifying' | 'done';

/** Why an entry could not be rewrapped. Classes only: never a value or a key. */
export type ErrorClass = 'malformed' | 'unknown_term' | 'retired_term' | 'auth_failure' | 'verify_mismatch' | 'conflict';

export interface JobFailure {
  path: string;
  term: number | null;
  error_class: ErrorClass;
  attempts: number;
  at: string;
}

export interface JobCounts {
  scanned: number;
  rewrapped: number;
  skipped_current: number;
  skipped_filtered: number;
  skipped_concurrent: number;
  failed: number;
  retried: number;
}

/** A job as persisted behind the barrier at `sys/rewrap/jobs/<id>` (it holds the notify secrets: never shown raw). */
export interface JobRecord {
  job_id: string;
  state: JobState;
  /** The state to go back to when a seal paused the job. */
  state_before_seal: JobState | null;
  phase: JobPhase;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
  spec: RewrapSpec;
  target_term: number;
  source_terms: number[];
  passes: number;
  /** Storage prefixes of the selection, sorted, none inside another. */
  storage_prefixes: string[];
  /** Exclusion patterns on storage paths. */
  storage_excludes: string[];
  /**
   * The low-water mark: every selected key of `storage_prefixes[prefix]` up to and including `after` (and every key
   * of the earlier prefixes) is finished. Entries are processed in key order and the mark only moves once a whole
   * page is committed, so a resume never skips an unfinished entry.
   */
  cursor: { prefix: number; after: string | null };
  totals: { entries: number; bytes: number };
  counts: JobCounts;
  bytes_rewrapped: number;
  remaining_by_term: Record<string, number>;
  failures: JobFailure[];
  failures_total: number;
  resumes: number;
  checkpoint_at: string | null;
  last_error: string | null;
  notify: { last_event: string | null; last_status: string | null; attempts: number; last_percent: number };
}

export const MAX_RECORDED_FAILURES = 1000;
export const JOBS_PREFIX = 'sys/rewrap/jobs/';

export function jobPath(id: string): string {
  return `${JOBS_PREFIX}${id}`;
}

export function emptyCounts(): JobCounts {
  return { scanned: 0, rewrapped: 0, skipped_current: 0, skipped_filtered: 0, skipped_concurrent: 0, failed: 0, retried: 0 };
}

/** What a new job starts from: its spec, where it walks (storage prefixes) and which terms it moves to and from. */
export interface NewJob {
  jobId: string;
  spec: RewrapSpec;
  now: Date;
  targetTerm: number;
  sourceTerms: number[];
  storagePrefixes: string[];
  storageExcludes: string[];
}

/** The record of a job that has not started: `pending`, counting first, cursor at the start, nothing counted. */
export function newJobRecord(n: NewJob): JobRecord {
  return {
    job_id: n.jobId,
    state: 'pending',
    state_before_seal: null,
    phase: 'counting',
    created_at: n.now.toISOString(),
    started_at: null,
    updated_at: n.now.toISOString(),
    finished_at: null,
    spec: n.spec,
    target_term: n.targetTerm,
    source_terms: n.sourceTerms,
    passes: 1,
    storage_prefixes: n.storagePrefixes,
    storage_excludes: n.storageExcludes,
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
}

/**
 * The terms a job moves entries away from: readable terms below the target (retired ones cannot be read), narrowed
 * by the spec's explicit list and its age window. A term's entries were written between its install time and the
 * next term's, so `olderThan` needs the NEXT term's install time to be old enough, and `newerThan` the term's own.
 * @throws CofferError `invalid_request` when the spec names a term that does not qualify.
 */
export function resolveSourceTerms(spec: RewrapSpec, keyring: Keyring, target: number, now: Date): number[] {
  const { minDecryptionTerm } = keyring.bounds;
  const readable = keyring.allTerms.filter((t) => t < target && t >= minDecryptionTerm && keyring.keyFor(t));
  let terms = readable;
  if (spec.selection.sourceTerms) {
    for (const t of spec.selection.sourceTerms) {
      if (!readable.includes(t)) {
        throw new CofferError('invalid_request', `selection.sourceTerms: term ${t} is not a readable term below the target term ${target}`);
      }
    }
    terms = readable.filter((t) => spec.selection.sourceTerms!.includes(t));
  }
  const nowMs = now.getTime();
  const { olderThanSeconds, newerThanSeconds } = spec.selection;
  if (olderThanSeconds !== undefined) {
    terms = terms.filter((t) => {
      const next = keyring.termInfo(t + 1);
      return next !== undefined && next.installTime.getTime() <= nowMs - olderThanSeconds * 1000;
    });
  }
  if (newerThanSeconds !== undefined) {
    terms = terms.filter((t) => keyring.termInfo(t)!.installTime.getTime() >= nowMs - newerThanSeconds * 1000);
  }
  return terms;
}

/** `*` and `?` wildcards on a whole path. */
export function wildcardMatch(pattern: string, path: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    's',
  );
  return re.test(path);
}

/** Sorted prefixes with every prefix that lies inside another dropped (a key is walked once). */
export function normalisePrefixes(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort();
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q)));
}

/** What the walk does with one stored entry. */
export type Selection =
  | { kind: 'ignore' }
  | { kind: 'filtered' }
  | { kind: 'current' }
  | { kind: 'selected'; term: number }
  | { kind: 'broken'; term: number | null; error_class: ErrorClass };

export function selectEntry(job: JobRecord, key: string, raw: Uint8Array, keyring: Keyring): Selection {
  if (EXEMPT_PATHS.has(key) || key === jobPath(job.job_id)) return { kind: 'ignore' };
  if (job.storage_excludes.some((p) => wildcardMatch(p, key))) return { kind: 'filtered' };
  const header = readEntryHeader(raw);
  if (!header) return { kind: 'broken', term: null, error_class: 'malformed' };
  if (!keyring.hasTerm(header.term)) return { kind: 'broken', term: header.term, error_class: 'unknown_term' };
  if (job.source_terms.includes(header.term)) return { kind: 'selected', term: header.term };
  return header.term >= job.target_term ? { kind: 'current' } : { kind: 'filtered' };
}

/** The job's status as the API shows it: secrets redacted, no paths, derived progress. */
export function jobStatus(job: JobRecord, now: Date, redact: (spec: RewrapSpec) => Record<string, unknown>): Record<string, unknown> {
  const done = job.counts.rewrapped + job.counts.failed + job.counts.skipped_concurrent;
  const total = job.totals.entries;
  const percent =
    job.state === 'completed'
      ? 100
      : total === 0
        ? TERMINAL_STATES.has(job.state)
          ? 100
          : 0
        : Math.min(100, Math.round((done / total) * 1000) / 10);
  const started = job.started_at ? Date.parse(job.started_at) : undefined;
  const end = job.finished_at ? Date.parse(job.finished_at) : now.getTime();
  const seconds = started !== undefined ? Math.max(0, (end - started) / 1000) : 0;
  const rate = seconds > 0 ? job.counts.rewrapped / seconds : 0;
  const remaining = Math.max(0, total - done);
  return {
    job_id: job.job_id,
    state: job.state,
    phase: job.phase,
    created_at: job.created_at,
    started_at: job.started_at,
    updated_at: job.updated_at,
    finished_at: job.finished_at,
    target_term: job.target_term,
    source_terms: job.source_terms,
    passes: job.passes,
    dry_run: job.spec.dryRun,
    totals: job.totals,
    entries: { total, ...job.counts },
    bytes: { total: job.totals.bytes, rewrapped: job.bytes_rewrapped },
    remaining_by_term: job.remaining_by_term,
    progress: {
      percent,
      entries_per_second: Math.round(rate * 10) / 10,
      eta_seconds: TERMINAL_STATES.has(job.state) ? 0 : rate > 0 ? Math.ceil(remaining / rate) : null,
    },
    checkpoint: { persisted_at: job.checkpoint_at, resumes: job.resumes },
    failures_total: job.failures_total,
    last_error: job.last_error,
    notify: job.notify,
    spec: redact(job.spec),
  };
}
