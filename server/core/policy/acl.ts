/** A request as the ACL sees it. */
export type Operation = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list';

/**
 * Whether `policies` allow `operation` on `path` (and `sudo` when `needsSudo`). Only the built-in `root` policy
 * grants anything so far; the policy language arrives with policies (issue 3). Deny by default.
 */
export function allows(policies: readonly string[], _path: string, _operation: Operation, _needsSudo: boolean): boolean {
  return policies.includes('root');
}
