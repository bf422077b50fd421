import type { MountEntry } from '../../core/mounts/mount-table.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { MountTable } from '../../core/mounts/mount-table.js';
import type { TokenStore } from '../../core/token/token-store.js';
import { logical, noContent, type RouteTable } from './route-table.js';

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
export function sysMountRoutes({ mounts, tokens, lifecycle }: { mounts: MountTable; tokens: TokenStore; lifecycle: Lifecycle }): RouteTable {
  return {
    'sys/mounts': {
      GET: async (ctx) => {
        await ctx.authorize('sys/mounts', 'read');
        const listed: Record<string, unknown> = { 'sys/': SYSTEM_MOUNT };
        for (const entry of mounts.list()) listed[entry.path] = describe(entry);
        return logical(listed, { inject: true });
      },
    },
    // What Vault's CLI asks to learn a path's KV version: any valid token may ask, and only the mount is revealed.
    'sys/internal/ui/mounts/*path': {
      GET: async (ctx) => {
        const { path } = ctx.params;
        if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
        const token = ctx.token;
        if (!token) throw new CofferError('permission_denied', 'permission denied');
        if (!(await tokens.lookup(token))) throw new CofferError('invalid_token', 'invalid token');
        const found = mounts.find(path!);
        if (!found)
          throw new CofferError(
            'invalid_request',
            `preflight capability check returned 403, please ensure client's policies grant access to path "${path}/"`,
          );
        return logical({
          path: found.entry.path,
          type: found.entry.type,
          options: found.entry.type === 'kv' ? { version: found.entry.options.version } : null,
          description: found.entry.description,
        });
      },
    },
    'sys/mounts/*path': {
      GET: async (ctx) => {
        const { path } = ctx.params;
        const tune = path!.endsWith('/tune');
        const mountPath = tune ? path!.slice(0, -'/tune'.length) : path!;
        await ctx.authorize(`sys/mounts/${path}`, 'read');
        const entry = mounts.get(mountPath);
        if (!entry) throw new CofferError('invalid_request', `No secret engine mount at ${mountPath.replace(/\/?$/, '/')}`);
        if (tune) {
          return logical({
            description: entry.description,
            default_lease_ttl: 2764800,
            max_lease_ttl: 2764800,
            force_no_cache: false,
            options: entry.type === 'kv' ? { version: entry.options.version } : null,
          });
        }
        return logical(describe(entry));
      },
      PUT: async (ctx) => {
        const { path } = ctx.params;
        await ctx.authorize(`sys/mounts/${path}`, 'update');
        const body = ctx.body;
        const options = (typeof body.options === 'object' && body.options !== null ? body.options : {}) as Record<string, unknown>;
        const description = typeof body.description === 'string' ? body.description : undefined;
        if (path!.endsWith('/tune')) {
          await mounts.tune(path!.slice(0, -'/tune'.length), {
            ...(description !== undefined ? { description } : {}),
            ...(options.version !== undefined ? { version: String(options.version) } : {}),
          });
        } else {
          if (typeof body.type !== 'string' || body.type === '')
            throw new CofferError('invalid_request', 'backend type must be specified as a string');
          await mounts.enable(path!, body.type, options, description ?? '');
        }
        return noContent();
      },
      DELETE: async (ctx) => {
        const { path } = ctx.params;
        await ctx.authorize(`sys/mounts/${path}`, 'delete');
        await mounts.disable(path!);
        return noContent();
      },
    },
  };
}
