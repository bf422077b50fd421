import { api, ApiError, type Json } from './api.js';
import {
  clearError,
  el,
  lines,
  message,
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
import { refreshAll, session } from './session.js';

// Seal state (live), init for an uninitialized server, unseal with a password field emptied after each submit.

/** Reads `sys/seal-status` and `sys/leader` into the seal-state panel and shows init or unseal as they apply. */
export async function refreshStatus(): Promise<void> {
  let s: Json;
  try {
    s = await api('GET', 'sys/seal-status');
    show('global-error', false);
  } catch (err) {
    showError('global-error', err);
    return;
  }
  session.initialized = s.initialized === true;
  session.sealed = s.sealed === true;
  const { initialized, sealed } = session;
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
    showOnce(
      'Initialized: copy these now',
      `These ${keys.length} key shares and the root token are shown once and Coffer does not keep them. ` +
        `Any ${str(body.secret_threshold)} shares unseal the server. Give each share to its holder now.`,
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
  if (!session.sealed) await refreshAll();
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

export function wireSealPanel(): void {
  onSubmit('init-form', initialize);
  onSubmit('unseal-form', unseal);
  onClick('unseal-reset', unsealReset);
}
