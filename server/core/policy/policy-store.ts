import type { Barrier } from '../barrier/barrier.js';
import { CofferError } from '../errors.js';
import { Acl } from './acl.js';
import { normalisePolicyName, parsePolicy, type Policy } from './policy.js';

const POLICY_PREFIX = 'sys/policy/';

/** Vault's `default` policy, trimmed to the endpoints Coffer has: a token may look at and manage itself. */
export const DEFAULT_POLICY_TEXT = `# Allow tokens to look up, renew and revoke themselves
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
  capabilities = ["update"]
}
# A private storage space for each token
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
# Response wrapping: wrap data, look up and unwrap wrapping tokens
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
`;

/**
 * ACL policies behind the barrier at `sys/policy/<name>`. `root` is built in and immutable; `default` exists from
 * the start, may be edited, and cannot be deleted. A write is visible to the very next request.
 */
export class PolicyStore {
  readonly #barrier: Barrier;
  readonly #cache = new Map<string, Policy | null>();

  constructor(barrier: Barrier) {
    this.#barrier = barrier;
  }

  /** The policy, or undefined. `root` has no text and is reported as existing. */
  async get(name: string): Promise<Policy | undefined> {
    const key = normalisePolicyName(name);
    if (this.#cache.has(key)) return this.#cache.get(key) ?? undefined;
    const raw = await this.#barrier.get(POLICY_PREFIX + key);
    let policy: Policy | undefined;
    if (raw) {
      const { policy: text } = JSON.parse(new TextDecoder().decode(raw)) as { policy: string };
      policy = parsePolicy(key, text);
    } else if (key === 'default') {
      policy = parsePolicy('default', DEFAULT_POLICY_TEXT);
    }
    this.#cache.set(key, policy ?? null);
    return policy;
  }

  /** @throws CofferError `invalid_request` for bad text or for `root`. */
  async put(name: string, text: string): Promise<void> {
    const key = normalisePolicyName(name);
    if (key === 'root') throw new CofferError('invalid_request', 'cannot update "root" policy');
    // Wrapping tokens carry this name; a policy by it would give every wrapping token its rules.
    if (key === 'response-wrapping') throw new CofferError('invalid_request', 'cannot update "response-wrapping" policy');
    const policy = parsePolicy(key, text);
    await this.#barrier.put(POLICY_PREFIX + key, new TextEncoder().encode(JSON.stringify({ name: key, policy: text })));
    this.#cache.set(key, policy);
  }

  /** Deleting a missing policy is not an error. @throws CofferError `invalid_request` for `root` and `default`. */
  async delete(name: string): Promise<void> {
    const key = normalisePolicyName(name);
    if (key === 'root' || key === 'default') throw new CofferError('invalid_request', `cannot delete "${key}" policy`);
    await this.#barrier.delete(POLICY_PREFIX + key);
    this.#cache.delete(key);
  }

  /** Every policy name, including the built-in `default` and `root`, sorted. */
  async list(): Promise<string[]> {
    const stored = await this.#barrier.list(POLICY_PREFIX);
    return [...new Set([...stored.filter((n) => !n.endsWith('/')), 'default', 'root'])].sort();
  }

  /** The ACL of a token holding `names`. Unknown policy names grant nothing. */
  async acl(names: readonly string[]): Promise<Acl> {
    if (names.includes('root')) return new Acl([], true);
    const policies: Policy[] = [];
    for (const name of names) {
      const policy = await this.get(name);
      if (policy) policies.push(policy);
    }
    return new Acl(policies, false);
  }

  /** Forgets cached policies (on seal). */
  clear(): void {
    this.#cache.clear();
  }
}
