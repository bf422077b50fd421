import type { RotationConfig } from '../../core/barrier/keyring.js';
import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { authorize } from '../auth.js';
import { formatGoDuration, parseDurationSeconds } from '../go-duration.js';
import { sendNoContent } from '../json-response.js';
import { sendLogical } from '../logical-response.js';
import type { Handler, HttpDeps, RouteTable } from './route-table.js';

/** Key status, rotation and the automatic-rotation settings of the barrier keyring. */
export function sysKeyRoutes({ core }: HttpDeps): RouteTable {
  const rotate: (path: string) => Handler = (path) => async (req, res) => {
    await authorize(core, req, path, 'update', true);
    await core.rotate();
    sendNoContent(res);
  };
  const readConfig: (path: string) => Handler = (path) => async (req, res) => {
    await authorize(core, req, path, 'read');
    const config = core.rotationConfig();
    sendLogical(res, {
      max_operations: config.maxOperations,
      interval: config.intervalSeconds === 0 ? 0 : formatGoDuration(config.intervalSeconds),
      enabled: config.enabled,
    });
  };
  const writeConfig: (path: string) => Handler = (path) => async (req, res) => {
    await authorize(core, req, path, 'update');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const update: { -readonly [K in keyof RotationConfig]?: RotationConfig[K] } = {};
    if (body.max_operations !== undefined && body.max_operations !== null) {
      const n = typeof body.max_operations === 'string' && /^\d+$/.test(body.max_operations) ? Number(body.max_operations) : body.max_operations;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new CofferError('invalid_request', 'max_operations must be an integer');
      update.maxOperations = n;
    }
    if (body.interval !== undefined && body.interval !== null) update.intervalSeconds = parseDurationSeconds(body.interval, 'interval');
    if (body.enabled !== undefined && body.enabled !== null) {
      if (typeof body.enabled !== 'boolean' && body.enabled !== 'true' && body.enabled !== 'false') {
        throw new CofferError('invalid_request', 'enabled must be a boolean');
      }
      update.enabled = body.enabled === true || body.enabled === 'true';
    }
    await core.setRotationConfig(update);
    sendNoContent(res);
  };
  return {
    'sys/key-status': {
      GET: async (req, res) => {
        await authorize(core, req, 'sys/key-status', 'read');
        const status = core.barrier.keyStatus();
        sendLogical(res, { term: status.term, install_time: rfc3339Nano(status.installTime), encryptions: status.encryptions }, { inject: true });
      },
    },
    'sys/rotate': { PUT: rotate('sys/rotate') },
    'sys/rotate/keyring': { PUT: rotate('sys/rotate/keyring') },
    'sys/rotate/config': { GET: readConfig('sys/rotate/config'), PUT: writeConfig('sys/rotate/config') },
    'sys/rotate/keyring/config': { GET: readConfig('sys/rotate/keyring/config'), PUT: writeConfig('sys/rotate/keyring/config') },
  };
}
