import { MOUNT_ENABLE_REQUEST, REMOUNT_REQUEST } from '../../../shared/schemas.js';
import type { AuthTable } from '../../core/auth/auth-table.js';
import type { MountEntry } from '../../core/mounts/mount-table.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { MountTable } from '../../core/mounts/mount-table.js';
import type { PolicyStore } from '../../core/policy/policy-store.js';
import type { TokenStore } from '../../core/token/token-store.js';
import type { BodyValidator } from '../request-body.js';
import type { RequestContext } from '../request-context.js';
import { logical, noContent, type RouteTable } from './route-table.js';
import { checkMountPoint, parseMountConfig, refuseUnsupportedMountFlags, tuneView } from './sys-auth.js';

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

const BUILTIN = {
  uuid: '',
  config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
  options: null,
  local: false,
  seal_wrap: false,
  external_entropy_access: false,
  plugin_version: '',
  running_plugin_version: '',
};

const SYSTEM_MOUNT = { type: 'system', description: 'system endpoints used for control, policy and debugging', accessor: 'system', ...BUILTIN };
/** Mounted by default for every token, like Vault's; it cannot be disabled or moved. */
const CUBBYHOLE_MOUNT = { type: 'cubbyhole', description: 'per-token private secret storage', accessor: 'cubbyhole', ...BUILTIN, local: true };

export interface SysMountDeps {
  mounts: MountTable;
  tokens: TokenStore;
  lifecycle: Lifecycle;
  validator: BodyValidator;
  policies: PolicyStore;
  auth: AuthTable;
}

const MAX_REMEMBERED_MIGRATIONS = 100;

/** `sys/mounts`: list, enable, read, disable and tune secret engines; `sys/remount`; the UI's mount listing. */
export function sysMountRoutes({ mounts, tokens, lifecycle, validator, policies, auth }: SysMountDeps): RouteTable {
  /** Finished moves by migration id, for `sys/remount/status/:id` (a move completes before its answer). */
  const migrations = new Map<string, { source_mount: string; target_mount: string; status: 'success' }>();
  /** Any valid token may ask the UI endpoints; sealed and tokenless requests are refused first. */
  async function uiToken(ctx: RequestContext) {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    const token = ctx.token;
    if (!token) throw new CofferError('permission_denied', 'permission denied');
    const record = await tokens.lookup(token);
    if (!record) throw new CofferError('invalid_token', 'invalid token');
    return record;
  }
  return {
    'sys/mounts': {
      GET: async (ctx) => {
        await ctx.authorize('sys/mounts', 'read');
        const listed: Record<string, unknown> = { 'cubbyhole/': CUBBYHOLE_MOUNT, 'sys/': SYSTEM_MOUNT };
        for (const entry of mounts.list()) listed[entry.path] = describe(entry);
        return logical(listed, { inject: true });
      },
    },
    // Without a path: the mounts (secret and auth) the token has some access to, as Vault's UI and CLI list them.
    'sys/internal/ui/mounts': {
      GET: async (ctx) => {
        const record = await uiToken(ctx);
        const acl = await policies.acl(record.policies);
        const secret: Record<string, unknown> = {};
        for (const entry of mounts.list()) if (acl.hasAccessUnder(entry.path)) secret[entry.path] = describe(entry);
        if (acl.hasAccessUnder('cubbyhole/')) secret['cubbyhole/'] = CUBBYHOLE_MOUNT;
        const authMounts: Record<string, unknown> = {};
        for (const entry of auth.list()) {
          if (acl.hasAccessUnder(`auth/${entry.path}`))
            authMounts[entry.path] = {
              type: entry.type,
              description: entry.description,
              accessor: entry.accessor,
              options: null,
              config: { ...entry.config },
            };
        }
        return logical({ secret, auth: authMounts });
      },
    },
    // What Vault's CLI asks to learn a path's KV version: any valid token may ask, and only the mount is revealed.
    'sys/internal/ui/mounts/*path': {
      GET: async (ctx) => {
        const { path } = ctx.params;
        await uiToken(ctx);
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
    'sys/remount': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/remount', 'update');
        const b = validator.parse<{ from?: string; to?: string }>(ctx.rawBody, REMOUNT_REQUEST);
        if (!b.from || !b.to) throw new CofferError('invalid_request', '"from" and "to" must be specified');
        if (b.from.replace(/^\/+/, '').startsWith('auth/') || b.to.replace(/^\/+/, '').startsWith('auth/')) {
          throw new CofferError('invalid_request', 'remounting auth methods is not supported by Coffer');
        }
        await mounts.remount(b.from, b.to);
        // Vault answers with a migration id to poll; Coffer's move is already complete when this returns.
        const id = crypto.randomUUID();
        migrations.set(id, { source_mount: b.from, target_mount: b.to, status: 'success' });
        if (migrations.size > MAX_REMEMBERED_MIGRATIONS) migrations.delete(migrations.keys().next().value!);
        return logical({ migration_id: id });
      },
    },
    'sys/remount/status/:id': {
      GET: async (ctx) => {
        await ctx.authorize(`sys/remount/status/${ctx.params.id}`, 'read');
        const info = migrations.get(ctx.params.id!);
        if (!info) throw new CofferError('invalid_request', `no migration info found for ${ctx.params.id}`);
        return logical({ migration_id: ctx.params.id, migration_info: info });
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
        if (tune) return logical(tuneView(entry.description, entry.config, entry.type === 'kv' ? { version: entry.options.version } : null));
        return logical(describe(entry));
      },
      PUT: async (ctx) => {
        const { path } = ctx.params;
        await ctx.authorize(`sys/mounts/${path}`, 'update');
        if (path!.endsWith('/tune')) {
          const update = parseMountConfig(validator, ctx.rawBody);
          const options = update.options ?? {};
          for (const key of Object.keys(options))
            if (key !== 'version') throw new CofferError('invalid_request', `unknown field "options.${key}": not supported by tune`);
          await mounts.tune(path!.slice(0, -'/tune'.length), {
            ...(update.description !== undefined ? { description: update.description } : {}),
            ...(options.version !== undefined ? { version: String(options.version) } : {}),
            ...(update.default_lease_ttl !== undefined ? { default_lease_ttl: update.default_lease_ttl } : {}),
            ...(update.max_lease_ttl !== undefined ? { max_lease_ttl: update.max_lease_ttl } : {}),
          });
          return noContent();
        }
        const body = validator.parse<Record<string, unknown>>(ctx.rawBody, MOUNT_ENABLE_REQUEST);
        refuseUnsupportedMountFlags(body);
        checkMountPoint(body.mount_point, path!);
        if (typeof body.type !== 'string' || body.type === '') throw new CofferError('invalid_request', 'backend type must be specified as a string');
        if (body.plugin_name !== undefined && body.plugin_name !== '' && body.plugin_name !== body.type)
          throw new CofferError('invalid_request', 'invalid value for "plugin_name": Coffer has no plugin catalog');
        if (body.plugin_version !== undefined && body.plugin_version !== '')
          throw new CofferError('invalid_request', 'invalid value for "plugin_version": Coffer has no plugin catalog');
        const config = body.config === undefined ? {} : parseMountConfig(validator, body.config);
        if (config.description !== undefined || config.options !== undefined)
          throw new CofferError('invalid_request', 'unknown field in "config": description and options are not config fields');
        const options = (body.options ?? {}) as Record<string, unknown>;
        await mounts.enable(path!, body.type, options, typeof body.description === 'string' ? body.description : '', config);
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
