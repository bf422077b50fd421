import { api, dataOf, isRecord, type Json } from './api.js';
import { barCell, clearError, el, needsToken, onClick, setText, show, showError, shortTime, str, textCell } from './dom.js';
import { session } from './session.js';

// The barrier's keyring: the active term, every term with its install time, state and the entries the last census
// found under it (a bar chart), and rotation behind a confirmation.

/** The server calls a term that still decrypts but no longer encrypts "enabled"; the page says what it does. */
const STATE_WORDS: Record<string, string> = { active: 'active', enabled: 'decrypt', retired: 'retired', trimmed: 'trimmed' };

/** A keyring term as `sys/key-status` lists it; `entries` is undefined when no census has completed. */
export interface TermView {
  term: number;
  installTime: string;
  state: string;
  entries: number | undefined;
}

/** The terms of a `sys/key-status` answer, oldest first. */
export function termsOf(status: Json): TermView[] {
  const terms = Array.isArray(status.terms) ? status.terms.filter(isRecord) : [];
  return terms
    .map((t) => ({
      term: typeof t.term === 'number' ? t.term : Number(t.term),
      installTime: str(t.install_time),
      state: str(t.state),
      entries: typeof t.entries === 'number' ? t.entries : undefined,
    }))
    .sort((a, b) => a.term - b.term);
}

function clearKeys(): void {
  for (const id of ['key-term', 'key-installed', 'key-encryptions', 'key-census-at']) setText(id, '');
  el('key-terms-body').replaceChildren();
  show('key-terms', false);
}

export async function refreshKeys(): Promise<void> {
  if (session.token === undefined || session.sealed) return clearKeys();
  try {
    const k = dataOf(await api('GET', 'sys/key-status', { token: session.token }));
    setText('key-term', k.term);
    setText('key-installed', shortTime(k.install_time));
    setText('key-encryptions', k.encryptions);
    setText('key-census-at', k.census_at ? shortTime(k.census_at) : 'none yet (run one in the rewrap panel)');
    const terms = termsOf(k);
    const most = Math.max(0, ...terms.map((t) => t.entries ?? 0));
    show('key-terms', terms.length > 0);
    el('key-terms-body').replaceChildren(
      ...terms.map((t) => {
        const row = document.createElement('tr');
        row.dataset.term = String(t.term);
        row.dataset.state = t.state;
        const installed = document.createElement('td');
        const time = document.createElement('time');
        time.dateTime = t.installTime;
        time.textContent = shortTime(t.installTime);
        installed.append(time);
        row.append(textCell(String(t.term)), installed, textCell(STATE_WORDS[t.state] ?? t.state), barCell(t.entries, most, `term ${t.term}`));
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
    await api('PUT', 'sys/rotate', { token: session.token });
  } catch (err) {
    showError('keys-error', err);
  }
  await refreshKeys();
  el('rotate-ask').focus();
}

export function wireKeysPanel(): void {
  onClick('rotate-ask', () => {
    show('rotate-confirm', true);
    el('rotate-yes').focus();
  });
  onClick('rotate-yes', rotate);
  onClick('rotate-no', () => {
    show('rotate-confirm', false);
    el('rotate-ask').focus();
  });
}
