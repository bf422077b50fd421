import { DECODE_TOKEN_REQUEST, GENERATE_ROOT_INIT_REQUEST, GENERATE_ROOT_UPDATE_REQUEST } from '../../../shared/schemas.js';
import { rfc3339Nano } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { decodeToken, type GenerateRoot, type GenerateRootResult, type GenerateRootStatus } from '../../core/generate-root/generate-root.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { RequestContext } from '../request-context.js';
import type { BodyValidator } from '../request-body.js';
import { json, logical, noContent, type RouteTable } from './route-table.js';
import { MAX_PGP_KEY_CHARS } from './sys-rekey.js';
import { decodeKeyShare } from './sys-seal.js';

export interface SysGenerateRootDeps {
  generateRoot: GenerateRoot;
  lifecycle: Lifecycle;
  validator: BodyValidator;
  /** Config `disable_unauthed_generate_root_endpoints`: the endpoints then need a token with update + sudo. */
  disableUnauthedGenerateRootEndpoints: boolean;
}

function statusBody(s: GenerateRootStatus, otp = '') {
  return {
    started: s.started,
    nonce: s.nonce,
    progress: s.progress,
    required: s.required,
    complete: false,
    encoded_token: '',
    encoded_root_token: '',
    pgp_fingerprint: s.pgpFingerprint,
    otp,
    otp_length: s.otpLength,
    // Not in Vault: key holders see when the attempt they are about to feed was started.
    ...(s.startedAt ? { started_time: rfc3339Nano(s.startedAt) } : {}),
  };
}

function resultBody(r: GenerateRootResult, required: number) {
  return {
    started: true,
    nonce: r.nonce,
    progress: required,
    required,
    complete: true,
    encoded_token: r.encodedToken,
    encoded_root_token: r.encodedToken,
    pgp_fingerprint: r.pgpFingerprint,
    otp: '',
    otp_length: 0,
  };
}

/**
 * `sys/generate-root/*` (Vault's fields and errors) and `sys/decode-token`. Key holders authenticate with their
 * shares; with `disable_unauthed_generate_root_endpoints` every endpoint also needs a token with update + sudo.
 */
export function sysGenerateRootRoutes({ generateRoot, lifecycle, validator, disableUnauthedGenerateRootEndpoints }: SysGenerateRootDeps): RouteTable {
  const guard = async (ctx: RequestContext, path: string) => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    if (disableUnauthedGenerateRootEndpoints) await ctx.authorize(path, 'update', true);
  };
  return {
    'sys/generate-root/attempt': {
      GET: async (ctx) => {
        await guard(ctx, 'sys/generate-root/attempt');
        return json(200, statusBody(await generateRoot.status()));
      },
      PUT: async (ctx) => {
        await guard(ctx, 'sys/generate-root/attempt');
        const body = validator.parse<{ otp?: string; pgp_key?: string }>(ctx.rawBody, GENERATE_ROOT_INIT_REQUEST);
        if (body.pgp_key !== undefined && body.pgp_key.length > MAX_PGP_KEY_CHARS)
          throw new CofferError('invalid_request', `pgp_key: larger than ${MAX_PGP_KEY_CHARS} characters`);
        const { status, otp } = await generateRoot.start({
          ...(body.otp ? { otp: body.otp } : {}),
          ...(body.pgp_key ? { pgpKey: body.pgp_key } : {}),
        });
        return json(200, statusBody(status, otp));
      },
      DELETE: async (ctx) => {
        await guard(ctx, 'sys/generate-root/attempt');
        await generateRoot.cancel(await ctx.hasSudo('sys/generate-root/attempt'));
        return noContent();
      },
    },
    'sys/generate-root/update': {
      PUT: async (ctx) => {
        await guard(ctx, 'sys/generate-root/update');
        const body = validator.parse<{ key?: string; nonce?: string }>(ctx.rawBody, GENERATE_ROOT_UPDATE_REQUEST);
        if (!body.key) throw new CofferError('invalid_request', "'key' must be specified in request body as JSON");
        const share = decodeKeyShare(body.key);
        try {
          if (share.length < 16) throw new CofferError('invalid_request', 'key is shorter than minimum 16 bytes');
          if (share.length > 33) throw new CofferError('invalid_request', 'key is longer than maximum 33 bytes');
          const result = await generateRoot.update(share, body.nonce ?? '');
          if (!('complete' in result)) return json(200, statusBody(result));
          return json(200, resultBody(result, (await generateRoot.status()).required));
        } finally {
          share.fill(0);
        }
      },
    },
    'sys/decode-token': {
      PUT: async (ctx) => {
        const body = validator.parse<{ encoded_token?: string; otp?: string }>(ctx.rawBody, DECODE_TOKEN_REQUEST);
        if (!body.encoded_token || !body.otp) throw new CofferError('invalid_request', 'encoded_token and otp must be specified');
        return logical({ token: decodeToken(body.encoded_token, body.otp) });
      },
    },
  };
}
