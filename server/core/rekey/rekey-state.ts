import type { PgpRecipient } from '../pgp/pgp-keys.js';
import { wipeQuorum, type Quorum } from '../quorum/quorum.js';
import type { ShareConfig } from '../seal/seal-store.js';
import { wipe } from '../secret-bytes.js';

/** What a rekey operation will produce. */
export interface RekeyConfig {
  readonly shares: number;
  readonly threshold: number;
  readonly recipients: readonly PgpRecipient[];
  readonly backup: boolean;
  readonly requireVerification: boolean;
}

/** What a verified rekey will commit: made when the current shares were proven, kept until the new ones are. */
export interface PendingCommit {
  /** The new key people hold shares of (unseal key or recovery key). */
  readonly newKey: Uint8Array;
  /** Barrier target: the new root key; recovery target: empty. */
  readonly newRootKey: Uint8Array;
  /** Barrier: the new root key wrapped by the OLD unseal key; recovery: the old proof (see SealStore.stageRekey). */
  readonly previousProof: Uint8Array;
  /** The share configuration being replaced. */
  readonly oldConfig: ShareConfig;
}

/**
 * One rekey operation per target, in memory only (sealing or a restart ends it):
 * idle → collecting current shares → (verifying new shares) → idle.
 */
export type RekeyState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'collecting';
      readonly startedAt: Date;
      readonly config: RekeyConfig;
      /** The operation's nonce is the quorum's. */
      readonly quorum: Quorum;
    }
  | {
      readonly kind: 'verifying';
      readonly startedAt: Date;
      readonly config: RekeyConfig;
      /** The operation's nonce (the update phase's). */
      readonly nonce: string;
      /** New shares, under the verification nonce. */
      readonly quorum: Quorum;
      readonly pending: PendingCommit;
    };

export const IDLE_REKEY: RekeyState = { kind: 'idle' };

export function nonceOf(state: Exclude<RekeyState, { kind: 'idle' }>): string {
  return state.kind === 'collecting' ? state.quorum.nonce : state.nonce;
}

/** Whether a key holder has already put a share into the operation (it then needs sudo to be cancelled). */
export function holdsShares(state: RekeyState): boolean {
  return state.kind === 'verifying' || (state.kind === 'collecting' && state.quorum.parts.length > 0);
}

export function wipePending(pending: PendingCommit): void {
  wipe(pending.newKey, pending.newRootKey);
}

/** Zeroes everything an operation holds. */
export function wipeRekey(state: RekeyState): void {
  if (state.kind === 'idle') return;
  wipeQuorum(state.quorum);
  if (state.kind === 'verifying') wipePending(state.pending);
}
