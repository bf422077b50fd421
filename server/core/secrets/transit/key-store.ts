import { Mutex } from 'async-mutex';
import type { Clock, Random } from '../../clock.js';
import { CofferError } from '../../errors.js';
import type { BarrierView } from '../secret-engine.js';
import { generateKeyMaterial, KEY_TYPE_INFO, type KeyType } from './key-types.js';
import { decodeKey, destroyKey, encodeKey, versionOf, type KeyVersion, type TransitKey } from './transit-key.js';

const KEY_PREFIX = 'policy/';
const HMAC_KEY_BYTES = 32;

/**
 * Encryptions are reserved in blocks: a version's stored `encryptions` is raised by this much ahead of use, so
 * most encryptions cost no write. After a restart or a crash the whole reservation counts as used, so the stored
 * figure never undercounts; at most this many per version and restart are "lost" from a budget of billions.
 */
export const ENCRYPTION_RESERVATION_BLOCK = 10_000;

/** In-memory progress through a version's reservation. */
interface Reservation {
  next: number;
  reserved: number;
}

/**
 * The named keys of one transit mount, stored behind the barrier at `policy/<name>`. Changes to a key are
 * serialised by its lock (read, modify, save, all inside `exclusive`). Loaded keys own their bytes: callers
 * `destroyKey` them when done (`use` does it for them).
 */
export class KeyStore {
  readonly #locks = new Map<string, Mutex>();
  readonly #reservations = new Map<string, Map<number, Reservation>>();

  constructor(
    private readonly view: BarrierView,
    readonly clock: Clock,
    readonly random: Random,
  ) {}

  /** Fresh key material and HMAC key for a new version of a `type` key, created now. */
  async newVersion(type: KeyType): Promise<KeyVersion> {
    const material = await generateKeyMaterial(type, (n) => this.random.bytes(n));
    return { time: Math.floor(this.clock.now().getTime() / 1000), material, hmacKey: this.random.bytes(HMAC_KEY_BYTES), encryptions: 0 };
  }

  /** Adds a version that becomes the latest (in memory; the caller saves). */
  async addVersion(key: TransitKey): Promise<void> {
    const version = await this.newVersion(key.type);
    key.latestVersion += 1;
    key.versions.set(key.latestVersion, version);
  }

  async list(): Promise<string[]> {
    return this.view.list(KEY_PREFIX);
  }

  /**
   * The stored key as it is, for use inside `exclusive`. Versions stored without an HMAC key (by an earlier
   * Coffer) get one here; it is kept by the caller's next save, or by `load`.
   * @throws CofferError `integrity` when the stored entry is malformed.
   */
  async read(name: string): Promise<{ key: TransitKey; upgraded: boolean } | undefined> {
    const raw = await this.view.get(KEY_PREFIX + name);
    if (!raw) return undefined;
    try {
      const { key, legacy } = decodeKey(raw, 'integrity');
      if (legacy) for (const v of key.versions.values()) if (v.hmacKey.length === 0) v.hmacKey = this.random.bytes(HMAC_KEY_BYTES);
      return { key, upgraded: legacy };
    } finally {
      raw.fill(0);
    }
  }

  #rotationDue(key: TransitKey): boolean {
    if (key.autoRotatePeriod <= 0) return false;
    const latest = key.versions.get(key.latestVersion)!;
    return Math.floor(this.clock.now().getTime() / 1000) - latest.time >= key.autoRotatePeriod;
  }

  /**
   * The key for use outside `exclusive`. Applies what is due first, under the key's lock: a new version when
   * `auto_rotate_period` has passed since the latest one (by the injected clock), and the upgrade of old entries.
   */
  async load(name: string): Promise<TransitKey | undefined> {
    const found = await this.read(name);
    if (!found) return undefined;
    if (!found.upgraded && !this.#rotationDue(found.key)) return found.key;
    destroyKey(found.key);
    return this.exclusive(name, async () => {
      const again = await this.read(name);
      if (!again) return undefined;
      const due = this.#rotationDue(again.key);
      if (due) await this.addVersion(again.key);
      if (due || again.upgraded) await this.save(again.key);
      return again.key;
    });
  }

  /**
   * Applies every due automatic rotation (for a periodic caller, so that unused keys rotate on time too).
   * @returns the names of the keys that got a new version.
   */
  async rotateDue(): Promise<string[]> {
    const rotated: string[] = [];
    for (const name of await this.list()) {
      const before = await this.read(name);
      if (!before) continue;
      const latest = before.key.latestVersion;
      destroyKey(before.key);
      const after = await this.load(name);
      if (after && after.latestVersion > latest) rotated.push(name);
      destroyKey(after);
    }
    return rotated;
  }

  /** Runs `fn` with the key (or throws `message` as a 400 when it does not exist) and wipes it afterwards. */
  async use<T>(name: string, message: string, fn: (key: TransitKey) => T | Promise<T>): Promise<T> {
    const key = await this.load(name);
    if (!key) throw new CofferError('invalid_request', message);
    try {
      return await fn(key);
    } finally {
      destroyKey(key);
    }
  }

  async save(key: TransitKey): Promise<void> {
    const encoded = encodeKey(key);
    try {
      await this.view.put(KEY_PREFIX + key.name, encoded);
    } finally {
      encoded.fill(0);
    }
  }

  async delete(name: string): Promise<void> {
    await this.view.delete(KEY_PREFIX + name);
    this.#reservations.delete(name);
  }

  /** Replaces a key wholesale (restore): its reservations start over from the restored counts. */
  async replace(key: TransitKey): Promise<void> {
    await this.save(key);
    this.#reservations.delete(key.name);
  }

  /** Read-modify-write of one key, serialised with every other change to it. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    let lock = this.#locks.get(name);
    if (!lock) this.#locks.set(name, (lock = new Mutex()));
    return lock.runExclusive(fn);
  }

  /**
   * Accounts for `count` encryptions under `version` before they are made. Random 96-bit nonces collide with
   * growing probability, so like the barrier's terms a version takes at most its type's limit (0.9 × 2³²); past it
   * encryption is refused until the key is rotated. The stored count is raised in blocks, under the key's lock.
   * @throws CofferError `invalid_request` when the version has reached its limit.
   */
  async reserveEncryptions(key: TransitKey, version: number, count: number): Promise<void> {
    const limit = KEY_TYPE_INFO[key.type].encryptionLimit;
    if (limit === 0 || count === 0) return;
    const fast = this.#reservations.get(key.name)?.get(version);
    if (fast && fast.next + count <= fast.reserved) {
      fast.next += count;
      return;
    }
    await this.exclusive(key.name, async () => {
      let perKey = this.#reservations.get(key.name);
      if (!perKey) this.#reservations.set(key.name, (perKey = new Map<number, Reservation>()));
      let reservation = perKey.get(version);
      if (reservation && reservation.next + count <= reservation.reserved) {
        reservation.next += count;
        return;
      }
      const found = await this.read(key.name);
      if (!found) throw new CofferError('invalid_request', 'encryption key not found');
      try {
        const stored = versionOf(found.key, version);
        // Without a reservation in memory (first use since start), all of the stored count is taken as used.
        if (!reservation) perKey.set(version, (reservation = { next: stored.encryptions, reserved: stored.encryptions }));
        if (reservation.next + count > limit) {
          throw new CofferError(
            'invalid_request',
            `key version ${version} has reached the safe limit of ${limit} encryptions for ${found.key.type}; rotate the key and encrypt with the new version`,
          );
        }
        stored.encryptions = Math.min(limit, Math.max(stored.encryptions, reservation.next + count + ENCRYPTION_RESERVATION_BLOCK));
        await this.save(found.key);
        reservation.reserved = stored.encryptions;
        reservation.next += count;
      } finally {
        destroyKey(found.key);
      }
    });
  }
}
