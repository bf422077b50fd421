import type { Request } from 'express';
import type { CofferCore } from '../core/coffer-core.js';
import { CofferError } from '../core/errors.js';
import { isSudoPath, type Operation } from '../core/policy/acl.js';
import type { TokenRecord } from '../core/token/token-store.js';

/** The client's token: `X-Vault-Token`, else `Authorization: Bearer <token>`. */
export function requestToken(req: Request): string | undefined {
  const header = req.headers['x-vault-token'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct) return direct;
  const authorization = req.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

/**
 * Vault's order: sealed (503) before anything else, then the token, then the ACL.
 * @throws CofferError `sealed`, `permission_denied` (no token), `invalid_token`, `forbidden`.
 */
export async function authorize(
  core: CofferCore,
  req: Request,
  path: string,
  operation: Operation,
  needsSudo = isSudoPath(path),
): Promise<TokenRecord> {
  if (core.barrier.sealed) throw new CofferError('sealed', 'Vault is sealed');
  const token = requestToken(req);
  if (!token) throw new CofferError('permission_denied', 'permission denied');
  const entry = await core.tokens.authenticate(token);
  if (!entry) throw new CofferError('invalid_token', 'invalid token');
  const acl = await core.policies.acl(entry.policies);
  if (!acl.allows(path, operation, needsSudo)) throw new CofferError('forbidden', 'permission denied');
  return entry;
}
