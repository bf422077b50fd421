import { createHash } from 'node:crypto';
import { Mutex } from 'async-mutex';
import { CofferError } from '../errors.js';
import type { StorageBackend, StorageOp } from '../storage/storage-backend.js';
import { aeadOpen, aeadSeal, openVersioned, sealVersioned } from './aead.js';
import { ENTRY_VERSION, entryTerm, HEADER_BYTES, ROOT_KEY_TERM } from './entry-header.js';

export { entryTerm };
import type { Barrier, BarrierOp } from './barrier.js';
import { Keyring, type RotationConfig, type TermInfo } from './keyring.js';
import type { DecryptFailureReason } from '../observer.js';

export const KEYRING_PATH = 'core/keyring';

const encoder = new TextEncoder();

/**
 * HA: where an active node that replaced the root key leaves the NEW root key encrypted under the OLD one, in the
 * same batch as the new keyring, so a standby holding the old root key can follow (Vault's `core/upgrade/`). The
 * name is a one-way fingerprint of the old key. Deleted after a grace period (the HA coordinator does it): until
 * then, whoever can combine the OLD shares and read storage can follow the chain, as with Vault's upgrade keys.
 */
export const ROOT_UPGRADE_PREFIX = 'core/upgrade/root/';
const ROOT_UPGRADE_VERSION = 1;

export function rootUpgradePath(oldRootKey: Uint8Array): string {
  const fingerprint = createHash('sha256').update('coffer root key upgrade\0').update(oldRootKey).digest('hex').slice(0, 32);
  return ROOT_UPGRADE_PREFIX + fingerprint;
}

/** `term | version | nonce | ciphertext | tag`, authenticated with `path`. */
export function encryptEntry(key: Uint8Array, term: number, path: string, plaintext: Uint8Array): Uint8Array {
  const sealed = aeadSeal(key, plaintext, encoder.encode(path));
  const out = new Uint8Array(HEADER_BYTES + sealed.length);
  new DataView(out.buffer).setUint32(0, term);
  out[4] = ENTRY_VERSION;
  out.set(sealed, HEADER_BYTES);
  return out;
}

function decryptEntry(key: Uint8Array, path: string, entry: Uint8Array): Uint8Array {
  return aeadOpen(key, entry.subarray(HEADER_BYTES), encoder.encode(path));
}

/** The keyring entry, encrypted with the root key. */
export function encryptKeyring(rootKey: Uint8Array, keyring: Keyring): StorageOp & { type: 'put' } {
  const plain = keyring.serialize();
  try {
    return { type: 'put', key: KEYRING_PATH, value: encryptEntry(rootKey, ROOT_KEY_TERM, KEYRING_PATH, plain) };
  } finally {
    plain.fill(0);
  }
}

/**
 * @throws CofferError `invalid_key` when `rootKey` does not authenticate the stored keyring, `integrity` when it
 * is missing or malformed.
 */
export function decryptKeyring(rootKey: Uint8Array, entry: Uint8Array | undefined): Keyring {
  if (!entry) throw new CofferError('integrity', 'keyring is missing from storage');
  if (entryTerm(entry) !== ROOT_KEY_TERM) throw new CofferError('integrity', 'keyring entry has a wrong term');
  let plain: Uint8Array;
  try {
    plain = decryptEntry(rootKey, KEYRING_PATH, entry);
  } catch (err) {
    throw new CofferError('invalid_key', 'root key does not decrypt the keyring', { cause: err });
  }
  try {
    return Keyring.deserialize(plain);
  } finally {
    plain.fill(0);
  }
}

/** Encrypts a barrier op under the active term of `keyring`: for init, which commits before the barrier is live. */
export function encryptOpWith(keyring: Keyring, op: BarrierOp): StorageOp {
  if (op.type === 'delete') return { type: 'delete', key: op.path };
  const term = keyring.activeTerm;
  return { type: 'put', key: op.path, value: encryptEntry(keyring.keyFor(term)!, term, op.path, op.value) };
}

/** What the barrier reports as it works (metrics, logs). */
export interface BarrierEvents {
  /** An entry failed to decrypt, by reason. */
  decryptFailure?(reason: DecryptFailureReason): void;
  /** A background count flush failed (the counts stay counted and are flushed later). */
  backgroundError?(err: unknown): void;
  /** An unseal after an unclean stop: the active term's count was raised by the margin (reported once persisted). */
  uncleanStop?(outcome: UnsealOutcome): void;
  /** A read of an entry under a retired term was refused (the canary of a soft retire). */
  retiredRead?(term: number): void;
}

/** Live view of the active term, for key-status and automatic rotation. */
export type KeyStatus = TermInfo;

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
  /** Encryptions under the active term since the keyring was loaded or last persisted. */
  #unpersistedEncryptions = 0;
  #flushing = false;
  /** Encryptions under terms other than the active one (a rewrap job pinned to an older term). */
  readonly #otherEncryptions = new Map<number, number>();
  /** Refused reads of retired terms not yet persisted in the keyring. */
  #unpersistedDenied = 0;
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
      this.#unpersistedEncryptions = 0;
      const current = keyring.termInfo(keyring.activeTerm)!;
      return { uncleanStop: false, marginAdded: 0, term: current.term, encryptions: current.encryptions };
    }
    // Mark the keyring "running" before serving. If it was not left clean, counts since the last flush are lost:
    // assume the worst and add the margin, so automatic rotation errs early.
    const info = keyring.termInfo(keyring.activeTerm)!;
    const uncleanStop = !keyring.clean;
    const marginAdded = uncleanStop ? UNCLEAN_STOP_MARGIN : 0;
    const next = (uncleanStop ? keyring.withEncryptions(info.term, info.encryptions + marginAdded) : keyring).withClean(false);
    await this.#storage.put(KEYRING_PATH, encryptKeyring(rootKey, next).value);
    keyring.destroy();
    keyring = next;
    this.#keyring = keyring;
    this.#rootKey = rootKey.slice();
    this.#unpersistedEncryptions = 0;
    const outcome: UnsealOutcome = { uncleanStop, marginAdded, term: info.term, encryptions: info.encryptions + marginAdded };
    if (uncleanStop) this.#events.uncleanStop?.(outcome);
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
      const { keyring, rootKey } = await this.#loadFollowingUpgrades(this.#rootKey!);
      this.#keyring?.destroy();
      this.#keyring = keyring;
      if (rootKey !== this.#rootKey) {
        this.#rootKey?.fill(0);
        this.#rootKey = rootKey;
      }
      this.#unpersistedEncryptions = 0;
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
      const { keyring, rootKey } = await this.#loadFollowingUpgrades(this.#rootKey!);
      const info = keyring.termInfo(keyring.activeTerm)!;
      const uncleanStop = !keyring.clean;
      const marginAdded = uncleanStop ? UNCLEAN_STOP_MARGIN : 0;
      const next = (uncleanStop ? keyring.withEncryptions(info.term, info.encryptions + marginAdded) : keyring).withClean(false);
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
      this.#unpersistedEncryptions = 0;
      this.#readOnly = false;
      const outcome: UnsealOutcome = { uncleanStop, marginAdded, term: info.term, encryptions: info.encryptions + marginAdded };
      if (uncleanStop) this.#events.uncleanStop?.(outcome);
      return outcome;
    });
  }

  /** HA: the node lost the lock: stop writing (unflushed counts are covered by the next active's margin). */
  stepDown(): void {
    this.#readOnly = true;
  }

  /** The stored keyring, opened with `rootKey` or, after a rekey elsewhere, with the key its upgrade chain leads to. */
  async #loadFollowingUpgrades(rootKey: Uint8Array): Promise<{ keyring: Keyring; rootKey: Uint8Array }> {
    const entry = await this.#storage.get(KEYRING_PATH);
    let key = rootKey;
    for (let hops = 0; ; hops++) {
      try {
        return { keyring: decryptKeyring(key, entry), rootKey: key };
      } catch (err) {
        if (!(err instanceof CofferError && err.code === 'invalid_key') || hops >= 64) throw err;
      }
      const path = rootUpgradePath(key);
      const blob = await this.#storage.get(path);
      const next = blob === undefined ? undefined : openVersioned(ROOT_UPGRADE_VERSION, key, blob, encoder.encode(path), 'root key upgrade');
      if (key !== rootKey) key.fill(0);
      if (!next)
        throw new CofferError('invalid_key', 'the root key changed and no upgrade entry leads to it: unseal this node with the current shares');
      key = next;
    }
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
      const counted = this.#unpersistedEncryptions;
      const info = current.termInfo(current.activeTerm)!;
      const denied = this.#unpersistedDenied;
      const others = new Map(this.#otherEncryptions);
      const counts = this.#withPending(current.withEncryptions(info.term, info.encryptions + counted), denied, others);
      const next = newTerm ? counts.withNewTerm(newTerm.key, newTerm.installTime) : counts;
      if (next !== counts) counts.destroy();
      try {
        const upgrade: StorageOp[] = this.#rootUpgrades
          ? [
              {
                type: 'put',
                key: rootUpgradePath(this.#rootKey!),
                value: sealVersioned(ROOT_UPGRADE_VERSION, this.#rootKey!, newRootKey, encoder.encode(rootUpgradePath(this.#rootKey!))),
              },
            ]
          : [];
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
      this.#unpersistedEncryptions = newTerm ? 0 : this.#unpersistedEncryptions - counted;
      this.#settlePending(denied, others);
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
      const counted = this.#unpersistedEncryptions;
      const denied = this.#unpersistedDenied;
      const others = new Map(this.#otherEncryptions);
      const next = this.#withPending(build(current, counted), denied, others);
      await this.#storage.put(KEYRING_PATH, encryptKeyring(this.#rootKey!, next).value);
      if (this.#keyring !== current) {
        next.destroy(); // sealed meanwhile: the persisted keyring is still right, just don't serve it
        throw new CofferError('sealed', 'Vault is sealed');
      }
      this.#keyring = next;
      // Encryptions under the old active term made during the write are credited to it conservatively: after a
      // rotation they are simply forgotten with the term; otherwise they stay unpersisted for the next flush.
      this.#unpersistedEncryptions = newTerm ? 0 : this.#unpersistedEncryptions - counted;
      this.#settlePending(denied, others);
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

  #withPending(keyring: Keyring, denied: number, others: ReadonlyMap<number, number>): Keyring {
    let next = keyring;
    // `keyring` is a fresh copy owned by the caller's update: each intermediate is zeroed once replaced.
    const replace = (k: Keyring) => {
      next.destroy();
      next = k;
    };
    if (denied > 0) replace(next.withDeniedReads(next.bounds.deniedReads + denied));
    for (const [term, n] of others) {
      const info = next.termInfo(term);
      if (info && term !== next.activeTerm) replace(next.withEncryptions(term, info.encryptions + n));
    }
    return next;
  }

  #settlePending(denied: number, others: ReadonlyMap<number, number>): void {
    this.#unpersistedDenied -= denied;
    for (const [term, n] of others) {
      const left = (this.#otherEncryptions.get(term) ?? 0) - n;
      if (left > 0) this.#otherEncryptions.set(term, left);
      else this.#otherEncryptions.delete(term);
    }
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
    const plain = this.decrypt(path, raw);
    let check: Uint8Array | undefined;
    try {
      const value = encryptEntry(key, term, path, plain);
      check = decryptEntry(key, path, value);
      if (!Buffer.from(check).equals(Buffer.from(plain))) throw new CofferError('integrity', 'verify mismatch after re-encryption');
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
    this.#otherEncryptions.clear();
    this.#unpersistedDenied = 0;
  }

  keyStatus(): KeyStatus {
    const keyring = this.#requireKeyring();
    const info = keyring.termInfo(keyring.activeTerm)!;
    return { ...info, encryptions: info.encryptions + this.#unpersistedEncryptions };
  }

  async get(path: string): Promise<Uint8Array | undefined> {
    this.#requireKeyring();
    const entry = await this.#storage.get(path);
    if (entry === undefined) return undefined;
    return this.decrypt(path, entry);
  }

  /** Decrypts a stored entry read from `path`. */
  decrypt(path: string, entry: Uint8Array): Uint8Array {
    const keyring = this.#requireKeyring();
    let term: number;
    try {
      term = entryTerm(entry);
    } catch (err) {
      this.#events.decryptFailure?.('malformed');
      throw err;
    }
    if (keyring.isRetired(term)) {
      this.#events.retiredRead?.(term);
      this.#unpersistedDenied += 1;
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
      return decryptEntry(key, path, entry);
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
    if (term !== keyring.activeTerm) {
      this.#otherEncryptions.set(term, (this.#otherEncryptions.get(term) ?? 0) + 1);
      return;
    }
    this.#unpersistedEncryptions += 1;
    if (this.#unpersistedEncryptions >= COUNT_FLUSH_THRESHOLD && !this.#flushing) {
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
