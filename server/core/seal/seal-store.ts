import type { BarrierOp } from '../barrier/barrier.js';
import { CofferError } from '../errors.js';
import type { StorageBackend, StorageOp } from '../storage/storage-backend.js';
import { decodeAutoWrapped, encodeAutoWrapped, type AutoSeal } from './auto-seal.js';
import { recoveryCheck, verifyRecoveryKey } from './recovery-key.js';
import type { SealType } from './auto-seal.js';
import { shareConfigProblem, type SealConfig } from './seal-config.js';
import { unwrapRootKey, wrapRootKey } from './shamir-seal.js';

/*
 * The seal entries live OUTSIDE the barrier (they are what opens it), in plaintext JSON or as self-authenticating
 * AEAD blobs. This module is the only one that spells their paths; everyone else asks it for values or for the
 * StorageOps to put in their own atomic batch.
 */
export const SEAL_CONFIG_PATH = 'core/seal-config';
/** The root key, wrapped by the unseal key (Shamir) or by the auto seal's key service. */
export const SEALED_ROOT_KEY_PATH = 'core/sealed-root-key';
/** Left by a barrier rekey until its new shares have reached the client; either set unseals meanwhile. */
export const PREVIOUS_SEALED_ROOT_KEY_PATH = 'core/sealed-root-key-previous';
export const RECOVERY_CONFIG_PATH = 'core/recovery-config';
/** Proof of the recovery key: a known text encrypted under it. It decrypts nothing else. */
export const RECOVERY_KEY_PATH = 'core/recovery-key';
export const PREVIOUS_RECOVERY_KEY_PATH = 'core/recovery-key-previous';
/** PGP-encrypted new shares kept for their holders (behind the barrier). */
export const UNSEAL_KEYS_BACKUP_PATH = 'core/unseal-keys-backup';
export const RECOVERY_KEYS_BACKUP_PATH = 'core/recovery-keys-backup';

/** Whose shares: the unseal key's (`barrier`) or the recovery key's (`recovery`). */
export type KeyTarget = 'barrier' | 'recovery';

/** How many shares exist for a target and how many open it. */
export interface ShareConfig {
  readonly secretShares: number;
  readonly secretThreshold: number;
}

/**
 * A rekey committed but not yet confirmed delivered: the old share configuration and the old set's proof, so the
 * old shares keep working until one set is used (a lost response must never lock the operators out).
 */
export interface PendingRekey extends ShareConfig {
  readonly target: KeyTarget;
  readonly nonce: string;
  /** Barrier: the CURRENT root key wrapped by the OLD unseal key. Recovery: the old recovery key's proof. */
  readonly proof: Uint8Array;
}

/** PGP-encrypted new shares kept for key holders: fingerprint → hex ciphertexts. */
export interface BackupRecord {
  readonly nonce: string;
  readonly keys: Readonly<Record<string, readonly string[]>>;
}

interface TargetLayout {
  readonly configPath: string;
  readonly proofPath: string;
  readonly previousPath: string;
  /** The field that holds the proof in the previous entry (kept from the first on-disk format). */
  readonly previousField: 'wrapped' | 'check';
  readonly backupPath: string;
}

const LAYOUT: Record<KeyTarget, TargetLayout> = {
  barrier: {
    configPath: SEAL_CONFIG_PATH,
    proofPath: SEALED_ROOT_KEY_PATH,
    previousPath: PREVIOUS_SEALED_ROOT_KEY_PATH,
    previousField: 'wrapped',
    backupPath: UNSEAL_KEYS_BACKUP_PATH,
  },
  recovery: {
    configPath: RECOVERY_CONFIG_PATH,
    proofPath: RECOVERY_KEY_PATH,
    previousPath: PREVIOUS_RECOVERY_KEY_PATH,
    previousField: 'check',
    backupPath: RECOVERY_KEYS_BACKUP_PATH,
  },
};

export const KEY_TARGETS: readonly KeyTarget[] = ['barrier', 'recovery'];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The one owner of the seal entries. Reads validate each entry's shape (`integrity`, never a cast); writes are
 * returned as StorageOps (`stage…`) for the caller's atomic batch, after which the caller calls `invalidate()`.
 */
export class SealStore {
  readonly #storage: StorageBackend;
  #config: SealConfig | undefined;

  constructor(storage: StorageBackend) {
    this.#storage = storage;
  }

  /** The seal configuration (cached); undefined before init. @throws CofferError `integrity`. */
  async config(): Promise<SealConfig | undefined> {
    if (this.#config) return this.#config;
    const raw = await this.#storage.get(SEAL_CONFIG_PATH);
    if (!raw) return undefined;
    this.#config = decodeSealConfig(raw);
    return this.#config;
  }

  /** Forgets the cached configuration: the next read goes to storage. Call after committing a staged batch. */
  invalidate(): void {
    this.#config = undefined;
  }

  /** The recovery key's share configuration; undefined when the server has none. */
  async recoveryConfig(): Promise<ShareConfig | undefined> {
    const raw = await this.#storage.get(RECOVERY_CONFIG_PATH);
    return raw ? decodeShareConfig(raw, true) : undefined;
  }

  /**
   * The share configuration people hold for `target`: the unseal shares of a Shamir seal, or the recovery shares.
   */
  async shareConfig(target: KeyTarget): Promise<ShareConfig | undefined> {
    if (target === 'recovery') return this.recoveryConfig();
    const config = await this.config();
    return config && config.type === 'shamir' ? config : undefined;
  }

  /**
   * Proves `key` (combined from `target`'s shares) against the current proof. For the barrier target the result
   * is the root key it unwraps (owned by the caller); for recovery an empty array.
   * @throws CofferError `invalid_key` for a wrong key, `integrity` for a missing or malformed proof.
   */
  async prove(target: KeyTarget, key: Uint8Array): Promise<Uint8Array> {
    return proveWith(target, key, await this.#storage.get(LAYOUT[target].proofPath));
  }

  /** The root key from an auto seal's key service. @throws `seal_failed` for another seal's wrapping. */
  async unwrapWithSeal(seal: AutoSeal): Promise<Uint8Array> {
    const entry = decodeAutoWrapped(await this.#storage.get(SEALED_ROOT_KEY_PATH));
    if (entry.type !== seal.type) throw new CofferError('seal_failed', `the root key was wrapped by a ${entry.type} seal, not ${seal.type}`);
    return seal.decrypt(entry.blob);
  }

  /** The unconfirmed rekey of `target`, if one was committed and its result never confirmed delivered. */
  async pending(target: KeyTarget): Promise<PendingRekey | undefined> {
    const raw = await this.#storage.get(LAYOUT[target].previousPath);
    return raw ? decodePrevious(target, raw) : undefined;
  }

  /** Ops that install a new seal configuration. */
  stageConfig(config: SealConfig): StorageOp[] {
    return [{ type: 'put', key: SEAL_CONFIG_PATH, value: encodeShareConfig(config.type, config) }];
  }

  /** Ops that store the root key wrapped by a Shamir unseal key. */
  stageShamirWrapping(unsealKey: Uint8Array, rootKey: Uint8Array): StorageOp[] {
    return [{ type: 'put', key: SEALED_ROOT_KEY_PATH, value: wrapRootKey(unsealKey, rootKey) }];
  }

  /** Ops that store the root key as wrapped by an auto seal's key service. */
  stageAutoWrapping(type: AutoSeal['type'], blob: string): StorageOp[] {
    return [{ type: 'put', key: SEALED_ROOT_KEY_PATH, value: encodeAutoWrapped(type, blob) }];
  }

  /** Ops that install a recovery key (its configuration and, when it has shares, its proof). */
  stageRecovery(config: ShareConfig, recoveryKey: Uint8Array | undefined): StorageOp[] {
    const ops: StorageOp[] = [{ type: 'put', key: RECOVERY_CONFIG_PATH, value: encodeShareConfig('shamir', config) }];
    if (recoveryKey) ops.push({ type: 'put', key: RECOVERY_KEY_PATH, value: recoveryCheck(recoveryKey) });
    return ops;
  }

  /** Ops that remove the recovery key entirely (a migration back to Shamir). */
  stageDropRecovery(): StorageOp[] {
    return [RECOVERY_CONFIG_PATH, RECOVERY_KEY_PATH, PREVIOUS_RECOVERY_KEY_PATH].map((key) => ({ type: 'delete', key }));
  }

  /**
   * Ops of a rekey commit for either target: the new share configuration, the new key's proof, and the pending
   * entry that keeps the old set working until the new shares are confirmed delivered.
   * @param newProof barrier: the new root key wrapped by the new unseal key; recovery: `recoveryCheck(newKey)`.
   * @param previousProof barrier: the new root key wrapped by the OLD unseal key; recovery: the old proof.
   */
  stageRekey(target: KeyTarget, args: { config: ShareConfig; newProof: Uint8Array; previous: Omit<PendingRekey, 'target'> }): StorageOp[] {
    const layout = LAYOUT[target];
    return [
      { type: 'put', key: layout.configPath, value: encodeShareConfig('shamir', args.config) },
      { type: 'put', key: layout.proofPath, value: args.newProof },
      { type: 'put', key: layout.previousPath, value: encodePrevious(target, args.previous) },
    ];
  }

  /** The new proof of a rekey of `target` (see `stageRekey`). */
  static proofFor(target: KeyTarget, newKey: Uint8Array, rootKey: Uint8Array): Uint8Array {
    return target === 'barrier' ? wrapRootKey(newKey, rootKey) : recoveryCheck(newKey);
  }

  /** The current proof of `target`, as stored. @throws CofferError `integrity` when it is missing. */
  async currentProof(target: KeyTarget): Promise<Uint8Array> {
    const raw = await this.#storage.get(LAYOUT[target].proofPath);
    if (!raw) throw new CofferError('integrity', `the ${target === 'barrier' ? 'sealed root key' : 'recovery key proof'} is missing`);
    return raw;
  }

  /**
   * Ops that settle an unconfirmed rekey once one set of shares has been used: the set that worked becomes the only
   * one. When the OLD set won, its configuration and proof come back (a rollback of the rekey).
   */
  stageResolve(pending: PendingRekey, oldSetWon: boolean): StorageOp[] {
    const layout = LAYOUT[pending.target];
    if (!oldSetWon) return this.stageDropPending(pending.target);
    return [
      { type: 'put', key: layout.configPath, value: encodeShareConfig('shamir', pending) },
      { type: 'put', key: layout.proofPath, value: pending.proof },
      { type: 'delete', key: layout.previousPath },
    ];
  }

  /** Ops that drop the pending entry of `target`, whatever it holds. */
  stageDropPending(target: KeyTarget): StorageOp[] {
    return [{ type: 'delete', key: LAYOUT[target].previousPath }];
  }

  /** Ops that drop the pending entry of `target` if it still belongs to the rekey `nonce` (delivery confirmed). */
  async stageConfirm(target: KeyTarget, nonce: string): Promise<StorageOp[]> {
    const pending = await this.pending(target);
    return pending && pending.nonce === nonce ? this.stageDropPending(target) : [];
  }

  /** The barrier write of a PGP backup of new shares. */
  static backupOp(target: KeyTarget, backup: BackupRecord): BarrierOp {
    return { type: 'put', path: LAYOUT[target].backupPath, value: encoder.encode(JSON.stringify({ Nonce: backup.nonce, Keys: backup.keys })) };
  }

  static backupPath(target: KeyTarget): string {
    return LAYOUT[target].backupPath;
  }

  /** @throws CofferError `integrity` for a backup entry of the wrong shape. */
  static decodeBackup(raw: Uint8Array): BackupRecord {
    const j = parseJson(raw, 'rekey backup') as { Nonce?: unknown; Keys?: unknown };
    const keys = j.Keys;
    const valid =
      typeof j.Nonce === 'string' &&
      typeof keys === 'object' &&
      keys !== null &&
      Object.values(keys).every((list) => Array.isArray(list) && list.every((k) => typeof k === 'string'));
    if (!valid) throw new CofferError('integrity', 'the stored rekey backup is malformed');
    return { nonce: j.Nonce as string, keys: keys as Record<string, string[]> };
  }
}

/** See `SealStore.prove`. */
export function proveWith(target: KeyTarget, key: Uint8Array, proof: Uint8Array | undefined): Uint8Array {
  if (target === 'barrier') return unwrapRootKey(key, proof);
  verifyRecoveryKey(key, proof);
  return new Uint8Array(0);
}

function parseJson(raw: Uint8Array, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(decoder.decode(raw));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new CofferError('integrity', `the stored ${what} is unreadable`);
}

function encodeShareConfig(type: SealType, config: ShareConfig): Uint8Array {
  return encoder.encode(JSON.stringify({ type, secret_shares: config.secretShares, secret_threshold: config.secretThreshold }));
}

/** @throws CofferError `integrity` when the stored seal configuration is unreadable or invalid. */
export function decodeSealConfig(raw: Uint8Array): SealConfig {
  const j = parseJson(raw, 'seal configuration');
  const type = j.type;
  if (type !== 'shamir' && type !== 'static' && type !== 'transit') throw new CofferError('integrity', 'stored seal configuration is unreadable');
  return { type, ...decodeShareConfig(raw, false) };
}

function decodeShareConfig(raw: Uint8Array, allowEmpty: boolean): ShareConfig {
  const j = parseJson(raw, 'share configuration');
  const shares = j.secret_shares ?? 0;
  const threshold = j.secret_threshold ?? 0;
  const valid =
    Number.isInteger(shares) &&
    Number.isInteger(threshold) &&
    ((allowEmpty && shares === 0 && threshold === 0) || !shareConfigProblem(shares as number, threshold as number, 0));
  if (!valid) throw new CofferError('integrity', 'stored seal configuration is unreadable');
  return { secretShares: shares as number, secretThreshold: threshold as number };
}

function encodePrevious(target: KeyTarget, p: Omit<PendingRekey, 'target'>): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      nonce: p.nonce,
      secret_shares: p.secretShares,
      secret_threshold: p.secretThreshold,
      [LAYOUT[target].previousField]: Buffer.from(p.proof).toString('base64'),
    }),
  );
}

function decodePrevious(target: KeyTarget, raw: Uint8Array): PendingRekey {
  const j = parseJson(raw, 'pending rekey entry');
  const proof = j[LAYOUT[target].previousField];
  const { secretShares, secretThreshold } = decodeShareConfig(raw, false);
  if (typeof j.nonce !== 'string' || typeof proof !== 'string') throw new CofferError('integrity', 'the stored pending rekey entry is malformed');
  return { target, nonce: j.nonce, secretShares, secretThreshold, proof: new Uint8Array(Buffer.from(proof, 'base64')) };
}
