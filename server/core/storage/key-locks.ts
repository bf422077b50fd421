/**
 * Per-key write ordering inside one backend. `acquire` queues the caller behind every earlier holder of any of its
 * keys; the queueing happens synchronously, so two callers with overlapping key sets can never deadlock (the later
 * one simply waits for the earlier one). Writers of disjoint keys never wait for each other.
 */
export class KeyLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async acquire(keys: Iterable<string>): Promise<() => void> {
    const unique = [...new Set(keys)];
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const waits: Promise<void>[] = [];
    for (const key of unique) {
      const tail = this.#tails.get(key);
      if (tail) waits.push(tail);
      this.#tails.set(key, mine);
    }
    if (waits.length > 0) await Promise.all(waits);
    return () => {
      for (const key of unique) if (this.#tails.get(key) === mine) this.#tails.delete(key);
      release();
    };
  }
}
