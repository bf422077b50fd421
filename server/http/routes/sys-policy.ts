import type { Request } from 'express';
import type { CofferCore } from '../../core/coffer-core.js';
import { CofferError } from '../../core/errors.js';
import { normalisePolicyName } from '../../core/policy/policy.js';
import { authorize } from '../auth.js';
import { sendNoContent } from '../json-response.js';
import { sendLogical } from '../logical-response.js';
import type { Handler, HttpDeps, RouteTable } from './route-table.js';

function policyText(req: Request): string {
  const body = (req.body ?? {}) as Record<string, unknown>;
  // `policy` is the current field; `rules` is what the legacy sys/policy endpoint and older clients send.
  const text = body.policy ?? body.rules;
  if (typeof text !== 'string' || text.trim() === '') throw new CofferError('invalid_request', "'policy' parameter not supplied or empty");
  return text;
}

async function readPolicy(core: CofferCore, name: string): Promise<{ name: string; text: string } | undefined> {
  const key = normalisePolicyName(name);
  if (key === 'root') return { name: 'root', text: '' };
  const policy = await core.policies.get(key);
  return policy ? { name: policy.name, text: policy.text } : undefined;
}

/** Vault's two policy APIs: legacy `sys/policy` (injected responses, `rules`) and `sys/policies/acl` (`policy`). */
export function sysPolicyRoutes({ core }: HttpDeps): RouteTable {
  const listLegacy: Handler = async (req, res) => {
    await authorize(core, req, 'sys/policy', req.method === 'GET' && req.query.list !== 'true' ? 'read' : 'list');
    const names = await core.policies.list();
    sendLogical(res, { keys: names, policies: names }, { inject: true });
  };
  const write: (prefix: string) => Handler = (prefix) => async (req, res, { name }) => {
    await authorize(core, req, `${prefix}/${name}`, 'update');
    await core.policies.put(name!, policyText(req));
    sendNoContent(res);
  };
  const remove: (prefix: string) => Handler = (prefix) => async (req, res, { name }) => {
    await authorize(core, req, `${prefix}/${name}`, 'delete');
    await core.policies.delete(name!);
    sendNoContent(res);
  };
  return {
    'sys/policy': { GET: listLegacy, LIST: listLegacy },
    'sys/policy/:name': {
      GET: async (req, res, { name }) => {
        await authorize(core, req, `sys/policy/${name}`, 'read');
        const policy = await readPolicy(core, name!);
        if (!policy) throw new CofferError('unsupported_path', 'policy not found');
        sendLogical(res, { name: policy.name, rules: policy.text }, { inject: true });
      },
      PUT: write('sys/policy'),
      DELETE: remove('sys/policy'),
    },
    'sys/policies/acl': {
      LIST: async (req, res) => {
        await authorize(core, req, 'sys/policies/acl', 'list');
        sendLogical(res, { keys: await core.policies.list() });
      },
    },
    'sys/policies/acl/:name': {
      GET: async (req, res, { name }) => {
        await authorize(core, req, `sys/policies/acl/${name}`, 'read');
        const policy = await readPolicy(core, name!);
        if (!policy) throw new CofferError('unsupported_path', 'policy not found');
        sendLogical(res, { name: policy.name, policy: policy.text });
      },
      PUT: write('sys/policies/acl'),
      DELETE: remove('sys/policies/acl'),
    },
    'sys/capabilities-self': {
      PUT: async (req, res) => {
        const entry = await authorize(core, req, 'sys/capabilities-self', 'update');
        const body = (req.body ?? {}) as { path?: unknown; paths?: unknown };
        const paths = Array.isArray(body.paths) ? body.paths.map(String) : typeof body.path === 'string' ? [body.path] : typeof body.paths === 'string' ? [body.paths] : [];
        if (paths.length === 0) throw new CofferError('invalid_request', "'paths' must be specified");
        const acl = await core.policies.acl(entry.policies);
        const result: Record<string, unknown> = {};
        for (const p of paths) result[p] = acl.capabilities(p.replace(/^\//, ''));
        if (paths.length === 1) result.capabilities = result[paths[0]!];
        sendLogical(res, result, { inject: true });
      },
    },
  };
}
