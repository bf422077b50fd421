import type { AuthRequest, LoginResult } from '../../core/auth/auth-method.js';
import { SYSTEM_MAX_TTL, type AuthMountEntry, type AuthTable } from '../../core/auth/auth-table.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { TokenStore } from '../../core/token/token-store.js';
import type { BodyValidator } from '../request-body.js';
import type { RequestContext } from '../request-context.js';
import { authReply } from './auth-token.js';
import { requestOperation } from './request-operation.js';
import { errors, json, noContent, type Handler, type Reply } from './route-table.js';

/**
 * Issues the token a successful login earns, Vault's way: TTL = the role's or user's, else the mount's default, else
 * the system's (768h); capped by the role's max TTL, the mount's max and the system's; a period replaces both. The
 * token is an orphan, carries the method's mount accessor (so disabling the method revokes it) and the login's
 * metadata.
 */
export async function issueLoginToken(tokens: TokenStore, auth: AuthTable, mount: AuthMountEntry, login: LoginResult, path: string): Promise<Reply> {
  const s = login.settings;
  const mountMax = mount.config.max_lease_ttl || SYSTEM_MAX_TTL;
  const maxTtl = s.maxTtl > 0 ? Math.min(s.maxTtl, mountMax) : mountMax;
  const ttl = Math.min(s.ttl || mount.config.default_lease_ttl || SYSTEM_MAX_TTL, maxTtl);
  let policies = [...s.policies];
  if (!s.noDefaultPolicy && !policies.includes('default')) policies = [...policies, 'default'];
  const { token, record } = await tokens.create({
    policies,
    ttl,
    maxTtl,
    explicitMaxTtl: s.explicitMaxTtl,
    period: s.period,
    numUses: s.numUses,
    renewable: true,
    displayName: login.displayName,
    meta: login.metadata,
    path,
    mountAccessor: mount.accessor,
    boundCidrs: s.boundCidrs,
  });
  // A login that raced the method being disabled must not leave a token the disable's revocation did not see.
  if (!auth.hasAccessor(mount.accessor)) {
    await tokens.revoke(record);
    throw new CofferError('invalid_request', 'the auth method was disabled');
  }
  return authReply(tokens, token, record, mount.type);
}

/**
 * Requests under `auth/<mount>/` for the mounted methods (the token store has its own routes). Login paths need no
 * token; every other path authenticates first (nothing about the auth table is revealed without a valid token) and
 * is ACL-checked on its full path.
 */
export function authMethodHandler({
  auth,
  tokens,
  lifecycle,
  validator,
  onLogin,
}: {
  auth: AuthTable;
  tokens: TokenStore;
  lifecycle: Lifecycle;
  validator: BodyValidator;
  /** Counts logins (metrics). */
  onLogin: (method: string, outcome: 'success' | 'failure') => void;
}): Handler {
  return async (ctx: RequestContext) => {
    if (lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    const fullPath = decodeURIComponent(ctx.path);
    const found = auth.find(fullPath.slice('auth/'.length));
    const method = found?.method;
    const request = (operation: AuthRequest['operation']): AuthRequest => ({
      operation,
      path: found!.relative,
      body: (schema) => validator.parse(ctx.rawBody, schema),
      remoteAddress: ctx.remoteAddress,
    });
    if (found && method && method.isLogin(found.relative)) {
      ctx.setRouteLabel(`auth:${found.entry.path}login`);
      if (ctx.method !== 'PUT') return errors(405, []);
      try {
        const login = await method.login(request('update'));
        const reply = await issueLoginToken(tokens, auth, found.entry, login, fullPath);
        onLogin(found.entry.type, 'success');
        return reply;
      } catch (err) {
        onLogin(found.entry.type, 'failure');
        throw err;
      }
    }
    const entry = await ctx.authenticate();
    if (!found || !method) return errors(404, [`no handler for route "${ctx.path}". route entry not found.`]);
    ctx.setRouteLabel(`auth:${found.entry.path}`);
    const operation = await requestOperation(ctx.method, () => method.exists(found.relative), false);
    if (operation === undefined || operation === 'patch') return errors(405, []);
    await ctx.check(entry, fullPath, operation);
    const result = await method.handle(request(operation));
    if (!result) return operation === 'read' || operation === 'list' ? errors(404, []) : noContent();
    return json(200, {
      request_id: crypto.randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: result.data,
      wrap_info: null,
      warnings: result.warnings ?? null,
      auth: null,
      mount_type: found.entry.type,
    });
  };
}
