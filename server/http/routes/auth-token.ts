import { CAPABILITIES_REQUEST, TOKEN_CREATE_REQUEST, TOKEN_REF_REQUEST, TOKEN_RENEW_REQUEST, TOKEN_ROLE_REQUEST } from '../../../shared/schemas.js';
import { parseCidrs } from '../../core/auth/cidr.js';
import type { AuthTable } from '../../core/auth/auth-table.js';
import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { normalisePolicyName } from '../../core/policy/policy.js';
import type { PolicyStore } from '../../core/policy/policy-store.js';
import type { TokenRole, TokenRoles } from '../../core/token/token-roles.js';
import type { TokenRecord, TokenStore } from '../../core/token/token-store.js';
import type { RequestContext } from '../request-context.js';
import { boolField, durationField, intField, listField, type BodyValidator } from '../request-body.js';
import { json, logical, noContent, type Reply, type RouteTable } from './route-table.js';

/** Vault's lookup data for a token. `token` is included only for self lookups and lookups by token. */
export function lookupData(tokens: TokenStore, record: TokenRecord, token: string | undefined): Record<string, unknown> {
  const iso = (seconds: number) => rfc3339Nano(new Date(seconds * 1000));
  return {
    accessor: record.accessor,
    creation_time: record.creationTime,
    creation_ttl: record.ttl,
    display_name: record.displayName,
    entity_id: '',
    expire_time: record.expireTime === 0 ? null : iso(record.expireTime),
    explicit_max_ttl: record.explicitMaxTtl,
    id: token ?? '',
    issue_time: iso(record.creationTime),
    meta: Object.keys(record.meta).length === 0 ? null : record.meta,
    num_uses: record.numUses,
    orphan: record.parent === '',
    path: record.path,
    policies: record.policies,
    renewable: record.renewable,
    ttl: tokens.remainingTtl(record),
    type: 'service',
    ...(record.period > 0 ? { period: record.period } : {}),
    ...(record.role ? { role: record.role } : {}),
    ...(record.boundCidrs.length > 0 ? { bound_cidrs: record.boundCidrs } : {}),
  };
}

/** Vault's envelope for a response carrying a new (or renewed) token. */
export function authReply(tokens: TokenStore, token: string, record: TokenRecord, mountType = 'token'): Reply {
  return json(200, {
    request_id: crypto.randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: {
      client_token: token,
      accessor: record.accessor,
      policies: record.policies,
      token_policies: record.policies,
      metadata: Object.keys(record.meta).length === 0 ? null : record.meta,
      lease_duration: tokens.remainingTtl(record),
      renewable: record.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: record.parent === '',
      mfa_requirement: null,
      num_uses: record.numUses,
    },
    mount_type: mountType,
  });
}

interface CreateBody {
  policies?: unknown;
  meta?: Record<string, unknown>;
  no_parent?: unknown;
  no_default_policy?: unknown;
  renewable?: unknown;
  ttl?: unknown;
  lease?: unknown;
  explicit_max_ttl?: unknown;
  period?: unknown;
  display_name?: string;
  num_uses?: unknown;
  type?: string;
}

export interface AuthTokenDeps {
  tokens: TokenStore;
  roles: TokenRoles;
  auth: AuthTable;
  policies: PolicyStore;
  validator: BodyValidator;
}

/** The token store under `auth/token/`, and `sys/capabilities*`. Every path is ACL-checked like any other. */
export function authTokenRoutes({ tokens, roles, auth, policies, validator }: AuthTokenDeps): RouteTable {
  const tokenTtls = () => {
    const config = auth.tokenMount?.config ?? { default_lease_ttl: 0, max_lease_ttl: 0 };
    const limits = tokens.leaseLimits;
    return { defaultTtl: config.default_lease_ttl || limits.defaultTtl, maxTtl: config.max_lease_ttl || limits.maxTtl };
  };

  async function create(ctx: RequestContext, path: string, mode: { orphan?: boolean; roleName?: string }): Promise<Reply> {
    const parent = await ctx.authorize(path, 'update');
    const b = validator.parse<CreateBody>(ctx.rawBody, TOKEN_CREATE_REQUEST);
    if (b.type !== undefined && b.type !== 'service' && b.type !== 'default')
      throw new CofferError('invalid_request', `invalid value for "type": Coffer issues service tokens only`);
    if (b.ttl !== undefined && b.lease !== undefined) throw new CofferError('invalid_request', '"ttl" and its legacy alias "lease" are both set');
    let role: TokenRole | undefined;
    if (mode.roleName !== undefined) {
      role = await roles.get(mode.roleName);
      if (!role) throw new CofferError('invalid_request', `unknown role ${mode.roleName}`);
    }
    const parentIsRoot = parent.policies.includes('root');
    const privileged = parentIsRoot || (await ctx.hasSudo(path));
    const noParent = boolField(b.no_parent, 'no_parent', false);
    if (noParent && !privileged) throw new CofferError('invalid_request', 'root or sudo privileges required to create orphan token');
    const orphan = mode.orphan === true || noParent || role?.orphan === true;
    const noDefault = boolField(b.no_default_policy, 'no_default_policy', false) || role?.noDefaultPolicy === true;
    const requested = listField(b.policies).map(normalisePolicyName);
    let chosen: string[];
    if (role) {
      chosen = requested.length > 0 ? requested : role.allowedPolicies.length > 0 ? [...role.allowedPolicies] : [...parent.policies];
      if (role.allowedPolicies.length > 0) {
        const allowed = new Set([...role.allowedPolicies, 'default']);
        const bad = chosen.filter((p) => !allowed.has(p));
        if (bad.length > 0)
          throw new CofferError('invalid_request', `token policies (${bad.join(', ')}) must be subset of the role's allowed policies`);
      } else if (!parentIsRoot && chosen.some((p) => !new Set([...parent.policies, 'default']).has(p))) {
        throw new CofferError('invalid_request', 'child policies must be subset of parent');
      }
      const disallowed = chosen.filter((p) => role.disallowedPolicies.includes(p));
      if (disallowed.length > 0) throw new CofferError('invalid_request', `token policies (${disallowed.join(', ')}) are disallowed by the role`);
    } else {
      // Without policies a child inherits its parent's; otherwise it may only narrow them (unless the parent is root).
      chosen = requested.length === 0 ? [...parent.policies] : requested;
      if (!parentIsRoot) {
        const allowed = new Set([...parent.policies, 'default']);
        if (chosen.some((p) => !allowed.has(p))) throw new CofferError('invalid_request', 'child policies must be subset of parent');
      }
    }
    if (!noDefault && !chosen.includes('default') && !chosen.includes('root')) chosen = [...chosen, 'default'];
    if (noDefault) chosen = chosen.filter((p) => p !== 'default');
    if (role && chosen.includes('default') && role.disallowedPolicies.includes('default')) chosen = chosen.filter((p) => p !== 'default');

    const requestedPeriod = durationField(b.period, 'period');
    if (requestedPeriod > 0 && !privileged && !role?.period)
      throw new CofferError('invalid_request', 'root or sudo privileges required to create periodic token');
    const period = role && role.period > 0 ? role.period : requestedPeriod;
    let explicitMaxTtl = durationField(b.explicit_max_ttl, 'explicit_max_ttl');
    if (role && role.explicitMaxTtl > 0 && (explicitMaxTtl === 0 || explicitMaxTtl > role.explicitMaxTtl)) explicitMaxTtl = role.explicitMaxTtl;
    const { defaultTtl, maxTtl } = tokenTtls();
    const ttl = durationField(b.ttl ?? b.lease, b.ttl !== undefined ? 'ttl' : 'lease') || defaultTtl;
    const meta = b.meta ?? {};
    for (const [k, v] of Object.entries(meta))
      if (typeof v !== 'string') throw new CofferError('invalid_request', `invalid value for "meta.${k}": expected a string`);
    const renewable = boolField(b.renewable, 'renewable', true) && (role ? role.renewable : true);
    const { token, record } = await tokens.create({
      policies: chosen,
      ttl,
      maxTtl,
      explicitMaxTtl,
      period,
      renewable,
      numUses: intField(b.num_uses, 'num_uses', role?.numUses ?? 0),
      displayName: typeof b.display_name === 'string' && b.display_name ? `token-${b.display_name}` : 'token',
      meta: meta as Record<string, string>,
      ...(orphan ? {} : { parent: parent.hash }),
      path: role ? `auth/token/create/${role.name}${role.pathSuffix ? `/${role.pathSuffix}` : ''}` : path,
      role: role?.name ?? '',
      boundCidrs: role?.boundCidrs ?? [],
    });
    return authReply(tokens, token, record);
  }

  /** The body of a token-by-reference request, refusing the reference field the endpoint does not take. */
  function refBody<T extends { token?: string; accessor?: string }>(
    ctx: RequestContext,
    schema: Parameters<BodyValidator['parse']>[1],
    takes: 'token' | 'accessor' | 'none',
  ): T {
    const b = validator.parse<T>(ctx.rawBody, schema);
    for (const field of ['token', 'accessor'] as const) {
      if (field !== takes && b[field] !== undefined)
        throw new CofferError('invalid_request', `unknown field "${field}": not accepted on ${ctx.path}`);
    }
    return b;
  }

  async function renew(ctx: RequestContext, record: TokenRecord | undefined, token: string, takes: 'token' | 'accessor' | 'none'): Promise<Reply> {
    const b = refBody<{ increment?: unknown; token?: string; accessor?: string }>(ctx, TOKEN_RENEW_REQUEST, takes);
    if (!record) throw new CofferError('invalid_request', 'token not found');
    const renewed = await tokens.renew(record, durationField(b.increment, 'increment') || undefined);
    return authReply(tokens, token, renewed);
  }

  async function capabilities(ctx: RequestContext, record: TokenRecord, body: { path?: unknown; paths?: unknown }): Promise<Reply> {
    const paths = [...listField(body.paths), ...listField(body.path)];
    if (paths.length === 0) throw new CofferError('invalid_request', "'paths' must be specified");
    const acl = await policies.acl(record.policies);
    const result: Record<string, unknown> = {};
    for (const p of paths) result[p] = acl.capabilities(p.replace(/^\//, ''));
    if (paths.length === 1) result.capabilities = result[paths[0]!];
    return logical(result, { inject: true });
  }

  return {
    'auth/token/create': { PUT: (ctx) => create(ctx, 'auth/token/create', {}) },
    'auth/token/create-orphan': { PUT: (ctx) => create(ctx, 'auth/token/create-orphan', { orphan: true }) },
    'auth/token/create/:role': { PUT: (ctx) => create(ctx, `auth/token/create/${ctx.params.role}`, { roleName: ctx.params.role! }) },
    'auth/token/lookup-self': {
      GET: async (ctx) => {
        const self = await ctx.authorize('auth/token/lookup-self', 'read');
        return logical(lookupData(tokens, self, ctx.token), { mountType: 'token' });
      },
    },
    'auth/token/lookup': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/lookup', 'update');
        const { token } = refBody<{ token?: string }>(ctx, TOKEN_REF_REQUEST, 'token');
        if (!token) throw new CofferError('invalid_request', 'missing token');
        const record = await tokens.lookup(token);
        // Vault's answer for an unknown, expired or revoked token: 403 with this exact text.
        if (!record) throw new CofferError('denied', 'bad token');
        return logical(lookupData(tokens, record, token), { mountType: 'token' });
      },
    },
    'auth/token/lookup-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/lookup-accessor', 'update');
        const { accessor } = refBody<{ accessor?: string }>(ctx, TOKEN_REF_REQUEST, 'accessor');
        const record = accessor ? await tokens.lookupAccessor(accessor) : undefined;
        if (!record) throw new CofferError('invalid_request', 'invalid accessor');
        return logical(lookupData(tokens, record, undefined), { mountType: 'token' });
      },
    },
    'auth/token/renew-self': {
      PUT: async (ctx) => {
        const self = await ctx.authorize('auth/token/renew-self', 'update');
        return renew(ctx, self, ctx.token ?? '', 'none');
      },
    },
    'auth/token/renew': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/renew', 'update');
        const token = ctx.body.token;
        if (typeof token !== 'string' || token === '') throw new CofferError('invalid_request', 'missing token');
        return renew(ctx, await tokens.lookup(token), token, 'token');
      },
    },
    'auth/token/renew-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/renew-accessor', 'update');
        const accessor = ctx.body.accessor;
        if (typeof accessor !== 'string' || accessor === '') throw new CofferError('invalid_request', 'missing accessor');
        // The token itself is never shown to someone who only holds its accessor.
        return renew(ctx, await tokens.lookupAccessor(accessor), '', 'accessor');
      },
    },
    'auth/token/revoke-self': {
      PUT: async (ctx) => {
        const self = await ctx.authorize('auth/token/revoke-self', 'update');
        refBody(ctx, TOKEN_REF_REQUEST, 'none');
        await tokens.revoke(self);
        return noContent();
      },
    },
    'auth/token/revoke': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/revoke', 'update');
        const { token } = refBody<{ token?: string }>(ctx, TOKEN_REF_REQUEST, 'token');
        if (!token) throw new CofferError('invalid_request', 'missing token');
        const record = await tokens.lookup(token);
        if (record) await tokens.revoke(record);
        return noContent();
      },
    },
    'auth/token/revoke-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/revoke-accessor', 'update');
        const { accessor } = refBody<{ accessor?: string }>(ctx, TOKEN_REF_REQUEST, 'accessor');
        if (!accessor) throw new CofferError('invalid_request', 'missing accessor');
        const record = await tokens.lookupAccessor(accessor);
        if (record) await tokens.revoke(record);
        return noContent();
      },
    },
    'auth/token/roles': {
      LIST: async (ctx) => {
        await ctx.authorize('auth/token/roles', 'list');
        const keys = await roles.list();
        if (keys.length === 0) return json(404, { errors: [] });
        return logical({ keys }, { mountType: 'token' });
      },
    },
    'auth/token/roles/:name': {
      GET: async (ctx) => {
        await ctx.authorize(`auth/token/roles/${ctx.params.name}`, 'read');
        const role = await roles.get(ctx.params.name!);
        if (!role) return json(404, { errors: [] });
        return logical(describeRole(role), { mountType: 'token' });
      },
      PUT: async (ctx) => {
        const name = ctx.params.name!;
        const existing = await roles.get(name);
        await ctx.authorize(`auth/token/roles/${name}`, existing ? 'update' : 'create');
        const b = validator.parse<Record<string, unknown>>(ctx.rawBody, TOKEN_ROLE_REQUEST);
        if (b.token_type !== undefined && b.token_type !== 'service' && b.token_type !== 'default' && b.token_type !== 'default-service') {
          throw new CofferError('invalid_request', 'invalid value for "token_type": Coffer issues service tokens only');
        }
        const role: TokenRole = existing ?? {
          name,
          allowedPolicies: [],
          disallowedPolicies: [],
          orphan: false,
          renewable: true,
          pathSuffix: '',
          period: 0,
          explicitMaxTtl: 0,
          noDefaultPolicy: false,
          numUses: 0,
          boundCidrs: [],
        };
        if (b.allowed_policies !== undefined) role.allowedPolicies = listField(b.allowed_policies).map(normalisePolicyName);
        if (b.disallowed_policies !== undefined) role.disallowedPolicies = listField(b.disallowed_policies).map(normalisePolicyName);
        if (b.orphan !== undefined) role.orphan = boolField(b.orphan, 'orphan', false);
        if (b.renewable !== undefined) role.renewable = boolField(b.renewable, 'renewable', true);
        if (b.path_suffix !== undefined) {
          if (typeof b.path_suffix !== 'string' || b.path_suffix.includes('..')) throw new CofferError('invalid_request', 'invalid path_suffix');
          role.pathSuffix = b.path_suffix.replace(/^\/+|\/+$/g, '');
        }
        const period = b.token_period ?? b.period;
        if (period !== undefined) role.period = durationField(period, b.token_period !== undefined ? 'token_period' : 'period');
        const explicit = b.token_explicit_max_ttl ?? b.explicit_max_ttl;
        if (explicit !== undefined)
          role.explicitMaxTtl = durationField(explicit, b.token_explicit_max_ttl !== undefined ? 'token_explicit_max_ttl' : 'explicit_max_ttl');
        if (b.token_no_default_policy !== undefined) role.noDefaultPolicy = boolField(b.token_no_default_policy, 'token_no_default_policy', false);
        if (b.token_num_uses !== undefined) role.numUses = intField(b.token_num_uses, 'token_num_uses');
        if (b.token_bound_cidrs !== undefined) role.boundCidrs = parseCidrs(b.token_bound_cidrs, 'token_bound_cidrs');
        await roles.put(role);
        return noContent();
      },
      DELETE: async (ctx) => {
        await ctx.authorize(`auth/token/roles/${ctx.params.name}`, 'delete');
        await roles.delete(ctx.params.name!);
        return noContent();
      },
    },
    'sys/capabilities': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/capabilities', 'update');
        const b = validator.parse<{ token?: string; accessor?: string; path?: unknown; paths?: unknown }>(ctx.rawBody, CAPABILITIES_REQUEST);
        if (b.accessor !== undefined) throw new CofferError('invalid_request', 'unknown field "accessor": use sys/capabilities-accessor');
        const record = b.token ? await tokens.lookup(b.token) : undefined;
        if (!record) throw new CofferError('invalid_request', b.token ? 'invalid token' : 'missing token');
        return capabilities(ctx, record, b);
      },
    },
    'sys/capabilities-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/capabilities-accessor', 'update');
        const b = validator.parse<{ token?: string; accessor?: string; path?: unknown; paths?: unknown }>(ctx.rawBody, CAPABILITIES_REQUEST);
        if (b.token !== undefined) throw new CofferError('invalid_request', 'unknown field "token": use sys/capabilities');
        const record = b.accessor ? await tokens.lookupAccessor(b.accessor) : undefined;
        if (!record) throw new CofferError('invalid_request', b.accessor ? 'invalid accessor' : 'missing accessor');
        return capabilities(ctx, record, b);
      },
    },
  };
}

function describeRole(role: TokenRole): Record<string, unknown> {
  return {
    name: role.name,
    allowed_policies: role.allowedPolicies,
    disallowed_policies: role.disallowedPolicies,
    orphan: role.orphan,
    renewable: role.renewable,
    path_suffix: role.pathSuffix,
    period: role.period,
    token_period: role.period,
    explicit_max_ttl: role.explicitMaxTtl,
    token_explicit_max_ttl: role.explicitMaxTtl,
    token_no_default_policy: role.noDefaultPolicy,
    token_num_uses: role.numUses,
    token_bound_cidrs: role.boundCidrs,
    token_type: 'default-service',
  };
}
