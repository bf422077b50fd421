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

interface CompiledPattern {
  pattern: string;
  parts: string[];
  handlers: Partial<Record<Method, Handler>>;
}

/** A table's patterns, split once, grouped by their literal first segment (patterns starting with a parameter: `any`). */
interface CompiledTable {
  byFirst: Map<string, CompiledPattern[]>;
  any: CompiledPattern[];
}

const compiled = new WeakMap<RouteTable, CompiledTable>();

/** Route tables are built once at start: compiling on first use keeps `matchRoute`'s per-request work to the candidates. */
function compile(routes: RouteTable): CompiledTable {
  const patterns = Object.entries(routes)
    .filter(([pattern]) => pattern.includes(':') || pattern.includes('*'))
    .map(([pattern, handlers]) => ({ pattern, parts: pattern.split('/'), handlers }));
  const literal = (p: CompiledPattern) => !p.parts[0]!.startsWith(':') && !p.parts[0]!.startsWith('*');
  const any = patterns.filter((p) => !literal(p));
  const byFirst = new Map<string, CompiledPattern[]>();
  // Each list keeps the table's order: a pattern with a literal first segment, or one that matches any first segment.
  for (const first of new Set(patterns.filter(literal).map((p) => p.parts[0]!))) {
    byFirst.set(
      first,
      patterns.filter((p) => !literal(p) || p.parts[0] === first),
    );
  }
  return { byFirst, any };
}

/** The route for `path`: exact routes first, then patterns in the table's order. */
export function matchRoute(
  routes: RouteTable,
  path: string,
): { pattern: string; handlers: Partial<Record<Method, Handler>>; params: Record<string, string> } | undefined {
  if (Object.hasOwn(routes, path) && !path.includes(':') && !path.includes('*')) return { pattern: path, handlers: routes[path]!, params: {} };
  let table = compiled.get(routes);
  if (!table) {
    table = compile(routes);
    compiled.set(routes, table);
  }
  const segments = path.split('/');
  const candidates = table.byFirst.get(segments[0]!) ?? table.any;
  for (const { pattern, parts, handlers } of candidates) {
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
