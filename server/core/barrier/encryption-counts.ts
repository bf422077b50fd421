import type { Keyring } from './keyring.js';

/**
 * Counts are flushed at the latest when this many encryptions are unpersisted, so a crash loses fewer than
 * about this many; after an unclean stop twice this is added to the active term's count.
 */
export const COUNT_FLUSH_THRESHOLD = 100_000;
export const UNCLEAN_STOP_MARGIN = 2 * COUNT_FLUSH_THRESHOLD;

/** What `unseal` found about the previous stop. */
export interface UnsealOutcome {
  /** The keyring was not marked clean: the server crashed or was killed without sealing. */
  uncleanStop: boolean;
  /** Encryptions added to the active term's count to cover counts lost in that stop (0 after a clean stop). */
  marginAdded: number;
  /** The active term and its count after the margin. */
  term: number;
  encryptions: number;
}

/**
 * The keyring to persist before a node starts serving from `keyring`: marked "running" (not clean). If it was not
 * left clean, counts since the last flush are lost: assume the worst and add `UNCLEAN_STOP_MARGIN` to the active
 * term's count, so automatic rotation errs early. `next` is a new keyring; `keyring` stays the caller's.
 */
export function markRunning(keyring: Keyring): { next: Keyring; outcome: UnsealOutcome } {
  const info = keyring.termInfo(keyring.activeTerm)!;
  const uncleanStop = !keyring.clean;
  const marginAdded = uncleanStop ? UNCLEAN_STOP_MARGIN : 0;
  const next = (uncleanStop ? keyring.withEncryptions(info.term, info.encryptions + marginAdded) : keyring).withClean(false);
  return { next, outcome: { uncleanStop, marginAdded, term: info.term, encryptions: info.encryptions + marginAdded } };
}

/** The counts not yet in the stored keyring when a keyring update started. */
export interface PendingCounts {
  /** Encryptions under the active term. */
  readonly active: number;
  /** Refused reads of retired terms. */
  readonly denied: number;
  /** Encryptions under terms other than the active one, by term. */
  readonly others: ReadonlyMap<number, number>;
}

/**
 * The barrier's in-memory counts that the stored keyring does not hold yet: encryptions under the active term,
 * encryptions under other terms (a rewrap job pinned to an older term) and refused reads of retired terms (the
 * trim gate relies on them). A keyring update takes a `snapshot`, writes a keyring that `credit`s it, and once
 * that keyring is persisted `settle`s it, so counts made during the write stay pending for the next flush.
 */
export class EncryptionCounts {
  /** Encryptions under the active term since the keyring was loaded or last persisted. */
  #active = 0;
  /** Encryptions under terms other than the active one (a rewrap job pinned to an older term). */
  readonly #others = new Map<number, number>();
  /** Refused reads of retired terms not yet persisted in the keyring. */
  #denied = 0;

  /** Encryptions under the active term not yet persisted. */
  get active(): number {
    return this.#active;
  }

  /** A keyring was just loaded (or taken over) from storage: its active term's count is the one to build on. */
  restartActive(): void {
    this.#active = 0;
  }

  /** Sealed: the other terms' encryptions and the refused reads are dropped with the keys. */
  forget(): void {
    this.#others.clear();
    this.#denied = 0;
  }

  /**
   * Counts one encryption under `term`.
   * @returns true when the active term's unpersisted count has reached `COUNT_FLUSH_THRESHOLD` (time to flush).
   */
  count(term: number, activeTerm: number): boolean {
    if (term !== activeTerm) {
      this.#others.set(term, (this.#others.get(term) ?? 0) + 1);
      return false;
    }
    this.#active += 1;
    return this.#active >= COUNT_FLUSH_THRESHOLD;
  }

  /** Counts one refused read of a retired term. */
  deniedRead(): void {
    this.#denied += 1;
  }

  /** What is pending now, to be credited to the next keyring written. */
  snapshot(): PendingCounts {
    return { active: this.#active, denied: this.#denied, others: new Map(this.#others) };
  }

  /**
   * `keyring` with the snapshot's refused reads and other-term encryptions added (the active term's encryptions
   * are the caller's to add, as rotation and flush treat them differently). `keyring` must be a fresh copy owned
   * by the caller: each intermediate is zeroed once replaced.
   */
  credit(keyring: Keyring, pending: PendingCounts): Keyring {
    let next = keyring;
    const replace = (k: Keyring) => {
      next.destroy();
      next = k;
    };
    if (pending.denied > 0) replace(next.withDeniedReads(next.bounds.deniedReads + pending.denied));
    for (const [term, n] of pending.others) {
      const info = next.termInfo(term);
      if (info && term !== next.activeTerm) replace(next.withEncryptions(term, info.encryptions + n));
    }
    return next;
  }

  /**
   * The keyring crediting `pending` is persisted: removes what it holds from the pending counts. Encryptions under
   * the old active term made during the write are credited to it conservatively: after a rotation (`newTerm`) they
   * are simply forgotten with the term; otherwise they stay unpersisted for the next flush.
   */
  settle(pending: PendingCounts, newTerm: boolean): void {
    this.#active = newTerm ? 0 : this.#active - pending.active;
    this.#denied -= pending.denied;
    for (const [term, n] of pending.others) {
      const left = (this.#others.get(term) ?? 0) - n;
      if (left > 0) this.#others.set(term, left);
      else this.#others.delete(term);
    }
  }
}
