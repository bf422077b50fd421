import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { CofferError } from '../core/errors.js';
import type { CofferMetrics } from '../metrics/metrics.js';
import type { Authorizer } from './authorizer.js';
import { httpErrorFor } from './error-table.js';
import { LIST_MARKER_HEADER } from './list-method.js';
import type { RequestAuditor } from './request-audit.js';
import { tokenOf, type RequestContext } from './request-context.js';
import type { WrapStep } from './response-wrapping-step.js';
import { badListParameter, routerMethod, type MethodView } from './router-method.js';
import { standbyAnswer, type HaView } from './standby.js';
import { errors, json, matchRoute, type Handler, type Method, type Reply, type RouteTable } from './routes/route-table.js';

/** Vault's limit on request bodies: authenticated writes to secret engines and auth methods. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/**
 * `sys/*` bodies (init, unseal, rekey — reachable without a token) are small: enough for a rekey's PGP keys, not
 * enough to make an unauthenticated client's body a memory problem.
 */
export const MAX_SYS_REQUEST_BYTES = 1024 * 1024;

export interface PipelineDeps {
  routes: RouteTable;
  /** Requests no route matches: mounted secret engines. */
  fallback: Handler;
  /** What `?help=1` answers for a path (undefined: no help there). */
  help: (path: string) => string | undefined;
  authorizer: Authorizer;
  logger: Logger;
  metrics: CofferMetrics;
  /** Response wrapping (`X-Vault-Wrap-TTL`): checked before the handler, applied to its reply. */
  wrap?: WrapStep;
  /** Audit devices: a request record before the handler, a response record after it (fail closed). */
  auditor?: RequestAuditor;
  /** HA: a standby redirects client requests to the active node. */
  ha?: HaView;
  /** The operator page (`ui = true`): static files under `/ui/`; absent, `/ui/` is a 404 like any unknown path. */
  ui?: express.RequestHandler;
}

const STATE_CHANGING = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/**
 * The one HTTP pipeline: parse → cross-site check → route → handler (which authenticates and authorizes through its
 * context) → write. Handlers RETURN their reply; this is the only place that writes a body or maps an error to a
 * status, so it is where an audit log will sit (between the handler's return and the write).
 */
export function createPipeline(deps: PipelineDeps): RequestListener {
  const { routes, authorizer, logger: log, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('case sensitive routing', true);

  /** Headers every answer carries, and the request's metric and debug line once it is answered. */
  const instrument = (req: V1Request, res: V1Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const started = performance.now();
    res.on('finish', () => {
      const ms = performance.now() - started;
      metrics.request(String(res.locals.route ?? 'unmatched'), routerMethod(req) ?? req.method, res.statusCode, ms / 1000);
      // Only method, path and status: bodies and headers carry shares and tokens.
      log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 100) / 100 }, 'request');
    });
  };
  app.use((req, res, next) => {
    instrument(req, res);
    next();
  });
  app.use((req, res, next) => {
    const refusal = crossSiteRefusal(req);
    if (refusal) return write(res, errors(403, [refusal]));
    next();
  });
  // Vault clients often send no Content-Type (or curl's form type), and Vault ignores it: every body is parsed as
  // UTF-8 JSON, whatever type or charset the header names. `sys/*` gets the small limit.
  const parseSmall = express.json({ type: () => true, limit: MAX_SYS_REQUEST_BYTES, strict: true });
  const parseLarge = express.json({ type: () => true, limit: MAX_REQUEST_BYTES, strict: true });
  const parseYaml = express.text({ type: () => true, limit: MAX_SYS_REQUEST_BYTES });
  app.use((req, res, next) => {
    // The one non-JSON body: a rewrap job spec sent as YAML reaches its handler as a string.
    if (req.path === '/v1/sys/rewrap/jobs' && /^(application|text)\/(x-)?yaml\b/i.test(req.headers['content-type'] ?? '')) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- express's Request is the IncomingMessage body-parser expects
      return parseYaml(req, res, next);
    }
    if (req.headers['content-type'] !== undefined) req.headers['content-type'] = 'application/json';
    next();
  });
  // A body parsed by the first parser is not parsed again by the second.
  app.use('/v1/sys/', parseSmall);
  app.use(parseLarge);

  /** A request under `/v1/`: standby answer, route, authenticate and authorize (in the handler), audit, write. */
  const serveV1 = async (req: V1Request, res: V1Response): Promise<void> => {
    // req.path keeps %2F encoded, so a logical path is exactly what the client sent.
    const path = req.path.slice('/v1/'.length);
    const standby = deps.ha ? await standbyAnswer(deps.ha, path, req.originalUrl) : undefined;
    if (standby && 'redirect' in standby) {
      res.setHeader('Location', standby.redirect);
      return write(res, { kind: 'empty', status: 307 });
    }
    if (standby) return write(res, errors(standby.status, [standby.error]));
    if (badListParameter(req)) return write(res, errors(400, ['invalid value for "list": expected a boolean such as true, 1 or t']));
    const method = routerMethod(req);
    const route = matchRoute(routes, path);
    let handler: Handler | undefined;
    if (!route) handler = deps.fallback;
    else {
      res.locals.route = route.pattern;
      handler = method ? route.handlers[method] : undefined;
      // Vault's raw sys handlers look only at the HTTP method, so `GET ?list=true` on them is a plain GET.
      if (!handler && method === 'LIST' && req.headers[LIST_MARKER_HEADER] !== 'true') handler = route.handlers.GET;
    }
    if (!handler || !method) return write(res, errors(405, []));
    const wrapTtl = deps.wrap?.requestedTtl(req.headers, path);
    const ctx = contextFor(req, res, method, path, route?.params ?? {}, authorizer, log);
    if (method === 'GET' && (req.query.help === '1' || req.query.help === 'true')) return write(res, await helpReply(ctx, deps.help));
    const trail = deps.auditor?.begin({
      method,
      path,
      body: ctx.body,
      query: ctx.query,
      token: ctx.token,
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
    });
    // Wrapping comes first, so the audit trail records the wrapped answer, never the secret in clear.
    const answer = async () => {
      const reply = await handler(ctx);
      return wrapTtl === undefined ? reply : deps.wrap!.wrap(reply, wrapTtl, path);
    };
    if (!trail) return write(res, await answer());
    // Audit: nothing runs unless the request was recorded; a reply nobody recorded is replaced by a 500.
    await trail.request();
    const reply = await answer().catch((err: unknown) => replyForError(err, req.path, log));
    try {
      await trail.response(reply);
    } catch (err) {
      res.locals.auditReplaced = true;
      throw err;
    }
    write(res, reply);
  };
  app.all('/v1/*path', (req: Request, res: Response) => serveV1(req, res));

  if (deps.ui) app.use(deps.ui);
  app.use((_req: Request, res: Response) => write(res, errors(404, [])));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    write(res, replyForError(err, req.path, log));
  });
  return (req, res) => {
    // Express's application and router layers cost about three times a bare node:http answer. A request to a mounted
    // path skips them: the same steps run in the same order (headers and metric, cross-site refusal, the body parsed
    // by the same parser, `serveV1`). `sys/` paths and anything unusual go through express.
    const direct = directRequest(req);
    if (!direct) return void app(req, res);
    const locals: Record<string, unknown> = {};
    const view = Object.assign(res, { locals });
    instrument(direct, view);
    const refusal = crossSiteRefusal(direct);
    if (refusal) return write(view, errors(403, [refusal]));
    if (req.headers['content-type'] !== undefined) req.headers['content-type'] = 'application/json';
    // The parser can throw before it calls back (a malformed header): express's router would catch that; so does this.
    try {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- the listener's request is the IncomingMessage body-parser expects
      parseLarge(req, view, (err?: unknown) => {
        if (err !== undefined) return write(view, replyForError(err, direct.path, log));
        direct.body = (req as IncomingMessage & { body?: unknown }).body;
        serveV1(direct, view).catch((e: unknown) => write(view, replyForError(e, direct.path, log)));
      });
    } catch (err) {
      write(view, replyForError(err, direct.path, log));
    }
  };
}

/** What the pipeline reads of a request: express's request, or `directRequest`'s view of a plain one. */
type V1Request = MethodView & Pick<Request, 'body' | 'socket' | 'originalUrl' | 'path'>;
/** What it writes through: a plain response plus express's `locals` (the route label, the audit flag). */
type V1Response = ServerResponse & { locals: Record<string, unknown> };

/**
 * The request as express would show it to `/v1/*path` (its "simple" query parser is `node:querystring`; `path`
 * keeps %-escapes as sent), for a path under `/v1/` outside `sys/` (whose bodies have their own limit and a YAML
 * form). Undefined — express then answers — for `sys/`, a path express would refuse to decode, a fragment, and a
 * body sent with a Content-Encoding.
 */
function directRequest(req: IncomingMessage): V1Request | undefined {
  const url = req.url ?? '';
  if (!url.startsWith('/v1/') || url.slice(0, 7).toLowerCase() === '/v1/sys' || url.includes('#')) return undefined;
  if (req.headers['content-encoding'] !== undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.length === '/v1/'.length || !decodable(path)) return undefined;
  return {
    method: req.method ?? 'GET',
    headers: req.headers,
    query: querystring.parse(q < 0 ? '' : url.slice(q + 1)),
    body: undefined,
    socket: req.socket,
    originalUrl: url,
    path,
  };
}

function decodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `GET <path>?help=1` (what `vault path-help` asks): the path's description instead of its data. As in Vault it needs
 * a valid token with some capability on the path; it never runs the handler.
 */
async function helpReply(ctx: RequestContext, help: (path: string) => string | undefined): Promise<Reply> {
  const entry = await ctx.authenticate();
  const path = decodeURIComponent(ctx.path);
  await ctx.check(entry, path, 'read').catch(async (err: unknown) => {
    // Any capability will do: try the others before refusing.
    for (const op of ['list', 'update', 'create', 'delete'] as const) {
      if (
        await ctx.check(entry, path, op).then(
          () => true,
          () => false,
        )
      )
        return;
    }
    throw err;
  });
  const text = help(path);
  return text === undefined ? errors(404, [`no help available for "${path}"`]) : json(200, { help: text, see_also: null });
}

/** Maps a thrown error to Vault's shape. 5xx bodies are opaque: the detail goes to the log only. */
export function replyForError(err: unknown, path: string, log: Logger): Reply {
  if (err instanceof CofferError) {
    const { status, errors: list } = httpErrorFor(err.code, err.message);
    if (status >= 500 && err.code !== 'sealed') log.error({ code: err.code, err: err.message, path }, 'request failed');
    return errors(status, list);
  }
  const bodyError = err as { type?: string; status?: number; message?: string };
  if (bodyError.type === 'entity.parse.failed') return errors(400, [`failed to parse JSON input: ${bodyError.message ?? 'invalid JSON'}`]);
  if (bodyError.type === 'entity.too.large') return errors(413, ['http: request body too large']);
  if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500)
    return errors(bodyError.status, [bodyError.message ?? 'bad request']);
  log.error({ err: (err as Error)?.message, path }, 'unexpected error');
  return errors(500, ['internal error']);
}

/**
 * A browser marks requests a page on another site makes (a `text/plain` form POST needs no preflight): such a
 * request must never reach `sys/unseal` or `sys/rekey/*`. Refused when `Sec-Fetch-Site: cross-site`, or when an
 * `Origin` header names another host than the one the request was sent to.
 */
export function crossSiteRefusal(req: Pick<Request, 'method' | 'headers'>): string | undefined {
  if (!STATE_CHANGING.has(req.method)) return undefined;
  if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site request refused';
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  return host !== undefined && host === req.headers.host ? undefined : 'cross-site request refused: the Origin is not this server';
}

function contextFor(
  req: V1Request,
  res: V1Response,
  method: Method,
  path: string,
  params: Record<string, string>,
  authorizer: Authorizer,
  log: Logger,
): RequestContext {
  const raw: unknown = req.body;
  const body = Object.create(null) as Record<string, unknown>;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) Object.assign(body, raw);
  const query = Object.create(null) as Record<string, string>;
  // A repeated parameter arrives joined, so a handler that expects one value sees a malformed one, never a silently picked one.
  for (const [k, v] of Object.entries(req.query)) query[k] = typeof v === 'string' ? v : Array.isArray(v) ? v.map(String).join(',') : '[object]';
  const token = tokenOf(req.headers);
  // What parameter constraints in policies look at: the body of a write, the query of a read (as Vault does).
  const facts = { data: method === 'GET' || method === 'LIST' ? query : body };
  const remoteAddress = req.socket.remoteAddress;
  return {
    method,
    path,
    params,
    query,
    headers: req.headers,
    body,
    rawBody: raw === undefined ? {} : raw,
    token,
    remoteAddress,
    authenticate: () => authorizer.authenticate(token, remoteAddress),
    check: (entry, p, operation) => authorizer.check(entry, p, operation, facts),
    authorize: async (p, operation, needsSudo) => {
      const entry = await authorizer.authenticate(token, remoteAddress);
      await authorizer.check(entry, p, operation, facts, needsSudo);
      return entry;
    },
    hasSudo: (p) => authorizer.hasSudo(token, p),
    // A reply replaced by the audit failure's 500 was never delivered: its after-delivery work must not run.
    afterDelivery: (fn, what) => afterDelivery(res, () => (res.locals.auditReplaced === true ? Promise.resolve() : fn()), what, log),
    setRouteLabel: (label) => {
      res.locals.route = label;
    },
  };
}

/**
 * Runs `fn` once the response was fully flushed: on `finish`, or on `close` when the response had finished
 * writing (a client that disconnects right after reading still counts). A response that never finished writing
 * leaves `fn` unrun, which the caller's state must tolerate (see the rekey's pending entry).
 */
export function afterDelivery(res: Pick<ServerResponse, 'once' | 'writableFinished'>, fn: () => Promise<void>, what: string, log: Logger): void {
  let ran = false;
  const run = () => {
    if (ran) return;
    ran = true;
    fn().catch((err: unknown) => log.error({ err: (err as Error).message }, `could not complete ${what} after the response`));
  };
  res.once('finish', run);
  res.once('close', () => {
    if (res.writableFinished) run();
    else if (!ran) log.warn(`the client went away before the response to ${what} was delivered`);
  });
}

/** Vault's clients compare the content type as a string (hvac) and expect compact JSON ending in a newline. */
function write(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  res.statusCode = reply.status;
  switch (reply.kind) {
    case 'json':
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(reply.body) + '\n');
      return;
    case 'empty':
      res.setHeader('Content-Type', 'application/json');
      res.end();
      return;
    case 'text':
      res.setHeader('Content-Type', reply.contentType);
      res.end(reply.text);
  }
}
