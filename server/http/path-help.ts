/**
 * The text `GET <path>?help=1` answers (what `vault path-help` prints): what a path is for and which operations it
 * takes. Keyed by the start of the path below `/v1/`; the longest matching prefix wins.
 */
const HELP: ReadonlyArray<readonly [string, string]> = [
  ['sys/init', 'Initialise the server: PUT creates the root key, the key shares and the root token; GET tells whether it is initialised.'],
  ['sys/seal-status', 'GET: the seal state, threshold, shares and unseal progress.'],
  ['sys/unseal', 'PUT {key}: submit one unseal (or recovery) key share; {reset: true} discards the shares given so far.'],
  ['sys/seal', 'PUT: seal the server (needs sudo). Every key is dropped from memory.'],
  ['sys/health', 'GET: health as a status code (200 active, 429 standby, 501 uninitialised, 503 sealed).'],
  ['sys/rekey', 'Rekey: new unseal key shares from a quorum of the current ones (init, update, verify, backup).'],
  ['sys/rekey-recovery-key', 'Rekey of the recovery key of an auto-sealed server (init, update, verify).'],
  ['sys/generate-root', 'Generate a new root token from a quorum of key shares (attempt, update).'],
  ['sys/rotate', 'PUT: add a barrier key term; sys/rotate/config: automatic rotation; sys/rotate/root: a new root key.'],
  ['sys/key-status', 'GET: the active barrier key term, its install time and encryption count.'],
  [
    'sys/mounts',
    'List, enable, tune and disable secrets engines. GET sys/mounts lists them; sys/mounts/<path> enables, reads or disables one; sys/mounts/<path>/tune reads or changes its settings.',
  ],
  ['sys/policy', 'ACL policies (legacy API): list, read, write and delete; the body field is "rules".'],
  ['sys/policies/acl', 'ACL policies: LIST, and read, write ({policy}) or delete one by name.'],
  ['sys/capabilities-self', 'PUT {paths}: the capabilities the calling token has on each path.'],
  ['sys/metrics', 'GET: Prometheus metrics (?format=prometheus) or their JSON form.'],
  ['auth/token', 'The token store: create, lookup(-self, -accessor), renew-self, revoke(-self, -accessor).'],
];

const ENGINES: Readonly<Record<string, string>> = {
  kv: 'Key/value secrets engine. Version 1: read, write, list and delete a JSON object per path. Version 2: data/<path> (versions, cas), metadata/<path>, delete/, undelete/, destroy/, config.',
  transit:
    'Transit secrets engine: named keys that never leave the server. keys/<name> (create, read, config, rotate, trim), encrypt/, decrypt/, rewrap/, datakey/, sign/, verify/, hmac/, hash/, random/, export/, backup/, restore/.',
};

/** Help for a path: a system path's description, or the engine's for a mounted path. */
export function helpFor(path: string, mount: { path: string; type: string } | undefined): string | undefined {
  if (mount) {
    const engine = ENGINES[mount.type];
    return engine ? `## DESCRIPTION\n\n${engine}\n\nMounted at ${mount.path}.` : undefined;
  }
  let best: readonly [string, string] | undefined;
  for (const entry of HELP) {
    if ((path === entry[0] || path.startsWith(`${entry[0]}/`)) && (!best || entry[0].length > best[0].length)) best = entry;
  }
  return best ? `## DESCRIPTION\n\n${best[1]}` : undefined;
}
