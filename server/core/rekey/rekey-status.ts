import type { RekeyConfig, RekeyState } from './rekey-state.js';
import { nonceOf } from './rekey-state.js';

/** A rekey operation as key holders see it before they submit a share. */
export interface RekeyStatus {
  readonly started: boolean;
  readonly nonce: string;
  /** New threshold and share count. */
  readonly threshold: number;
  readonly shares: number;
  /** Current shares submitted so far, and how many are required. */
  readonly progress: number;
  readonly required: number;
  readonly pgpFingerprints: readonly string[] | null;
  readonly backup: boolean;
  readonly verificationRequired: boolean;
  readonly verificationNonce?: string;
  readonly startedAt?: Date;
  readonly warnings?: readonly string[];
}

/** The answer that completes the update phase: the new shares (or PGP messages), shown once. */
export interface RekeyResult {
  readonly complete: true;
  readonly nonce: string;
  readonly keys: readonly Uint8Array[];
  readonly pgpFingerprints: readonly string[] | null;
  readonly backup: boolean;
  readonly verificationRequired: boolean;
  readonly verificationNonce?: string;
}

export interface VerifyStatus {
  readonly started: boolean;
  readonly nonce: string;
  readonly threshold: number;
  readonly shares: number;
  readonly progress: number;
}

function fingerprints(config: RekeyConfig): string[] | null {
  return config.recipients.length > 0 ? config.recipients.map((r) => r.fingerprint) : null;
}

export function statusOf(state: RekeyState, required: number): RekeyStatus {
  if (state.kind === 'idle') {
    return {
      started: false,
      nonce: '',
      threshold: 0,
      shares: 0,
      progress: 0,
      required,
      pgpFingerprints: null,
      backup: false,
      verificationRequired: false,
    };
  }
  const fps = fingerprints(state.config);
  return {
    started: true,
    nonce: nonceOf(state),
    threshold: state.config.threshold,
    shares: state.config.shares,
    progress: state.kind === 'collecting' ? state.quorum.parts.length : 0,
    required,
    pgpFingerprints: fps,
    backup: fps ? state.config.backup : false,
    verificationRequired: state.config.requireVerification,
    ...(state.kind === 'verifying' ? { verificationNonce: state.quorum.nonce } : {}),
    startedAt: state.startedAt,
  };
}

export function verifyStatusOf(state: Exclude<RekeyState, { kind: 'idle' }>): VerifyStatus {
  const verifying = state.kind === 'verifying';
  return {
    started: verifying,
    nonce: verifying ? state.quorum.nonce : '',
    threshold: state.config.threshold,
    shares: state.config.shares,
    progress: verifying ? state.quorum.parts.length : 0,
  };
}

/** `keys` are copied: the caller zeroes its own. */
export function resultOf(nonce: string, config: RekeyConfig, keys: readonly Uint8Array[]): RekeyResult {
  return {
    complete: true,
    nonce,
    keys: keys.map((k) => k.slice()),
    pgpFingerprints: fingerprints(config),
    backup: config.backup,
    verificationRequired: config.requireVerification,
  };
}
