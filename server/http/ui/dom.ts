import { ApiError } from './api.js';
import { session } from './session.js';

// DOM helpers shared by the panels: text only (never innerHTML), so nothing the server sends is ever markup.

export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing element #${id}`);
  return found as T;
}

export function setText(id: string, value: unknown): void {
  el(id).textContent = value === undefined || value === null || value === '' ? '–' : String(value);
}

export function show(id: string, visible: boolean): void {
  el(id).hidden = !visible;
}

/** An error in Vault's words when the API gave some, else a short description. */
export function message(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return 'cannot reach the server';
  return err instanceof Error ? err.message : String(err);
}

export function showError(id: string, err: unknown): void {
  const box = el(id);
  box.textContent = message(err);
  box.hidden = false;
}

export function clearError(id: string): void {
  const box = el(id);
  box.textContent = '';
  box.hidden = true;
}

/** Reads a secret out of an input and empties the input at once. */
export function takeSecret(id: string): string {
  const input = el<HTMLInputElement>(id);
  const value = input.value.trim();
  input.value = '';
  return value;
}

export function num(id: string): number {
  return Number(el<HTMLInputElement>(id).value);
}

export function lines(id: string): string[] {
  return el<HTMLTextAreaElement>(id)
    .value.split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

export function numberOf(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** An RFC 3339 time as `2026-01-02 03:04:05 UTC` (the API's nanosecond digits are noise on a page). */
export function shortTime(value: unknown): string {
  const s = str(value);
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(s);
  return m ? `${m[1]} ${m[2]} UTC` : s;
}

export function fillList(id: string, items: string[], empty = 'none'): void {
  el(id).replaceChildren(
    ...(items.length > 0 ? items : [empty]).map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
}

export function setProgress(barId: string, textId: string, done: number, of: number): void {
  const bar = el<HTMLProgressElement>(barId);
  bar.max = Math.max(of, 1);
  bar.value = Math.min(done, bar.max);
  el(textId).textContent = `${done} / ${of > 0 ? of : '?'}`;
}

/** A table cell holding a count and its bar (a `<meter>` scaled to the largest count of the chart). */
export function barCell(entries: number | undefined, most: number, label: string): HTMLTableCellElement {
  const cell = document.createElement('td');
  cell.className = 'bar';
  if (entries === undefined) {
    cell.textContent = 'no census yet';
    return cell;
  }
  const count = document.createElement('span');
  count.className = 'count';
  count.textContent = String(entries);
  const bar = document.createElement('meter');
  bar.min = 0;
  bar.max = Math.max(1, most);
  bar.value = entries;
  bar.setAttribute('aria-label', `${label}: ${entries} entries`);
  // The flex layout lives in a wrapper: a flex <td> would leave the table's row layout.
  const wrap = document.createElement('span');
  wrap.className = 'bar-wrap';
  wrap.append(count, bar);
  cell.append(wrap);
  return cell;
}

export function textCell(value: string): HTMLTableCellElement {
  const cell = document.createElement('td');
  cell.textContent = value === '' ? '–' : value;
  return cell;
}

/** Shows secrets once, with the warning; "I have saved them" removes them from the page. */
export function showOnce(title: string, warning: string, items: { label: string; value: string }[]): void {
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

export function clearOnce(): void {
  el('once-list').replaceChildren();
  el('once-warning').textContent = '';
  show('secrets-once', false);
}

/** Panels that need the barrier unsealed (and, for some, a token) say so instead of staying blank. */
export function waiting(panel: 'root' | 'rewrap' | 'audit', needsToken: boolean): boolean {
  const why = session.sealed
    ? 'Available once the server is unsealed.'
    : needsToken && session.token === undefined
      ? 'Enter a token to see this.'
      : '';
  if (why === '') return false;
  el(`${panel}-unavailable`).textContent = why;
  show(`${panel}-unavailable`, true);
  if (panel !== 'audit') show(`${panel}-body`, false);
  return true;
}

/** Marks a panel "not available" when the server has no such endpoint (404/405); false for any other error. */
export function unavailable(panel: 'rewrap' | 'audit' | 'root', err: unknown): boolean {
  if (!(err instanceof ApiError && err.unavailable)) return false;
  el(`${panel}-unavailable`).textContent = 'Not available on this server.';
  show(`${panel}-unavailable`, true);
  if (panel !== 'audit') show(`${panel}-body`, false);
  return true;
}

/** Says so in the panel's error box when the action needs a token and none was entered. */
export function needsToken(errorId: string): boolean {
  if (session.token !== undefined) return false;
  showError(errorId, 'enter a token first (Token panel)');
  return true;
}

export function onSubmit(id: string, fn: (event: SubmitEvent) => Promise<void>): void {
  el<HTMLFormElement>(id).addEventListener('submit', (event) => void fn(event));
}

export function onClick(id: string, fn: () => unknown): void {
  el(id).addEventListener('click', () => void fn());
}
