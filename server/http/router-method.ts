import type { Request } from 'express';
import { LIST_MARKER_HEADER } from './list-method.js';
import { parseGoBool } from './request-body.js';
import type { Method } from './routes/route-table.js';

/** What the method helpers look at: express's request, or the pipeline's own view of a body-less read. */
export type MethodView = Pick<Request, 'method' | 'headers' | 'query'>;

/** The router's view of a request's method (see `Method`). */
export function routerMethod(req: MethodView): Method | undefined {
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      // `?list=` takes every spelling Go's strconv.ParseBool does (the pipeline refuses other values).
      return req.headers[LIST_MARKER_HEADER] === 'true' || (typeof req.query.list === 'string' && parseGoBool(req.query.list) === true)
        ? 'LIST'
        : 'GET';
    case 'PUT':
    case 'POST':
      return 'PUT';
    case 'DELETE':
      return 'DELETE';
    case 'PATCH':
      return 'PATCH';
    default:
      return undefined;
  }
}

/** Whether a GET's `list` query parameter is present but not a Go boolean (a 400, never a silent plain read). */
export function badListParameter(req: MethodView): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || req.query.list === undefined) return false;
  return typeof req.query.list !== 'string' || parseGoBool(req.query.list) === undefined;
}
