import type { IncomingHttpHeaders } from 'node:http';
import type { Operation } from '../core/policy/acl.js';
import type { TokenRecord } from '../core/token/token-store.js';
import type { Method } from './routes/route-table.js';

/**
 * What a handler sees of a request. Built by the pipeline; handlers never touch express objects, so a handler is
 * a plain async function from this context to a Reply.
 */
export interface RequestContext {
  readonly method: Method;
  /** The path below `/v1/`, as the client sent it (`%2F` kept encoded). */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  /** Single-valued query parameters. */
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /**
   * The JSON body as an object without a prototype (no `__proto__` tricks), keys as sent, `{}` when absent.
   * Validate with `parse` before use where a schema exists.
   */
  readonly body: Readonly<Record<string, unknown>>;
  /** The parsed JSON exactly as sent (possibly not an object), for schema validation's error messages. */
  readonly rawBody: unknown;
  /** The client's token: `X-Vault-Token`, else `Authorization: Bearer …`. */
  readonly token: string | undefined;
  /** The client's address as the socket reports it (for CIDR-bound tokens and secret ids). */
  readonly remoteAddress: string | undefined;
  /**
   * Authenticates the token and checks the ACL.
   * @throws CofferError `sealed`, `permission_denied`, `invalid_token`, `forbidden`.
   */
  authorize(path: string, operation: Operation, needsSudo?: boolean): Promise<TokenRecord>;
  /** Authenticates the token only (for a check made later with `check`). */
  authenticate(): Promise<TokenRecord>;
  /** The ACL check for an authenticated token. @throws CofferError `forbidden`. */
  check(entry: TokenRecord, path: string, operation: Operation): Promise<void>;
  /** Whether the token grants `sudo` on `path`; false for no or a bad token. */
  hasSudo(path: string): Promise<boolean>;
  /**
   * Runs `fn` once the response has been fully handed to the client's connection (never if it was not, e.g. the
   * client went away first). Failures are logged.
   */
  afterDelivery(fn: () => Promise<void>, what: string): void;
  /** Names the route in metrics (the pattern, or the mount for logical requests). */
  setRouteLabel(label: string): void;
}

/** The client's token: `X-Vault-Token`, else `Authorization: Bearer <token>`. */
export function tokenOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-vault-token'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct) return direct;
  const authorization = headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim() || undefined;
  return undefined;
}
