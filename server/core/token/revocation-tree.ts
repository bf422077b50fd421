import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import { decodeTokenEntry } from './token-entry.js';
import { ID_PREFIX, PARENT_PREFIX, tokenIndexDeletes } from './token-index.js';

/** Storage operations to add to a token's revocation batch (its cubbyhole, for one), given the token's hash. */
export type RevocationHook = (hash: string) => Promise<BarrierOp[]>;

/**
 * The deletes that revoke the token `hash` and, recursively through the parent index, every token it created:
 * entries, index entries and what the revocation hooks add. Children come before their parent; a hash in `seen` is
 * skipped (and every visited one is added), so trees staged together never delete twice.
 * @throws CofferError `sealed` (from `hmacKey` or the barrier).
 */
export async function revocationTreeOps(
  barrier: Barrier,
  hmacKey: () => Uint8Array,
  hooks: readonly RevocationHook[],
  hash: string,
  seen: Set<string>,
): Promise<BarrierOp[]> {
  const ops: BarrierOp[] = [];
  const visit = async (h: string) => {
    if (seen.has(h)) return;
    seen.add(h);
    for (const child of await barrier.list(`${PARENT_PREFIX}${h}/`)) {
      await visit(child);
      ops.push({ type: 'delete', path: `${PARENT_PREFIX}${h}/${child}` });
    }
    const raw = await barrier.get(ID_PREFIX + h);
    if (raw) ops.push(...tokenIndexDeletes(hmacKey(), h, decodeTokenEntry(raw)));
    for (const hook of hooks) ops.push(...(await hook(h)));
    ops.push({ type: 'delete', path: ID_PREFIX + h });
  };
  await visit(hash);
  return ops;
}
