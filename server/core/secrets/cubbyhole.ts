import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import { KvV1 } from './kv/kv-v1.js';
import { BarrierView, type LogicalRequest, type LogicalResponse, type SecretEngine } from './secret-engine.js';

/** Storage prefix of one token's cubbyhole; the token's keyed hash names it, never the token. */
export function cubbyholePrefix(tokenHash: string): string {
  return `cubbyhole/${tokenHash}/`;
}

/**
 * The cubbyhole engine, mounted at `cubbyhole/` for every token: a private KV v1 space that only the token itself
 * reaches (the path is resolved through the requesting token, so no token can name another's) and that is deleted
 * in the token's revocation batch.
 */
export class Cubbyhole {
  constructor(private readonly barrier: Barrier) {}

  /** The engine serving `tokenHash`'s cubbyhole. */
  engineFor(tokenHash: string): SecretEngine {
    const kv = new KvV1(new BarrierView(this.barrier, cubbyholePrefix(tokenHash)));
    return {
      exists: (path) => kv.exists(path),
      // Cubbyhole values carry no lease, unlike KV v1's reported 768h.
      handle: async (req: LogicalRequest): Promise<LogicalResponse | undefined> => {
        const result = await kv.handle(req);
        return result ? { ...result, leaseDuration: 0 } : undefined;
      },
    };
  }

  /** The deletes that destroy `tokenHash`'s cubbyhole, for its revocation batch. */
  async stageDestroy(tokenHash: string): Promise<BarrierOp[]> {
    const prefix = cubbyholePrefix(tokenHash);
    const out: BarrierOp[] = [];
    const walk = async (p: string) => {
      for (const child of await this.barrier.list(p)) {
        if (child.endsWith('/')) await walk(p + child);
        else out.push({ type: 'delete', path: p + child });
      }
    };
    await walk(prefix);
    return out;
  }
}
