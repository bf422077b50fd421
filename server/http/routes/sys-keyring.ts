import { CofferError } from '../../core/errors.js';
import { GateRefusal, type RetirementService } from '../../core/rotation/retirement.js';
import { json, logical, type Handler, type RouteTable } from './route-table.js';
import { onlyFields } from './sys-rewrap.js';

/** Soft retirement and trimming of old keyring terms (`sys/keyring/retire|unretire|trim`), all `sudo`. */
export function sysKeyringRoutes({ retirement }: { retirement: RetirementService }): RouteTable {
  const gate =
    (path: string, run: (body: Readonly<Record<string, unknown>>) => Promise<Record<string, unknown>>, fields: string[]): Handler =>
    async (ctx) => {
      await ctx.authorize(path, 'update', true);
      onlyFields(ctx, fields);
      try {
        return logical(await run(ctx.body));
      } catch (err) {
        // 409 with the census counts that block the gate, per term (counts only, never paths).
        if (err instanceof GateRefusal) return json(409, { errors: [err.message], blocking_terms: err.blocking });
        throw err;
      }
    };
  const int = (value: unknown, field: string): number => {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new CofferError('invalid_request', `${field} must be an integer`);
    return n;
  };
  return {
    'sys/keyring/retire': {
      PUT: gate(
        'sys/keyring/retire',
        async (b) => {
          if (b.dry_run !== undefined && typeof b.dry_run !== 'boolean') throw new CofferError('invalid_request', 'dry_run must be a boolean');
          return retirement.retire(int(b.min_decryption_term, 'min_decryption_term'), b.dry_run === true);
        },
        ['min_decryption_term', 'dry_run'],
      ),
    },
    'sys/keyring/unretire': {
      PUT: gate('sys/keyring/unretire', async (b) => retirement.unretire(int(b.min_decryption_term, 'min_decryption_term')), ['min_decryption_term']),
    },
    'sys/keyring/trim': {
      PUT: gate(
        'sys/keyring/trim',
        async (b) => {
          if (b.confirm_token !== undefined && typeof b.confirm_token !== 'string')
            throw new CofferError('invalid_request', 'confirm_token must be a string');
          return { ...(await retirement.trim(int(b.min_available_term, 'min_available_term'), b.confirm_token)) };
        },
        ['min_available_term', 'confirm_token'],
      ),
    },
  };
}
