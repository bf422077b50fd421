import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { normalisePolicyName } from '../../core/policy/policy.js';
import type { TokenRecord, TokenStore } from '../../core/token/token-store.js';
import type { RequestContext } from '../request-context.js';
import { parseDurationSeconds } from '../go-duration.js';
import { json, logical, noContent, type Reply, type RouteTable } from './route-table.js';

function body(ctx: RequestContext): Readonly<Record<string, unknown>> {
  return ctx.body;
}

function stringField(b: Readonly<Record<string, unknown>>, name: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') throw new CofferError('invalid_request', `missing ${name}`);
  return v;
}

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new CofferError('invalid_request', 'expected a boolean');
}

/** Vault's lookup data for a token. `token` is included only for self lookups and lookups by token. */
function lookupData(tokens: TokenStore, record: TokenRecord, token: string | undefined): Record<string, unknown> {
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
    path: record.policies.includes('root') && record.parent === '' ? 'auth/token/root' : 'auth/token/create',
    policies: record.policies,
    renewable: record.renewable,
    ttl: tokens.remainingTtl(record),
    type: 'service',
  };
}

function authReply(tokens: TokenStore, token: string, record: TokenRecord): Reply {
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
    mount_type: 'token',
  });
}

/** The token store under `auth/token/`. Every path is ACL-checked like any other. */
export function authTokenRoutes({ tokens }: { tokens: TokenStore }): RouteTable {
  return {
    'auth/token/create': {
      PUT: async (ctx) => {
        const parent = await ctx.authorize('auth/token/create', 'update');
        const b = body(ctx);
        const requested = (Array.isArray(b.policies) ? b.policies : typeof b.policies === 'string' ? b.policies.split(',') : []).map((p) =>
          normalisePolicyName(String(p).trim()),
        );
        const parentIsRoot = parent.policies.includes('root');
        const noDefault = bool(b.no_default_policy, false);
        // Without policies a child inherits its parent's; otherwise it may only narrow them (unless the parent is root).
        let policies = requested.length === 0 ? [...parent.policies] : requested;
        if (!noDefault && !policies.includes('default') && !policies.includes('root')) policies = [...policies, 'default'];
        if (noDefault) policies = policies.filter((p) => p !== 'default');
        if (!parentIsRoot) {
          const allowed = new Set([...parent.policies, 'default']);
          if (policies.some((p) => !allowed.has(p))) throw new CofferError('invalid_request', 'child policies must be subset of parent');
        }
        const meta = (typeof b.meta === 'object' && b.meta !== null ? b.meta : {}) as Record<string, unknown>;
        const { token, record } = await tokens.create({
          policies,
          ...(b.ttl !== undefined && b.ttl !== null && b.ttl !== '' ? { ttl: parseDurationSeconds(b.ttl, 'ttl') } : {}),
          ...(b.explicit_max_ttl !== undefined && b.explicit_max_ttl !== null
            ? { explicitMaxTtl: parseDurationSeconds(b.explicit_max_ttl, 'explicit_max_ttl') }
            : {}),
          renewable: bool(b.renewable, true),
          ...(b.num_uses !== undefined && b.num_uses !== null ? { numUses: Math.max(0, Number(b.num_uses) | 0) } : {}),
          displayName: typeof b.display_name === 'string' && b.display_name ? `token-${b.display_name}` : 'token',
          meta: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])),
          parent: parent.hash,
        });
        return authReply(tokens, token, record);
      },
    },
    'auth/token/lookup-self': {
      GET: async (ctx) => {
        const self = await ctx.authorize('auth/token/lookup-self', 'read');
        return logical(lookupData(tokens, self, ctx.token), { mountType: 'token' });
      },
    },
    'auth/token/lookup': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/lookup', 'update');
        const token = stringField(body(ctx), 'token');
        const record = await tokens.lookup(token);
        if (!record) throw new CofferError('forbidden', 'bad token');
        return logical(lookupData(tokens, record, token), { mountType: 'token' });
      },
    },
    'auth/token/lookup-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/lookup-accessor', 'update');
        const record = await tokens.lookupAccessor(stringField(body(ctx), 'accessor'));
        if (!record) throw new CofferError('invalid_request', 'invalid accessor');
        return logical(lookupData(tokens, record, undefined), { mountType: 'token' });
      },
    },
    'auth/token/renew-self': {
      PUT: async (ctx) => {
        const self = await ctx.authorize('auth/token/renew-self', 'update');
        const b = body(ctx);
        const increment = b.increment === undefined || b.increment === null ? undefined : parseDurationSeconds(b.increment, 'increment');
        const renewed = await tokens.renew(self, increment);
        return authReply(tokens, ctx.token ?? '', renewed);
      },
    },
    'auth/token/revoke-self': {
      PUT: async (ctx) => {
        const self = await ctx.authorize('auth/token/revoke-self', 'update');
        await tokens.revoke(self);
        return noContent();
      },
    },
    'auth/token/revoke': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/revoke', 'update');
        const record = await tokens.lookup(stringField(body(ctx), 'token'));
        if (record) await tokens.revoke(record);
        return noContent();
      },
    },
    'auth/token/revoke-accessor': {
      PUT: async (ctx) => {
        await ctx.authorize('auth/token/revoke-accessor', 'update');
        const record = await tokens.lookupAccessor(stringField(body(ctx), 'accessor'));
        if (record) await tokens.revoke(record);
        return noContent();
      },
    },
  };
}
