import type { Request } from 'express';
import { rfc3339Nano } from '../../core/clock.js';
import type { CofferCore } from '../../core/coffer-core.js';
import { CofferError } from '../../core/errors.js';
import { normalisePolicyName } from '../../core/policy/policy.js';
import type { TokenRecord } from '../../core/token/token-store.js';
import { authorize } from '../auth.js';
import { parseDurationSeconds } from '../go-duration.js';
import { sendJson, sendNoContent } from '../json-response.js';
import { sendLogical } from '../logical-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

function body(req: Request): Record<string, unknown> {
  const b = req.body;
  return typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

function stringField(b: Record<string, unknown>, name: string): string {
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
function lookupData(core: CofferCore, record: TokenRecord, token: string | undefined): Record<string, unknown> {
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
    ttl: core.tokens.remainingTtl(record),
    type: 'service',
  };
}

function sendAuth(res: Parameters<typeof sendJson>[0], core: CofferCore, token: string, record: TokenRecord): void {
  sendJson(res, 200, {
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
      lease_duration: core.tokens.remainingTtl(record),
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
export function authTokenRoutes({ core }: HttpDeps): RouteTable {
  return {
    'auth/token/create': {
      PUT: async (req, res) => {
        const parent = await authorize(core, req, 'auth/token/create', 'update');
        const b = body(req);
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
        const { token, record } = await core.tokens.create({
          policies,
          ...(b.ttl !== undefined && b.ttl !== null && b.ttl !== '' ? { ttl: parseDurationSeconds(b.ttl, 'ttl') } : {}),
          ...(b.explicit_max_ttl !== undefined && b.explicit_max_ttl !== null ? { explicitMaxTtl: parseDurationSeconds(b.explicit_max_ttl, 'explicit_max_ttl') } : {}),
          renewable: bool(b.renewable, true),
          ...(b.num_uses !== undefined && b.num_uses !== null ? { numUses: Math.max(0, Number(b.num_uses) | 0) } : {}),
          displayName: typeof b.display_name === 'string' && b.display_name ? `token-${b.display_name}` : 'token',
          meta: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])),
          parent: parent.hash,
        });
        sendAuth(res, core, token, record);
      },
    },
    'auth/token/lookup-self': {
      GET: async (req, res) => {
        const self = await authorize(core, req, 'auth/token/lookup-self', 'read');
        sendLogical(res, lookupData(core, self, req.headers['x-vault-token'] ? String(req.headers['x-vault-token']) : undefined), { mountType: 'token' });
      },
    },
    'auth/token/lookup': {
      PUT: async (req, res) => {
        await authorize(core, req, 'auth/token/lookup', 'update');
        const token = stringField(body(req), 'token');
        const record = await core.tokens.lookup(token);
        if (!record) throw new CofferError('forbidden', 'bad token');
        sendLogical(res, lookupData(core, record, token), { mountType: 'token' });
      },
    },
    'auth/token/lookup-accessor': {
      PUT: async (req, res) => {
        await authorize(core, req, 'auth/token/lookup-accessor', 'update');
        const record = await core.tokens.lookupAccessor(stringField(body(req), 'accessor'));
        if (!record) throw new CofferError('invalid_request', 'invalid accessor');
        sendLogical(res, lookupData(core, record, undefined), { mountType: 'token' });
      },
    },
    'auth/token/renew-self': {
      PUT: async (req, res) => {
        const self = await authorize(core, req, 'auth/token/renew-self', 'update');
        const b = body(req);
        const increment = b.increment === undefined || b.increment === null ? undefined : parseDurationSeconds(b.increment, 'increment');
        const renewed = await core.tokens.renew(self, increment);
        sendAuth(res, core, String(req.headers['x-vault-token'] ?? ''), renewed);
      },
    },
    'auth/token/revoke-self': {
      PUT: async (req, res) => {
        const self = await authorize(core, req, 'auth/token/revoke-self', 'update');
        await core.tokens.revoke(self);
        sendNoContent(res);
      },
    },
    'auth/token/revoke': {
      PUT: async (req, res) => {
        await authorize(core, req, 'auth/token/revoke', 'update');
        const record = await core.tokens.lookup(stringField(body(req), 'token'));
        if (record) await core.tokens.revoke(record);
        sendNoContent(res);
      },
    },
    'auth/token/revoke-accessor': {
      PUT: async (req, res) => {
        await authorize(core, req, 'auth/token/revoke-accessor', 'update');
        const record = await core.tokens.lookupAccessor(stringField(body(req), 'accessor'));
        if (record) await core.tokens.revoke(record);
        sendNoContent(res);
      },
    },
  };
}
