import { CofferError } from '../errors.js';

/**
 * A key service that wraps the root key so the server can unseal itself: `static` (a key from a file or an
 * environment variable) or `transit` (another Coffer or Vault server's transit engine). With an auto seal people
 * hold recovery shares instead of unseal shares.
 *
 * Failures are CofferErrors: `seal_unavailable` when trying again later may work (unreachable, sealed, 5xx),
 * `seal_failed` when it will not without a change of configuration (wrong key, permission denied).
 */
export interface AutoSeal {
  readonly type: 'static' | 'transit';
  /** Where the key lives, for logs and errors (never key material or tokens). */
  readonly description: string;
  encrypt(plaintext: Uint8Array): Promise<string>;
  decrypt(blob: string): Promise<Uint8Array>;
}

export type SealType = 'shamir' | AutoSeal['type'];

/** The configured seal: Shamir or an auto seal. */
export type SealChoice = { readonly type: 'shamir' } | AutoSeal;

/** The enabled seal and, during a migration, the old one (its stanza says `disabled = "true"`). */
export interface SealSetup {
  readonly active: SealChoice;
  readonly disabled?: SealChoice;
}

export const SHAMIR: SealChoice = { type: 'shamir' };

export function isAutoSeal(seal: SealChoice): seal is AutoSeal {
  return seal.type !== 'shamir';
}

/** Format byte of `core/sealed-root-key` when an auto seal wrapped it (1 is the Shamir wrapping). */
export const AUTO_WRAPPED_FORMAT = 2;

/** `2 | JSON {type, blob}`: the seal type is recorded so a mismatch is reported, not misread. */
export function encodeAutoWrapped(type: AutoSeal['type'], blob: string): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({ type, blob }));
  const out = new Uint8Array(1 + body.length);
  out[0] = AUTO_WRAPPED_FORMAT;
  out.set(body, 1);
  return out;
}

/** @throws CofferError `integrity` for a missing entry or one not written by an auto seal. */
export function decodeAutoWrapped(raw: Uint8Array | undefined): { type: AutoSeal['type']; blob: string } {
  if (!raw || raw[0] !== AUTO_WRAPPED_FORMAT) throw new CofferError('integrity', 'the stored root key was not wrapped by an auto seal');
  try {
    const j = JSON.parse(new TextDecoder().decode(raw.subarray(1))) as { type: AutoSeal['type']; blob: string };
    if ((j.type !== 'static' && j.type !== 'transit') || typeof j.blob !== 'string') throw new Error('shape');
    return j;
  } catch {
    throw new CofferError('integrity', 'the stored root key entry is malformed');
  }
}
