import { KEYRING_PATH } from '../barrier/aes-gcm-barrier.js';
import { readEntryHeader } from '../barrier/entry-header.js';
import type { Keyring } from '../barrier/keyring.js';
import { rfc3339Nano } from '../clock.js';
import {
  PREVIOUS_RECOVERY_KEY_PATH,
  PREVIOUS_SEALED_ROOT_KEY_PATH,
  RECOVERY_CONFIG_PATH,
  RECOVERY_KEY_PATH,
  SEAL_CONFIG_PATH,
  SEALED_ROOT_KEY_PATH,
} from '../seal/seal-store.js';

/**
 * Entries that are not barrier entries under a term key, listed by name so that nothing else is ever ignored:
 * the keyring (encrypted with the root key, header term 0) and the seal entries that open the barrier (plaintext
 * JSON or blobs authenticated by the seal). Every other entry must carry a known term.
 */
export const EXEMPT_PATHS: ReadonlyMap<string, string> = new Map([
  [KEYRING_PATH, 'keyring (root key)'],
  [SEAL_CONFIG_PATH, 'seal configuration'],
  [SEALED_ROOT_KEY_PATH, 'sealed root key'],
  [PREVIOUS_SEALED_ROOT_KEY_PATH, 'previous sealed root key'],
  [RECOVERY_CONFIG_PATH, 'recovery configuration'],
  [RECOVERY_KEY_PATH, 'recovery key check'],
  [PREVIOUS_RECOVERY_KEY_PATH, 'previous recovery key check'],
]);

/** How one stored entry counts, from its path and header alone. */
export type EntryClass = { kind: 'exempt' } | { kind: 'term'; term: number } | { kind: 'unknown_term'; term: number } | { kind: 'malformed' };

export function classifyEntry(key: string, raw: Uint8Array, keyring: Keyring): EntryClass {
  if (EXEMPT_PATHS.has(key)) return { kind: 'exempt' };
  const header = readEntryHeader(raw);
  if (!header) return { kind: 'malformed' };
  if (!keyring.hasTerm(header.term)) return { kind: 'unknown_term', term: header.term };
  return { kind: 'term', term: header.term };
}

/** Entries and bytes per term. */
export type TermCounts = Record<string, { entries: number; bytes: number }>;

/** A census as stored behind the barrier and served by `GET sys/rewrap/census`. No paths except the exempt names. */
export interface CensusRecord {
  census_id: string;
  /** Increases by one per census; the retire gate compares it. */
  seq: number;
  state: 'running' | 'completed' | 'failed';
  started_at: string;
  completed_at: string | null;
  /** The active term when the census started: a census is stale for retirement once the active term moved. */
  active_term: number;
  scanned: number;
  terms: TermCounts;
  exempt: Record<string, { description: string; bytes: number }>;
  unknown_terms: TermCounts;
  malformed: { entries: number; bytes: number };
  error: string | null;
}

/** Adds one entry's classification to a census in progress. */
export function tally(record: CensusRecord, key: string, raw: Uint8Array, keyring: Keyring): void {
  record.scanned += 1;
  const cls = classifyEntry(key, raw, keyring);
  const add = (counts: TermCounts, term: number) => {
    const c = (counts[String(term)] ??= { entries: 0, bytes: 0 });
    c.entries += 1;
    c.bytes += raw.length;
  };
  switch (cls.kind) {
    case 'exempt':
      record.exempt[key] = { description: EXEMPT_PATHS.get(key)!, bytes: raw.length };
      break;
    case 'term':
      add(record.terms, cls.term);
      break;
    case 'unknown_term':
      add(record.unknown_terms, cls.term);
      break;
    case 'malformed':
      record.malformed.entries += 1;
      record.malformed.bytes += raw.length;
  }
}

/** Entries a census saw under terms below `term` (unknown and malformed entries block too: they are never ignored). */
export function blockingBelow(record: CensusRecord, term: number): Record<string, { entries: number }> {
  const out: Record<string, { entries: number }> = {};
  for (const [t, c] of Object.entries(record.terms)) if (Number(t) < term && c.entries > 0) out[t] = { entries: c.entries };
  for (const [t, c] of Object.entries(record.unknown_terms)) if (Number(t) < term && c.entries > 0) out[t] = { entries: c.entries };
  if (record.malformed.entries > 0) out.malformed = { entries: record.malformed.entries };
  return out;
}

/** `sys/key-status`'s `terms` view: every term with its state and the last census's counts. */
export function keyringTermsView(keyring: Keyring, census: CensusRecord | undefined): Record<string, unknown> {
  const { bounds } = keyring;
  const counted = census?.state === 'completed' ? census : undefined;
  return {
    terms: keyring.allTerms.map((term) => {
      const info = keyring.termInfo(term)!;
      const state =
        term === keyring.activeTerm ? 'active' : term < bounds.minAvailableTerm ? 'trimmed' : term < bounds.minDecryptionTerm ? 'retired' : 'enabled';
      return {
        term,
        install_time: rfc3339Nano(info.installTime),
        state,
        encryptions: info.encryptions,
        entries: counted ? (counted.terms[String(term)]?.entries ?? 0) : null,
        bytes: counted ? (counted.terms[String(term)]?.bytes ?? 0) : null,
      };
    }),
    min_decryption_term: bounds.minDecryptionTerm,
    min_available_term: bounds.minAvailableTerm,
    retired_at: bounds.retiredAt?.toISOString() ?? null,
    census_at: counted?.completed_at ?? null,
  };
}
