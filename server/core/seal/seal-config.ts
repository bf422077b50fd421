import { CofferError } from '../errors.js';
import type { SealType } from './auto-seal.js';

/**
 * Persisted in plaintext at `core/seal-config`: the seal type, and for Shamir how many shares exist and how many
 * unseal (an auto seal records 1 of 1: the key service holds the one "share").
 */
export interface SealConfig {
  readonly type: SealType;
  readonly secretShares: number;
  readonly secretThreshold: number;
}

/**
 * Vault's rules for a share configuration, in Vault's order.
 * @returns the reason a configuration is invalid, or undefined when it is valid.
 */
export function shareConfigProblem(shares: number, threshold: number, pgpKeyCount: number): string | undefined {
  if (shares < 1) return 'shares must be at least one';
  if (threshold < 1) return 'threshold must be at least one';
  if (shares > 1 && threshold === 1) return 'threshold must be greater than one for multiple shares';
  if (shares > 255) return 'shares must be less than 256';
  if (threshold > 255) return 'threshold must be less than 256';
  if (threshold > shares) return 'threshold cannot be larger than shares';
  if (pgpKeyCount > 0 && pgpKeyCount !== shares) return 'count mismatch between number of provided PGP keys and number of shares';
  return undefined;
}

/** @throws CofferError `invalid_seal_config` with Vault's message. */
export function assertValidSealConfig(shares: number, threshold: number, pgpKeyCount: number): void {
  const problem = shareConfigProblem(shares, threshold, pgpKeyCount);
  if (problem) throw new CofferError('invalid_seal_config', `invalid seal configuration: ${problem}`);
}
