import { api, ApiError, type Json } from './api.js';
import {
  clearError,
  el,
  fillList,
  lines,
  num,
  numberOf,
  onClick,
  onSubmit,
  setProgress,
  setText,
  show,
  showError,
  showOnce,
  str,
  takeSecret,
} from './dom.js';
import { auth, session } from './session.js';

// The rekey ceremony. Each holder's share waits in memory while the page shows, freshly read from the server, what
// it would authorize (nonce, new n/t, PGP fingerprints, start time); only "Confirm" sends it, with that nonce.

/** A current share typed for the rekey, held between "Review" and "Confirm" (or "Do not send"). */
let pendingShare: string | undefined;
let reviewedNonce = '';

function fingerprints(r: Json): string[] {
  return Array.isArray(r.pgp_fingerprints) ? r.pgp_fingerprints.map(str) : [];
}

export async function refreshRekey(): Promise<void> {
  if (session.sealed) {
    show('rekey-start', false);
    show('rekey-running', false);
    el('rekey-unavailable').textContent = 'Available once the server is unsealed.';
    show('rekey-unavailable', true);
    return;
  }
  let r: Json;
  try {
    r = await api('GET', 'sys/rekey/init', auth());
  } catch (err) {
    if (err instanceof ApiError && err.unavailable) {
      el('rekey-unavailable').textContent = 'Not available on this server.';
      show('rekey-unavailable', true);
    } else showError('rekey-error', err);
    return;
  }
  show('rekey-unavailable', false);
  const verifying = r.verification_required === true && str(r.verification_nonce) !== '';
  show('rekey-verify-form', verifying);
  if (verifying) el('rekey-verify-nonce').textContent = str(r.verification_nonce);
  const running = r.started === true && !verifying;
  show('rekey-start', r.started !== true);
  show('rekey-running', running);
  if (!running) return;
  setText('rekey-nonce', r.nonce);
  setText('rekey-started', r.started_time ?? 'not reported by this server');
  setText('rekey-tn', `${str(r.t)} of ${str(r.n)}`);
  fillList('rekey-fingerprints', fingerprints(r), 'none: new shares are returned in clear');
  setText('rekey-backup-state', r.backup === true ? 'yes' : 'no');
  setText('rekey-verification', r.verification_required === true ? 'required' : 'not required');
  setProgress('rekey-progress', 'rekey-progress-text', numberOf(r.progress), numberOf(r.required));
}

async function startRekey(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rekey-error');
  show('rekey-done', false);
  const body: Json = {
    secret_shares: num('rekey-shares'),
    secret_threshold: num('rekey-threshold'),
    backup: el<HTMLInputElement>('rekey-backup').checked,
    require_verification: el<HTMLInputElement>('rekey-verify').checked,
  };
  const pgp = lines('rekey-pgp');
  if (pgp.length > 0) body.pgp_keys = pgp;
  try {
    await api('PUT', 'sys/rekey/init', { body, ...auth() });
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

/** Step 1: the holder's share goes to memory, and what it would authorize is fetched afresh and shown. */
async function review(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rekey-error');
  pendingShare = takeSecret('rekey-key');
  try {
    const r = await api('GET', 'sys/rekey/init', auth());
    if (r.started !== true) throw new Error('no rekey is in progress any more');
    reviewedNonce = str(r.nonce);
    el('rc-nonce').textContent = reviewedNonce;
    el('rc-started').textContent = str(r.started_time) || 'not reported by this server';
    el('rc-tn').textContent = `${str(r.t)} of ${str(r.n)}`;
    fillList('rc-fingerprints', fingerprints(r), 'none: the new shares will be shown in clear');
    show('rekey-confirm', true);
    el('rekey-send').focus();
  } catch (err) {
    pendingShare = undefined;
    showError('rekey-error', err);
  }
}

function closeReview(): void {
  pendingShare = undefined;
  show('rekey-confirm', false);
}

/** Step 2: the share is sent with the nonce the holder saw. */
async function sendShare(): Promise<void> {
  const key = pendingShare;
  const nonce = reviewedNonce;
  closeReview();
  if (key === undefined) return;
  clearError('rekey-error');
  try {
    const r = await api('PUT', 'sys/rekey/update', { body: { key, nonce }, ...auth() });
    if (r.complete === true) completed(r);
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

function completed(r: Json): void {
  const keys = Array.isArray(r.keys_base64) ? r.keys_base64.map(str) : [];
  const prints = fingerprints(r);
  const verify = r.verification_required === true;
  showOnce(
    'Rekey: the new shares, copy these now',
    `These ${keys.length} new shares are shown once. ` +
      (prints.length > 0 ? 'Each is encrypted to the PGP key listed beside it. ' : '') +
      (verify ? 'The old shares stay valid until enough new shares are verified below.' : 'The old shares no longer work.'),
    keys.map((k, i) => ({ label: prints[i] ? `Share ${i + 1} (PGP ${prints[i]})` : `Share ${i + 1}`, value: k })),
  );
  el('rekey-done').textContent = verify ? 'Rekey done: now verify the new shares.' : 'Rekey completed.';
  show('rekey-done', true);
}

async function cancel(): Promise<void> {
  clearError('rekey-error');
  try {
    const r = await api('GET', 'sys/rekey/init', auth());
    await api('DELETE', 'sys/rekey/init', { body: { nonce: str(r.nonce) }, ...auth() });
  } catch (err) {
    showError('rekey-error', err);
  }
  closeReview();
  await refreshRekey();
}

async function verify(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rekey-error');
  const key = takeSecret('rekey-verify-key');
  try {
    const nonce = el('rekey-verify-nonce').textContent ?? '';
    const r = await api('PUT', 'sys/rekey/verify', { body: { key, nonce }, ...auth() });
    if (r.complete === true) {
      el('rekey-done').textContent = 'Verification complete: the new shares are now the only ones.';
      show('rekey-done', true);
    } else el('rekey-verify-progress').textContent = `${str(r.progress)} / ${str(r.t)} verified`;
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

export function wireRekeyPanel(): void {
  onSubmit('rekey-start', startRekey);
  onSubmit('rekey-share-form', review);
  onClick('rekey-send', sendShare);
  onClick('rekey-back', closeReview);
  onClick('rekey-cancel', cancel);
  onSubmit('rekey-verify-form', verify);
}
