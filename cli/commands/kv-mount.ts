import type { VaultClient } from '../client/vault-client.js';
import { headerForMap, padEqualSigns } from '../io/go-format.js';
import { dataTable } from '../io/output.js';
import { LocalError } from './command-context.js';

/** Where a KV secret lives: its mount (`secret/`), the mount's KV version and the path inside the mount. */
export interface KvTarget {
  mount: string;
  version: '1' | '2';
  relative: string;
}

/** Options the KV commands share with Vault's: `-mount` names the mount, the argument is then the secret path. */
export interface KvOptions {
  mount?: string;
}

/**
 * Asks the server which mount serves the path and its KV version, as `vault kv` does in its preflight request
 * (sent even under `-output-curl-string`, which prints the request that follows).
 */
export async function kvTarget(client: VaultClient, arg: string, opts: KvOptions): Promise<KvTarget> {
  const clean = arg.replace(/^\/+/, '');
  const full = opts.mount ? `${opts.mount.replace(/^\/+|\/+$/g, '')}/${clean}` : clean;
  type MountInfo = { data: { path: string; options: { version?: string } | null } };
  const res = await client.request<MountInfo>('GET', `sys/internal/ui/mounts/${full}`, undefined, { preflight: true });
  const mount = res.body!.data.path;
  return { mount, version: res.body!.data.options?.version === '2' ? '2' : '1', relative: full.slice(mount.length) };
}

/** `secret/app/db` on a v2 mount → `secret/data/app/db` (or `metadata`, `undelete`, …); v1 paths stay as they are. */
export function kvPath(target: KvTarget, kind: string): string {
  return target.version === '1' ? `${target.mount}${target.relative}` : `${target.mount}${kind}/${target.relative}`;
}

/** @throws LocalError (exit 2) naming the command when the mount is KV version 1. */
export function requireV2(target: KvTarget, what: string): void {
  if (target.version !== '2') throw new LocalError(`K/V engine mount must be version 2 for ${what} support`, true, 2);
}

/** A titled section over a key/value table, headed `====== Title ======` as wide as the table's key column. */
export function mapSection(title: string, data: Record<string, unknown>): string {
  return `${headerForMap(title, data)}\n${dataTable(data)}`;
}

/** Vault's `== Secret Path ==` block: the title padded to the path's width, the path, a blank line. */
export function pathSection(title: string, path: string): string {
  return `${padEqualSigns(title, path.length)}\n${path}\n\n`;
}

/** What `kv put` / `kv patch` print for a v2 write: the secret path, then the new version's metadata. */
export function writeTable(path: string, metadata: Record<string, unknown>): string {
  return `${pathSection('Secret Path', path)}${mapSection('Metadata', metadata)}`;
}

/** Versions as `-versions=1,2 -versions 3` give them. @throws LocalError for a non-number. */
export function versionList(values: string[] | undefined): number[] {
  const out = (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  const nums = out.map(Number);
  if (nums.some((n) => !Number.isInteger(n) || n < 1)) throw new LocalError(`invalid versions "${out.join(',')}": must be positive integers`);
  return nums;
}

/** `k=v` pairs given to `-custom-metadata` (repeatable) as a map. @throws LocalError for a pair without `=`. */
export function customMetadata(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new LocalError(`invalid custom metadata "${pair}": format must be key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
