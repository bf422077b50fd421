import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { MountTable } from '../../core/mounts/mount-table.js';
import { requestOperation } from './request-operation.js';
import { errors, json, noContent, type Handler } from './route-table.js';

/**
 * Requests to mounted secret engines: sealed check, the token (before anything about the path is revealed), method →
 * capability (a write is `create` when the engine says the path does not exist yet, else `update`), ACL on the full
 * path, then the engine.
 */
export function mountedHandler({ mounts, lifecycle }: { mounts: MountTable; lifecycle: Lifecycle }): Handler {
  return async (ctx) => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    const fullPath = decodeURIComponent(ctx.path);
    // Authenticate first: without a valid token nothing about the mount table or the engine's data is revealed.
    const entry = await ctx.authenticate();
    const mount = mounts.find(fullPath);
    if (!mount) {
      // Unknown paths still need a valid token first, as in Vault (no probing of the mount table without one).
      return errors(404, [`no handler for route "${ctx.path}". route entry not found.`]);
    }
    ctx.setRouteLabel(`mount:${mount.entry.path}`);
    // The existence check of a PUT reads the engine: only after the token is known to be valid.
    const operation = await requestOperation(ctx.method, () => mount.engine.exists(mount.relative), true);
    if (operation === undefined) return errors(405, []);
    await ctx.check(entry, fullPath, operation);
    const result = await mount.engine.handle({ operation, path: mount.relative, data: ctx.body, query: ctx.query });
    if (!result) return operation === 'read' || operation === 'list' ? errors(404, []) : noContent();
    return json(result.notFound ? 404 : 200, {
      request_id: crypto.randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: mounts.leaseFor(mount.entry, result.leaseDuration ?? 0),
      data: result.data,
      wrap_info: null,
      warnings: result.warnings ?? null,
      auth: null,
      mount_type: mount.entry.type,
    });
  };
}
