import type { Logger } from 'pino';
import type { AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError, isCofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { tally, type CensusRecord } from './census.js';
import type { JobStore } from './job-store.js';
import type { RewrapObserver, RewrapStorage } from './rewrap-deps.js';

/** Entries per page of a census walk (and of a job's counting and verifying walks). */
export const CENSUS_PAGE = 1000;

/**
 * The term census: a walk over the whole barrier counting entries and bytes per term from entry headers alone (no
 * decryption), one page per hold of the lifecycle's read side. The running census is kept in memory; a completed one
 * is persisted behind the barrier, where the retire and trim gates find it. A seal ends a running census as `failed`.
 */
export class CensusRunner {
  readonly #barrier: AesGcmBarrier;
  readonly #lifecycle: Lifecycle;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #observer: RewrapObserver;
  readonly #store: JobStore;
  #census: CensusRecord | undefined;
  #run: Promise<void> | undefined;

  constructor(deps: {
    barrier: AesGcmBarrier;
    lifecycle: Lifecycle;
    clock: Clock;
    random: Random;
    logger: Logger;
    observer: RewrapObserver;
    store: JobStore;
  }) {
    this.#barrier = deps.barrier;
    this.#lifecycle = deps.lifecycle;
    this.#clock = deps.clock;
    this.#random = deps.random;
    this.#logger = deps.logger;
    this.#observer = deps.observer;
    this.#store = deps.store;
  }

  /** The latest census (the running one while it runs). */
  get current(): CensusRecord | undefined {
    return this.#census;
  }

  /** The running census walk, if any (resolves when it ends, whatever the outcome). */
  get running(): Promise<void> | undefined {
    return this.#run;
  }

  /** The latest COMPLETED census, for the retire and trim gates. @throws `sealed`. */
  async lastCompleted(): Promise<CensusRecord | undefined> {
    if (this.#census?.state === 'completed') return this.#census;
    return this.#store.readCensus();
  }

  /**
   * Starts a census walk in the background; the caller holds the lifecycle's read side and has checked that no job
   * or census runs. @throws `sealed`.
   */
  async start(storage: RewrapStorage): Promise<CensusRecord> {
    const previous = await this.lastCompleted();
    const keyring = this.#barrier.activeKeyring;
    const record: CensusRecord = {
      census_id: `census-${this.#random.uuid()}`,
      seq: (previous?.seq ?? 0) + 1,
      state: 'running',
      started_at: this.#clock.now().toISOString(),
      completed_at: null,
      active_term: keyring.activeTerm,
      scanned: 0,
      terms: {},
      exempt: {},
      unknown_terms: {},
      malformed: { entries: 0, bytes: 0 },
      error: null,
    };
    this.#census = record;
    this.#run = this.#walk(record, storage).finally(() => (this.#run = undefined));
    return record;
  }

  /** Reads the persisted census after an unseal and reports it. @throws `sealed`. */
  async load(): Promise<void> {
    this.#census = await this.#store.readCensus();
    if (this.#census) this.#observer.census(this.#census);
  }

  /** Forgets the in-memory census when the server seals. */
  forget(): void {
    this.#census = undefined;
  }

  async #walk(record: CensusRecord, storage: RewrapStorage): Promise<void> {
    let after: string | undefined;
    try {
      for (;;) {
        const done = await this.#lifecycle.whileUnsealed(async (signal) => {
          const page = await storage.scan({ prefix: '', limit: CENSUS_PAGE, ...(after === undefined ? {} : { after }) });
          if (signal.aborted) throw new CofferError('sealed', 'Vault is sealed');
          const keyring = this.#barrier.activeKeyring;
          for (const { key, value } of page) tally(record, key, value, keyring);
          if (page.length < CENSUS_PAGE) {
            record.state = 'completed';
            record.completed_at = this.#clock.now().toISOString();
            await this.#store.writeCensus(record);
            return true;
          }
          after = page.at(-1)!.key;
          return false;
        });
        if (done) break;
      }
      this.#observer.census(record);
      this.#logger.info({ census_id: record.census_id, scanned: record.scanned }, 'census completed');
    } catch (err) {
      record.state = 'failed';
      record.error = isCofferError(err) ? err.code : 'internal';
      this.#logger.warn({ census_id: record.census_id, err: (err as Error).message }, 'census did not complete');
    }
  }
}
