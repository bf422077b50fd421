import type { Logger } from 'pino';
import type { AesGcmBarrier, KeyStatus } from '../barrier/aes-gcm-barrier.js';
import { MAX_OPERATIONS_LIMIT, type RotationConfig, type TermInfo } from '../barrier/keyring.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { wipe } from '../secret-bytes.js';

export const MIN_MAX_OPERATIONS = 1_000_000;
export const MIN_ROTATION_INTERVAL_SECONDS = 24 * 3600;

export interface RotationDeps {
  barrier: AesGcmBarrier;
  lifecycle: Lifecycle;
  clock: Clock;
  random: Random;
  logger: Logger;
}

/**
 * Keyring terms over time: manual rotation, the automatic-rotation policy and the periodic maintenance that applies
 * it and flushes encryption counts. Every change runs under the lifecycle's read side, so it never meets a seal
 * half-way; at every seal the counts are flushed first (a clean seal keeps them exact).
 */
export class RotationService {
  readonly #d: RotationDeps;

  constructor(deps: RotationDeps) {
    this.#d = deps;
    deps.lifecycle.onSealing(async () => {
      if (deps.barrier.sealed) return;
      try {
        await deps.barrier.persistEncryptions(true);
      } catch (err) {
        // Sealing must not fail; the next unseal then treats the stop as unclean and adds the safety margin.
        deps.logger.error({ err: (err as Error).message }, 'could not persist encryption counts before sealing');
      }
    });
  }

  /**
   * Adds a keyring term: new writes use it, every older term keeps decrypting. Online: readers and writers are not
   * blocked; the cost is one keyring write whatever the amount of data.
   * @throws CofferError `sealed`.
   */
  async rotate(reason = 'requested'): Promise<TermInfo> {
    return this.#d.lifecycle.whileUnsealed(() => this.#rotate(reason));
  }

  async #rotate(reason: string): Promise<TermInfo> {
    const key = this.#d.random.bytes(32);
    try {
      const info = await this.#d.barrier.rotate(key, this.#d.clock.now());
      this.#d.logger.info({ term: info.term, reason }, 'rotated the barrier key');
      return info;
    } finally {
      wipe(key);
    }
  }

  /** @throws CofferError `sealed`. */
  keyStatus(): KeyStatus {
    return this.#d.barrier.keyStatus();
  }

  /** @throws CofferError `sealed`. */
  config(): RotationConfig {
    return this.#d.barrier.activeKeyring.rotation;
  }

  /**
   * Updates the automatic-rotation settings; fields left undefined keep their value. A change of `enabled` alone
   * is honoured (Vault drops it).
   * @throws CofferError `invalid_request` with Vault's messages, `sealed`.
   */
  async setConfig(update: Partial<RotationConfig>): Promise<void> {
    await this.#d.lifecycle.whileUnsealed(async () => {
      const current = this.config();
      const next: RotationConfig = { ...current, ...update };
      if (next.maxOperations < MIN_MAX_OPERATIONS || next.maxOperations > MAX_OPERATIONS_LIMIT) {
        throw new CofferError('invalid_request', `max_operations must be in the range [${MIN_MAX_OPERATIONS},${MAX_OPERATIONS_LIMIT}]`);
      }
      if (next.intervalSeconds > 0 && next.intervalSeconds < MIN_ROTATION_INTERVAL_SECONDS) {
        throw new CofferError('invalid_request', 'interval must be greater or equal to 24h0m0s');
      }
      if (current.maxOperations === next.maxOperations && current.intervalSeconds === next.intervalSeconds && current.enabled === next.enabled)
        return;
      await this.#d.barrier.setRotationConfig(next);
      this.#d.logger.info(
        { max_operations: next.maxOperations, interval_seconds: next.intervalSeconds, enabled: next.enabled },
        'rotation config updated',
      );
    });
  }

  /**
   * Periodic work, run by the server's scheduler (and directly by tests): rotates when the active term reached
   * `max_operations` encryptions or is older than `interval` (by the injected clock) and rotation is enabled;
   * otherwise persists the encryption count. Returns the rotation reason, if it rotated. Sealed: nothing.
   */
  async maintenance(): Promise<string | undefined> {
    if (this.#d.lifecycle.sealed) return undefined;
    try {
      return await this.#d.lifecycle.whileUnsealed(async () => {
        const { barrier, clock } = this.#d;
        const { rotation } = barrier.activeKeyring;
        const status = barrier.keyStatus();
        const age = (clock.now().getTime() - status.installTime.getTime()) / 1000;
        let reason: string | undefined;
        if (rotation.enabled && status.encryptions >= rotation.maxOperations) reason = 'reached max operations';
        else if (rotation.enabled && rotation.intervalSeconds > 0 && age >= rotation.intervalSeconds) reason = 'rotation interval reached';
        if (reason) {
          await this.#rotate(reason);
          return reason;
        }
        await barrier.persistEncryptions();
        return undefined;
      });
    } catch (err) {
      if (err instanceof CofferError && err.code === 'sealed') return undefined;
      throw err;
    }
  }
}
