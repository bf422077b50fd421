import { api, dataOf, isRecord, type Json } from './api.js';
import { clearError, el, needsToken, numberOf, onClick, onSubmit, setText, shortTime, show, showError, str, unavailable, waiting } from './dom.js';
import { refreshKeys } from './keys-panel.js';
import { session } from './session.js';

// Rewrap jobs (`sys/rewrap/jobs`): start one from a JSON spec, follow the newest (progress, rate, ETA, what is left
// under each term, failures) and pause, resume or cancel it.

/** The job this panel follows: the one it started, else the newest the server lists. */
let jobId: string | undefined;

const TERMINAL = new Set(['completed', 'completed_with_failures', 'failed', 'canceled']);

export async function refreshRewrap(): Promise<void> {
  if (waiting('rewrap', true) || session.token === undefined) return;
  const token = session.token;
  try {
    if (jobId === undefined) {
      const list = dataOf(await api('GET', 'sys/rewrap/jobs', { token }));
      const jobs = Array.isArray(list.jobs) ? list.jobs.filter(isRecord) : [];
      const newest = jobs.sort((a, b) => str(a.created_at).localeCompare(str(b.created_at))).at(-1);
      jobId = newest ? str(newest.job_id) || undefined : undefined;
    }
    show('rewrap-unavailable', false);
    show('rewrap-body', true);
    if (jobId !== undefined) renderJob(dataOf(await api('GET', `sys/rewrap/jobs/${encodeURIComponent(jobId)}`, { token })));
    clearError('rewrap-error');
  } catch (err) {
    if (!unavailable('rewrap', err)) showError('rewrap-error', err);
  }
}

function renderJob(j: Json): void {
  show('rewrap-job', true);
  const state = str(j.state);
  setText('rewrap-id', j.job_id);
  setText('rewrap-state', state);
  setText('rewrap-terms', `${Array.isArray(j.source_terms) ? j.source_terms.map(str).join(', ') || 'none' : '–'} → ${str(j.target_term)}`);
  const progress = isRecord(j.progress) ? j.progress : {};
  const percent = numberOf(progress.percent);
  el<HTMLProgressElement>('rewrap-progress').value = percent;
  setText('rewrap-percent', `${percent.toFixed(1)} %${j.dry_run === true ? ' (dry run)' : ''}`);
  const eta = progress.eta_seconds;
  setText('rewrap-rate', `${numberOf(progress.entries_per_second).toFixed(1)} entries/s; ETA ${typeof eta === 'number' ? `${eta} s` : '–'}`);
  const e = isRecord(j.entries) ? j.entries : {};
  const skipped = numberOf(e.skipped_current) + numberOf(e.skipped_filtered) + numberOf(e.skipped_concurrent);
  setText('rewrap-counts', `${numberOf(e.rewrapped)} / ${skipped} / ${numberOf(e.failed)} of ${numberOf(e.total)}`);
  setText('rewrap-failures', `${numberOf(j.failures_total)}${j.last_error ? `; last error: ${str(j.last_error)}` : ''}`);
  const remaining = isRecord(j.remaining_by_term) ? Object.entries(j.remaining_by_term) : [];
  setText('rewrap-remaining', remaining.map(([t, n]) => `term ${t}: ${str(n)}`).join(', ') || 'none');
  setText('rewrap-finished', j.finished_at ? shortTime(j.finished_at) : '');
  el<HTMLButtonElement>('rewrap-pause').disabled = TERMINAL.has(state) || state === 'paused';
  el<HTMLButtonElement>('rewrap-resume').disabled = state !== 'paused';
  el<HTMLButtonElement>('rewrap-cancel').disabled = TERMINAL.has(state);
}

async function start(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rewrap-error');
  if (needsToken('rewrap-error')) return;
  try {
    const spec: unknown = JSON.parse(el<HTMLTextAreaElement>('rewrap-spec').value);
    const r = await api('POST', 'sys/rewrap/jobs', { body: { spec }, token: session.token });
    jobId = str(r.job_id) || undefined;
  } catch (err) {
    showError('rewrap-error', err);
  }
  await refreshRewrap();
}

async function act(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
  clearError('rewrap-error');
  if (needsToken('rewrap-error') || jobId === undefined) return;
  // The server answers a pause or cancel once the job's current page (and any rate-limit wait) is over: say so.
  el('rewrap-action').textContent = `${action} requested: the server answers when the job's current page is done…`;
  try {
    renderJob(dataOf(await api('POST', `sys/rewrap/jobs/${encodeURIComponent(jobId)}/${action}`, { token: session.token })));
  } catch (err) {
    showError('rewrap-error', err);
  } finally {
    el('rewrap-action').textContent = '';
  }
  await Promise.all([refreshRewrap(), refreshKeys()]);
}

export function wireRewrapPanel(): void {
  onSubmit('rewrap-start', start);
  onClick('rewrap-pause', () => act('pause'));
  onClick('rewrap-resume', () => act('resume'));
  onClick('rewrap-cancel', () => act('cancel'));
}
