import type { PgpRecipient } from '../pgp/pgp-keys.js';
import { constantTimeEqual, wipe } from '../secret-bytes.js';

/** What a rekey operation will produce. */
export interface RekeyConfig {
  readonly shares: number;
  readonly threshold: number;
  readonly recipients: readonly PgpRecipient[];
  readonly backup: boolean;
  readonly requireVerification: boolean;
}

/**
 * One rekey operation per target, in memory only (sealing or a restart ends it):
 * idle → collecting current shares → (verifying new shares) → idle.
 */
export type RekeyState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'collecting';
      readonly nonce: string;
      readonly startedAt: Date;
      readonly config: RekeyConfig;
      readonly parts: readonly Uint8Array[];
    }
  | {
      readonly kind: 'verifying';
      readonly nonce: string;
      readonly startedAt: Date;
      readonly config: RekeyConfig;
      readonly verificationNonce: string;
      /** The new unseal key, not yet active. */
      readonly pendingKey: Uint8Array;
      readonly parts: readonly Uint8Array[];
    };

export const IDLE_REKEY: RekeyState = { kind: 'idle' };

/** Whether `part` was already submitted in this phase (constant-time comparison). */
export function hasPart(parts: readonly Uint8Array[], part: Uint8Array): boolean {
  return parts.some((p) => constantTimeEqual(p, part));
}

/** Zeroes everything an operation holds. */
export function wipeRekey(state: RekeyState): void {
  if (state.kind === 'collecting') wipe(...state.parts);
  if (state.kind === 'verifying') wipe(state.pendingKey, ...state.parts);
}
