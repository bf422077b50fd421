import { CofferError } from '../../errors.js';
import { type BarrierView, decodeJson, encodeJson, type LogicalRequest, type LogicalResponse, type SecretEngine } from '../secret-engine.js';

/** Vault's default lease TTL (768h): what KV v1 reads report unless the server sets `default_lease_ttl`. */
const KV_V1_LEASE = 768 * 3600;

/**
 * KV version 1: one unversioned JSON object per path. Reads report `leaseSeconds` as their lease duration, as
 * Vault's KV v1 reports the mount's default lease TTL.
 */
export class KvV1 implements SecretEngine {
  constructor(
    private readonly view: BarrierView,
    /** The mount's default lease TTL, read at each request (a tune changes it without rebuilding the engine). */
    private readonly leaseSeconds: () => number = () => KV_V1_LEASE,
  ) {}

  async exists(path: string): Promise<boolean> {
    // Read through the barrier, not just looked up: a KV v1 write never reads the old value, so this is where an
    // entry that no longer decrypts is noticed (an integrity error and its metric, as in Vault) instead of being
    // silently replaced.
    return path !== '' && (await this.view.get(path)) !== undefined;
  }

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    switch (req.operation) {
      case 'read': {
        if (req.path === '' || req.path.endsWith('/')) return undefined;
        const raw = await this.view.get(req.path);
        return raw ? { data: decodeJson(raw), leaseDuration: this.leaseSeconds() } : undefined;
      }
      case 'list': {
        const prefix = req.path === '' || req.path.endsWith('/') ? req.path : `${req.path}/`;
        const keys = await this.view.list(prefix);
        return keys.length === 0 ? undefined : { data: { keys } };
      }
      case 'create':
      case 'update':
        if (req.path === '' || req.path.endsWith('/')) throw new CofferError('invalid_request', 'missing secret path');
        if (Object.keys(req.data).length === 0) throw new CofferError('invalid_request', 'no data provided');
        await this.view.put(req.path, encodeJson(req.data));
        return undefined;
      case 'delete':
        await this.view.delete(req.path);
        return undefined;
      default:
        throw new CofferError('unsupported_operation', 'unsupported operation');
    }
  }
}
