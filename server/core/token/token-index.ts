import type { BarrierOp } from '../barrier/barrier.js';
import { keyedHash } from './token-ids.js';
import { encodeTokenEntry, type TokenEntry } from './token-entry.js';

/** Token entries, by keyed hash of the token. */
export const ID_PREFIX = 'sys/token/id/';
/** Accessor index: keyed hash of the accessor → the token's hash. */
export const ACCESSOR_PREFIX = 'sys/token/accessor/';
/** Parent index: `<parent hash>/<child hash>`, empty values; a revocation walks it to the children. */
export const PARENT_PREFIX = 'sys/token/parent/';
/** Mount index: `<mount accessor>/<token hash>`, empty values; disabling an auth mount walks it. */
export const MOUNT_PREFIX = 'sys/token/mount/';

/** Where the accessor index entry of `accessor` lives, under the store's HMAC key. */
export function accessorPath(hmacKey: Uint8Array, accessor: string): string {
  return ACCESSOR_PREFIX + keyedHash(hmacKey, accessor);
}

/**
 * The writes that store a new token `hash`: its entry, its accessor index entry and — when it has them — its parent
 * and mount index entries, for one atomic batch.
 */
export function tokenIndexOps(hmacKey: Uint8Array, hash: string, entry: TokenEntry): BarrierOp[] {
  const ops: BarrierOp[] = [
    { type: 'put', path: ID_PREFIX + hash, value: encodeTokenEntry(entry) },
    { type: 'put', path: accessorPath(hmacKey, entry.accessor), value: new TextEncoder().encode(hash) },
  ];
  if (entry.parent) ops.push({ type: 'put', path: `${PARENT_PREFIX}${entry.parent}/${hash}`, value: new Uint8Array(0) });
  if (entry.mountAccessor) ops.push({ type: 'put', path: `${MOUNT_PREFIX}${entry.mountAccessor}/${hash}`, value: new Uint8Array(0) });
  return ops;
}

/** The deletes that remove every index entry of the token `hash` (not the entry itself). */
export function tokenIndexDeletes(hmacKey: Uint8Array, hash: string, entry: TokenEntry): BarrierOp[] {
  const ops: BarrierOp[] = [{ type: 'delete', path: accessorPath(hmacKey, entry.accessor) }];
  if (entry.parent) ops.push({ type: 'delete', path: `${PARENT_PREFIX}${entry.parent}/${hash}` });
  if (entry.mountAccessor) ops.push({ type: 'delete', path: `${MOUNT_PREFIX}${entry.mountAccessor}/${hash}` });
  return ops;
}
