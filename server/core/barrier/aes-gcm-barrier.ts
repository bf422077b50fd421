import { timingSafeEqual } from 'node:crypto';
import { Mutex } from 'async-mutex';
import { CofferError } from '../errors.js';
import type { StorageBackend, StorageOp } from '../storage/storage-backend.js';
import type { Barrier, BarrierEvents, BarrierOp } from './barrier.js';
import { EncryptionCounts, markRunning, type UnsealOutcome } from './encryption-counts.js';
import { entryTerm } from './entry-header.js';
import type { Keyring, RotationConfig, TermInfo } from './keyring.js';
import { decryptEntry, decryptKeyring, encryptEntry, encryptKeyring, encryptOpWith, entryAad, KEYRING_PATH } from './keyring-entry.js';
import { loadFollowingUpgrades, rootUpgradeOp } from './root-upgrade.js';

// The entry codec, the root-key upgrade entries and the count bookkeeping live in their own modules; they are
// re-exported so callers keep importing the barrier's storage layout from here.
export { entryTerm };
export type { BarrierEvents } from './barrier.js';
export { COUNT_FLUSH_THRESHOLD, UNCLEAN_STOP_MARGIN, type UnsealOutcome } from './encryption-counts.js';
export { decryptKeyring, encryptEntry, encryptKeyring, encryptOpWith, KEYRING_PATH } from './keyring-entry.js';
export { ROOT_UPGRADE_PREFIX, rootUpgradePath } from './root-upgrade.js';

/** Live view of the active term, for key-status and automatic rotation. */
export type KeyStatus = TermInfo;

/**
 * AES-256-GCM barrier over a storage backend. Writes use the active term; reads use the term in the entry's
 * header. Every encryption under a term key is counted; counts are persisted with the keyring.
 *
 * Keyring changes (rotate, count flush, rotation config) are serialised by one lock and follow "persist, then
 * swap": the new keyring is written in one storage put and only then used. Encryption and decryption read the
 * current keyring synchronously, so a swap never tears an operation.
 */
export class AesGcmBarrier implements Barrier {
  readonly #storage: StorageBackend;
  readonly #keyringLock = new Mutex();
  #keyring: Keyring | undefined;
  #rootKey: Uint8Array | undefined;
  /** Counts the stored keyring does not hold yet (encryptions, refused reads of retired terms). */
  readonly #counts = new EncryptionCounts();
  #flushing = false;
  /** HA standby: the keyring is loaded but never written (the active node owns storage). */
  #readOnly = false;
  /** HA: a root key replacement also leaves an upgrade entry for standbys. */
  #rootUpgrades = false;
  readonly #events: BarrierEvents;

  constructor(storage: StorageBackend, events: BarrierEvents = {}) {
    this.#storage = storage;
    this.#events = events;
  }

  get sealed(): boolean {
    return this.#keyring === undefined;
  }

  /**
   * Loads the keyring with `rootKey` and starts serving. `rootKey` is copied. After an unclean stop the active
   * term's count is raised by `UNCLEAN_STOP_MARGIN` (counts since the last flush were lost) and `events.uncleanStop`
   * is called; the outcome says so too. Unsealing an unsealed barrier changes nothing and reports a clean stop.
   * @throws CofferError `invalid_key` when `rootKey` is wrong.
   */
  async unseal(rootKey: Uint8Array): Promise<UnsealOutcome> {
    if (!this.sealed) {
      const info = this.#keyring!.termInfo(this.#keyring!.activeTerm)!;
      return { uncleanStop: false, marginAdded: 0, term: info.term, encryptions: info.encryptions };
    }
    let keyring = decryptKeyring(rootKey, await this.#storage.get(KEYRING_PATH));
    if (this.#readOnly) {
      // An HA standby: serve nothing, write nothing; the unclean-stop check happens when it takes over.
      this.#keyring = keyring;
      this.#rootKey = rootKey.slice();
      this.#counts.restartActive();
      const current = keyring.termInfo(keyring.activeTerm)!;
      return { uncleanStop: false, marginAdded: 0, term: current.term, encryptions: current.encryptions };
    }
    // Mark the keyring "running" before serving (with the unclean-stop margin when it was not left clean).
    const { next, outcome } = markRunning(keyring);
    await this.#storage.put(KEYRING_PATH, encryptKeyring(rootKey, next).value);
    keyring.destroy();
    keyring = next;
    this.#keyring = keyring;
    this.#rootKey = rootKey.slice();
    this.#counts.restartActive();
    if (outcome.uncleanStop) this.#events.uncleanStop?.(outcome);
    return outcome;
  }

  /**
   * HA: a standby's barrier loads the keyring without writing it (`true`), until `takeOver`. Also makes every root
   * key replacement leave an upgrade entry for standbys.
   */
  setStandby(readOnly: boolean): void {
    this.#readOnly = readOnly;
    this.#rootUpgrades = true;
  }

  /**
   * HA standby: reloads the keyring another node changed (rotation, count flush, rekey). When the root key was
   * replaced, follows the upgrade entries from the root key held here to the current one.
   * @throws CofferError `invalid_key` when the stored keyring cannot be opened from the key held (the upgrade
   *   entries are gone: the node must be unsealed with the current shares), `sealed` when sealed.
   */
  async reload(): Promise<void> {
    await this.#keyringLock.runExclusive(async () => {
      this.#requireKeyring();
      const { keyring, rootKey } = await loadFollowingUpgrades(this.#storage, this.#rootKey!);
      this.#keyring?.destroy();
      this.#keyring = keyring;
      if (rootKey !== this.#rootKey) {
        this.#rootKey?.fill(0);
        this.#rootKey = rootKey;
      }
      this.#counts.restartActive();
    });
  }

  /**
   * HA: the node now holds the lock: reloads the keyring (following upgrades), adds the unclean-stop margin when the
   * previous active did not stop cleanly, marks the keyring running and starts writing. @returns the outcome.
   * @throws as `reload`, and CofferError `storage`/`standby` when the write fails (the barrier stays read-only).
   */
  async takeOver(): Promise<UnsealOutcome> {
    return this.#keyringLock.runExclusive(async () => {
      this.#requireKeyring();
      const { keyring, rootKey } = await loadFollowingUpgrades(this.#storage, this.#rootKey!);
      const { next, outcome } = markRunning(keyring);
      if (next !== keyring) keyring.destroy();
      try {
        await this.#storage.put(KEYRING_PATH, encryptKeyring(rootKey, next).value);
      } catch (err) {
        next.destroy();
        if (rootKey !== this.#rootKey) rootKey.fill(0);
        throw err;
      }
      this.#keyring?.destroy();
      this.#keyring = next;
      if (rootKey !== this.#rootKey) {
        this.#rootKey?.fill(0);
        this.#rootKey = rootKey;
      }
      this.#counts.restartActive();
      this.#readOnly = false;
      if (outcome.uncleanStop) this.#events.uncleanStop?.(outcome);
      return outcome;
    });
  }

  /** HA: the node lost the lock: stop writing (unflushed counts are covered by the next active's margin). */
  stepDown(): void {
    this.#readOnly = true;
  }

  /** Runs `fn` with the root key (synchronously, so it cannot be held across a seal). @throws `sealed`. */
  withRootKey<T>(fn: (rootKey: Uint8Array) => T): T {
    this.#requireKeyring();
    return fn(this.#rootKey!);
  }

  /** The keyring in use (owned by the barrier: do not keep it across awaits or destroy it). */
  get activeKeyring(): Keyring {
    return this.#requireKeyring();
  }

  /**
   * Adds a new term with `key` and makes it the active one. The old term's count is persisted with it; older
   * terms stay readable. Cost is one keyring write, whatever the amount of data.
   */
  async rotate(key: Uint8Array, installTime: Date): Promise<TermInfo> {
    return this.#updateKeyring((keyring, counted) => {
      const info = keyring.termInfo(keyring.activeTerm)!;
      return keyring.withEncryptions(info.term, info.encryptions + counted).withNewTerm(key, installTime);
    }, true);
  }

  /** Persists the encryptions counted since the last flush. `clean` marks a clean seal or shutdown. */
  async persistEncryptions(clean = false): Promise<void> {
    if (this.#readOnly) return; // an HA standby encrypts nothing and owns no storage
    await this.#updateKeyring((keyring, counted) => {
      const info = keyring.termInfo(keyring.activeTerm)!;
      return keyring.withEncryptions(info.term, info.encryptions + counted).withClean(clean);
    }, false);
  }

  async setRotationConfig(rotation: RotationConfig): Promise<void> {
    await this.#updateKeyring((keyring, counted) => {
      const info = keyring.termInfo(keyring.activeTerm)!;
      return keyring.withEncryptions(info.term, info.encryptions + counted).withRotationConfig(rotation);
    }, false);
  }

  /**
   * Replaces the root key (every rekey does): the keyring — with a new active term when `newTerm` is given — is
   * re-encrypted under `newRootKey` and written in ONE batch with `extra` (the new root key's wrapping and the seal
   * entries that go with it), then swapped in. A crash leaves either the old keyring and wrapping or the new ones,
   * never a mix. `newRootKey` and `newTerm.key` are copied.
   */
  async rotateRootKey(newRootKey: Uint8Array, extra: readonly StorageOp[], newTerm?: { key: Uint8Array; installTime: Date }): Promise<void> {
    await this.#keyringLock.runExclusive(async () => {
      const current = this.#requireKeyring();
      const pending = this.#counts.snapshot();
      const info = current.termInfo(current.activeTerm)!;
      const counts = this.#counts.credit(current.withEncryptions(info.term, info.encryptions + pending.active), pending);
      const next = newTerm ? counts.withNewTerm(newTerm.key, newTerm.installTime) : counts;
      if (next !== counts) counts.destroy();
      try {
        const upgrade: StorageOp[] = this.#rootUpgrades ? [rootUpgradeOp(this.#rootKey!, newRootKey)] : [];
        await this.#storage.batch([encryptKeyring(newRootKey, next), ...extra, ...upgrade]);
      } catch (err) {
        next.destroy();
        throw err;
      }
      if (this.#keyring !== current) {
        next.destroy();
        throw new CofferError('sealed', 'Vault is sealed');
      }
      this.#keyring = next;
      this.#counts.settle(pending, newTerm !== undefined);
      current.destroy();
      this.#rootKey!.fill(0);
      this.#rootKey = newRootKey.slice();
    });
  }

  /**
   * Builds a new keyring from the current one and the encryptions counted so far, persists it with the root key,
   * then swaps it in. On failure nothing changes and the counted encryptions stay counted.
   */
  async #updateKeyring(build: (keyring: Keyring, counted: number) => Keyring, newTerm: boolean): Promise<TermInfo> {
    return this.#keyringLock.runExclusive(async () => {
      const current = this.#requireKeyring();
      const pending = this.#counts.snapshot();
      const next = this.#counts.credit(build(current, pending.active), pending);
      await this.#storage.put(KEYRING_PATH, encryptKeyring(this.#rootKey!, next).value);
      if (this.#keyring !== current) {
        next.destroy(); // sealed meanwhile: the persisted keyring is still right, just don't serve it
        throw new CofferError('sealed', 'Vault is sealed');
      }
      this.#keyring = next;
      this.#counts.settle(pending, newTerm);
      current.destroy();
      return next.termInfo(next.activeTerm)!;
    });
  }

  /**
   * Changes the keyring's retirement bounds (retire, unretire, trim) with "persist, then swap", like every other
   * keyring change. `build` may throw to refuse; nothing changes then.
   * @throws CofferError `sealed`, or what `build` throws.
   */
  async changeBounds(build: (keyring: Keyring) => Keyring): Promise<Keyring> {
    await this.#updateKeyring((keyring, counted) => {
      const info = keyring.termInfo(keyring.activeTerm)!;
      const counts = keyring.withEncryptions(info.term, info.encryptions + counted);
      try {
        return build(counts);
      } finally {
        counts.destroy();
      }
    }, false);
    return this.#requireKeyring();
  }

  /**
   * Re-encrypts the stored entry `raw` of `path` under `targetTerm` (the active term when omitted), for a rewrap:
   * decrypts it with its own term (refused like any read when that term is retired or unknown), encrypts the
   * plaintext again with the same path as associated data and a fresh nonce, and verifies the result decrypts to
   * the same bytes before returning it. Counts one encryption under the target term. The plaintext is zeroed.
   * @throws CofferError `integrity` (source does not authenticate, retired/unknown term, verify mismatch),
   * `invalid_request` when `targetTerm` has no key, `sealed`.
   */
  reencrypt(path: string, raw: Uint8Array, targetTerm?: number): { value: Uint8Array; term: number } {
    const keyring = this.#requireKeyring();
    const term = targetTerm ?? keyring.activeTerm;
    const key = keyring.keyFor(term);
    if (!key || keyring.isRetired(term)) throw new CofferError('invalid_request', `target term ${term} is not available for writing`);
    const aad = entryAad(path);
    const plain = this.#decrypt(keyring, path, raw, aad);
    let check: Uint8Array | undefined;
    try {
      const value = encryptEntry(key, term, path, plain, aad);
      check = decryptEntry(key, path, value, aad);
      if (check.length !== plain.length || !timingSafeEqual(check, plain)) throw new CofferError('integrity', 'verify mismatch after re-encryption');
      this.#countEncryption(term, keyring);
      return { value, term };
    } finally {
      plain.fill(0);
      check?.fill(0);
    }
  }

  /** Drops and zeroes all key material. */
  seal(): void {
    this.#keyring?.destroy();
    this.#rootKey?.fill(0);
    this.#keyring = undefined;
    this.#rootKey = undefined;
    this.#counts.forget();
  }

  keyStatus(): KeyStatus {
    const keyring = this.#requireKeyring();
    const info = keyring.termInfo(keyring.activeTerm)!;
    return { ...info, encryptions: info.encryptions + this.#counts.active };
  }

  async get(path: string): Promise<Uint8Array | undefined> {
    this.#requireKeyring();
    const entry = await this.#storage.get(path);
    if (entry === undefined) return undefined;
    return this.decrypt(path, entry);
  }

  async has(path: string): Promise<boolean> {
    this.#requireKeyring();
    return (await this.#storage.get(path)) !== undefined;
  }

  /** Decrypts a stored entry read from `path`. */
  decrypt(path: string, entry: Uint8Array): Uint8Array {
    return this.#decrypt(this.#requireKeyring(), path, entry);
  }

  #decrypt(keyring: Keyring, path: string, entry: Uint8Array, aad?: Uint8Array): Uint8Array {
    let term: number;
    try {
      term = entryTerm(entry);
    } catch (err) {
      this.#events.decryptFailure?.('malformed');
      throw err;
    }
    if (keyring.isRetired(term)) {
      this.#events.retiredRead?.(term);
      this.#counts.deniedRead();
      // Rare by design (it is the alarm of a soft retire), and the trim gate relies on it: persist it at once.
      void this.persistEncryptions().catch((err: unknown) => this.#events.backgroundError?.(err));
      throw new CofferError('integrity', `term ${term} is retired: its entries can no longer be read`);
    }
    const key = keyring.keyFor(term);
    if (!key) {
      this.#events.decryptFailure?.('unknown_term');
      throw new CofferError('integrity', `no decryption key available for term ${term}`);
    }
    try {
      return decryptEntry(key, path, entry, aad);
    } catch (err) {
      this.#events.decryptFailure?.('auth_failure');
      throw err;
    }
  }

  async put(path: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', path, value }]);
  }

  async delete(path: string): Promise<void> {
    await this.batch([{ type: 'delete', path }]);
  }

  async list(prefix: string): Promise<string[]> {
    this.#requireKeyring();
    return this.#storage.list(prefix);
  }

  async batch(ops: readonly BarrierOp[]): Promise<void> {
    const encrypted = ops.map((op) => this.encryptOp(op));
    await this.#storage.batch(encrypted);
  }

  encryptOp(op: BarrierOp): StorageOp {
    const keyring = this.#requireKeyring();
    if (op.type === 'put') this.#countEncryption(keyring.activeTerm, keyring);
    return encryptOpWith(keyring, op);
  }

  #countEncryption(term: number, keyring: Keyring): void {
    if (this.#counts.count(term, keyring.activeTerm) && !this.#flushing) {
      this.#flushing = true;
      void this.persistEncryptions()
        .catch((err: unknown) => this.#events.backgroundError?.(err))
        .finally(() => (this.#flushing = false));
    }
  }

  #requireKeyring(): Keyring {
    if (!this.#keyring) throw new CofferError('sealed', 'Vault is sealed');
    return this.#keyring;
  }
}
