import type { AuditBroker, AuditTableEntry } from '../../core/audit/audit-broker.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import { logical, noContent, type RouteTable } from './route-table.js';

const ENABLE_KEYS = new Set(['type', 'description', 'options', 'local']);

function describe(entry: AuditTableEntry): Record<string, unknown> {
  return { type: entry.type, description: entry.description, options: { ...entry.options }, local: false, path: entry.path };
}

/**
 * `sys/audit` (list, sudo), `sys/audit/:path` (enable, disable; sudo) and `sys/audit-hash/:path`. Enabling through
 * the API works with a sudo token, as in Vault; devices declared in the server configuration cannot be changed here.
 */
export function sysAuditRoutes({ audit, lifecycle }: { audit: AuditBroker; lifecycle: Lifecycle }): RouteTable {
  const unsealed = () => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
  };
  return {
    'sys/audit': {
      GET: async (ctx) => {
        await ctx.authorize('sys/audit', 'read', true);
        unsealed();
        const listed: Record<string, unknown> = {};
        for (const entry of audit.list()) listed[entry.path] = describe(entry);
        return logical(listed, { inject: true });
      },
    },
    'sys/audit/*path': {
      PUT: async (ctx) => {
        const path = ctx.params.path!;
        await ctx.authorize(`sys/audit/${path}`, 'update', true);
        unsealed();
        const body = ctx.body;
        const unknown = Object.keys(body).filter((k) => !ENABLE_KEYS.has(k));
        if (unknown.length > 0) throw new CofferError('invalid_request', `unknown field(s): ${unknown.sort().join(', ')}`);
        if (typeof body.type !== 'string' || body.type === '') throw new CofferError('invalid_request', 'backend type must be specified');
        if (body.description !== undefined && typeof body.description !== 'string')
          throw new CofferError('invalid_request', 'description must be a string');
        if (body.local !== undefined && body.local !== false && body.local !== 'false') {
          throw new CofferError('invalid_request', 'local audit devices are not supported: Coffer runs one node, every device is local to it');
        }
        await audit.enable(path, body.type, body.description ?? '', body.options);
        return noContent();
      },
      DELETE: async (ctx) => {
        const path = ctx.params.path!;
        await ctx.authorize(`sys/audit/${path}`, 'delete', true);
        unsealed();
        await audit.disable(path);
        return noContent();
      },
    },
    'sys/audit-hash/*path': {
      PUT: async (ctx) => {
        const path = ctx.params.path!;
        await ctx.authorize(`sys/audit-hash/${path}`, 'update');
        unsealed();
        const input = ctx.body.input;
        if (typeof input !== 'string') throw new CofferError('invalid_request', 'the "input" parameter is required and must be a string');
        return logical({ hash: audit.hash(path, input) }, { inject: true });
      },
    },
  };
}
