import type { RequestContext } from '../request-context.js';

/** Methods as the router sees them: HEAD is GET, POST is PUT, `LIST` and `GET ?list=true` are LIST. */
export type Method = 'GET' | 'PUT' | 'DELETE' | 'LIST' | 'PATCH';

/** What a handler returns; the pipeline is the only place that writes it (and, later, audits it). */
export type Reply =
  | { readonly kind: 'json'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'empty'; readonly status: number }
  | { readonly kind: 'text'; readonly status: number; readonly contentType: string; readonly text: string };

export type Handler = (ctx: RequestContext) => Promise<Reply>;

/**
 * Handlers by path below `/v1/`: exact (`sys/init`), with `:name` for one segment (`sys/policy/:name`), or ending
 * in `*rest` for the remainder of the path (`secret/data/*path`, which may be empty).
 */
export type RouteTable = Record<string, Partial<Record<Method, Handler>>>;

export function json(status: number, body: unknown): Reply {
  return { kind: 'json', status, body };
}

/** Success without a body (204). */
export function noContent(): Reply {
  return { kind: 'empty', status: 204 };
}

export function errors(status: number, list: string[]): Reply {
  return json(status, { errors: list });
}

/**
 * Vault's envelope for logical paths. For a fixed set of legacy sys routes (key-status, rotate, rekey backups,
 * policies, mounts…) Vault also copies `data` to the top level ("injected"); `inject` does the same.
 */
export function logical(data: Record<string, unknown>, options: { inject?: boolean; mountType?: string; warnings?: readonly string[] } = {}): Reply {
  const envelope = {
    request_id: crypto.randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: options.warnings && options.warnings.length > 0 ? options.warnings : null,
    auth: null,
    mount_type: options.mountType ?? 'system',
  };
  return json(200, options.inject ? { ...data, ...envelope } : envelope);
}

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
