import { api, ApiError, dataOf, isRecord } from './api.js';
import { barCell, clearError, el, needsToken, numberOf, onClick, shortTime, show, showError, str, textCell } from './dom.js';
import { refreshKeys, termsOf } from './keys-panel.js';
import { session } from './session.js';

// The term census (`sys/rewrap/census`): entries per keyring term, as a bar chart. Every term of the keyring gets a
// row, so a term the census found nothing under shows 0 instead of vanishing; terms outside the keyring are listed
// as unknown.

export async function refreshCensus(): Promise<void> {
  if (session.token === undefined || session.sealed) {
    show('census', false);
    return;
  }
  const token = session.token;
  try {
    const [census, status] = await Promise.all([
      api('GET', 'sys/rewrap/census', { token }).then(dataOf, (err: unknown) => {
        // No census has been run yet: 404 in Vault's words. Not an error worth a red line.
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      }),
      api('GET', 'sys/key-status', { token }).then(dataOf),
    ]);
    if (census === undefined) {
      el('census-caption').textContent = 'No census yet';
      show('census', false);
      return;
    }
    const counted = isRecord(census.terms) ? census.terms : {};
    const entriesOf = (term: string) => numberOf(isRecord(counted[term]) ? counted[term].entries : undefined);
    const keyring = termsOf(status);
    const rows = [
      ...keyring.map((t) => ({ term: String(t.term), label: String(t.term), old: t.state !== 'active', entries: entriesOf(String(t.term)) })),
      ...Object.keys(counted)
        .filter((term) => !keyring.some((t) => String(t.term) === term))
        .map((term) => ({ term, label: `${term} (not in the keyring)`, old: true, entries: entriesOf(term) })),
    ];
    const unknown = isRecord(census.unknown_terms) ? census.unknown_terms : {};
    for (const [term, v] of Object.entries(unknown))
      rows.push({ term, label: `${term} (unknown term)`, old: true, entries: numberOf(isRecord(v) ? v.entries : undefined) });
    const most = Math.max(0, ...rows.map((r) => r.entries));
    const state = str(census.state);
    const when = census.completed_at ? `, ${shortTime(census.completed_at)}` : '';
    // A census taken under an older active term predates a rotation (or a rekey): new writes are not in it.
    const stale =
      typeof census.active_term === 'number' && census.active_term !== status.term
        ? `; stale: taken while term ${census.active_term} was active`
        : '';
    el('census-caption').textContent = `Entries per term (census ${state}${when}; ${numberOf(census.scanned)} entries scanned${stale})`;
    el('census').dataset.state = state;
    el('census-body').replaceChildren(
      ...rows.map(({ term, label, old, entries }) => {
        const row = document.createElement('tr');
        row.dataset.term = term;
        if (old) row.classList.add('old-term');
        row.append(textCell(label), barCell(entries, most, `term ${term}`));
        return row;
      }),
    );
    show('census', true);
  } catch (err) {
    showError('census-error', err);
  }
}

async function runCensus(): Promise<void> {
  clearError('census-error');
  if (needsToken('census-error')) return;
  try {
    await api('POST', 'sys/rewrap/census', { token: session.token });
  } catch (err) {
    showError('census-error', err);
  }
  await Promise.all([refreshCensus(), refreshKeys()]);
}

export function wireCensusPanel(): void {
  onClick('census-start', runCensus);
}
