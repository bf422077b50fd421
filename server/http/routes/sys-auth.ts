import { AUTH_ENABLE_REQUEST, MOUNT_CONFIG } from '../../../shared/schemas.js';
import type { AuthMountEntry, AuthTable } from '../../core/auth/auth-table.js';
import { CofferError } from '../../core/errors.js';
import type { RequestContext } from '../request-context.js';
import { boolField, durationField, type BodyValidator } from '../request-body.js';
import { logical, noContent, type Reply, type RouteTable } from './route-table.js';

function describe(entry: AuthMountEntry): Record<string, unknown> {
  return {
    type: entry.type,
    description: entry.description,
    accessor: entry.accessor,
    uuid: entry.uuid,
    config: {
      default_lease_ttl: entry.config.default_lease_ttl,
      max_lease_ttl: entry.config.max_lease_ttl,
      force_no_cache: false,
      token_type: 'default-service',
    },
    options: null,
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
  };
}

/** What a tune read shows: the effective TTLs (the system's 768h where the mount sets none). */
export function tuneView(
  description: string,
  config: { default_lease_ttl: number; max_lease_ttl: number },
  options: unknown = null,
): Record<string, unknown> {
  return {
    description,
    default_lease_ttl: config.default_lease_ttl || 768 * 3600,
    max_lease_ttl: config.max_lease_ttl || 768 * 3600,
    force_no_cache: false,
    options,
  };
}

/** Validates a `config` object or tune body: the TTLs in seconds; anything unsupported is a 400 naming it. */
export function parseMountConfig(
  validator: BodyValidator,
  raw: unknown,
): { description?: string; default_lease_ttl?: number; max_lease_ttl?: number; options?: Record<string, unknown> } {
  const c = validator.parse<Record<string, unknown>>(raw, MOUNT_CONFIG);
  if (c.force_no_cache !== undefined && boolField(c.force_no_cache, 'force_no_cache', false))
    throw new CofferError('invalid_request', 'invalid value for "force_no_cache": Coffer has no cache to disable');
  return {
    ...(typeof c.description === 'string' ? { description: c.description } : {}),
    ...(c.default_lease_ttl !== undefined ? { default_lease_ttl: durationField(c.default_lease_ttl, 'default_lease_ttl') } : {}),
    ...(c.max_lease_ttl !== undefined ? { max_lease_ttl: durationField(c.max_lease_ttl, 'max_lease_ttl') } : {}),
    ...(c.options !== undefined ? { options: c.options as Record<string, unknown> } : {}),
  };
}

/** Refuses `local`, `seal_wrap`, `external_entropy_access` set to true: Coffer has none of them. */
export function refuseUnsupportedMountFlags(b: Record<string, unknown>): void {
  for (const flag of ['local', 'seal_wrap', 'external_entropy_access']) {
    if (boolField(b[flag], flag, false)) throw new CofferError('invalid_request', `invalid value for "${flag}": not supported by Coffer`);
  }
}

/** A body's `mount_point` (node-vault sends it) must name the path the request is for. */
export function checkMountPoint(value: unknown, path: string): void {
  if (value === undefined) return;
  const trim = (p: string) => p.replace(/^\/+|\/+$/g, '');
  if (typeof value !== 'string' || trim(value) !== trim(path))
    throw new CofferError('invalid_request', 'invalid value for "mount_point": it must match the path');
}

/** `sys/auth`: list, enable, disable and tune auth methods (and the `sys/mounts/auth/…` spellings of tune). */
export function sysAuthRoutes({ auth, validator }: { auth: AuthTable; validator: BodyValidator }): RouteTable {
  async function readTune(ctx: RequestContext, aclPath: string, mountPath: string): Promise<Reply> {
    await ctx.authorize(aclPath, 'read');
    const entry = auth.get(mountPath);
    if (!entry) throw new CofferError('invalid_request', `cannot fetch mount configuration for auth/${mountPath.replace(/\/?$/, '/')}`);
    return logical({ ...tuneView(entry.description, entry.config), token_type: 'default-service' });
  }
  async function writeTune(ctx: RequestContext, aclPath: string, mountPath: string): Promise<Reply> {
    await ctx.authorize(aclPath, 'update');
    const update = parseMountConfig(validator, ctx.rawBody);
    if (update.options !== undefined && Object.keys(update.options).length > 0)
      throw new CofferError('invalid_request', 'unknown field "options": auth methods take no options');
    await auth.tune(mountPath, update);
    return noContent();
  }
  return {
    'sys/auth': {
      GET: async (ctx) => {
        await ctx.authorize('sys/auth', 'read');
        const listed: Record<string, unknown> = {};
        for (const entry of auth.list()) listed[entry.path] = describe(entry);
        return logical(listed, { inject: true });
      },
    },
    'sys/mounts/auth/*path': {
      GET: async (ctx) => {
        const path = ctx.params.path!;
        if (!path.endsWith('/tune')) throw new CofferError('unsupported_path', 'unsupported path');
        return readTune(ctx, `sys/mounts/auth/${path}`, path.slice(0, -'/tune'.length));
      },
      PUT: async (ctx) => {
        const path = ctx.params.path!;
        // Auth methods are enabled at sys/auth/:path; a secret engine may not live under auth/.
        if (!path.endsWith('/tune')) throw new CofferError('invalid_request', 'cannot mount at a protected path: auth/');
        return writeTune(ctx, `sys/mounts/auth/${path}`, path.slice(0, -'/tune'.length));
      },
    },
    'sys/auth/*path': {
      GET: async (ctx) => {
        const path = ctx.params.path!;
        if (path.endsWith('/tune')) return readTune(ctx, `sys/auth/${path}`, path.slice(0, -'/tune'.length));
        await ctx.authorize(`sys/auth/${path}`, 'read', true);
        const entry = auth.get(path);
        if (!entry) throw new CofferError('invalid_request', `No auth engine at auth/${path.replace(/\/?$/, '/')}`);
        return logical(describe(entry));
      },
      PUT: async (ctx) => {
        const path = ctx.params.path!;
        if (path.endsWith('/tune')) return writeTune(ctx, `sys/auth/${path}`, path.slice(0, -'/tune'.length));
        await ctx.authorize(`sys/auth/${path}`, 'update', true);
        const b = validator.parse<Record<string, unknown>>(ctx.rawBody, AUTH_ENABLE_REQUEST);
        refuseUnsupportedMountFlags(b);
        checkMountPoint(b.mount_point, path);
        const type = typeof b.type === 'string' && b.type !== '' ? b.type : undefined;
        if (!type) throw new CofferError('invalid_request', 'backend type must be specified as a string');
        if (b.plugin_name !== undefined && b.plugin_name !== '' && b.plugin_name !== type)
          throw new CofferError('invalid_request', 'invalid value for "plugin_name": Coffer has no plugin catalog');
        if (b.plugin_version !== undefined && b.plugin_version !== '')
          throw new CofferError('invalid_request', 'invalid value for "plugin_version": Coffer has no plugin catalog');
        if (b.options !== undefined && Object.keys(b.options as object).length > 0)
          throw new CofferError('invalid_request', 'unknown field "options": auth methods take no options');
        const config = b.config === undefined ? {} : parseMountConfig(validator, b.config);
        if (config.description !== undefined || config.options !== undefined)
          throw new CofferError('invalid_request', 'unknown field in "config": description and options are not config fields');
        await auth.enable(path, type, typeof b.description === 'string' ? b.description : '', config);
        return noContent();
      },
      DELETE: async (ctx) => {
        const path = ctx.params.path!;
        await ctx.authorize(`sys/auth/${path}`, 'delete', true);
        await auth.disable(path);
        return noContent();
      },
    },
  };
}
