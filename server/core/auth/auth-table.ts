import { Mutex } from 'async-mutex';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { checkTtls, normalise } from '../mounts/mount-table.js';
import { BarrierView, decodeJson, encodeJson } from '../secrets/secret-engine.js';
import type { TokenStore } from '../token/token-store.js';
import { AppRole } from './approle.js';
import type { AuthMethod } from './auth-method.js';
import { Userpass } from './userpass.js';

export type AuthType = 'token' | 'approle' | 'userpass';

export interface AuthMountEntry {
  /** Below `auth/`, with a trailing slash: `approle/`. */
  readonly path: string;
  readonly type: AuthType;
  readonly description: string;
  readonly uuid: string;
  readonly accessor: string;
  /** Seconds; 0 = the system's (768h). Cap the TTLs of the tokens the method issues. */
  readonly config: { default_lease_ttl: number; max_lease_ttl: number };
}

export const AUTH_TABLE_PATH = 'core/auth';
const DATA_PREFIX = 'auth/';
/** Vault's system default and max lease TTL (768h). */
export const SYSTEM_MAX_TTL = 768 * 3600;

/**
 * Auth methods by path below `auth/`, persisted behind the barrier at `core/auth`; each method's data lives under
 * `auth/<uuid>/`. The token store is always mounted at `token/` and cannot be disabled. Disabling a method
 * deletes its data and revokes every token it issued, in one atomic batch.
 */
export class AuthTable {
  readonly #barrier: Barrier;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #tokens: TokenStore;
  readonly #lock = new Mutex();
  #entries: AuthMountEntry[] = [];
  #methods = new Map<string, AuthMethod>();

  constructor(deps: { barrier: Barrier; clock: Clock; random: Random; tokens: TokenStore }) {
    this.#barrier = deps.barrier;
    this.#clock = deps.clock;
    this.#random = deps.random;
    this.#tokens = deps.tokens;
  }

  /**
   * Loads the table after unseal (after the token store, whose key names the token mount). Until a change persists
   * the table, the `token/` entry is derived, not stored: unsealing writes nothing, and its accessor is the same on
   * every unseal because it is a keyed hash.
   */
  async load(): Promise<void> {
    const raw = await this.#barrier.get(AUTH_TABLE_PATH);
    const entries = raw ? decodeJson<AuthMountEntry[]>(raw) : [];
    if (!entries.some((e) => e.type === 'token')) {
      const id = this.#tokens.hmac('auth-token-mount');
      const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
      entries.unshift({
        path: 'token/',
        type: 'token',
        description: 'token based credentials',
        uuid,
        accessor: `auth_token_${id.slice(32, 40)}`,
        config: { default_lease_ttl: 0, max_lease_ttl: 0 },
      });
    }
    this.#set(entries);
  }

  clear(): void {
    this.#set([]);
  }

  list(): readonly AuthMountEntry[] {
    return this.#entries;
  }

  get(path: string): AuthMountEntry | undefined {
    const normalised = normalise(path);
    return this.#entries.find((e) => e.path === normalised);
  }

  /** Whether a mounted method has this accessor (false once it was disabled). */
  hasAccessor(accessor: string): boolean {
    return this.#entries.some((e) => e.accessor === accessor);
  }

  /** The token store's entry (always present once loaded). */
  get tokenMount(): AuthMountEntry | undefined {
    return this.#entries.find((e) => e.type === 'token');
  }

  /** The method serving `path` (below `auth/`) and the path relative to its mount. */
  find(path: string): { entry: AuthMountEntry; method: AuthMethod | undefined; relative: string } | undefined {
    let best: AuthMountEntry | undefined;
    for (const entry of this.#entries) {
      if ((path === entry.path.slice(0, -1) || path.startsWith(entry.path)) && (!best || entry.path.length > best.path.length)) best = entry;
    }
    if (!best) return undefined;
    return { entry: best, method: this.#methods.get(best.path), relative: path.slice(best.path.length) };
  }

  /**
   * Enables a method at `path`.
   * @throws CofferError `invalid_request`: unknown type, a second token store, a taken or overlapping path, bad TTLs.
   */
  async enable(
    path: string,
    type: string,
    description: string,
    config: { default_lease_ttl?: number; max_lease_ttl?: number },
  ): Promise<AuthMountEntry> {
    const mountPath = normalise(path);
    if (type === 'token') throw new CofferError('invalid_request', 'token credential backend cannot be instantiated');
    if (type !== 'approle' && type !== 'userpass') throw new CofferError('invalid_request', `plugin not found in the catalog: ${type}`);
    const ttls = checkTtls(config.default_lease_ttl ?? 0, config.max_lease_ttl ?? 0);
    return this.#lock.runExclusive(async () => {
      for (const entry of this.#entries) {
        if (mountPath.startsWith(entry.path) || entry.path.startsWith(mountPath))
          throw new CofferError('invalid_request', `path is already in use at auth/${entry.path}`);
      }
      const entry = { ...this.#newEntry(mountPath, type, description), config: ttls };
      await this.#barrier.put(AUTH_TABLE_PATH, encodeJson([...this.#entries, entry]));
      this.#set([...this.#entries, entry]);
      return entry;
    });
  }

  /**
   * Disables a method: its data, its table entry and every token it issued (with their children) go in one batch.
   * Unknown paths are not an error. @throws CofferError `invalid_request` for the token store.
   */
  async disable(path: string): Promise<void> {
    const mountPath = normalise(path);
    await this.#lock.runExclusive(async () => {
      const entry = this.#entries.find((e) => e.path === mountPath);
      if (!entry) return;
      if (entry.type === 'token') throw new CofferError('invalid_request', 'token credential backend cannot be disabled');
      const dataDeletes: BarrierOp[] = (await allKeys(this.#barrier, `${DATA_PREFIX}${entry.uuid}/`)).map((key) => ({ type: 'delete', path: key }));
      const remaining = this.#entries.filter((e) => e !== entry);
      await this.#tokens.exclusive(async () => {
        const revocations = await this.#tokens.stageMountRevocation(entry.accessor);
        await this.#barrier.batch([...dataDeletes, ...revocations, { type: 'put', path: AUTH_TABLE_PATH, value: encodeJson(remaining) }]);
        // Still under the token lock: a login token created after this sees the method gone (see hasAccessor).
        this.#set(remaining);
      });
    });
  }

  /** Changes a method's description and lease TTLs. @throws CofferError `invalid_request` (unknown mount, bad TTLs). */
  async tune(path: string, update: { description?: string; default_lease_ttl?: number; max_lease_ttl?: number }): Promise<void> {
    const mountPath = normalise(path);
    await this.#lock.runExclusive(async () => {
      const entry = this.#entries.find((e) => e.path === mountPath);
      if (!entry) throw new CofferError('invalid_request', `cannot fetch mount configuration for auth/${mountPath}`);
      const config = checkTtls(update.default_lease_ttl ?? entry.config.default_lease_ttl, update.max_lease_ttl ?? entry.config.max_lease_ttl);
      const next = { ...entry, description: update.description ?? entry.description, config };
      const entries = this.#entries.map((e) => (e === entry ? next : e));
      await this.#barrier.put(AUTH_TABLE_PATH, encodeJson(entries));
      this.#set(entries);
    });
  }

  #newEntry(path: string, type: AuthType, description: string): AuthMountEntry {
    return {
      path,
      type,
      description,
      uuid: this.#random.uuid(),
      accessor: `auth_${type}_${Buffer.from(this.#random.bytes(4)).toString('hex')}`,
      config: { default_lease_ttl: 0, max_lease_ttl: 0 },
    };
  }

  #set(entries: AuthMountEntry[]): void {
    this.#entries = entries;
    this.#methods = new Map();
    for (const e of entries) {
      const view = new BarrierView(this.#barrier, `${DATA_PREFIX}${e.uuid}/`);
      if (e.type === 'approle')
        this.#methods.set(e.path, new AppRole(view, this.#clock, this.#random, (purpose, value) => this.#tokens.hmac(`${purpose}\u0000${value}`)));
      else if (e.type === 'userpass') this.#methods.set(e.path, new Userpass(view));
    }
  }
}

async function allKeys(barrier: Barrier, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const child of await barrier.list(prefix)) {
    if (child.endsWith('/')) out.push(...(await allKeys(barrier, prefix + child)));
    else out.push(prefix + child);
  }
  return out;
}
