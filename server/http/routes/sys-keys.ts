import { rfc3339Nano } from '../../core/clock.js';
import { authorize } from '../auth.js';
import { sendLogical } from '../logical-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

/** Key status of the barrier's active term. Rotation itself arrives with the rotation issue. */
export function sysKeyRoutes({ core }: HttpDeps): RouteTable {
  return {
    'sys/key-status': {
      GET: async (req, res) => {
        await authorize(core, req, 'sys/key-status', 'read', false);
        const status = core.barrier.keyStatus();
        sendLogical(res, { term: status.term, install_time: rfc3339Nano(status.installTime), encryptions: status.encryptions }, { inject: true });
      },
    },
  };
}
