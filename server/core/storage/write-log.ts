import { sameBytes } from './storage-backend.js';

/** Keys whose last write is remembered; past this the memory is dropped and older reads are checked the slow way. */
const REMEMBERED_KEYS = 50_000;

interface Read {
  readonly key: string;
  /** The write count when the read began: every write not seen by the read is counted after it. */
  readonly seq: number;
  /** The bytes as read, kept by the backend (the caller's copy could have been changed since). */
  readonly bytes: Uint8Array;
}

/**
 * Lets a compare-and-swap skip re-reading an entry the same backend handed out moments ago (a rewrap job scans a
 * page, re-encrypts it, then writes it back only if nothing changed). The backend counts its committed writes and
 * remembers the count of each key's last one; a value returned by a scan is tagged with the count taken *before*
 * the scan's snapshot. If the key's last write counts no higher than that tag, no write reached the key after the
 * snapshot, so the stored value is still the one read, and comparing the caller's expected bytes to the bytes kept
 * from the read is the full compare. Anything unknown (a value not from a scan, a forgotten key history) answers
 * "not known unchanged", and the backend reads the key as before. Only valid for a store no other process writes.
 */
export class WriteLog {
  #seq = 0;
  /** Reads tagged below this count cannot be judged: the key history from before it was dropped. */
  #floor = 0;
  readonly #lastWrite = new Map<string, number>();
  readonly #reads = new WeakMap<Uint8Array, Read>();
  readonly #remembered: number;

  constructor(rememberedKeys = REMEMBERED_KEYS) {
    this.#remembered = rememberedKeys;
  }

  /** The tag for a read that starts now; take it before the read's snapshot. */
  get seq(): number {
    return this.#seq;
  }

  /** Tags `handedOut` (the caller's copy of `bytes`, the value of `key`) as read at `seq`. */
  noteRead(key: string, handedOut: Uint8Array, seq: number, bytes: Uint8Array): void {
    this.#reads.set(handedOut, { key, seq, bytes });
  }

  /** Records a write of `keys` once it has completed (or failed: a failed batch may still have landed). */
  noteWrite(keys: Iterable<string>): void {
    this.#seq += 1;
    if (this.#lastWrite.size >= this.#remembered) {
      this.#lastWrite.clear();
      this.#floor = this.#seq;
    }
    for (const key of keys) this.#lastWrite.set(key, this.#seq);
  }

  /**
   * True only when `key` is known to still hold exactly `expected`: `expected` is a value this backend handed out
   * as `key`'s, no write of `key` completed since it was read, and its bytes are still the ones read. The caller must hold the
   * key's lock (no write of it in flight).
   */
  unchanged(key: string, expected: Uint8Array): boolean {
    const read = this.#reads.get(expected);
    if (read?.key !== key || read.seq < this.#floor) return false;
    const written = this.#lastWrite.get(key);
    if (written !== undefined && written > read.seq) return false;
    return sameBytes(expected, read.bytes);
  }
}
