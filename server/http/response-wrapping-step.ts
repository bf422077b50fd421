import type { IncomingHttpHeaders } from 'node:http';
import { SYSTEM_MAX_TTL } from '../core/auth/auth-table.js';
import { CofferError } from '../core/errors.js';
import type { ResponseWrapping } from '../core/wrapping/response-wrapping.js';
import { parseDurationSeconds } from './go-duration.js';
import { errors, json, type Reply } from './routes/route-table.js';

export const WRAP_TTL_HEADER = 'x-vault-wrap-ttl';

/**
 * Raw sys endpoints whose answers are not logical responses (seal state, init keys, rekey shares…) and the wrapping
 * endpoints that answer with wrap information themselves: a wrap TTL there cannot be honoured, so it is refused
 * before the handler runs rather than ignored.
 */
const UNWRAPPABLE =
  /^sys\/(init|unseal|seal-status|seal|step-down|health|leader|rekey|rekey-recovery-key|generate-root|metrics|wrapping\/(lookup|rewrap))(\/|$)/;

/**
 * The pipeline's wrapping step: `requestedTtl` runs before the handler (a bad or unhonourable `X-Vault-Wrap-TTL` is
 * a 400 that changes nothing), `wrap` after it (a successful logical reply is replaced by wrap information; its
 * data or token is reachable only through the single-use wrapping token).
 */
export class WrapStep {
  constructor(private readonly wrapping: ResponseWrapping) {}

  /** The wrap TTL a request asks for, in seconds, or undefined. @throws CofferError `invalid_request`. */
  requestedTtl(headers: IncomingHttpHeaders, path: string): number | undefined {
    const header = headers[WRAP_TTL_HEADER];
    if (header === undefined) return undefined;
    const value = Array.isArray(header) ? header.join(',') : header;
    let ttl: number;
    try {
      ttl = parseDurationSeconds(value, 'X-Vault-Wrap-TTL');
    } catch {
      throw new CofferError('invalid_request', 'error parsing X-Vault-Wrap-TTL: expected a duration such as "5m" or a number of seconds');
    }
    if (ttl <= 0) throw new CofferError('invalid_request', 'invalid wrap TTL: must be at least one second');
    if (ttl > SYSTEM_MAX_TTL) throw new CofferError('invalid_request', 'invalid wrap TTL: greater than the maximum TTL (768h)');
    if (UNWRAPPABLE.test(path)) throw new CofferError('invalid_request', `responses of ${path} cannot be wrapped`);
    return ttl;
  }

  /** Replaces a successful logical reply with its wrap information; errors and empty replies pass unchanged. */
  async wrap(reply: Reply, ttl: number, path: string): Promise<Reply> {
    if (reply.status !== 200 || reply.kind === 'empty') return reply;
    const body = reply.kind === 'json' ? (reply.body as Record<string, unknown>) : undefined;
    // Never a clear-text answer to a client that asked for wrapping.
    if (!body || typeof body !== 'object' || !('wrap_info' in body)) return errors(400, [`responses of ${path} cannot be wrapped`]);
    if (body.data === null && body.auth === null) return reply;
    const { request_id: _id, ...stored } = body;
    const auth = body.auth as { accessor?: string } | null;
    const info = await this.wrapping.wrap(stored, ttl, path, auth?.accessor);
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
  }
}
