import { WRAPPING_TOKEN_REQUEST } from '../../../shared/schemas.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { ResponseWrapping } from '../../core/wrapping/response-wrapping.js';
import type { BodyValidator } from '../request-body.js';
import type { RequestContext } from '../request-context.js';
import { WRAP_TTL_HEADER } from '../response-wrapping-step.js';
import { json, logical, type RouteTable } from './route-table.js';

/**
 * `sys/wrapping/*`. The wrapping token is taken from the body (`token`) or, absent that, from the request's own
 * token: an application holding only a wrapping token unwraps with it as its token, which must not count as a use
 * of it by the normal authentication (that would revoke it before the response is read).
 */
export function sysWrappingRoutes({
  wrapping,
  lifecycle,
  validator,
}: {
  wrapping: ResponseWrapping;
  lifecycle: Lifecycle;
  validator: BodyValidator;
}): RouteTable {
  async function wrappingToken(ctx: RequestContext, path: string): Promise<string> {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    const { token } = validator.parse<{ token?: string }>(ctx.rawBody, WRAPPING_TOKEN_REQUEST);
    if (token) {
      // A caller naming the wrapping token in the body and sending a token of its own must be allowed the path.
      if (ctx.token && ctx.token !== token) await ctx.authorize(path, 'update');
      return token;
    }
    if (!ctx.token) throw new CofferError('invalid_request', 'missing token');
    return ctx.token;
  }
  return {
    'sys/wrapping/wrap': {
      PUT: async (ctx) => {
        await ctx.authorize('sys/wrapping/wrap', 'update');
        if (ctx.headers[WRAP_TTL_HEADER] === undefined) throw new CofferError('invalid_request', 'endpoint requires response wrapping to be used');
        if (Object.keys(ctx.body).length === 0) throw new CofferError('invalid_request', 'no data provided');
        // The pipeline's wrap step replaces this reply with the wrap information.
        return logical({ ...ctx.body });
      },
    },
    'sys/wrapping/unwrap': {
      PUT: async (ctx) => {
        const response = await wrapping.unwrap(await wrappingToken(ctx, 'sys/wrapping/unwrap'));
        return json(200, { ...response, request_id: crypto.randomUUID() });
      },
    },
    'sys/wrapping/lookup': {
      PUT: async (ctx) => logical(await wrapping.lookup(await wrappingToken(ctx, 'sys/wrapping/lookup'))),
      GET: async (ctx) => {
        if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
        if (!ctx.token) throw new CofferError('invalid_request', 'missing token');
        return logical(await wrapping.lookup(ctx.token));
      },
    },
    'sys/wrapping/rewrap': {
      PUT: async (ctx) => {
        const { token } = validator.parse<{ token?: string }>(ctx.rawBody, WRAPPING_TOKEN_REQUEST);
        if (!token) throw new CofferError('invalid_request', 'missing token');
        await ctx.authorize('sys/wrapping/rewrap', 'update');
        const info = await wrapping.rewrap(token);
        return json(200, {
          request_id: crypto.randomUUID(),
          lease_id: '',
          renewable: false,
          lease_duration: 0,
          data: null,
          wrap_info: info,
          warnings: null,
          auth: null,
        });
      },
    },
  };
}
