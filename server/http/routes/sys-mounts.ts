import type { MountEntry } from '../../core/mounts/mount-table.js';
import { CofferError } from '../../core/errors.js';
import { authorize, requestToken } from '../auth.js';
import { sendNoContent } from '../json-response.js';
import { sendLogical } from '../logical-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

function describe(entry: MountEntry): Record<string, unknown> {
  return {
    type: entry.type,
    description: entry.description,
    accessor: entry.accessor,
    uuid: entry.uuid,
    config: { ...entry.config, force_no_cache: false },
    options: entry.type === 'kv' ? { version: entry.options.version } : null,
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
  };
}

const SYSTEM_MOUNT = {
  type: 'system',
  description: 'system endpoints used for control, policy and debugging',
  accessor: 'system',
  uuid: '',
  config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
  options: null,
  local: false,
  seal_wrap: false,
  external_entropy_access: false,
  plugin_version: '',
  running_plugin_version: '',
};

/** `sys/mounts`: list, enable, read, disable and tune secret engines. */
export function sysMountRoutes({ core }: HttpDeps): RouteTable {
  return {
    'sys/mounts': {
      GET: async (req, res) => {
        await authorize(core, req, 'sys/mounts', 'read');
        const mounts: Record<string, unknown> = { 'sys/': SYSTEM_MOUNT };
        for (const entry of core.mounts.list()) mounts[entry.path] = describe(entry);
        sendLogical(res, mounts, { inject: true });
      },
    },
    // What Vault's CLI asks to learn a path's KV version: any valid token may ask, and only the mount is revealed.
    'sys/internal/ui/mounts/*path': {
      GET: async (req, res, { path }) => {
        if (core.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
        const token = requestToken(req);
        if (!token) throw new CofferError('permission_denied', 'permission denied');
        if (!(await core.tokens.lookup(token))) throw new CofferError('invalid_token', 'invalid token');
        const found = core.mounts.find(path!);
        if (!found) throw new CofferError('invalid_request', `preflight capability check returned 403, please ensure client's policies grant access to path "${path}/"`);
        sendLogical(res, { path: found.entry.path, type: found.entry.type, options: found.entry.type === 'kv' ? { version: found.entry.options.version } : null, description: found.entry.description });
      },
    },
    'sys/mounts/*path': {
      GET: async (req, res, { path }) => {
        const tune = path!.endsWith('/tune');
        const mountPath = tune ? path!.slice(0, -'/tune'.length) : path!;
        await authorize(core, req, `sys/mounts/${path}`, 'read');
        const entry = core.mounts.get(mountPath);
        if (!entry) throw new CofferError('invalid_request', `No secret engine mount at ${mountPath.replace(/\/?$/, '/')}`);
        if (tune) {
          sendLogical(res, { description: entry.description, default_lease_ttl: 2764800, max_lease_ttl: 2764800, force_no_cache: false, options: entry.type === 'kv' ? { version: entry.options.version } : null });
        } else {
          sendLogical(res, describe(entry));
        }
      },
      PUT: async (req, res, { path }) => {
        await authorize(core, req, `sys/mounts/${path}`, 'update');
        const body = (req.body ?? {}) as Record<string, unknown>;
        const options = (typeof body.options === 'object' && body.options !== null ? body.options : {}) as Record<string, unknown>;
        const description = typeof body.description === 'string' ? body.description : undefined;
        if (path!.endsWith('/tune')) {
          await core.mounts.tune(path!.slice(0, -'/tune'.length), {
            ...(description !== undefined ? { description } : {}),
            ...(options.version !== undefined ? { version: String(options.version) } : {}),
          });
        } else {
          if (typeof body.type !== 'string' || body.type === '') throw new CofferError('invalid_request', 'backend type must be specified as a string');
          await core.mounts.enable(path!, body.type, options, description ?? '');
        }
        sendNoContent(res);
      },
      DELETE: async (req, res, { path }) => {
        await authorize(core, req, `sys/mounts/${path}`, 'delete');
        await core.mounts.disable(path!);
        sendNoContent(res);
      },
    },
  };
}
