import type { Method } from './route-table.js';

/** What a request does to a logical path, in Vault's terms (the ACL capability it needs). */
export type RequestOperation = 'read' | 'list' | 'create' | 'update' | 'delete' | 'patch';

/**
 * The operation of an HTTP method on a logical path. A PUT is `create` when `exists` says the path is not there yet,
 * else `update`; `exists` is asked only for a PUT (callers authenticate first, so an unauthenticated request never
 * reaches the engine). PATCH is an operation only where `patch` allows it. Undefined: the path does not take the method.
 */
export async function requestOperation(method: Method, exists: () => Promise<boolean>, patch: boolean): Promise<RequestOperation | undefined> {
  switch (method) {
    case 'GET':
      return 'read';
    case 'LIST':
      return 'list';
    case 'DELETE':
      return 'delete';
    case 'PUT':
      return (await exists()) ? 'update' : 'create';
    case 'PATCH':
      return patch ? 'patch' : undefined;
  }
}
