import type { RotationConfig } from '../../core/barrier/keyring.js';
import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import type { RotationService } from '../../core/rotation/rotation-service.js';
import { ROTATE_CONFIG_REQUEST } from '../../../shared/schemas.js';
import type { BodyValidator } from '../request-body.js';
import { formatGoDuration, parseDurationSeconds } from '../go-duration.js';
import { logical, noContent, type Handler, type RouteTable } from './route-table.js';

/** Key status, rotation and the automatic-rotation settings of the barrier keyring. */
export function sysKeyRoutes({ rotation, validator }: { rotation: RotationService; validator: BodyValidator }): RouteTable {
  const rotate: (path: string) => Handler = (path) => async (ctx) => {
    await ctx.authorize(path, 'update', true);
    await rotation.rotate();
    return noContent();
  };
  const readConfig: (path: string) => Handler = (path) => async (ctx) => {
    await ctx.authorize(path, 'read');
    const config = rotation.config();
    return logical({
      max_operations: config.maxOperations,
      interval: config.intervalSeconds === 0 ? 0 : formatGoDuration(config.intervalSeconds),
      enabled: config.enabled,
    });
  };
  const writeConfig: (path: string) => Handler = (path) => async (ctx) => {
    await ctx.authorize(path, 'update');
    const body = validator.parse<{ max_operations?: number | string; interval?: number | string; enabled?: boolean | string }>(
      ctx.rawBody,
      ROTATE_CONFIG_REQUEST,
    );
    const update: { -readonly [K in keyof RotationConfig]?: RotationConfig[K] } = {};
    if (body.max_operations !== undefined) {
      const n = typeof body.max_operations === 'string' && /^\d+$/.test(body.max_operations) ? Number(body.max_operations) : body.max_operations;
      if (typeof n !== 'number') throw new CofferError('invalid_request', 'max_operations must be an integer');
      update.maxOperations = n;
    }
    if (body.interval !== undefined) update.intervalSeconds = parseDurationSeconds(body.interval, 'interval');
    if (body.enabled !== undefined) {
      if (typeof body.enabled !== 'boolean' && body.enabled !== 'true' && body.enabled !== 'false')
        throw new CofferError('invalid_request', 'enabled must be a boolean');
      update.enabled = body.enabled === true || body.enabled === 'true';
    }
    await rotation.setConfig(update);
    return noContent();
  };
  return {
    'sys/key-status': {
      GET: async (ctx) => {
        await ctx.authorize('sys/key-status', 'read');
        const status = rotation.keyStatus();
        return logical({ term: status.term, install_time: rfc3339Nano(status.installTime), encryptions: status.encryptions }, { inject: true });
      },
    },
    'sys/rotate': { PUT: rotate('sys/rotate') },
    'sys/rotate/keyring': { PUT: rotate('sys/rotate/keyring') },
    'sys/rotate/config': { GET: readConfig('sys/rotate/config'), PUT: writeConfig('sys/rotate/config') },
    'sys/rotate/keyring/config': { GET: readConfig('sys/rotate/keyring/config'), PUT: writeConfig('sys/rotate/keyring/config') },
  };
}
