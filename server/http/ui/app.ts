import { api, ApiError, dataOf, decodeRootToken, isRecord, type Json } from './api.js';

// The operator page. Shares and tokens live only in this module's variables (never in storage, URLs, attributes
// or the DOM after use); every input that held one is emptied as soon as it was read.

const POLL_MS = 2000;

let token: string | undefined;
let sealed = true;
let initialized = false;
/** A current share typed for the rekey, held between "Review" and "Confirm" (or "Do not send"). */
let pendingRekeyShare: string | undefined;
let reviewedNonce = '';
/** The generate-root one-time password: needed to decode the token at the end. */
let rootOtp: string | undefined;
let rewrapJobId: string | undefined;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing element #${id}`);
  return found as T;
}

function setText(id: string, value: unknown): void {
  el(id).textContent = value === undefined || value === null || value === '' ? '–' : String(value);
}

function show(id: string, visible: boolean): void {
  el(id).hidden = !visible;
}

function message(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return 'cannot reach the server';
  return err instanceof Error ? err.message : String(err);
}

function showError(id: string, err: unknown): void {
  const box = el(id);
  box.textContent = message(err);
  box.hidden = false;
}

function clearError(id: string): void {
  const box = el(id);
  box.textContent = '';
  box.hidden = true;
}

/** Reads a secret out of an input and empties the input at once. */
function takeSecret(id: string): string {
  const input = el<HTMLInputElement>(id);
  const value = input.value.trim();
  input.value = '';
  return value;
}

function num(id: string): number {
  return Number(el<HTMLInputElement>(id).value);
}

function lines(id: string): string[] {
  return el<HTMLTextAreaElement>(id)
    .value.split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function numberOf(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** First defined value at one of the dotted paths (the rewrap API's fields may be flat or grouped). */
function pick(obj: Json, ...paths: string[]): unknown {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const part of p.split('.')) cur = isRecord(cur) ? cur[part] : undefined;
    if (cur !== undefined && cur !== null) return cur;
  }
  return undefined;
}

function fillList(id: string, items: string[], empty = 'none'): void {
  const list = el(id);
  list.replaceChildren(
    ...(items.length > 0 ? items : [empty]).map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
}

function setProgress(barId: string, textId: string, done: number, of: number): void {
  const bar = el<HTMLProgressElement>(barId);
  bar.max = Math.max(of, 1);
  bar.value = Math.min(done, bar.max);
  el(textId).textContent = `${done} / ${of > 0 ? of : '?'}`;
}

/** Shows secrets once, with the warning; "I have saved them" removes them from the page. */
function showOnce(title: string, warning: string, items: { label: string; value: string }[]): void {
  el('once-title').textContent = title;
  el('once-warning').textContent = warning;
  el('once-list').replaceChildren(
    ...items.map(({ label, value }) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = `${label}: `;
      const code = document.createElement('code');
      code.textContent = value;
      li.append(name, code);
      return li;
    }),
  );
  show('secrets-once', true);
  el('once-clear').focus();
}

function clearOnce(): void {
  el('once-list').replaceChildren();
  el('once-warning').textContent = '';
  show('secrets-once', false);
}

// ---- Seal state, init, unseal ----

async function refreshStatus(): Promise<void> {
  let s: Json;
  try {
    s = await api('GET', 'sys/seal-status');
    show('global-error', false);
  } catch (err) {
    showError('global-error', err);
    return;
  }
  initialized = s.initialized === true;
  sealed = s.sealed === true;
  const badge = el('seal-state');
  badge.textContent = !initialized ? 'not initialized' : sealed ? 'sealed' : 'unsealed';
  badge.classList.toggle('sealed', sealed);
  setText('st-initialized', initialized ? 'yes' : 'no');
  setText('st-sealed', sealed ? 'yes' : 'no');
  setText('st-type', s.type);
  setText('st-tn', initialized ? `${str(s.t)} of ${str(s.n)}` : '');
  setText('st-progress', initialized && sealed ? `${str(s.progress)} / ${str(s.t)}` : '');
  setText('st-version', s.version);
  setText('st-cluster', s.cluster_name);
  show('init-panel', !initialized);
  show('unseal-panel', initialized && sealed);
  setProgress('unseal-progress', 'unseal-progress-text', numberOf(s.progress), numberOf(s.t));
  try {
    const l = await api('GET', 'sys/leader');
    if (l.ha_enabled !== true) setText('st-ha', 'not enabled (single node)');
    else setText('st-ha', `${l.is_self === true ? 'active' : 'standby'}; leader ${str(l.leader_address) || 'unknown'}`);
  } catch (err) {
    setText('st-ha', err instanceof ApiError && err.unavailable ? 'not available on this server' : message(err));
  }
}

async function initialize(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('init-error');
  const body: Json = { secret_shares: num('init-shares'), secret_threshold: num('init-threshold') };
  const pgp = lines('init-pgp');
  if (pgp.length > 0) body.pgp_keys = pgp;
  const rootPgp = el<HTMLTextAreaElement>('init-root-pgp').value.trim();
  if (rootPgp !== '') body.root_token_pgp_key = rootPgp;
  try {
    const res = await api('PUT', 'sys/init', { body });
    const keys = Array.isArray(res.keys_base64) ? res.keys_base64.map(str) : [];
    const threshold = str(body.secret_threshold);
    showOnce(
      'Initialized: copy these now',
      `These ${keys.length} key shares and the root token are shown once and Coffer does not keep them. ` +
        `Any ${threshold} shares unseal the server. Give each share to its holder now.`,
      [...keys.map((k, i) => ({ label: `Key ${i + 1}`, value: k })), { label: 'Initial root token', value: str(res.root_token) }],
    );
  } catch (err) {
    showError('init-error', err);
  }
  await refreshStatus();
}

async function unseal(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('unseal-error');
  const key = takeSecret('unseal-key');
  try {
    await api('PUT', 'sys/unseal', { body: { key } });
  } catch (err) {
    showError('unseal-error', err);
  }
  await refreshStatus();
  if (!sealed) await refreshAll();
}

async function unsealReset(): Promise<void> {
  clearError('unseal-error');
  try {
    await api('PUT', 'sys/unseal', { body: { reset: true } });
  } catch (err) {
    showError('unseal-error', err);
  }
  await refreshStatus();
}

// ---- Token ----

async function useToken(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('token-error');
  const candidate = takeSecret('token-input');
  try {
    const self = dataOf(await api('GET', 'auth/token/lookup-self', { token: candidate }));
    token = candidate;
    const policies = Array.isArray(self.policies) ? self.policies.map(str).join(', ') : '';
    el('token-state').textContent = `Token in use (policies: ${policies || 'none'}), held in this tab's memory only.`;
  } catch (err) {
    showError('token-error', err);
  }
  await refreshAll();
}

function forgetToken(): void {
  token = undefined;
  el('token-state').textContent = 'No token.';
  for (const id of ['key-term', 'key-installed', 'key-encryptions']) setText(id, '');
  show('key-terms', false);
  show('rewrap-job', false);
  show('census', false);
  void refreshAll();
}

function needsToken(errorId: string): boolean {
  if (token !== undefined) return false;
  showError(errorId, 'enter a token first (Token panel)');
  return true;
}

// ---- Keys: status, terms, rotate ----

async function refreshKeys(): Promise<void> {
  if (token === undefined || sealed) return;
  try {
    const k = dataOf(await api('GET', 'sys/key-status', { token }));
    setText('key-term', k.term);
    setText('key-installed', k.install_time);
    setText('key-encryptions', k.encryptions);
    const terms = Array.isArray(k.terms) ? k.terms.filter(isRecord) : [];
    show('key-terms', terms.length > 0);
    el('key-terms-body').replaceChildren(
      ...terms.map((t) => {
        const row = document.createElement('tr');
        for (const v of [t.term, t.install_time, t.state, t.entries]) {
          const cell = document.createElement('td');
          cell.textContent = v === undefined || v === null ? '–' : str(v);
          row.append(cell);
        }
        return row;
      }),
    );
    clearError('keys-error');
  } catch (err) {
    showError('keys-error', err);
  }
}

async function rotate(): Promise<void> {
  show('rotate-confirm', false);
  clearError('keys-error');
  if (needsToken('keys-error')) return;
  try {
    await api('PUT', 'sys/rotate', { token });
  } catch (err) {
    showError('keys-error', err);
  }
  await refreshKeys();
  el('rotate-ask').focus();
}

// ---- Rekey ----

function rekeyAuth(): { token?: string } {
  return token === undefined ? {} : { token };
}

async function refreshRekey(): Promise<void> {
  if (sealed) {
    show('rekey-start', false);
    show('rekey-running', false);
    el('rekey-unavailable').textContent = 'Available once the server is unsealed.';
    show('rekey-unavailable', true);
    return;
  }
  let r: Json;
  try {
    r = await api('GET', 'sys/rekey/init', rekeyAuth());
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
  fillList('rekey-fingerprints', Array.isArray(r.pgp_fingerprints) ? r.pgp_fingerprints.map(str) : [], 'none: new shares are returned in clear');
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
    await api('PUT', 'sys/rekey/init', { body, ...rekeyAuth() });
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

/** Step 1: the holder's share goes to memory, and what it would authorize is fetched afresh and shown. */
async function reviewRekey(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rekey-error');
  pendingRekeyShare = takeSecret('rekey-key');
  try {
    const r = await api('GET', 'sys/rekey/init', rekeyAuth());
    if (r.started !== true) throw new Error('no rekey is in progress any more');
    reviewedNonce = str(r.nonce);
    el('rc-nonce').textContent = reviewedNonce;
    el('rc-started').textContent = str(r.started_time) || 'not reported by this server';
    el('rc-tn').textContent = `${str(r.t)} of ${str(r.n)}`;
    fillList('rc-fingerprints', Array.isArray(r.pgp_fingerprints) ? r.pgp_fingerprints.map(str) : [], 'none: the new shares will be shown in clear');
    show('rekey-confirm', true);
    el('rekey-send').focus();
  } catch (err) {
    pendingRekeyShare = undefined;
    showError('rekey-error', err);
  }
}

function closeReview(): void {
  pendingRekeyShare = undefined;
  show('rekey-confirm', false);
}

/** Step 2: the share is sent with the nonce the holder saw. */
async function sendRekeyShare(): Promise<void> {
  const key = pendingRekeyShare;
  const nonce = reviewedNonce;
  closeReview();
  if (key === undefined) return;
  clearError('rekey-error');
  try {
    const r = await api('PUT', 'sys/rekey/update', { body: { key, nonce }, ...rekeyAuth() });
    if (r.complete === true) rekeyCompleted(r);
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

function rekeyCompleted(r: Json): void {
  const keys = Array.isArray(r.keys_base64) ? r.keys_base64.map(str) : [];
  const fingerprints = Array.isArray(r.pgp_fingerprints) ? r.pgp_fingerprints.map(str) : [];
  const verify = r.verification_required === true;
  showOnce(
    'Rekey: the new shares, copy these now',
    `These ${keys.length} new shares are shown once. ` +
      (fingerprints.length > 0 ? 'Each is encrypted to the PGP key listed beside it. ' : '') +
      (verify ? 'The old shares stay valid until enough new shares are verified below.' : 'The old shares no longer work.'),
    keys.map((k, i) => ({ label: fingerprints[i] ? `Share ${i + 1} (PGP ${fingerprints[i]})` : `Share ${i + 1}`, value: k })),
  );
  el('rekey-done').textContent = verify ? 'Rekey done: now verify the new shares.' : 'Rekey completed.';
  show('rekey-done', true);
}

async function cancelRekey(): Promise<void> {
  clearError('rekey-error');
  try {
    const r = await api('GET', 'sys/rekey/init', rekeyAuth());
    await api('DELETE', 'sys/rekey/init', { body: { nonce: str(r.nonce) }, ...rekeyAuth() });
  } catch (err) {
    showError('rekey-error', err);
  }
  closeReview();
  await refreshRekey();
}

async function verifyRekey(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rekey-error');
  const key = takeSecret('rekey-verify-key');
  try {
    const nonce = el('rekey-verify-nonce').textContent ?? '';
    const r = await api('PUT', 'sys/rekey/verify', { body: { key, nonce }, ...rekeyAuth() });
    if (r.complete === true) {
      el('rekey-done').textContent = 'Verification complete: the new shares are now the only ones.';
      show('rekey-done', true);
    } else el('rekey-verify-progress').textContent = `${str(r.progress)} / ${str(r.t)} verified`;
  } catch (err) {
    showError('rekey-error', err);
  }
  await refreshRekey();
}

// ---- Generate root ----

/** Panels that need the barrier unsealed (and, for most, a token) say so instead of staying blank. */
function waiting(panel: 'root' | 'rewrap' | 'audit', needsToken: boolean): boolean {
  const why = sealed ? 'Available once the server is unsealed.' : needsToken && token === undefined ? 'Enter a token to see this.' : '';
  if (why === '') return false;
  el(`${panel}-unavailable`).textContent = why;
  show(`${panel}-unavailable`, true);
  if (panel !== 'audit') show(`${panel}-body`, false);
  return true;
}

async function refreshRoot(): Promise<void> {
  if (waiting('root', false)) return;
  try {
    const r = await api('GET', 'sys/generate-root/attempt', rekeyAuth());
    show('root-unavailable', false);
    show('root-body', true);
    show('root-start', r.started !== true);
    show('root-running', r.started === true);
    setText('root-nonce', r.nonce);
    setProgress('root-progress', 'root-progress-text', numberOf(r.progress), numberOf(r.required));
  } catch (err) {
    // A server without generate-root answers an anonymous request with 403 (no route, so no unauthenticated path).
    const anonymousRefusal = err instanceof ApiError && err.status === 403 && token === undefined;
    if ((err instanceof ApiError && err.unavailable) || anonymousRefusal) {
      el('root-unavailable').textContent = anonymousRefusal ? 'Enter a token to see whether this server offers it.' : 'Not available on this server.';
      show('root-unavailable', true);
      show('root-body', false);
    } else showError('root-error', err);
  }
}

async function startRoot(): Promise<void> {
  clearError('root-error');
  try {
    const r = await api('PUT', 'sys/generate-root/attempt', { body: {}, ...rekeyAuth() });
    rootOtp = str(r.otp);
    if (rootOtp === '') throw new Error('the server returned no one-time password');
    showOnce('Generate root: one-time password', 'The page keeps this OTP in memory to decode the new root token at the end.', [
      { label: 'OTP', value: rootOtp },
    ]);
  } catch (err) {
    showError('root-error', err);
  }
  await refreshRoot();
}

async function sendRootShare(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('root-error');
  const key = takeSecret('root-key');
  try {
    const status = await api('GET', 'sys/generate-root/attempt', rekeyAuth());
    const r = await api('PUT', 'sys/generate-root/update', { body: { key, nonce: str(status.nonce) }, ...rekeyAuth() });
    const encoded = str(r.encoded_token) || str(r.encoded_root_token);
    if (r.complete === true && encoded !== '') {
      if (rootOtp === undefined) throw new Error('this tab did not start the attempt, so it has no OTP to decode the token');
      const decoded = decodeRootToken(encoded, rootOtp);
      rootOtp = undefined;
      showOnce('Generate root: the new root token', 'Shown once. Revoke it when the emergency is over.', [{ label: 'Root token', value: decoded }]);
    }
  } catch (err) {
    showError('root-error', err);
  }
  await refreshRoot();
}

async function cancelRoot(): Promise<void> {
  clearError('root-error');
  try {
    await api('DELETE', 'sys/generate-root/attempt', rekeyAuth());
    rootOtp = undefined;
  } catch (err) {
    showError('root-error', err);
  }
  await refreshRoot();
}

// ---- Rewrap jobs and census ----

function unavailable(panel: 'rewrap' | 'audit', err: unknown): boolean {
  if (!(err instanceof ApiError && err.unavailable)) return false;
  el(`${panel}-unavailable`).textContent = 'Not available on this server.';
  show(`${panel}-unavailable`, true);
  if (panel === 'rewrap') show('rewrap-body', false);
  return true;
}

async function refreshRewrap(): Promise<void> {
  if (waiting('rewrap', true) || token === undefined) return;
  try {
    const list = dataOf(await api('GET', 'sys/rewrap/jobs', { token }));
    show('rewrap-unavailable', false);
    show('rewrap-body', true);
    const jobs = Array.isArray(list.jobs) ? list.jobs : Array.isArray(list.keys) ? list.keys : [];
    const last: unknown = jobs[jobs.length - 1];
    rewrapJobId ??= isRecord(last) ? str(last.job_id) || str(last.id) : str(last) || undefined;
    if (rewrapJobId) renderJob(dataOf(await api('GET', `sys/rewrap/jobs/${encodeURIComponent(rewrapJobId)}`, { token })));
    clearError('rewrap-error');
  } catch (err) {
    if (!unavailable('rewrap', err)) showError('rewrap-error', err);
  }
}

function renderJob(j: Json): void {
  show('rewrap-job', true);
  setText('rewrap-id', pick(j, 'job_id', 'id'));
  setText('rewrap-state', j.state);
  const percent = numberOf(pick(j, 'percent', 'progress.percent_entries', 'progress.percent'));
  el<HTMLProgressElement>('rewrap-progress').value = percent;
  setText('rewrap-percent', `${percent.toFixed(1)} %`);
  const rate = numberOf(pick(j, 'rate', 'rate.entries_per_second', 'entries_per_second'));
  const eta = pick(j, 'eta_seconds', 'progress.eta_seconds', 'eta');
  setText('rewrap-rate', `${rate.toFixed(1)} entries/s; ETA ${eta === undefined ? '–' : `${str(eta)} s`}`);
  const counts = ['rewrapped', 'skipped', 'failed'].map((k) => str(pick(j, k, `counts.${k}`, `entries.${k}`, `entries.${k}_current`)) || '0');
  setText('rewrap-counts', counts.join(' / '));
  const remaining = pick(j, 'remaining_by_term');
  setText(
    'rewrap-remaining',
    isRecord(remaining)
      ? Object.entries(remaining)
          .map(([t, n]) => `term ${t}: ${str(n)}`)
          .join(', ') || 'none'
      : '',
  );
}

async function startRewrap(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('rewrap-error');
  if (needsToken('rewrap-error')) return;
  try {
    const spec: unknown = JSON.parse(el<HTMLTextAreaElement>('rewrap-spec').value);
    const r = dataOf(await api('POST', 'sys/rewrap/jobs', { body: { spec }, token }));
    rewrapJobId = str(r.job_id) || undefined;
  } catch (err) {
    showError('rewrap-error', err);
  }
  await refreshRewrap();
}

async function jobAction(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
  clearError('rewrap-error');
  if (needsToken('rewrap-error') || rewrapJobId === undefined) return;
  try {
    await api('POST', `sys/rewrap/jobs/${encodeURIComponent(rewrapJobId)}/${action}`, { token });
  } catch (err) {
    showError('rewrap-error', err);
  }
  await refreshRewrap();
}

async function runCensus(): Promise<void> {
  clearError('rewrap-error');
  if (needsToken('rewrap-error')) return;
  try {
    await api('POST', 'sys/rewrap/census', { token });
  } catch (err) {
    showError('rewrap-error', err);
  }
  await refreshCensus();
}

async function refreshCensus(): Promise<void> {
  if (token === undefined || sealed) return;
  try {
    const c = dataOf(await api('GET', 'sys/rewrap/census', { token }));
    const terms = isRecord(c.terms) ? c.terms : {};
    const rows = Object.entries(terms).map(([term, v]) => ({ term, entries: numberOf(isRecord(v) ? v.entries : v) }));
    const most = Math.max(1, ...rows.map((r) => r.entries));
    show('census', rows.length > 0);
    el('census-caption').textContent = `Entries per term (census ${str(c.state) || 'read'}${c.completed_at ? `, ${str(c.completed_at)}` : ''})`;
    el('census-body').replaceChildren(
      ...rows.map(({ term, entries }) => {
        const row = document.createElement('tr');
        row.dataset.term = term;
        const t = document.createElement('td');
        t.textContent = term;
        const n = document.createElement('td');
        n.textContent = String(entries);
        const chart = document.createElement('td');
        const bar = document.createElement('meter');
        bar.min = 0;
        bar.max = most;
        bar.value = entries;
        bar.setAttribute('aria-label', `term ${term}: ${entries} entries`);
        chart.append(bar);
        row.append(t, n, chart);
        return row;
      }),
    );
  } catch (err) {
    if (!(err instanceof ApiError && (err.unavailable || err.status === 400))) showError('rewrap-error', err);
  }
}

// ---- Audit devices ----

async function refreshAudit(): Promise<void> {
  if (waiting('audit', true) || token === undefined) return;
  try {
    const a = dataOf(await api('GET', 'sys/audit', { token }));
    show('audit-unavailable', false);
    fillList(
      'audit-list',
      Object.entries(a)
        .filter(([, v]) => isRecord(v))
        .map(([path, v]) => `${path} (${str((v as Json).type)})${str((v as Json).description) ? `: ${str((v as Json).description)}` : ''}`),
      'no audit device enabled',
    );
    clearError('audit-error');
  } catch (err) {
    if (!unavailable('audit', err)) showError('audit-error', err);
  }
}

// ---- Wiring ----

let refreshing = false;

async function refreshAll(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    await refreshStatus();
    await Promise.all([refreshRekey(), refreshRoot(), refreshKeys(), refreshRewrap(), refreshCensus(), refreshAudit()]);
  } finally {
    refreshing = false;
  }
}

function onSubmit(id: string, fn: (event: SubmitEvent) => Promise<void>): void {
  el<HTMLFormElement>(id).addEventListener('submit', (event) => void fn(event));
}

function onClick(id: string, fn: () => unknown): void {
  el(id).addEventListener('click', () => void fn());
}

function start(): void {
  onSubmit('init-form', initialize);
  onSubmit('unseal-form', unseal);
  onClick('unseal-reset', unsealReset);
  onSubmit('token-form', useToken);
  onClick('token-forget', forgetToken);
  onClick('once-clear', clearOnce);
  onClick('rotate-ask', () => {
    show('rotate-confirm', true);
    el('rotate-yes').focus();
  });
  onClick('rotate-yes', rotate);
  onClick('rotate-no', () => {
    show('rotate-confirm', false);
    el('rotate-ask').focus();
  });
  onSubmit('rekey-start', startRekey);
  onSubmit('rekey-share-form', reviewRekey);
  onClick('rekey-send', sendRekeyShare);
  onClick('rekey-back', closeReview);
  onClick('rekey-cancel', cancelRekey);
  onSubmit('rekey-verify-form', verifyRekey);
  onClick('root-start', startRoot);
  onSubmit('root-share-form', sendRootShare);
  onClick('root-cancel', cancelRoot);
  onSubmit('rewrap-start', startRewrap);
  onClick('rewrap-pause', () => jobAction('pause'));
  onClick('rewrap-resume', () => jobAction('resume'));
  onClick('rewrap-cancel', () => jobAction('cancel'));
  onClick('census-start', runCensus);
  void refreshAll();
  setInterval(() => void refreshAll(), POLL_MS);
}

start();
