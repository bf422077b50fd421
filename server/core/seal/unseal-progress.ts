import { constantTimeEqual, wipe } from '../secret-bytes.js';

/** In-memory progress of an unseal attempt. Never persisted. */
export type UnsealProgress =
  | { readonly kind: 'idle' }
  | { readonly kind: 'collecting'; readonly nonce: string; readonly parts: readonly Uint8Array[] };

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
  if (p.kind === 'idle') return { kind: 'collecting', nonce: newNonce(), parts: [part.slice()] };
  if (p.parts.some((existing) => constantTimeEqual(existing, part))) return p;
  return { kind: 'collecting', nonce: p.nonce, parts: [...p.parts, part.slice()] };
}

/** Ends an attempt: zeroes its shares and returns to idle. */
export function clearProgress(p: UnsealProgress): UnsealProgress {
  if (p.kind === 'collecting') wipe(...p.parts);
  return IDLE;
}
