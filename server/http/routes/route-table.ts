import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { CofferCore } from '../../core/coffer-core.js';
import type { CofferMetrics } from '../../metrics/metrics.js';
import type { BodyValidator } from '../request-body.js';

/** Methods as the router sees them: HEAD is GET, POST is PUT, `LIST` and `GET ?list=true` are LIST. */
export type Method = 'GET' | 'PUT' | 'DELETE' | 'LIST' | 'PATCH';
/** `params` holds the route's `:name` segments and its `*rest` tail. */
export type Handler = (req: Request, res: Response, params: Record<string, string>) => Promise<void>;
/**
 * Handlers by path below `/v1/`: exact (`sys/init`), with `:name` for one segment (`sys/policy/:name`), or ending
 * in `*rest` for the remainder of the path (`secret/data/*path`, which may be empty).
 */
export type RouteTable = Record<string, Partial<Record<Method, Handler>>>;

/** The route for `path`: exact routes first, then patterns in the table's order. */
export function matchRoute(
  routes: RouteTable,
  path: string,
): { pattern: string; handlers: Partial<Record<Method, Handler>>; params: Record<string, string> } | undefined {
  if (Object.hasOwn(routes, path) && !path.includes(':') && !path.includes('*')) return { pattern: path, handlers: routes[path]!, params: {} };
  const segments = path.split('/');
  for (const [pattern, handlers] of Object.entries(routes)) {
    if (!pattern.includes(':') && !pattern.includes('*')) continue;
    const parts = pattern.split('/');
    const params: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part.startsWith('*')) {
        params[part.slice(1)] = segments.slice(i).join('/');
        break;
      }
      const segment = segments[i];
      if (segment === undefined || (i === parts.length - 1 && segments.length !== parts.length)) {
        matched = false;
        break;
      }
      if (part.startsWith(':')) {
        if (segment === '') {
          matched = false;
          break;
        }
        params[part.slice(1)] = decodeURIComponent(segment);
      } else if (part !== segment) {
        matched = false;
        break;
      }
    }
    if (matched) return { pattern, handlers, params };
  }
  return undefined;
}

/** What route factories receive; there is no module-level state. */
export interface HttpDeps {
  core: CofferCore;
  validator: BodyValidator;
  logger: Logger;
  /** Config `disable_unauthed_rekey_endpoints`: rekey endpoints then need a token with update + sudo. */
  disableUnauthedRekeyEndpoints: boolean;
  metrics: CofferMetrics;
  /** Listener `telemetry { unauthenticated_metrics_access = true }`: `sys/metrics` without a token. */
  unauthenticatedMetrics: boolean;
}
