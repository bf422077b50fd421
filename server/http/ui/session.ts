// What the page knows across panels. The token lives only here, in this tab's memory: never in storage, a URL, an
// attribute or the DOM.

/** The state every panel reads: the token in use (if any) and the server's last seen seal state. */
export const session: { token: string | undefined; sealed: boolean; initialized: boolean } = {
  token: undefined,
  sealed: true,
  initialized: false,
};

/** The token as `api()` options: none when the operator has not entered one (key holders need no token). */
export function auth(): { token?: string } {
  return session.token === undefined ? {} : { token: session.token };
}

let refresher: () => Promise<void> = async () => {};

/** Registers the page-wide refresh (app.ts); panels call {@link refreshAll} after an action changes the server. */
export function setRefresher(fn: () => Promise<void>): void {
  refresher = fn;
}

/** Re-reads every panel from the server. */
export function refreshAll(): Promise<void> {
  return refresher();
}
