import { CofferError } from '../core/errors.js';
import type { Lifecycle } from '../core/lifecycle/lifecycle.js';
import type { Logger } from 'pino';
import { isSudoPath, type Operation, type RequestFacts } from '../core/policy/acl.js';
import type { PolicyStore } from '../core/policy/policy-store.js';
import type { TokenRecord, TokenStore } from '../core/token/token-store.js';

/**
 * Token authentication and ACL checks, in Vault's order: sealed (503) before anything else, then the token, then
 * the ACL. The request pipeline is its only user: routes ask through their RequestContext.
 */
export class Authorizer {
  readonly #lifecycle: Lifecycle;
  readonly #tokens: TokenStore;
  readonly #policies: PolicyStore;
  readonly #log: Logger;

  constructor(deps: { lifecycle: Lifecycle; tokens: TokenStore; policies: PolicyStore; logger: Logger }) {
    this.#lifecycle = deps.lifecycle;
    this.#tokens = deps.tokens;
    this.#policies = deps.policies;
    this.#log = deps.logger;
  }

  /**
   * The token's record, counting one use of a limited-use token; a token bound to CIDRs is invalid from elsewhere.
   * @throws CofferError `sealed`, `permission_denied` (no token), `invalid_token`.
   */
  async authenticate(token: string | undefined, remoteAddress?: string): Promise<TokenRecord> {
    if (this.#lifecycle.sealed) throw new CofferError('sealed', 'Vault is sealed');
    if (!token) throw new CofferError('permission_denied', 'permission denied');
    const entry = await this.#tokens.authenticate(token, remoteAddress);
    if (!entry) throw new CofferError('invalid_token', 'invalid token');
    return entry;
  }

  /**
   * The ACL decision, with the request's parameters for `allowed_parameters` / `denied_parameters` /
   * `required_parameters` and its wrapping TTL. The reason of a refusal (a parameter NAME, never a value) is logged;
   * the client gets Vault's plain "permission denied".
   * @throws CofferError `forbidden` when `entry`'s policies deny `operation` on `path`.
   */
  async check(entry: TokenRecord, path: string, operation: Operation, facts: RequestFacts, needsSudo = isSudoPath(path)): Promise<void> {
    const acl = await this.#policies.acl(entry.policies);
    const decision = acl.allowsRequest(path, operation, facts, needsSudo);
    if (!decision.allowed) {
      this.#log.info({ path, operation, accessor: entry.accessor, reason: decision.reason }, 'permission denied');
      throw new CofferError('forbidden', 'permission denied');
    }
  }

  /** Whether `token` (without using it up) grants `sudo` on `path`. Never throws for a bad token. */
  async hasSudo(token: string | undefined, path: string): Promise<boolean> {
    if (!token || this.#lifecycle.sealed) return false;
    const record = await this.#tokens.lookup(token);
    if (!record) return false;
    const caps = (await this.#policies.acl(record.policies)).capabilities(path);
    return caps.includes('root') || caps.includes('sudo');
  }
}
