import type { Request } from 'express';
import { LIST_MARKER_HEADER } from './list-method.js';
import type { Method } from './routes/route-table.js';

/** The router's view of a request's method (see `Method`). */
export function routerMethod(req: Request): Method | undefined {
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return req.headers[LIST_MARKER_HEADER] === 'true' || req.query.list === 'true' ? 'LIST' : 'GET';
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
