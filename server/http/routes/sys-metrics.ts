import { authorize } from '../auth.js';
import { sendJson } from '../json-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

/**
 * `sys/metrics`: Prometheus text with `?format=prometheus`, prom-client's JSON otherwise. Needs `read` on
 * `sys/metrics` unless a listener opts in to unauthenticated access; then it also answers while sealed, which
 * is when `coffer_sealed` matters most.
 */
export function sysMetricsRoutes({ core, metrics, unauthenticatedMetrics }: HttpDeps): RouteTable {
  return {
    'sys/metrics': {
      GET: async (req, res) => {
        if (!unauthenticatedMetrics) await authorize(core, req, 'sys/metrics', 'read');
        if (req.query.format === 'prometheus') {
          res.status(200).setHeader('Content-Type', metrics.contentType);
          res.end(await metrics.text());
          return;
        }
        sendJson(res, 200, { data: await metrics.json() });
      },
    },
  };
}
