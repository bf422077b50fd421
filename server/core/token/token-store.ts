import { createHmac, randomInt } from 'node:crypto';
import { Mutex } from 'async-mutex';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { cidrsAllow } from '../auth/cidr.js';
import { CofferError } from '../errors.js';
import { wipe } from '../secret-bytes.js';

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

export interface CreateTokenOptions {
  policies: readonly string[];
  ttl?: number;
  explicitMaxTtl?: number;
  renewable?: boolean;
  numUses?: number;
  displayName?: string;
  meta?: Record<string, string>;
  /** Hash of the creating token; children are revoked with their parent. */
  parent?: string;
  period?: number;
  maxTtl?: number;
  path?: string;
  mountAccessor?: string;
  role?: string;
  boundCidrs?: readonly string[];
}

/** Storage operations to add to a token's revocation batch (its cubbyhole, for one), given the token's hash. */
export type RevocationHook = (hash: string) => Promise<BarrierOp[]>;

export const TOKEN_HMAC_KEY_PATH = 'core/token-hmac-key';
const ID_PREFIX = 'sys/token/id/';
const ACCESSOR_PREFIX = 'sys/token/accessor/';
const PARENT_PREFIX = 'sys/token/parent/';
const MOUNT_PREFIX = 'sys/token/mount/';
/** Vault's default and maximum lease TTL (768h): what a token gets when it asks for no TTL. */
export const DEFAULT_TOKEN_TTL = 768 * 3600;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)]!;
  return out;
}

/** Service tokens look like Vault's: `hvs.` + 24 base62 characters (~143 bits). */
export function generateToken(): string {
  return `hvs.${randomBase62(24)}`;
}

/**
 * Tokens behind the barrier, addressed by HMAC-SHA256 under a key that is itself stored behind the barrier, so a
 * lookup compares no secrets and a storage dump reveals no usable token or accessor. Children are indexed under
 * their parent and revoked with it, in one atomic batch.
 */
export class TokenStore {
  readonly #barrier: Barrier;
  readonly #clock: Clock;
  /** Serialises read-modify-write of entries (use counts, renewals, revocations). */
  readonly #lock = new Mutex();
  #hmacKey: Uint8Array | undefined;
  #defaultTtl = DEFAULT_TOKEN_TTL;
  #maxTtl = DEFAULT_TOKEN_TTL;
  readonly #revocationHooks: RevocationHook[] = [];

  constructor(barrier: Barrier, clock: Clock) {
    this.#barrier = barrier;
    this.#clock = clock;
  }

  /**
   * The server's `default_lease_ttl` / `max_lease_ttl` (seconds): a token that asks for no TTL gets the default;
   * no non-root token lives longer than the maximum from its creation, whatever it asks for or renews to.
   * @throws CofferError `invalid_request` unless 0 < default <= max.
   */
  setLeaseLimits(defaultTtlSeconds: number, maxTtlSeconds: number): void {
    if (!(defaultTtlSeconds > 0 && maxTtlSeconds > 0 && defaultTtlSeconds <= maxTtlSeconds)) {
      throw new CofferError('invalid_request', 'the default lease TTL must be more than 0 and at most the maximum');
    }
    this.#defaultTtl = defaultTtlSeconds;
    this.#maxTtl = maxTtlSeconds;
  }

  /** The limits in force: `{ defaultTtl, maxTtl }` in seconds. */
  get leaseLimits(): { defaultTtl: number; maxTtl: number } {
    return { defaultTtl: this.#defaultTtl, maxTtl: this.#maxTtl };
  }

  /** Adds storage deletes to every revocation, in the same batch (a token's cubbyhole goes with the token). */
  onRevoke(hook: RevocationHook): void {
    this.#revocationHooks.push(hook);
  }

  /** The keyed hash naming `value` (a token or a secret id) under this store's HMAC key. @throws CofferError `sealed`. */
  hmac(value: string): string {
    return keyedHash(this.#key(), value);
  }

  /** Entries that set up a new token store with a root token, for the init batch. */
  static initialEntries(random: Random, now: Date): { token: string; ops: BarrierOp[] } {
    const hmacKey = random.bytes(32);
    const token = generateToken();
    const entry: TokenEntry = {
      accessor: randomBase62(24),
      policies: ['root'],
      displayName: 'root',
      meta: {},
      creationTime: Math.floor(now.getTime() / 1000),
      ttl: 0,
      expireTime: 0,
      explicitMaxTtl: 0,
      renewable: false,
      numUses: 0,
      parent: '',
      period: 0,
      maxTtl: 0,
      path: 'auth/token/root',
      mountAccessor: '',
      role: '',
      boundCidrs: [],
    };
    const hash = keyedHash(hmacKey, token);
    const ops: BarrierOp[] = [
      { type: 'put', path: TOKEN_HMAC_KEY_PATH, value: hmacKey.slice() },
      { type: 'put', path: ID_PREFIX + hash, value: encodeEntry(entry) },
      { type: 'put', path: ACCESSOR_PREFIX + keyedHash(hmacKey, entry.accessor), value: new TextEncoder().encode(hash) },
    ];
    wipe(hmacKey);
    return { token, ops };
  }

  /** Loads the HMAC key after unseal. */
  async load(): Promise<void> {
    const key = await this.#barrier.get(TOKEN_HMAC_KEY_PATH);
    if (!key || key.length !== 32) throw new CofferError('integrity', 'token HMAC key is missing');
    this.#hmacKey = key;
  }

  /** Forgets the HMAC key when the server seals. */
  unload(): void {
    wipe(this.#hmacKey);
    this.#hmacKey = undefined;
  }

  /**
   * Creates a token and persists it (entry, accessor index, parent index) in one batch.
   * `extraOps` adds entries keyed by the new token's hash to the same batch (a wrapped response in its cubbyhole).
   * @returns the token, which exists nowhere else, and its record.
   */
  async create(options: CreateTokenOptions, extraOps?: (hash: string) => BarrierOp[]): Promise<{ token: string; record: TokenRecord }> {
    // Under the lock: a revocation staged for an auth mount (see stageMountRevocation) never misses a token being made.
    return this.#lock.runExclusive(() => this.#create(options, extraOps));
  }

  async #create(options: CreateTokenOptions, extraOps?: (hash: string) => BarrierOp[]): Promise<{ token: string; record: TokenRecord }> {
    const key = this.#key();
    const now = this.#nowSeconds();
    const explicitMaxTtl = options.explicitMaxTtl ?? 0;
    const period = options.period ?? 0;
    const maxTtl = period > 0 ? 0 : (options.maxTtl ?? 0);
    const isRoot = options.policies.includes('root');
    let ttl = period > 0 ? period : (options.ttl ?? 0);
    if (ttl === 0 && !isRoot) ttl = this.#defaultTtl;
    if (maxTtl > 0 && ttl > maxTtl) ttl = maxTtl;
    if (explicitMaxTtl > 0 && (ttl === 0 || ttl > explicitMaxTtl)) ttl = explicitMaxTtl;
    // Vault caps a token's TTL at the system maximum (root tokens, which never expire, excepted).
    if (!isRoot && ttl > this.#maxTtl) ttl = this.#maxTtl;
    const token = generateToken();
    const hash = keyedHash(key, token);
    const entry: TokenEntry = {
      accessor: randomBase62(24),
      policies: [...new Set(options.policies)],
      displayName: options.displayName ?? 'token',
      meta: { ...(options.meta ?? {}) },
      creationTime: now,
      ttl,
      expireTime: ttl > 0 ? now + ttl : 0,
      explicitMaxTtl,
      renewable: options.renewable ?? true,
      numUses: options.numUses ?? 0,
      parent: options.parent ?? '',
      period,
      maxTtl,
      path: options.path ?? 'auth/token/create',
      mountAccessor: options.mountAccessor ?? '',
      role: options.role ?? '',
      boundCidrs: [...(options.boundCidrs ?? [])],
    };
    const ops: BarrierOp[] = [
      { type: 'put', path: ID_PREFIX + hash, value: encodeEntry(entry) },
      { type: 'put', path: ACCESSOR_PREFIX + keyedHash(key, entry.accessor), value: new TextEncoder().encode(hash) },
    ];
    if (entry.parent) ops.push({ type: 'put', path: `${PARENT_PREFIX}${entry.parent}/${hash}`, value: new Uint8Array(0) });
    if (entry.mountAccessor) ops.push({ type: 'put', path: `${MOUNT_PREFIX}${entry.mountAccessor}/${hash}`, value: new Uint8Array(0) });
    if (extraOps) ops.push(...extraOps(hash));
    await this.#barrier.batch(ops);
    return { token, record: { ...entry, hash } };
  }

  /** The record of a live token, or undefined for an unknown, expired or used-up one. Does not consume a use. */
  async lookup(token: string): Promise<TokenRecord | undefined> {
    if (token.length === 0 || token.length > 512) return undefined;
    return this.#byHash(keyedHash(this.#key(), token));
  }

  /** The record of the token with `accessor`, if live. */
  async lookupAccessor(accessor: string): Promise<TokenRecord | undefined> {
    if (accessor.length === 0 || accessor.length > 512) return undefined;
    const raw = await this.#barrier.get(ACCESSOR_PREFIX + keyedHash(this.#key(), accessor));
    return raw ? this.#byHash(new TextDecoder().decode(raw)) : undefined;
  }

  /**
   * Authenticates a request: the live record of `token`, consuming one use of a limited-use token (the last use
   * revokes it). Undefined for an unknown, expired or used-up token, or one bound to CIDRs `remoteAddress` is outside.
   */
  async authenticate(token: string, remoteAddress?: string): Promise<TokenRecord | undefined> {
    const record = await this.lookup(token);
    // A token bound to addresses is unusable from elsewhere, and such an attempt costs none of its uses.
    if (record && !cidrsAllow(record.boundCidrs, remoteAddress)) return undefined;
    if (!record || record.numUses === 0) return record;
    return this.#lock.runExclusive(async () => {
      const current = await this.#byHash(record.hash);
      if (!current) return undefined;
      if (current.numUses === 1) await this.#revokeTree(current.hash);
      else await this.#write(current.hash, { ...current, numUses: current.numUses - 1 });
      return current;
    });
  }

  /**
   * Extends a renewable token's lifetime by `increment` seconds (default: its original TTL), never past its max TTL
   * or explicit max TTL. A periodic token's TTL is reset to its period whatever the increment (only an explicit max
   * TTL caps it). @throws CofferError `invalid_request` for a non-renewable token.
   */
  async renew(record: TokenRecord, increment?: number): Promise<TokenRecord> {
    if (!record.renewable || record.expireTime === 0) throw new CofferError('invalid_request', 'lease is not renewable');
    return this.#lock.runExclusive(async () => {
      const now = this.#nowSeconds();
      let ttl = record.period > 0 ? record.period : increment && increment > 0 ? increment : record.ttl;
      if (record.period === 0 && record.maxTtl > 0) ttl = Math.min(ttl, record.creationTime + record.maxTtl - now);
      if (record.explicitMaxTtl > 0) ttl = Math.min(ttl, record.creationTime + record.explicitMaxTtl - now);
      ttl = Math.min(ttl, record.creationTime + this.#maxTtl - now);
      const renewed: TokenRecord = { ...record, ttl, expireTime: now + Math.max(ttl, 0) };
      await this.#write(record.hash, renewed);
      return renewed;
    });
  }

  /** Revokes a token and, recursively, every token it created, in one atomic batch. */
  async revoke(record: TokenRecord): Promise<void> {
    await this.#lock.runExclusive(() => this.#revokeTree(record.hash));
  }

  /**
   * Storage operations revoking every token the auth mount with `mountAccessor` issued (and their children), for
   * the caller's batch that also removes the mount, so a disabled method leaves no live token behind.
   */
  async stageMountRevocation(mountAccessor: string): Promise<BarrierOp[]> {
    const ops: BarrierOp[] = [];
    const seen = new Set<string>();
    for (const hash of await this.#barrier.list(`${MOUNT_PREFIX}${mountAccessor}/`)) {
      ops.push({ type: 'delete', path: `${MOUNT_PREFIX}${mountAccessor}/${hash}` });
      ops.push(...(await this.#treeOps(hash, seen)));
    }
    return ops;
  }

  /**
   * Revokes expired tokens (with their children and cubbyholes, as any revocation), at most `limit` per call, so a
   * wrapped response or cubbyhole value does not outlive its token in storage. Stops early once `signal` fires.
   * @returns how many expired tokens were revoked.
   */
  async tidyExpired(signal?: AbortSignal, limit = 1000): Promise<number> {
    let revoked = 0;
    for (const hash of await this.#barrier.list(ID_PREFIX)) {
      if (signal?.aborted || revoked >= limit) break;
      const raw = await this.#barrier.get(ID_PREFIX + hash);
      if (!raw) continue;
      const entry = decodeEntry(raw);
      if (entry.expireTime === 0 || this.#nowSeconds() < entry.expireTime) continue;
      await this.#lock.runExclusive(() => this.#revokeTree(hash));
      revoked++;
    }
    return revoked;
  }

  /** Runs `fn` under the store's lock, so no token changes between staging a revocation and committing it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lock.runExclusive(fn);
  }

  /** Remaining seconds of a record (0 for tokens that never expire). */
  remainingTtl(record: TokenEntry): number {
    return record.expireTime === 0 ? 0 : Math.max(0, record.expireTime - this.#nowSeconds());
  }

  async #revokeTree(hash: string): Promise<void> {
    await this.#barrier.batch(await this.#treeOps(hash, new Set()));
  }

  /** The deletes that revoke the token `hash` and its descendants (index entries and hooks' data included). */
  async #treeOps(hash: string, seen: Set<string>): Promise<BarrierOp[]> {
    const ops: BarrierOp[] = [];
    const visit = async (h: string) => {
      if (seen.has(h)) return;
      seen.add(h);
      for (const child of await this.#barrier.list(`${PARENT_PREFIX}${h}/`)) {
        await visit(child);
        ops.push({ type: 'delete', path: `${PARENT_PREFIX}${h}/${child}` });
      }
      const raw = await this.#barrier.get(ID_PREFIX + h);
      if (raw) {
        const entry = decodeEntry(raw);
        ops.push({ type: 'delete', path: ACCESSOR_PREFIX + keyedHash(this.#key(), entry.accessor) });
        if (entry.parent) ops.push({ type: 'delete', path: `${PARENT_PREFIX}${entry.parent}/${h}` });
        if (entry.mountAccessor) ops.push({ type: 'delete', path: `${MOUNT_PREFIX}${entry.mountAccessor}/${h}` });
      }
      for (const hook of this.#revocationHooks) ops.push(...(await hook(h)));
      ops.push({ type: 'delete', path: ID_PREFIX + h });
    };
    await visit(hash);
    return ops;
  }

  async #byHash(hash: string): Promise<TokenRecord | undefined> {
    const raw = await this.#barrier.get(ID_PREFIX + hash);
    if (!raw) return undefined;
    const entry = decodeEntry(raw);
    if (entry.expireTime > 0 && this.#nowSeconds() >= entry.expireTime) return undefined;
    return { ...entry, hash };
  }

  async #write(hash: string, entry: TokenEntry): Promise<void> {
    await this.#barrier.put(ID_PREFIX + hash, encodeEntry(entry));
  }

  #key(): Uint8Array {
    if (!this.#hmacKey) throw new CofferError('sealed', 'Vault is sealed');
    return this.#hmacKey;
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock.now().getTime() / 1000);
  }
}

function keyedHash(key: Uint8Array, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

function encodeEntry(entry: TokenEntry): Uint8Array {
  return new TextEncoder().encode(
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

function decodeEntry(raw: Uint8Array): TokenEntry {
  const j = JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>;
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
