import type { Request, Response } from 'express';
import { CofferError } from '../../core/errors.js';
import type { LogicalRequest } from '../../core/secrets/secret-engine.js';
import { routerMethod } from '../router-method.js';
import { authorize } from '../auth.js';
import { sendErrors, sendJson, sendNoContent } from '../json-response.js';
import type { HttpDeps } from './route-table.js';

/**
 * Requests to mounted secret engines: sealed check, method → capability (a write is `create` when the engine says
 * the path does not exist yet, else `update`), ACL on the full path, then the engine.
 */
export async function handleMounted({ core }: HttpDeps, req: Request, res: Response, path: string): Promise<void> {
  if (core.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
  const mount = core.mounts.find(decodeURIComponent(path));
  if (!mount) {
    // Unknown paths still need a valid token first, as in Vault (no probing of the mount table without one).
    await authorize(core, req, path, 'read', false).catch((err: unknown) => {
      if (err instanceof CofferError && err.code === 'forbidden') return;
      throw err;
    });
    return sendErrors(res, 404, [`no handler for route "${path}". route entry not found.`]);
  }
  res.locals.route = `mount:${mount.entry.path}`;
  const method = routerMethod(req);
  let operation: LogicalRequest['operation'];
  switch (method) {
    case 'GET':
      operation = 'read';
      break;
    case 'LIST':
      operation = 'list';
      break;
    case 'DELETE':
      operation = 'delete';
      break;
    case 'PATCH':
      operation = 'patch';
      break;
    case 'PUT':
      operation = (await mount.engine.exists(mount.relative)) ? 'update' : 'create';
      break;
    default:
      return sendErrors(res, 405, []);
  }
  const fullPath = decodeURIComponent(path);
  await authorize(core, req, fullPath, operation);
  const body = req.body;
  const data = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const query = Object.fromEntries(Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const result = await mount.engine.handle({ operation, path: mount.relative, data, query });
  if (!result) {
    if (operation === 'read' || operation === 'list') return sendErrors(res, 404, []);
    return sendNoContent(res);
  }
  sendJson(res, result.notFound ? 404 : 200, {
    request_id: crypto.randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: result.leaseDuration ?? 0,
    data: result.data,
    wrap_info: null,
    warnings: result.warnings ?? null,
    auth: null,
    mount_type: mount.entry.type,
  });
}
