import type { CofferMetrics } from '../../metrics/metrics.js';
import { json, type RouteTable } from './route-table.js';

/**
 * `sys/metrics`: Prometheus text with `?format=prometheus`, prom-client's JSON otherwise. Needs `read` on
 * `sys/metrics` unless a listener opts in to unauthenticated access; then it also answers while sealed, which
 * is when `coffer_sealed` matters most.
 */
export function sysMetricsRoutes({ metrics, unauthenticatedMetrics }: { metrics: CofferMetrics; unauthenticatedMetrics: boolean }): RouteTable {
  return {
    'sys/metrics': {
      GET: async (ctx) => {
        if (!unauthenticatedMetrics) await ctx.authorize('sys/metrics', 'read');
        if (ctx.query.format === 'prometheus') return { kind: 'text', status: 200, contentType: metrics.contentType, text: await metrics.text() };
        return json(200, { data: await metrics.json() });
      },
    },
  };
}
