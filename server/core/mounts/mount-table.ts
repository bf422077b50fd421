import { Mutex } from 'async-mutex';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { KvV1 } from '../secrets/kv/kv-v1.js';
import { KvV2 } from '../secrets/kv/kv-v2.js';
import { TransitEngine } from '../secrets/transit/transit.js';
import { BarrierView, decodeJson, encodeJson, type SecretEngine } from '../secrets/secret-engine.js';

export interface MountEntry {
  /** With a trailing slash: `secret/`. */
  readonly path: string;
  readonly type: 'kv' | 'transit';
  /** KV mounts carry their version; transit mounts have no options. */
  readonly options: { version?: '1' | '2' };
  readonly description: string;
  readonly uuid: string;
  readonly accessor: string;
  readonly config: { default_lease_ttl: number; max_lease_ttl: number };
}

export const MOUNT_TABLE_PATH = 'core/mounts';
const LOGICAL_PREFIX = 'logical/';
/** Paths Coffer serves itself; nothing may be mounted at or under them. */
/** Vault's system default and maximum lease TTL (768h) when the server configures none. */
const VAULT_LEASE_TTL = 768 * 3600;

const RESERVED = ['sys/', 'auth/', 'cubbyhole/', 'identity/'];

/**
 * Secret engines by path, persisted behind the barrier at `core/mounts`. Each mount's data lives under
 * `logical/<uuid>/`. Changes are persisted before they take effect; the next request sees them.
 */
export class MountTable {
  readonly #barrier: Barrier;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #lock = new Mutex();
  #entries: MountEntry[] = [];
  #engines = new Map<string, SecretEngine>();
  #systemDefaultTtl = VAULT_LEASE_TTL;
  #systemMaxTtl = VAULT_LEASE_TTL;
  #engineByUuid = new Map<string, SecretEngine>();

  constructor(barrier: Barrier, clock: Clock, random: Random) {
    this.#barrier = barrier;
    this.#clock = clock;
    this.#random = random;
  }

  /**
   * The server's `default_lease_ttl` / `max_lease_ttl` (seconds), used by mounts that set none of their own (every
   * mount today: tuning TTLs is not supported). KV v1 reports the default as its reads' lease duration.
   * @throws CofferError `invalid_request` unless 0 < default <= max.
   */
  setLeaseLimits(defaultTtlSeconds: number, maxTtlSeconds: number): void {
    if (!(defaultTtlSeconds > 0 && maxTtlSeconds > 0 && defaultTtlSeconds <= maxTtlSeconds)) {
      throw new CofferError('invalid_request', 'the default lease TTL must be more than 0 and at most the maximum');
    }
    this.#systemDefaultTtl = defaultTtlSeconds;
    this.#systemMaxTtl = maxTtlSeconds;
    this.#set(this.#entries);
  }

  /** A mount's effective lease TTLs in seconds: its own when set, else the server's (what `sys/mounts/<path>/tune` reports). */
  leaseTtls(entry: MountEntry): { defaultLeaseTtl: number; maxLeaseTtl: number } {
    return {
      defaultLeaseTtl: entry.config.default_lease_ttl > 0 ? entry.config.default_lease_ttl : this.#systemDefaultTtl,
      maxLeaseTtl: entry.config.max_lease_ttl > 0 ? entry.config.max_lease_ttl : this.#systemMaxTtl,
    };
  }

  /** Loads the table after unseal. */
  async load(): Promise<void> {
    const raw = await this.#barrier.get(MOUNT_TABLE_PATH);
    this.#set(raw ? decodeJson<MountEntry[]>(raw) : []);
  }

  clear(): void {
    this.#set([]);
  }

  list(): readonly MountEntry[] {
    return this.#entries;
  }

  get(path: string): MountEntry | undefined {
    const normalised = normalise(path);
    return this.#entries.find((e) => e.path === normalised);
  }

  /** The mount serving `path` (longest matching prefix) and the path relative to it. */
  find(path: string): { entry: MountEntry; engine: SecretEngine; relative: string } | undefined {
    let best: MountEntry | undefined;
    for (const entry of this.#entries) {
      if ((path === entry.path.slice(0, -1) || path.startsWith(entry.path)) && (!best || entry.path.length > best.path.length)) best = entry;
    }
    if (!best) return undefined;
    return { entry: best, engine: this.#engines.get(best.path)!, relative: path.slice(best.path.length) };
  }

  /**
   * Mounts an engine. `type` is `kv` (with `options.version` "1" or "2"), `kv-v2` or `transit`.
   * @throws CofferError `invalid_request`: unknown type, bad version, reserved or taken path.
   */
  async enable(path: string, type: string, options: Record<string, unknown>, description: string): Promise<MountEntry> {
    const mountPath = normalise(path);
    let kind: MountEntry['type'] = 'kv';
    let entryOptions: MountEntry['options'] = {};
    if (type === 'kv' || type === 'generic') {
      const v = String(options.version ?? '1');
      if (v !== '1' && v !== '2') throw new CofferError('invalid_request', `invalid kv version "${v}": must be 1 or 2`);
      entryOptions = { version: v };
    } else if (type === 'kv-v2') {
      entryOptions = { version: '2' };
    } else if (type === 'transit') {
      kind = 'transit';
    } else {
      throw new CofferError('invalid_request', `plugin not found in the catalog: ${type}`);
    }
    return this.#lock.runExclusive(async () => {
      for (const reserved of RESERVED) {
        if (mountPath.startsWith(reserved) || reserved.startsWith(mountPath))
          throw new CofferError('invalid_request', `cannot mount at a protected path: ${reserved}`);
      }
      for (const entry of this.#entries) {
        if (mountPath.startsWith(entry.path) || entry.path.startsWith(mountPath))
          throw new CofferError('invalid_request', `path is already in use at ${entry.path}`);
      }
      const entry: MountEntry = {
        path: mountPath,
        type: kind,
        options: entryOptions,
        description,
        uuid: this.#random.uuid(),
        accessor: `${kind}_${Buffer.from(this.#random.bytes(4)).toString('hex')}`,
        config: { default_lease_ttl: 0, max_lease_ttl: 0 },
      };
      await this.#persist([...this.#entries, entry], []);
      return entry;
    });
  }

  /** Unmounts and deletes all of the mount's data in the same atomic batch. Unknown paths are not an error. */
  async disable(path: string): Promise<void> {
    const mountPath = normalise(path);
    await this.#lock.runExclusive(async () => {
      const entry = this.#entries.find((e) => e.path === mountPath);
      if (!entry) return;
      const deletes: BarrierOp[] = (await this.#allKeys(`${LOGICAL_PREFIX}${entry.uuid}/`)).map((key) => ({ type: 'delete', path: key }));
      await this.#persist(
        this.#entries.filter((e) => e !== entry),
        deletes,
      );
    });
  }

  /** Changes a mount's description. @throws CofferError `invalid_request` for an unknown mount or a version change. */
  async tune(path: string, update: { description?: string; version?: string }): Promise<void> {
    const mountPath = normalise(path);
    await this.#lock.runExclusive(async () => {
      const entry = this.#entries.find((e) => e.path === mountPath);
      if (!entry) throw new CofferError('invalid_request', `no mount at ${mountPath}`);
      if (update.version !== undefined && update.version !== entry.options.version) {
        throw new CofferError('invalid_request', 'changing the kv version of a mount is not supported');
      }
      const next = { ...entry, description: update.description ?? entry.description };
      await this.#persist(
        this.#entries.map((e) => (e === entry ? next : e)),
        [],
      );
    });
  }

  async #persist(entries: MountEntry[], extra: BarrierOp[]): Promise<void> {
    await this.#barrier.batch([...extra, { type: 'put', path: MOUNT_TABLE_PATH, value: encodeJson(entries) }]);
    this.#set(entries);
  }

  #set(entries: MountEntry[]): void {
    this.#entries = entries;
    // An engine keeps per-mount state (transit's key locks and encryption reservations): a mount that stays in the
    // table keeps its engine instance, so two instances never serve one mount at once.
    const previous = this.#engineByUuid;
    this.#engineByUuid = new Map(
      entries.map((e) => {
        const view = new BarrierView(this.#barrier, `${LOGICAL_PREFIX}${e.uuid}/`);
        const engine: SecretEngine =
          previous.get(e.uuid) ??
          (e.type === 'transit'
            ? new TransitEngine(view, this.#clock, this.#random)
            : e.options.version === '2'
              ? new KvV2(view, this.#clock)
              : new KvV1(view, () => this.leaseTtls(this.#entries.find((x) => x.uuid === e.uuid) ?? e).defaultLeaseTtl));
        return [e.uuid, engine];
      }),
    );
    this.#engines = new Map(entries.map((e) => [e.path, this.#engineByUuid.get(e.uuid)!]));
  }

  /** Runs each mounted engine's periodic work; one engine's failure does not stop the others. */
  async maintenance(): Promise<unknown[]> {
    const failures: unknown[] = [];
    for (const engine of new Set(this.#engines.values())) {
      try {
        await engine.maintenance?.();
      } catch (err) {
        failures.push(err);
      }
    }
    return failures;
  }

  async #allKeys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const child of await this.#barrier.list(prefix)) {
      if (child.endsWith('/')) out.push(...(await this.#allKeys(prefix + child)));
      else out.push(prefix + child);
    }
    return out;
  }
}

/** `secret`, `/secret/` and `secret/` all name the mount `secret/`. @throws CofferError for an empty or odd path. */
export function normalise(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new CofferError('invalid_request', `invalid mount path "${path}"`);
  }
  return `${trimmed}/`;
}
