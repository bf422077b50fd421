import type { Request, Response } from 'express';
import { REKEY_INIT_REQUEST, REKEY_UPDATE_REQUEST } from '../../../shared/schemas.js';
import { decodeBackup, UNSEAL_KEYS_BACKUP_PATH } from '../../core/coffer-core.js';
import { CofferError } from '../../core/errors.js';
import { RECOVERY_KEYS_BACKUP_PATH } from '../../core/seal/recovery-key.js';
import type { RekeyTarget } from '../../core/rekey/rekey-manager.js';
import { authorize, requestToken } from '../auth.js';
import { sendJson, sendNoContent } from '../json-response.js';
import { sendLogical } from '../logical-response.js';
import type { Handler, HttpDeps, RouteTable } from './route-table.js';
import { decodeKeyShare } from './sys-seal.js';

interface InitBody {
  secret_shares?: number;
  secret_threshold?: number;
  pgp_keys?: string[];
  backup?: boolean;
  require_verification?: boolean;
}

/**
 * `sys/rekey/*` (target barrier) and `sys/rekey-recovery-key/*` (target recovery). Key holders authenticate with
 * their shares; with `disable_unauthed_rekey_endpoints` every endpoint also needs a token with update + sudo.
 */
export function sysRekeyRoutes(deps: HttpDeps): RouteTable {
  const { core, validator } = deps;

  const guard = async (req: Request, path: string) => {
    if (core.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
    if (deps.disableUnauthedRekeyEndpoints) await authorize(core, req, path, 'update', true);
  };
  const hasSudo = async (req: Request, path: string): Promise<boolean> => {
    const token = requestToken(req);
    const record = token ? await core.tokens.lookup(token) : undefined;
    if (!record) return false;
    const caps = (await core.policies.acl(record.policies)).capabilities(path);
    return caps.includes('root') || caps.includes('sudo');
  };
  /** Runs the finaliser only once the response carrying the new shares has been written out. */
  const afterResponse = (res: Response) => (finalise: () => Promise<void>) => {
    res.on('finish', () => {
      finalise().catch((err: unknown) => deps.logger.error({ err: (err as Error).message }, 'could not drop the old unseal key wrapping after a rekey'));
    });
  };
  const shareFrom = (req: Request) => {
    const body = validator.parse<{ key?: string; nonce?: string }>(req, REKEY_UPDATE_REQUEST);
    if (!body.key) throw new CofferError('invalid_request', "'key' must be specified in request body as JSON");
    const share = decodeKeyShare(body.key);
    if (share.length < 16) throw new CofferError('invalid_request', 'key is shorter than minimum 16 bytes');
    if (share.length > 33) throw new CofferError('invalid_request', 'key is longer than maximum 33 bytes');
    return { share, nonce: body.nonce ?? '' };
  };

  /** One share for `update` (a current share) or `verify` (a new share), zeroed once answered. */
  const submitShare =
    (prefix: string, target: RekeyTarget, step: 'update' | 'verify'): Handler =>
    async (req, res) => {
      await guard(req, `${prefix}/${step}`);
      const { share, nonce } = shareFrom(req);
      try {
        const submit = step === 'update' ? core.rekey.update.bind(core.rekey) : core.rekey.verify.bind(core.rekey);
        sendJson(res, 200, await submit(target, share, nonce, afterResponse(res)));
      } finally {
        share.fill(0);
      }
    };

  const routes = (prefix: string, target: RekeyTarget): RouteTable => ({
    [`${prefix}/init`]: {
      GET: async (req, res) => {
        await guard(req, `${prefix}/init`);
        sendJson(res, 200, await core.rekey.status(target));
      },
      PUT: async (req, res) => {
        await guard(req, `${prefix}/init`);
        const body = validator.parse<InitBody>(req, REKEY_INIT_REQUEST);
        const status = await core.rekey.init(target, {
          shares: body.secret_shares ?? 0,
          threshold: body.secret_threshold ?? 0,
          pgpKeys: body.pgp_keys ?? [],
          backup: body.backup ?? false,
          requireVerification: body.require_verification ?? false,
        });
        sendJson(res, 200, status);
      },
      DELETE: async (req, res) => {
        await guard(req, `${prefix}/init`);
        const nonce = typeof req.body?.nonce === 'string' ? (req.body.nonce as string) : undefined;
        await core.rekey.cancel(target, nonce, await hasSudo(req, `${prefix}/init`));
        sendNoContent(res);
      },
    },
    [`${prefix}/update`]: { PUT: submitShare(prefix, target, 'update') },
    [`${prefix}/verify`]: {
      GET: async (req, res) => {
        await guard(req, `${prefix}/verify`);
        sendJson(res, 200, await core.rekey.verifyStatus(target));
      },
      PUT: submitShare(prefix, target, 'verify'),
      DELETE: async (req, res) => {
        await guard(req, `${prefix}/verify`);
        sendJson(res, 200, await core.rekey.verifyCancel(target));
      },
    },
  });

  const backup = (path: string, target: RekeyTarget): Partial<Record<'GET' | 'DELETE', Handler>> => ({
    GET: async (req, res) => {
      await authorize(core, req, path, 'read');
      const raw = await core.barrier.get(target === 'barrier' ? UNSEAL_KEYS_BACKUP_PATH : RECOVERY_KEYS_BACKUP_PATH);
      if (!raw) throw new CofferError('invalid_request', 'no backed-up keys found');
      const { nonce, keys } = decodeBackup(raw);
      const keysBase64 = Object.fromEntries(Object.entries(keys).map(([fp, list]) => [fp, list.map((hex) => Buffer.from(hex, 'hex').toString('base64'))]));
      sendLogical(res, { nonce, keys, keys_base64: keysBase64 }, { inject: true });
    },
    DELETE: async (req, res) => {
      await authorize(core, req, path, 'delete');
      await core.barrier.delete(target === 'barrier' ? UNSEAL_KEYS_BACKUP_PATH : RECOVERY_KEYS_BACKUP_PATH);
      sendNoContent(res);
    },
  });

  return {
    ...routes('sys/rekey', 'barrier'),
    ...routes('sys/rekey-recovery-key', 'recovery'),
    'sys/rekey/backup': backup('sys/rekey/backup', 'barrier'),
    'sys/rekey/recovery-key-backup': backup('sys/rekey/recovery-key-backup', 'recovery'),
    // hvac reads recovery backups here; Vault only has the path above.
    'sys/rekey-recovery-key/backup': backup('sys/rekey-recovery-key/backup', 'recovery'),
  };
}
