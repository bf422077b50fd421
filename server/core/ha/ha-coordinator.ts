import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import { ROOT_UPGRADE_PREFIX } from '../barrier/aes-gcm-barrier.js';
import type { Clock } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { SealStore } from '../seal/seal-store.js';
import type { StorageBackend } from '../storage/storage-backend.js';

/** The lock the coordinator competes for (PostgreSQL's lease row in practice). */
export interface HaLock {
  /** One attempt; `onLost` runs once if the lock is later lost. @throws CofferError `storage`. */
  tryAcquire(onLost: (reason: string) => void): Promise<boolean>;
  /** The holder's advertised value, or undefined when nobody holds it. */
  leader(): Promise<{ value: string; self: boolean } | undefined>;
  /** Gives the lock up at once (a standby can take it within its retry interval). */
  release(): Promise<void>;
  held(): boolean;
  /** Registers this node as a member for `expiresInMs`; lists the members whose registration has not expired. */
  heartbeat(member: string, value: string, expiresInMs: number): Promise<void>;
  members(): Promise<Array<{ id: string; value: string }>>;
}

/** What the active node advertises in the lock row (no secret: the row lives outside the barrier). */
export interface LeaderAdvert {
  api_addr: string;
  node_id: string;
  active_time: string;
}

export interface HaTimings {
  /** Between two attempts to take the lock. Vault: 1 s. */
  retryMs: number;
  /** A standby reloads this often even without a notification (polling fallback). Vault: 10 s. */
  pollMs: number;
  /** After a manual step-down, the node waits this long before competing again (Vault: 10 s). */
  stepDownWaitMs: number;
  /** Root key upgrade entries are deleted this long after the active node first saw them (Vault: 2 min). */
  upgradeGraceMs: number;
}

export const DEFAULT_HA_TIMINGS: HaTimings = { retryMs: 1000, pollMs: 10_000, stepDownWaitMs: 10_000, upgradeGraceMs: 120_000 };

export interface HaCoordinatorDeps {
  lock: HaLock;
  storage: StorageBackend;
  /** Turns on write fencing in the storage (from the first unseal on: a sealed node may still init or migrate). */
  enableFence(): void;
  barrier: AesGcmBarrier;
  lifecycle: Lifecycle;
  sealStore: SealStore;
  /** The storage read cache serves only while this node is active (another node writes the storage otherwise). */
  enableStorageCache?: (enabled: boolean) => void;
  logger: Logger;
  clock: Clock;
  apiAddr: string;
  nodeId: string;
  timings?: Partial<HaTimings>;
  /** Reports HA events (metrics). */
  events?: HaEvents;
}

export type HaRole = 'sealed' | 'standby' | 'active';

export interface HaEvents {
  active?(active: boolean): void;
  leadershipLost?(): void;
  stepDown?(): void;
}

/**
 * One active node: every unsealed node competes for the lock; the holder loads keyring, seal configuration and
 * stores and serves; the others are standbys that keep their keys, follow the active node's changes (a
 * notification or the poll calls `refresh`) and take over when the lock frees. Losing the lock (renewal refused,
 * local deadline passed) or `stepDown` returns the node to standby without sealing it.
 */
export class HaCoordinator {
  readonly #d: HaCoordinatorDeps;
  readonly #t: HaTimings;
  #competing = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();
  #pollTimer: NodeJS.Timeout | undefined;
  #activeSince: Date | undefined;
  #notBefore = 0;
  #leaderCache: { at: number; advert: LeaderAdvert | undefined } | undefined;
  readonly #upgradeSeen = new Map<string, number>();
  #closed = false;

  constructor(deps: HaCoordinatorDeps) {
    this.#d = deps;
    this.#t = { ...DEFAULT_HA_TIMINGS, ...deps.timings };
    deps.barrier.setStandby(true);
    deps.lifecycle.setStandbyHeld(true);
    deps.lifecycle.onUnsealed(async () => {
      deps.enableFence();
      this.#startCompeting();
    });
    deps.lifecycle.onSealing(async () => {
      // Not awaiting the loop: it may be waiting for the write side this seal holds (a takeover in progress),
      // and it gives up by itself once it sees the node sealed.
      this.#competing = false;
      this.#wake?.();
      if (this.#activeSince) {
        this.#activeSince = undefined;
        this.#d.events?.active?.(false);
        await deps.lock.release().catch(() => {});
      }
      deps.barrier.setStandby(true);
      deps.lifecycle.setStandbyHeld(true);
    });
  }

  get role(): HaRole {
    if (this.#d.lifecycle.sealed) return 'sealed';
    return this.#activeSince ? 'active' : 'standby';
  }

  get activeSince(): Date | undefined {
    return this.#activeSince;
  }

  get nodeId(): string {
    return this.#d.nodeId;
  }

  get apiAddr(): string {
    return this.#d.apiAddr;
  }

  /** The active node's advert (this node's when active), cached for a second. */
  async leader(): Promise<LeaderAdvert | undefined> {
    if (this.#activeSince) return { api_addr: this.#d.apiAddr, node_id: this.#d.nodeId, active_time: this.#activeSince.toISOString() };
    const now = Date.now();
    if (this.#leaderCache && now - this.#leaderCache.at < 1000) return this.#leaderCache.advert;
    const row = await this.#d.lock.leader();
    const advert = row ? parseAdvert(row.value) : undefined;
    this.#leaderCache = { at: now, advert };
    return advert;
  }

  /** Registered nodes (Vault's sys/ha-status), the active one marked. */
  async members(): Promise<Array<LeaderAdvert & { active: boolean }>> {
    const leader = await this.leader();
    return (await this.#d.lock.members())
      .map((m) => parseAdvert(m.value))
      .filter((m): m is LeaderAdvert => m !== undefined)
      .map((m) => ({ ...m, active: leader?.node_id === m.node_id }))
      .sort((a, b) => a.node_id.localeCompare(b.node_id));
  }

  /**
   * `sys/step-down`: the active node gives the lock up and waits `stepDownWaitMs` before competing again, so a
   * standby takes over. A no-op on a standby or a sealed node (as in Vault).
   */
  async stepDown(): Promise<void> {
    if (!this.#activeSince) return;
    this.#d.logger.info('stepping down from active operation to standby');
    this.#d.events?.stepDown?.();
    this.#notBefore = Date.now() + this.#t.stepDownWaitMs;
    await this.#becomeStandby(true);
  }

  /**
   * A standby follows the active node: reloads the keyring (rotation, rekey through the upgrade entries), the seal
   * configuration and every store. Called on a notification and by the poll. A node that cannot follow (the
   * upgrade entries are gone) seals itself rather than serve stale keys.
   */
  async refresh(): Promise<void> {
    const { lifecycle, barrier, sealStore, logger } = this.#d;
    if (this.#activeSince || lifecycle.sealed || this.#closed) return;
    try {
      await lifecycle.exclusive(async () => {
        if (this.#activeSince || lifecycle.sealed) return;
        sealStore.invalidate();
        await barrier.reload();
        await lifecycle.reloadHeld();
      });
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'standby could not follow the active node; sealing this node: unseal it with the current shares');
      await lifecycle.seal();
    }
  }

  /** Stops competing, gives up the lock; called at shutdown (the caller seals afterwards). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#stopCompeting();
    clearInterval(this.#pollTimer);
  }

  #startCompeting(): void {
    if (this.#competing || this.#closed || this.#d.lifecycle.sealed) return;
    this.#competing = true;
    this.#loop = this.#compete();
    if (!this.#pollTimer) {
      this.#pollTimer = setInterval(() => void this.#tick(), this.#t.pollMs);
      this.#pollTimer.unref();
    }
  }

  async #stopCompeting(): Promise<void> {
    this.#competing = false;
    this.#wake?.();
    await this.#loop;
  }

  async #tick(): Promise<void> {
    if (this.#activeSince) await this.#pruneUpgrades().catch(() => {});
    else await this.refresh();
    await this.#d.lock.heartbeat(this.#d.nodeId, this.#advert(), this.#t.pollMs * 3).catch(() => {});
  }

  async #compete(): Promise<void> {
    const { lock, logger } = this.#d;
    await lock.heartbeat(this.#d.nodeId, this.#advert(), this.#t.pollMs * 3).catch(() => {});
    logger.info('entering standby mode');
    // A sealed node never competes: it could take the lock but not serve.
    while (this.#competing && !this.#activeSince && !this.#d.lifecycle.sealed) {
      const wait = Math.max(this.#t.retryMs, this.#notBefore - Date.now());
      if (Date.now() >= this.#notBefore) {
        try {
          if (await lock.tryAcquire((reason) => void this.#lost(reason))) {
            if (await this.#takeOver()) return;
            continue;
          }
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'failed to acquire lock');
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Under the write side: reload everything from storage and start serving. @returns false when it gave up. */
  async #takeOver(): Promise<boolean> {
    const { lifecycle, barrier, sealStore, logger, lock } = this.#d;
    logger.info('acquired lock, enabling active operation');
    try {
      await lifecycle.exclusive(async () => {
        if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
        // An empty cache from here on: nothing the previous active node changed can be served stale.
        this.#d.enableStorageCache?.(true);
        sealStore.invalidate();
        await barrier.takeOver();
        // Active before the stores load, so what only the active node does at load (the configuration's audit
        // devices) happens; nothing else runs meanwhile (this holds the write side).
        lifecycle.setStandbyHeld(false);
        try {
          await lifecycle.reloadHeld();
          if (!lock.held()) throw new CofferError('standby', 'lost the lock while taking over');
        } catch (err) {
          lifecycle.setStandbyHeld(true);
          throw err;
        }
        this.#activeSince = this.#d.clock.now();
      });
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'could not take over as the active node; back to standby');
      this.#d.enableStorageCache?.(false);
      barrier.stepDown();
      await lock.release().catch(() => {});
      return false;
    }
    this.#leaderCache = undefined;
    this.#d.events?.active?.(true);
    await lock.heartbeat(this.#d.nodeId, this.#advert(), this.#t.pollMs * 3).catch(() => {});
    return true;
  }

  async #lost(reason: string): Promise<void> {
    this.#d.logger.warn({ reason }, 'lost the HA lock: stepping down to standby');
    this.#d.events?.leadershipLost?.();
    await this.#becomeStandby(false);
  }

  async #becomeStandby(release: boolean): Promise<void> {
    const { lifecycle, barrier, lock } = this.#d;
    if (!this.#activeSince) return;
    // Writes stop at once (the fence also refuses them), in-flight work is told to stop, then the state flips.
    barrier.stepDown();
    this.#d.enableStorageCache?.(false);
    lifecycle.abortInFlight();
    await lifecycle.exclusive(async () => {
      this.#activeSince = undefined;
      lifecycle.setStandbyHeld(true);
    });
    this.#d.events?.active?.(false);
    if (release) await lock.release().catch(() => {});
    this.#leaderCache = undefined;
    // The caches may be stale from now on: the next refresh reloads them.
    await this.refresh();
    this.#competing = false;
    await this.#loop;
    if (!lifecycle.sealed) this.#startCompeting();
  }

  /** Deletes root key upgrade entries once every standby had time to follow them. */
  async #pruneUpgrades(): Promise<void> {
    const now = Date.now();
    const names = await this.#d.storage.list(ROOT_UPGRADE_PREFIX);
    for (const name of names) {
      const seen = this.#upgradeSeen.get(name);
      if (seen === undefined) this.#upgradeSeen.set(name, now);
      else if (now - seen >= this.#t.upgradeGraceMs) {
        await this.#d.storage.delete(ROOT_UPGRADE_PREFIX + name);
        this.#upgradeSeen.delete(name);
      }
    }
  }

  #advert(): string {
    const advert: LeaderAdvert = {
      api_addr: this.#d.apiAddr,
      node_id: this.#d.nodeId,
      active_time: (this.#activeSince ?? new Date(0)).toISOString(),
    };
    return JSON.stringify(advert);
  }
}

function parseAdvert(value: string): LeaderAdvert | undefined {
  try {
    const v = JSON.parse(value) as Partial<LeaderAdvert>;
    if (typeof v.api_addr === 'string' && typeof v.node_id === 'string' && typeof v.active_time === 'string') {
      return { api_addr: v.api_addr, node_id: v.node_id, active_time: v.active_time };
    }
  } catch {
    // not ours: no advert
  }
  return undefined;
}
