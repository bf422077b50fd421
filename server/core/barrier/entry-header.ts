import { CofferError } from '../errors.js';
import { AEAD_OVERHEAD } from './aead.js';

/** Entry header: term (u32 BE) then the format version. */
export const HEADER_BYTES = 5;
/** Version 2: the full storage path is the AEAD's associated data. */
export const ENTRY_VERSION = 2;
/** Term number written in the header of the keyring entry, which is encrypted with the root key, not a term key. */
export const ROOT_KEY_TERM = 0;

/** What the header of a stored barrier entry says, read without any key. */
export interface EntryHeader {
  readonly term: number;
  readonly version: number;
}

/**
 * The header of a raw barrier entry, or undefined when the bytes cannot be a barrier entry (too short for header,
 * nonce and tag, or an unknown format version). Never decrypts, so it works sealed and on any term.
 */
export function readEntryHeader(entry: Uint8Array): EntryHeader | undefined {
  if (entry.length < HEADER_BYTES + AEAD_OVERHEAD || entry[4] !== ENTRY_VERSION) return undefined;
  return { term: new DataView(entry.buffer, entry.byteOffset, entry.byteLength).getUint32(0), version: entry[4] };
}

/** The term recorded in an entry's header. @throws CofferError `integrity` when the entry is malformed. */
export function entryTerm(entry: Uint8Array): number {
  if (entry.length < HEADER_BYTES + AEAD_OVERHEAD) throw new CofferError('integrity', 'stored entry is truncated');
  if (entry[4] !== ENTRY_VERSION) throw new CofferError('integrity', `unsupported entry version ${entry[4]}`);
  return new DataView(entry.buffer, entry.byteOffset, entry.byteLength).getUint32(0);
}
