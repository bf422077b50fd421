import { CofferError } from '../../core/errors.js';
import type { RewrapService } from '../../core/rotation/job-runner.js';
import { parseRewrapSpec, type RewrapSpec } from '../../core/rotation/rewrap-spec.js';
import { json, logical, type Handler, type RouteTable } from './route-table.js';
import type { RequestContext } from '../request-context.js';

/** Refuses any body field outside `allowed` (a field Coffer accepts takes effect or is refused, never ignored). */
export function onlyFields(ctx: RequestContext, allowed: readonly string[]): void {
  for (const key of Object.keys(ctx.body)) if (!allowed.includes(key)) throw new CofferError('invalid_request', `unknown field "${key}"`);
}

export interface SysRewrapDeps {
  rewrap: RewrapService;
  /** Parses a YAML spec body (`Content-Type: application/yaml`); absent: YAML is refused. */
  parseYaml?: (text: string) => RewrapSpec;
}

/**
 * Rewrap jobs (`sys/rewrap/jobs…`) and the term census (`sys/rewrap/census`). Every route needs `sudo` on its path.
 * Statuses never carry values; failures carry paths and error classes only.
 */
export function sysRewrapRoutes({ rewrap, parseYaml }: SysRewrapDeps): RouteTable {
  const withJob =
    (action: 'pause' | 'resume' | 'cancel'): Handler =>
    async (ctx) => {
      await ctx.authorize(`sys/rewrap/jobs/${ctx.params.id}/${action}`, 'update', true);
      onlyFields(ctx, []);
      const job = await rewrap[action](ctx.params.id!);
      return logical(rewrap.status(job));
    };
  return {
    'sys/rewrap/jobs': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/rewrap/jobs', 'update', true);
        let spec: RewrapSpec;
        if (typeof ctx.rawBody === 'string') {
          if (!parseYaml) throw new CofferError('invalid_request', 'YAML specs are not supported');
          spec = parseYaml(ctx.rawBody);
        } else {
          onlyFields(ctx, ['spec']);
          if (ctx.body.spec === undefined) throw new CofferError('invalid_request', 'missing field "spec"');
          spec = parseRewrapSpec(ctx.body.spec);
        }
        const job = await rewrap.start(spec);
        return json(202, {
          job_id: job.job_id,
          state: job.state,
          target_term: job.target_term,
          source_terms: job.source_terms,
          dry_run: spec.dryRun,
        });
      },
      GET: async (ctx) => list(ctx),
      LIST: async (ctx) => list(ctx),
    },
    'sys/rewrap/jobs/:id': {
      GET: async (ctx) => {
        await ctx.authorize(`sys/rewrap/jobs/${ctx.params.id}`, 'read', true);
        return logical(rewrap.status(await rewrap.get(ctx.params.id!)));
      },
    },
    'sys/rewrap/jobs/:id/pause': { PUT: withJob('pause') },
    'sys/rewrap/jobs/:id/resume': { PUT: withJob('resume') },
    'sys/rewrap/jobs/:id/cancel': { PUT: withJob('cancel') },
    'sys/rewrap/jobs/:id/failures': {
      GET: async (ctx) => {
        await ctx.authorize(`sys/rewrap/jobs/${ctx.params.id}/failures`, 'read', true);
        const job = await rewrap.get(ctx.params.id!);
        return logical({ failures_total: job.failures_total, recorded: job.failures.length, failures: job.failures });
      },
    },
    'sys/rewrap/census': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/rewrap/census', 'update', true);
        onlyFields(ctx, []);
        const census = await rewrap.startCensus();
        return json(202, { census_id: census.census_id, state: census.state });
      },
      GET: async (ctx) => {
        await ctx.authorize('sys/rewrap/census', 'read', true);
        const census = rewrap.census ?? (await rewrap.lastCompletedCensus());
        if (!census) throw new CofferError('unsupported_path', 'no census has been run');
        return logical({ ...census });
      },
    },
  };

  async function list(ctx: RequestContext) {
    await ctx.authorize('sys/rewrap/jobs', 'list', true);
    const jobs = await rewrap.list();
    return logical({
      keys: jobs.map((j) => j.job_id),
      jobs: jobs.map((j) => {
        const s = rewrap.status(j);
        return {
          job_id: j.job_id,
          state: j.state,
          created_at: j.created_at,
          target_term: j.target_term,
          percent: (s.progress as { percent: number }).percent,
        };
      }),
    });
  }
}
