import { INIT_REQUEST } from '../../../shared/schemas.js';
import type { InitRequestBody, InitResponse } from '../../../shared/api-types.js';
import { sendJson } from '../json-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

export function sysInitRoutes({ core, validator }: HttpDeps): RouteTable {
  return {
    'sys/init': {
      GET: async (_req, res) => sendJson(res, 200, { initialized: await core.initialized() }),
      PUT: async (req, res) => {
        const body = validator.parse<InitRequestBody>(req, INIT_REQUEST);
        const result = await core.initialize({
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
        sendJson(res, 200, response);
      },
    },
  };
}
