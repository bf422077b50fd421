import express, { type NextFunction, type Request, type Response } from 'express';
import { CofferError } from '../core/errors.js';
import { httpErrorFor } from './error-table.js';
import { sendErrors } from './json-response.js';
import { LIST_MARKER_HEADER } from './list-method.js';
import { routerMethod } from './router-method.js';
import { BodyValidator } from './request-body.js';
import { matchRoute, type HttpDeps, type RouteTable } from './routes/route-table.js';
import { authTokenRoutes } from './routes/auth-token.js';
import { sysHealthRoutes } from './routes/sys-health.js';
import { sysInitRoutes } from './routes/sys-init.js';
import { sysKeyRoutes } from './routes/sys-keys.js';
import { sysPolicyRoutes } from './routes/sys-policy.js';
import { sysMountRoutes } from './routes/sys-mounts.js';
import { sysRekeyRoutes } from './routes/sys-rekey.js';
import { handleMounted } from './routes/logical.js';
import { sysSealRoutes } from './routes/sys-seal.js';
import { sysMetricsRoutes } from './routes/sys-metrics.js';

/** Vault's limit on request bodies. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** Builds the express application. Everything it needs comes in `deps`. */
export function createApp(deps: Omit<HttpDeps, 'validator'>): express.Express {
  const full: HttpDeps = { ...deps, validator: new BodyValidator() };
  const routes: RouteTable = { ...sysInitRoutes(full), ...sysSealRoutes(full), ...sysHealthRoutes(full), ...sysKeyRoutes(full), ...sysPolicyRoutes(full), ...sysMountRoutes(full), ...sysRekeyRoutes(full), ...authTokenRoutes(full), ...sysMetricsRoutes(full) };
  const log = deps.logger;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('case sensitive routing', true);

  app.use((req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.metrics.request(String(res.locals.route ?? 'unmatched'), routerMethod(req) ?? req.method, res.statusCode, ms / 1000);
      // Only method, path and status: bodies and headers carry shares and tokens.
      log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 100) / 100 }, 'request');
    });
    next();
  });
  // Vault clients often send no Content-Type (or curl's form type), and Vault ignores it: every body is parsed as
  // UTF-8 JSON, whatever type or charset the header names.
  app.use((req, _res, next) => {
    if (req.headers['content-type'] !== undefined) req.headers['content-type'] = 'application/json';
    next();
  });
  app.use(express.json({ type: () => true, limit: MAX_REQUEST_BYTES, strict: true }));

  app.all('/v1/*path', async (req: Request, res: Response) => {
    // req.path keeps %2F encoded, so a logical path is exactly what the client sent.
    const path = req.path.slice('/v1/'.length);
    const route = matchRoute(routes, path);
    if (!route) return handleMounted(full, req, res, path);
    res.locals.route = route.pattern;
    const { handlers, params } = route;
    const method = routerMethod(req);
    let handler = method ? handlers[method] : undefined;
    // Vault's raw sys handlers look only at the HTTP method, so `GET ?list=true` on them is a plain GET.
    if (!handler && method === 'LIST' && req.headers[LIST_MARKER_HEADER] !== 'true') handler = handlers.GET;
    if (!handler) return sendErrors(res, 405, []);
    await handler(req, res, params);
  });
  app.use((_req: Request, res: Response) => sendErrors(res, 404, []));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof CofferError) {
      const { status, errors } = httpErrorFor(err.code, err.message);
      if (status >= 500) log.error({ code: err.code, err: err.message, path: req.path }, 'request failed');
      return sendErrors(res, status, errors);
    }
    const bodyError = err as { type?: string; status?: number; message?: string };
    if (bodyError.type === 'entity.parse.failed') {
      return sendErrors(res, 400, [`failed to parse JSON input: ${bodyError.message ?? 'invalid JSON'}`]);
    }
    if (bodyError.type === 'entity.too.large') return sendErrors(res, 413, ['http: request body too large']);
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      return sendErrors(res, bodyError.status, [bodyError.message ?? 'bad request']);
    }
    log.error({ err: (err as Error)?.message, path: req.path }, 'unexpected error');
    sendErrors(res, 500, ['internal error']);
  });
  return app;
}
