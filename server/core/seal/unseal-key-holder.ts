import { CofferError } from '../errors.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { toPlainBytes, wipe } from '../secret-bytes.js';

/**
 * The Shamir unseal key, kept in memory while unsealed, as Vault keeps its Shamir KEK: it is what lets
 * `sys/rotate/root` wrap a new root key without the key holders. It is set by an unseal with unseal shares and by a
 * barrier rekey's commit, and zeroed at every seal. Anyone who can read the process memory already holds the root
 * key and the keyring, so holding it adds no exposure beyond the wrapping of future root keys.
 */
export class UnsealKeyHolder {
  #key: Uint8Array | undefined;

  constructor(lifecycle: Lifecycle) {
    lifecycle.onSealing(() => this.clear());
  }

  /** Keeps a copy of `key`, replacing (and zeroing) the previous one. */
  set(key: Uint8Array): void {
    wipe(this.#key);
    this.#key = toPlainBytes(key);
  }

  /** Runs `fn` with the key (synchronously: it cannot be held across an await). @throws `invalid_request` without one. */
  with<T>(fn: (key: Uint8Array) => T): T {
    if (!this.#key)
      throw new CofferError('invalid_request', 'the unseal key is not known to this server since its last unseal (it was unsealed through its seal)');
    return fn(this.#key);
  }

  clear(): void {
    wipe(this.#key);
    this.#key = undefined;
  }
}
