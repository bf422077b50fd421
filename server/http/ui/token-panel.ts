import { api, dataOf } from './api.js';
import { clearError, el, onClick, onSubmit, showError, str, takeSecret } from './dom.js';
import { refreshAll, session } from './session.js';

// The operator's token: checked with lookup-self, then kept in this tab's memory for the actions that need one.

async function useToken(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('token-error');
  const candidate = takeSecret('token-input');
  try {
    const self = dataOf(await api('GET', 'auth/token/lookup-self', { token: candidate }));
    session.token = candidate;
    const policies = Array.isArray(self.policies) ? self.policies.map(str).join(', ') : '';
    el('token-state').textContent = `Token in use (policies: ${policies || 'none'}), held in this tab's memory only.`;
  } catch (err) {
    showError('token-error', err);
  }
  await refreshAll();
}

/** Drops the token; the panels that showed what it could read are emptied by their next refresh. */
function forgetToken(): void {
  session.token = undefined;
  el('token-state').textContent = 'No token.';
  void refreshAll();
}

export function wireTokenPanel(): void {
  onSubmit('token-form', useToken);
  onClick('token-forget', forgetToken);
}
