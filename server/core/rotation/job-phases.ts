import type { Keyring } from '../barrier/keyring.js';
import { selectEntry, type JobRecord, type JobState } from './rewrap-job.js';

/** Most passes a `latest` job makes to follow rotations that happen while it runs. */
const MAX_PASSES = 3;

/**
 * One page of the counting or verifying phase: counts the selected (and broken) entries per term in
 * `remaining_by_term`, and — while counting — into the job's totals. Nothing is written.
 */
export function countPage(job: JobRecord, page: readonly { key: string; value: Uint8Array }[], keyring: Keyring): void {
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
}

/**
 * The walk over every prefix ended: moves the job to its next phase (counting → rewrapping → verifying, or another
 * rewrapping pass when a rotation happened meanwhile and the target is `latest`) with the cursor back at the start.
 * @returns the state the job ends in when it is done (the caller finishes it), undefined when it goes on.
 */
export function nextPhase(job: JobRecord, keyring: Keyring): JobState | undefined {
  job.cursor = { prefix: 0, after: null };
  if (job.phase === 'counting') {
    // A dry run is a plan only: totals and what remains per term, nothing written.
    if (job.spec.dryRun) return 'completed';
    job.phase = 'rewrapping';
    job.state = 'running';
    return undefined;
  }
  if (job.phase === 'rewrapping') {
    job.phase = 'verifying';
    job.remaining_by_term = {};
    return undefined;
  }
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
    return undefined;
  }
  const ok = remaining === 0 && job.counts.failed === 0;
  if (!ok && remaining > 0 && job.counts.failed === 0) job.last_error = 'entries remain under source terms';
  return ok ? 'completed' : 'completed_with_failures';
}
