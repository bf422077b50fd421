import { Mutex } from 'async-mutex';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { cidrsAllow } from '../auth/cidr.js';
import { CofferError } from '../errors.js';
import { wipe } from '../secret-bytes.js';
import { revocationTreeOps, type RevocationHook } from './revocation-tree.js';
import { decodeTokenEntry, encodeTokenEntry, type TokenEntry, type TokenRecord } from './token-entry.js';
import { generateToken, keyedHash, newAccessor } from './token-ids.js';
import { accessorPath, ID_PREFIX, MOUNT_PREFIX, tokenIndexOps } from './token-index.js';
import { checkLeaseLimits, creationLease, DEFAULT_TOKEN_TTL, isExpired, remainingSeconds, renewalTtl, type LeaseLimits } from './token-ttl.js';

// The entry shape, ids, TTL rules and revocation walk live in their own modules; re-exported for existing importers.
export type { RevocationHook } from './revocation-tree.js';
export type { TokenEntry, TokenRecord } from './token-entry.js';
export { generateToken } from './token-ids.js';
export { DEFAULT_TOKEN_TTL } from './token-ttl.js';

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

export const TOKEN_HMAC_KEY_PATH = 'core/token-hmac-key';

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
  #limits: LeaseLimits = { defaultTtl: DEFAULT_TOKEN_TTL, maxTtl: DEFAULT_TOKEN_TTL };
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
    this.#limits = checkLeaseLimits(defaultTtlSeconds, maxTtlSeconds);
  }

  /** The limits in force: `{ defaultTtl, maxTtl }` in seconds. */
  get leaseLimits(): { defaultTtl: number; maxTtl: number } {
    return { ...this.#limits };
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
      accessor: newAccessor(),
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
    const ops: BarrierOp[] = [{ type: 'put', path: TOKEN_HMAC_KEY_PATH, value: hmacKey.slice() }, ...tokenIndexOps(hmacKey, hash, entry)];
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
    const isRoot = options.policies.includes('root');
    const { ttl, explicitMaxTtl, period, maxTtl } = creationLease({ ...options, isRoot }, this.#limits);
    const token = generateToken();
    const hash = keyedHash(key, token);
    const entry: TokenEntry = {
      accessor: newAccessor(),
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
    const ops = tokenIndexOps(key, hash, entry);
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
    const raw = await this.#barrier.get(accessorPath(this.#key(), accessor));
    return raw ? this.#byHash(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')) : undefined;
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
      const ttl = renewalTtl(record, increment, now, this.#limits.maxTtl);
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
      if (!isExpired(decodeTokenEntry(raw), this.#nowSeconds())) continue;
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
    return remainingSeconds(record, this.#nowSeconds());
  }

  async #revokeTree(hash: string): Promise<void> {
    await this.#barrier.batch(await this.#treeOps(hash, new Set()));
  }

  /** The deletes that revoke the token `hash` and its descendants (index entries and hooks' data included). */
  async #treeOps(hash: string, seen: Set<string>): Promise<BarrierOp[]> {
    return revocationTreeOps(this.#barrier, () => this.#key(), this.#revocationHooks, hash, seen);
  }

  async #byHash(hash: string): Promise<TokenRecord | undefined> {
    const raw = await this.#barrier.get(ID_PREFIX + hash);
    if (!raw) return undefined;
    const entry = decodeTokenEntry(raw);
    if (isExpired(entry, this.#nowSeconds())) return undefined;
    return { ...entry, hash };
  }

  async #write(hash: string, entry: TokenEntry): Promise<void> {
    await this.#barrier.put(ID_PREFIX + hash, encodeTokenEntry(entry));
  }

  #key(): Uint8Array {
    if (!this.#hmacKey) throw new CofferError('sealed', 'Vault is sealed');
    return this.#hmacKey;
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock.now().getTime() / 1000);
  }
}
