import { CofferError } from '../../core/errors.js';
import { normalisePolicyName } from '../../core/policy/policy.js';
import type { PolicyStore } from '../../core/policy/policy-store.js';
import { CAPABILITIES_REQUEST, POLICY_WRITE_REQUEST } from '../../../shared/schemas.js';
import type { BodyValidator } from '../request-body.js';
import { logical, noContent, type Handler, type RouteTable } from './route-table.js';

function policyText(body: { policy?: string; rules?: string }): string {
  // `policy` is the current field; `rules` is what the legacy sys/policy endpoint and older clients send.
  const text = body.policy ?? body.rules;
  if (text === undefined || text.trim() === '') throw new CofferError('invalid_request', "'policy' parameter not supplied or empty");
  return text;
}

async function readPolicy(policies: PolicyStore, name: string): Promise<{ name: string; text: string } | undefined> {
  const key = normalisePolicyName(name);
  if (key === 'root') return { name: 'root', text: '' };
  const policy = await policies.get(key);
  return policy ? { name: policy.name, text: policy.text } : undefined;
}

/** Vault's two policy APIs: legacy `sys/policy` (injected responses, `rules`) and `sys/policies/acl` (`policy`). */
export function sysPolicyRoutes({ policies, validator }: { policies: PolicyStore; validator: BodyValidator }): RouteTable {
  const listLegacy: Handler = async (ctx) => {
    await ctx.authorize('sys/policy', ctx.query.list === 'true' ? 'list' : 'read');
    const names = await policies.list();
    return logical({ keys: names, policies: names }, { inject: true });
  };
  const write: (prefix: string) => Handler = (prefix) => async (ctx) => {
    const { name } = ctx.params;
    await ctx.authorize(`${prefix}/${name}`, 'update');
    await policies.put(name!, policyText(validator.parse(ctx.rawBody, POLICY_WRITE_REQUEST)));
    return noContent();
  };
  const remove: (prefix: string) => Handler = (prefix) => async (ctx) => {
    const { name } = ctx.params;
    await ctx.authorize(`${prefix}/${name}`, 'delete');
    await policies.delete(name!);
    return noContent();
  };
  return {
    'sys/policy': { GET: listLegacy, LIST: listLegacy },
    'sys/policy/:name': {
      GET: async (ctx) => {
        const { name } = ctx.params;
        await ctx.authorize(`sys/policy/${name}`, 'read');
        const policy = await readPolicy(policies, name!);
        if (!policy) throw new CofferError('unsupported_path', 'policy not found');
        return logical({ name: policy.name, rules: policy.text }, { inject: true });
      },
      PUT: write('sys/policy'),
      DELETE: remove('sys/policy'),
    },
    'sys/policies/acl': {
      LIST: async (ctx) => {
        await ctx.authorize('sys/policies/acl', 'list');
        return logical({ keys: await policies.list() });
      },
    },
    'sys/policies/acl/:name': {
      GET: async (ctx) => {
        const { name } = ctx.params;
        await ctx.authorize(`sys/policies/acl/${name}`, 'read');
        const policy = await readPolicy(policies, name!);
        if (!policy) throw new CofferError('unsupported_path', 'policy not found');
        return logical({ name: policy.name, policy: policy.text });
      },
      PUT: write('sys/policies/acl'),
      DELETE: remove('sys/policies/acl'),
    },
    'sys/capabilities-self': {
      PUT: async (ctx) => {
        const entry = await ctx.authorize('sys/capabilities-self', 'update');
        const body = validator.parse<{ path?: string; paths?: unknown[] | string }>(ctx.rawBody, CAPABILITIES_REQUEST);
        const paths = Array.isArray(body.paths)
          ? body.paths.map(String)
          : body.path !== undefined
            ? [body.path]
            : body.paths !== undefined
              ? [body.paths]
              : [];
        if (paths.length === 0) throw new CofferError('invalid_request', "'paths' must be specified");
        const acl = await policies.acl(entry.policies);
        const result: Record<string, unknown> = {};
        for (const p of paths) result[p] = acl.capabilities(p.replace(/^\//, ''));
        if (paths.length === 1) result.capabilities = result[paths[0]!];
        return logical(result, { inject: true });
      },
    },
  };
}
