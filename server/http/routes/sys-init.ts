import type { InitRequestBody, InitResponse } from '../../../shared/api-types.js';
import { INIT_REQUEST } from '../../../shared/schemas.js';
import type { InitRequest, InitResult } from '../../core/lifecycle/initializer.js';
import type { BodyValidator } from '../request-body.js';
import { json, type RouteTable } from './route-table.js';

export interface SysInitDeps {
  validator: BodyValidator;
  initialized: () => Promise<boolean>;
  initialize: (request: InitRequest) => Promise<InitResult>;
}

export function sysInitRoutes({ validator, initialized, initialize }: SysInitDeps): RouteTable {
  return {
    'sys/init': {
      GET: async () => json(200, { initialized: await initialized() }),
      PUT: async (ctx) => {
        const body = validator.parse<InitRequestBody>(ctx.rawBody, INIT_REQUEST);
        const result = await initialize({
          secretShares: body.secret_shares ?? 0,
          secretThreshold: body.secret_threshold ?? 0,
          pgpKeys: body.pgp_keys ?? [],
          rootTokenPgpKey: body.root_token_pgp_key ?? '',
          recoveryShares: body.recovery_shares ?? 0,
          recoveryThreshold: body.recovery_threshold ?? 0,
          recoveryPgpKeys: body.recovery_pgp_keys ?? [],
        });
        const response: InitResponse = {
          keys: result.keys.map((k) => Buffer.from(k).toString('hex')),
          keys_base64: result.keys.map((k) => Buffer.from(k).toString('base64')),
          ...(result.recoveryKeys
            ? {
                recovery_keys: result.recoveryKeys.map((k) => Buffer.from(k).toString('hex')),
                recovery_keys_base64: result.recoveryKeys.map((k) => Buffer.from(k).toString('base64')),
              }
            : {}),
          root_token: result.rootToken,
        };
        for (const k of [...result.keys, ...(result.recoveryKeys ?? [])]) k.fill(0);
        return json(200, response);
      },
    },
  };
}
