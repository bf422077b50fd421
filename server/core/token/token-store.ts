import { createHmac, randomInt } from 'node:crypto';
import { Mutex } from 'async-mutex';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
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
  /** Hash of the parent token; empty for orphans (the root token). */
  readonly parent: string;
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
}

export const TOKEN_HMAC_KEY_PATH = 'core/token-hmac-key';
const ID_PREFIX = 'sys/token/id/';
const ACCESSOR_PREFIX = 'sys/token/accessor/';
const PARENT_PREFIX = 'sys/token/parent/';
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
   * @returns the token, which exists nowhere else, and its record.
   */
  async create(options: CreateTokenOptions): Promise<{ token: string; record: TokenRecord }> {
    const key = this.#key();
    const now = this.#nowSeconds();
    const explicitMaxTtl = options.explicitMaxTtl ?? 0;
    const isRoot = options.policies.includes('root');
    let ttl = options.ttl ?? 0;
    if (ttl === 0 && !isRoot) ttl = this.#defaultTtl;
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
    };
    const ops: BarrierOp[] = [
      { type: 'put', path: ID_PREFIX + hash, value: encodeEntry(entry) },
      { type: 'put', path: ACCESSOR_PREFIX + keyedHash(key, entry.accessor), value: new TextEncoder().encode(hash) },
    ];
    if (entry.parent) ops.push({ type: 'put', path: `${PARENT_PREFIX}${entry.parent}/${hash}`, value: new Uint8Array(0) });
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
   * revokes it). Undefined for an unknown, expired or used-up token.
   */
  async authenticate(token: string): Promise<TokenRecord | undefined> {
    const record = await this.lookup(token);
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
   * Extends a renewable token's lifetime by `increment` seconds (default: its original TTL), never past its
   * explicit max TTL. @throws CofferError `invalid_request` for a non-renewable token.
   */
  async renew(record: TokenRecord, increment?: number): Promise<TokenRecord> {
    if (!record.renewable || record.expireTime === 0) throw new CofferError('invalid_request', 'lease is not renewable');
    return this.#lock.runExclusive(async () => {
      const now = this.#nowSeconds();
      let ttl = increment && increment > 0 ? increment : record.ttl;
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

  /** Remaining seconds of a record (0 for tokens that never expire). */
  remainingTtl(record: TokenEntry): number {
    return record.expireTime === 0 ? 0 : Math.max(0, record.expireTime - this.#nowSeconds());
  }

  async #revokeTree(hash: string): Promise<void> {
    const ops: BarrierOp[] = [];
    const visit = async (h: string) => {
      for (const child of await this.#barrier.list(`${PARENT_PREFIX}${h}/`)) {
        await visit(child);
        ops.push({ type: 'delete', path: `${PARENT_PREFIX}${h}/${child}` });
      }
      const raw = await this.#barrier.get(ID_PREFIX + h);
      if (raw) {
        const entry = decodeEntry(raw);
        ops.push({ type: 'delete', path: ACCESSOR_PREFIX + keyedHash(this.#key(), entry.accessor) });
        if (entry.parent) ops.push({ type: 'delete', path: `${PARENT_PREFIX}${entry.parent}/${h}` });
      }
      ops.push({ type: 'delete', path: ID_PREFIX + h });
    };
    await visit(hash);
    await this.#barrier.batch(ops);
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
  };
}
