import { addShare, holdsShare, openQuorum, wipeQuorum, type Quorum } from '../quorum/quorum.js';

/** In-memory progress of an unseal attempt: no attempt, or a quorum being collected. Never persisted. */
export type UnsealProgress = { readonly kind: 'idle' } | ({ readonly kind: 'collecting' } & Quorum);

export const IDLE: UnsealProgress = { kind: 'idle' };

export function progressCount(p: UnsealProgress): number {
  return p.kind === 'collecting' ? p.parts.length : 0;
}

export function progressNonce(p: UnsealProgress): string {
  return p.kind === 'collecting' ? p.nonce : '';
}

/**
 * Adds one share. A share already submitted (compared in constant time) is ignored, as Vault does. The first
 * share of an attempt creates its nonce. `part` is copied.
 */
export function addPart(p: UnsealProgress, part: Uint8Array, newNonce: () => string): UnsealProgress {
  const quorum = p.kind === 'idle' ? openQuorum(newNonce()) : p;
  if (holdsShare(quorum, part)) return p;
  return { kind: 'collecting', ...addShare(quorum, part) };
}

/** Ends an attempt: zeroes its shares and returns to idle. */
export function clearProgress(p: UnsealProgress): UnsealProgress {
  if (p.kind === 'collecting') wipeQuorum(p);
  return IDLE;
}
