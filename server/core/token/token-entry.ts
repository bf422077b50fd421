// Shared coders: building one per token lookup costs more than the decoding itself.
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** What is stored for a token. The token itself is never stored: only its keyed hash names the entry. */
export interface TokenEntry {
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly displayName: string;
  readonly meta: Readonly<Record<string, string>>;
  /** Unix seconds. */
  readonly creationTime: number;
  /** The TTL the token was created (or last renewed) with, seconds; 0 = never expires (root). */
  readonly ttl: number;
  /** Unix seconds of expiry; 0 = never. */
  readonly expireTime: number;
  /** Seconds; 0 = no cap. Renewals never extend past creation + explicit max TTL. */
  readonly explicitMaxTtl: number;
  readonly renewable: boolean;
  /** Remaining uses; 0 = unlimited. */
  readonly numUses: number;
  /** Hash of the parent token; empty for orphans (the root token, login tokens, orphans made on purpose). */
  readonly parent: string;
  /** Periodic tokens: each renewal sets the TTL to this many seconds, with no max TTL but an explicit one. 0 = none. */
  readonly period: number;
  /** Seconds after creation past which renewals never extend (mount or system max TTL); 0 = no cap. */
  readonly maxTtl: number;
  /** The path that issued the token (`auth/token/create`, `auth/approle/login`…). */
  readonly path: string;
  /** Accessor of the auth mount that issued the token; its tokens are revoked when the mount is disabled. */
  readonly mountAccessor: string;
  /** The token role it was created against, if any. */
  readonly role: string;
  /** Client addresses (CIDR blocks) the token may be used from; empty = anywhere. */
  readonly boundCidrs: readonly string[];
}

/** A token entry together with the hash that names it. */
export interface TokenRecord extends TokenEntry {
  readonly hash: string;
}

/**
 * A token entry as stored behind the barrier: JSON with Vault's snake_case field names. Throws nothing; the caller
 * puts the bytes in the barrier (which encrypts them).
 */
export function encodeTokenEntry(entry: TokenEntry): Uint8Array {
  return utf8Encoder.encode(
    JSON.stringify({
      accessor: entry.accessor,
      policies: entry.policies,
      display_name: entry.displayName,
      meta: entry.meta,
      creation_time: entry.creationTime,
      ttl: entry.ttl,
      expire_time: entry.expireTime,
      explicit_max_ttl: entry.explicitMaxTtl,
      renewable: entry.renewable,
      num_uses: entry.numUses,
      parent: entry.parent,
      period: entry.period,
      max_ttl: entry.maxTtl,
      path: entry.path,
      mount_accessor: entry.mountAccessor,
      role: entry.role,
      bound_cidrs: entry.boundCidrs,
    }),
  );
}

/**
 * A stored token entry read back. Fields added after a token was written get their neutral default (no CIDR bounds,
 * no role, no mount), so entries written by older versions still load.
 * @throws SyntaxError when the bytes are not JSON.
 */
export function decodeTokenEntry(raw: Uint8Array): TokenEntry {
  const j = JSON.parse(utf8Decoder.decode(raw)) as Record<string, unknown>;
  return {
    accessor: String(j.accessor),
    policies: Array.isArray(j.policies) ? j.policies.map(String) : [],
    displayName: String(j.display_name ?? ''),
    meta: (j.meta as Record<string, string>) ?? {},
    creationTime: Number(j.creation_time ?? 0),
    ttl: Number(j.ttl ?? 0),
    expireTime: Number(j.expire_time ?? 0),
    explicitMaxTtl: Number(j.explicit_max_ttl ?? 0),
    renewable: j.renewable === true,
    numUses: Number(j.num_uses ?? 0),
    parent: String(j.parent ?? ''),
    period: Number(j.period ?? 0),
    maxTtl: Number(j.max_ttl ?? 0),
    path: String(j.path ?? (j.display_name === 'root' ? 'auth/token/root' : 'auth/token/create')),
    mountAccessor: String(j.mount_accessor ?? ''),
    role: String(j.role ?? ''),
    boundCidrs: Array.isArray(j.bound_cidrs) ? j.bound_cidrs.map(String) : [],
  };
}
