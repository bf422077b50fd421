import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { Cubbyhole } from '../../core/secrets/cubbyhole.js';
import { requestOperation } from './request-operation.js';
import { errors, json, noContent, type Handler } from './route-table.js';

/** `cubbyhole/…`: the requesting token's own cubbyhole (ACL-checked like any path; the default policy grants it). */
export function cubbyholeHandler({ cubbyhole, lifecycle }: { cubbyhole: Cubbyhole; lifecycle: Lifecycle }): Handler {
  return async (ctx) => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    const fullPath = decodeURIComponent(ctx.path);
    const entry = await ctx.authenticate();
    ctx.setRouteLabel('mount:cubbyhole/');
    const engine = cubbyhole.engineFor(entry.hash);
    const relative = fullPath.slice('cubbyhole/'.length);
    const operation = await requestOperation(ctx.method, () => engine.exists(relative), false);
    if (operation === undefined) return errors(405, []);
    await ctx.check(entry, fullPath, operation);
    const result = await engine.handle({ operation, path: relative, data: ctx.body, query: ctx.query });
    if (!result) return operation === 'read' || operation === 'list' ? errors(404, []) : noContent();
    return json(200, {
      request_id: crypto.randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: result.data,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'cubbyhole',
    });
  };
}
