import type { RekeyResultResponse, RekeyStatusResponse, RekeyVerifyStatusResponse } from '../../../shared/api-types.js';
import { REKEY_CANCEL_REQUEST, REKEY_INIT_REQUEST, REKEY_UPDATE_REQUEST } from '../../../shared/schemas.js';
import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { RekeyEngine, RekeyTarget } from '../../core/rekey/rekey-engine.js';
import type { RekeyResult, RekeyStatus, VerifyStatus } from '../../core/rekey/rekey-status.js';
import type { RequestContext } from '../request-context.js';
import type { BodyValidator } from '../request-body.js';
import { json, logical, noContent, type Handler, type RouteTable } from './route-table.js';
import { decodeKeyShare } from './sys-seal.js';

interface InitBody {
  secret_shares?: number;
  secret_threshold?: number;
  pgp_keys?: string[];
  backup?: boolean;
  require_verification?: boolean;
}

/** A PGP public key (base64 of the binary key, or armored) is a few KiB; anything far larger is refused. */
export const MAX_PGP_KEY_CHARS = 64 * 1024;

export interface SysRekeyDeps {
  rekey: RekeyEngine;
  lifecycle: Lifecycle;
  validator: BodyValidator;
  /** Config `disable_unauthed_rekey_endpoints`: rekey endpoints then need a token with update + sudo. */
  disableUnauthedRekeyEndpoints: boolean;
}

function statusBody(s: RekeyStatus): RekeyStatusResponse & { started_time?: string; warnings?: readonly string[] } {
  return {
    nonce: s.nonce,
    started: s.started,
    t: s.threshold,
    n: s.shares,
    progress: s.progress,
    required: s.required,
    pgp_fingerprints: s.pgpFingerprints ? [...s.pgpFingerprints] : null,
    backup: s.backup,
    verification_required: s.verificationRequired,
    ...(s.verificationNonce !== undefined ? { verification_nonce: s.verificationNonce } : {}),
    // Not in Vault: key holders see when the operation they are about to feed was started.
    ...(s.startedAt ? { started_time: rfc3339Nano(s.startedAt) } : {}),
    ...(s.warnings ? { warnings: s.warnings } : {}),
  };
}

function resultBody(r: RekeyResult): RekeyResultResponse {
  return {
    nonce: r.nonce,
    complete: true,
    keys: r.keys.map((k) => Buffer.from(k).toString('hex')),
    keys_base64: r.keys.map((k) => Buffer.from(k).toString('base64')),
    pgp_fingerprints: r.pgpFingerprints ? [...r.pgpFingerprints] : null,
    backup: r.backup,
    verification_required: r.verificationRequired,
    ...(r.verificationNonce !== undefined ? { verification_nonce: r.verificationNonce } : {}),
  };
}

function verifyBody(v: VerifyStatus): RekeyVerifyStatusResponse {
  return { nonce: v.nonce, started: v.started, t: v.threshold, n: v.shares, progress: v.progress };
}

/**
 * `sys/rekey/*` (target barrier) and `sys/rekey-recovery-key/*` (target recovery). Key holders authenticate with
 * their shares; with `disable_unauthed_rekey_endpoints` every endpoint also needs a token with update + sudo.
 */
export function sysRekeyRoutes({ rekey, lifecycle, validator, disableUnauthedRekeyEndpoints }: SysRekeyDeps): RouteTable {
  const guard = async (ctx: RequestContext, path: string) => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    if (disableUnauthedRekeyEndpoints) await ctx.authorize(path, 'update', true);
  };
  const shareFrom = (ctx: RequestContext) => {
    const body = validator.parse<{ key?: string; nonce?: string }>(ctx.rawBody, REKEY_UPDATE_REQUEST);
    if (!body.key) throw new CofferError('invalid_request', "'key' must be specified in request body as JSON");
    const share = decodeKeyShare(body.key);
    if (share.length < 16 || share.length > 33) {
      share.fill(0);
      throw new CofferError('invalid_request', share.length < 16 ? 'key is shorter than minimum 16 bytes' : 'key is longer than maximum 33 bytes');
    }
    return { share, nonce: body.nonce ?? '' };
  };

  /** One share for `update` (a current share) or `verify` (a new share), zeroed once answered. */
  const submitShare =
    (prefix: string, target: RekeyTarget, step: 'update' | 'verify'): Handler =>
    async (ctx) => {
      await guard(ctx, `${prefix}/${step}`);
      const { share, nonce } = shareFrom(ctx);
      // The old shares stop working only once the new ones have been delivered (see RekeyEngine / commitRekey).
      const onCommitted = (finalise: () => Promise<void>) => ctx.afterDelivery(finalise, `the ${target} rekey`);
      try {
        if (step === 'verify') {
          const result = await rekey.verify(target, share, nonce, onCommitted);
          return json(200, 'complete' in result ? result : verifyBody(result));
        }
        const result = await rekey.update(target, share, nonce, onCommitted);
        if (!('complete' in result)) return json(200, statusBody(result));
        const body = resultBody(result);
        for (const k of result.keys) k.fill(0);
        return json(200, body);
      } finally {
        share.fill(0);
      }
    };

  const routes = (prefix: string, target: RekeyTarget): RouteTable => ({
    [`${prefix}/init`]: {
      GET: async (ctx) => {
        await guard(ctx, `${prefix}/init`);
        return json(200, statusBody(await rekey.status(target)));
      },
      PUT: async (ctx) => {
        await guard(ctx, `${prefix}/init`);
        const body = validator.parse<InitBody>(ctx.rawBody, REKEY_INIT_REQUEST);
        const pgpKeys = body.pgp_keys ?? [];
        if (pgpKeys.some((k) => k.length > MAX_PGP_KEY_CHARS))
          throw new CofferError('invalid_request', `pgp_keys: a key is larger than ${MAX_PGP_KEY_CHARS} characters`);
        const status = await rekey.init(target, {
          shares: body.secret_shares ?? 0,
          threshold: body.secret_threshold ?? 0,
          pgpKeys,
          backup: body.backup ?? false,
          requireVerification: body.require_verification ?? false,
        });
        return json(200, statusBody(status));
      },
      DELETE: async (ctx) => {
        await guard(ctx, `${prefix}/init`);
        const { nonce } = validator.parse<{ nonce?: string }>(ctx.rawBody, REKEY_CANCEL_REQUEST);
        await rekey.cancel(target, nonce, await ctx.hasSudo(`${prefix}/init`));
        return noContent();
      },
    },
    [`${prefix}/update`]: { PUT: submitShare(prefix, target, 'update') },
    [`${prefix}/verify`]: {
      GET: async (ctx) => {
        await guard(ctx, `${prefix}/verify`);
        return json(200, verifyBody(await rekey.verifyStatus(target)));
      },
      PUT: submitShare(prefix, target, 'verify'),
      DELETE: async (ctx) => {
        await guard(ctx, `${prefix}/verify`);
        return json(200, verifyBody(await rekey.verifyCancel(target)));
      },
    },
  });

  const backup = (path: string, target: RekeyTarget): Partial<Record<'GET' | 'DELETE', Handler>> => ({
    GET: async (ctx) => {
      await ctx.authorize(path, 'read');
      const { nonce, keys } = await rekey.readBackup(target);
      const keysBase64 = Object.fromEntries(
        Object.entries(keys).map(([fp, list]) => [fp, list.map((hex) => Buffer.from(hex, 'hex').toString('base64'))]),
      );
      return logical({ nonce, keys, keys_base64: keysBase64 }, { inject: true });
    },
    DELETE: async (ctx) => {
      await ctx.authorize(path, 'delete');
      await rekey.deleteBackup(target);
      return noContent();
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
