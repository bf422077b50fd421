import { Semaphore } from 'async-mutex';
import { CofferError } from '../errors.js';

/** What the lifecycle needs to know of the barrier: whether its keys are loaded, and how to drop them. */
export interface SealableBarrier {
  readonly sealed: boolean;
  /** Drops and zeroes every key. */
  seal(): void;
}

/** `standby`: unsealed, but another node holds the HA lock (HA only): client requests go to the active node. */
export type LifecycleState = 'sealed' | 'standby' | 'unsealed';

/** More concurrent operations than a server runs at once (async-mutex's release loops over the weight, so keep it small); a state change takes all of them. */
const READERS = 256;

/**
 * The server's state and the one lock that orders every change of it.
 *
 * - Operations that need the barrier unsealed (rekey update/verify and their commit, rotate, background jobs) run
 *   under the READ side through `whileUnsealed`, which checks "sealed" after acquiring it: they run concurrently
 *   with each other, never with a state change, and never against a sealed barrier.
 * - State changes (init, unseal, seal, later step-down) run under the WRITE side through `exclusive`. A seal waits
 *   for in-flight operations to finish, so it can never wipe a key that a commit is about to write.
 * - Stores subscribe with `onUnsealed` (load) and `onSealing` (flush, clear); background work receives an
 *   AbortSignal that fires as soon as a seal is requested, before the seal waits for the lock.
 *
 * The lock is FIFO (async-mutex's weighted semaphore): a waiting state change holds back operations that arrive
 * after it, so a seal cannot be starved.
 */
export class Lifecycle {
  readonly #barrier: SealableBarrier;
  readonly #lock = new Semaphore(READERS);
  readonly #unsealedHooks: Array<() => Promise<void>> = [];
  readonly #sealingHooks: Array<() => Promise<void> | void> = [];
  readonly #invalidateHooks: Array<() => void> = [];
  #abort = new AbortController();
  #standby = false;

  constructor(barrier: SealableBarrier) {
    this.#barrier = barrier;
  }

  get state(): LifecycleState {
    return this.#barrier.sealed ? 'sealed' : this.#standby ? 'standby' : 'unsealed';
  }

  /** HA: this node does not hold the lock (true from the start on an HA node until it takes over). */
  get standby(): boolean {
    return this.#standby;
  }

  get sealed(): boolean {
    return this.#barrier.sealed;
  }

  /** Runs after every unseal, in subscription order, under the write side. A failure seals the server again. */
  onUnsealed(hook: () => Promise<void>): void {
    this.#unsealedHooks.push(hook);
  }

  /** Runs at every seal, in subscription order, under the write side, before the barrier drops its keys. */
  onSealing(hook: () => Promise<void> | void): void {
    this.#sealingHooks.push(hook);
  }

  /** HA: drops every in-memory cache of stored state (tokens, policies, mounts) when another node may change it. */
  onInvalidate(hook: () => void): void {
    this.#invalidateHooks.push(hook);
  }

  /**
   * Runs `fn` under the read side, with the barrier unsealed (and this node active) for its whole duration.
   * @throws CofferError `sealed` when the barrier is sealed once the lock is held; `standby` on an HA standby.
   */
  async whileUnsealed<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.#lock.runExclusive(async () => {
      if (this.#barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
      if (this.#standby) throw new CofferError('standby', 'node is not active');
      return fn(this.#abort.signal);
    }, 1);
  }

  /**
   * HA, under `exclusive`: marks the node active (after it took the lock and reloaded) or standby. Becoming
   * standby fires the abort signal of in-flight work first, as a seal does.
   */
  setStandbyHeld(standby: boolean): void {
    if (standby && !this.#standby) {
      this.#abort.abort(new CofferError('standby', 'node is not active'));
      this.#abort = new AbortController();
    }
    this.#standby = standby;
  }

  /** Fires the abort signal at once (a step-down is coming), before the caller waits for `exclusive`. */
  abortInFlight(): void {
    this.#abort.abort(new CofferError('standby', 'node is not active'));
  }

  /**
   * HA, under `exclusive`: drops the caches and reloads the stores from storage (another node changed it). A
   * failing load seals the node, as a failing unseal does.
   */
  async reloadHeld(): Promise<void> {
    for (const hook of this.#invalidateHooks) hook();
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    try {
      for (const hook of this.#unsealedHooks) await hook();
    } catch (err) {
      await this.#sealNow();
      throw err;
    }
  }

  /** Runs `fn` under the write side: no operation runs meanwhile. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lock.runExclusive(fn, READERS);
  }

  /**
   * To be called under `exclusive` right after the barrier opened: runs the unsealed hooks, sealing again if one
   * fails (a half-loaded server never serves).
   */
  async completeUnseal(): Promise<void> {
    this.#abort = new AbortController();
    try {
      for (const hook of this.#unsealedHooks) await hook();
    } catch (err) {
      await this.#sealNow();
      throw err;
    }
  }

  /**
   * Seals: fires the abort signal at once, then waits for in-flight operations, runs the sealing hooks and drops
   * the keys. Idempotent. Hooks must not throw (they log their own failures); a throwing hook does not stop the seal.
   */
  async seal(): Promise<void> {
    this.#abort.abort(new CofferError('sealed', 'Vault is sealed'));
    await this.exclusive(() => this.#sealNow());
  }

  /** The same as `seal` for a caller that already holds the write side. */
  async sealHeld(): Promise<void> {
    await this.#sealNow();
  }

  async #sealNow(): Promise<void> {
    this.#abort.abort(new CofferError('sealed', 'Vault is sealed'));
    const failures: unknown[] = [];
    for (const hook of this.#sealingHooks) {
      try {
        await hook();
      } catch (err) {
        failures.push(err);
      }
    }
    this.#barrier.seal();
    if (failures.length > 0) throw failures[0];
  }
}
