import { api, ApiError, decodeRootToken } from './api.js';
import {
  clearError,
  numberOf,
  onClick,
  onSubmit,
  setProgress,
  setText,
  shortTime,
  show,
  showError,
  showOnce,
  str,
  takeSecret,
  unavailable,
  waiting,
} from './dom.js';
import { auth, session } from './session.js';

// generate-root with the OTP flow: the server makes the one-time password, the page keeps it in memory, key holders
// send their shares, and the page decodes the new root token itself (the OTP never goes back to the server) and
// shows it once.

/** The generate-root one-time password: needed to decode the token at the end. */
let otp: string | undefined;

export async function refreshRoot(): Promise<void> {
  if (waiting('root', false)) return;
  try {
    const r = await api('GET', 'sys/generate-root/attempt', auth());
    show('root-unavailable', false);
    show('root-body', true);
    show('root-start', r.started !== true);
    show('root-running', r.started === true);
    setText('root-nonce', r.nonce);
    setText('root-started', r.started_time ? shortTime(r.started_time) : '');
    setText('root-otp-state', otp === undefined ? 'not held by this tab: the token cannot be decoded here' : 'held in this tab\u2019s memory');
    setProgress('root-progress', 'root-progress-text', numberOf(r.progress), numberOf(r.required));
  } catch (err) {
    // With disable_unauthed_generate_root_endpoints, an anonymous request is refused: ask for a token.
    const anonymousRefusal = err instanceof ApiError && err.status === 403 && session.token === undefined;
    if (anonymousRefusal) {
      setText('root-unavailable', 'This server wants a token with sudo for generate-root: enter one first.');
      show('root-unavailable', true);
      show('root-body', false);
    } else if (!unavailable('root', err)) showError('root-error', err);
  }
}

async function start(): Promise<void> {
  clearError('root-error');
  try {
    const r = await api('PUT', 'sys/generate-root/attempt', { body: {}, ...auth() });
    otp = str(r.otp);
    if (otp === '') throw new Error('the server returned no one-time password');
    showOnce('Generate root: one-time password', 'The page keeps this OTP in memory to decode the new root token at the end.', [
      { label: 'OTP', value: otp },
    ]);
  } catch (err) {
    otp = undefined;
    showError('root-error', err);
  }
  await refreshRoot();
}

async function sendShare(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearError('root-error');
  const key = takeSecret('root-key');
  try {
    const status = await api('GET', 'sys/generate-root/attempt', auth());
    const r = await api('PUT', 'sys/generate-root/update', { body: { key, nonce: str(status.nonce) }, ...auth() });
    const encoded = str(r.encoded_token) || str(r.encoded_root_token);
    if (r.complete === true && encoded !== '') {
      if (otp === undefined) throw new Error('this tab did not start the attempt, so it has no OTP to decode the token');
      const decoded = decodeRootToken(encoded, otp);
      otp = undefined;
      showOnce('Generate root: the new root token', 'Shown once. Revoke it when the emergency is over.', [{ label: 'Root token', value: decoded }]);
    }
  } catch (err) {
    showError('root-error', err);
  }
  await refreshRoot();
}

async function cancel(): Promise<void> {
  clearError('root-error');
  try {
    await api('DELETE', 'sys/generate-root/attempt', auth());
    otp = undefined;
  } catch (err) {
    showError('root-error', err);
  }
  await refreshRoot();
}

export function wireRootPanel(): void {
  onClick('root-start', start);
  onSubmit('root-share-form', sendShare);
  onClick('root-cancel', cancel);
}
