import type { Barrier } from '../barrier/barrier.js';
import { CofferError } from '../errors.js';
import { Acl } from './acl.js';
import { normalisePolicyName, parsePolicy, type Policy } from './policy.js';

const POLICY_PREFIX = 'sys/policy/';
/** Compiled ACLs kept, by policy set; past this the set is started afresh (tokens share few distinct sets). */
const MAX_CACHED_ACLS = 1024;
const ROOT_ACL = new Acl([], true);

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
  /** Compiled ACL per policy-name set: every request needs one, and they change only with a policy. */
  readonly #acls = new Map<string, Acl>();
  /** Bumped by every change, so an ACL compiled across a policy write is not kept. */
  #generation = 0;

  constructor(barrier: Barrier) {
    this.#barrier = barrier;
  }

  /** The policy, or undefined. `root` has no text and is reported as existing. */
  async get(name: string): Promise<Policy | undefined> {
    const key = normalisePolicyName(name);
    if (this.#cache.has(key)) return this.#cache.get(key) ?? undefined;
    const generation = this.#generation;
    const raw = await this.#barrier.get(POLICY_PREFIX + key);
    let policy: Policy | undefined;
    if (raw) {
      const { policy: text } = JSON.parse(new TextDecoder().decode(raw)) as { policy: string };
      policy = parsePolicy(key, text);
    } else if (key === 'default') {
      policy = parsePolicy('default', DEFAULT_POLICY_TEXT);
    }
    // A write that landed during the read must not be hidden behind what the read saw.
    if (generation === this.#generation) this.#cache.set(key, policy ?? null);
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
    this.#forgetAcls();
  }

  /** Deleting a missing policy is not an error. @throws CofferError `invalid_request` for `root` and `default`. */
  async delete(name: string): Promise<void> {
    const key = normalisePolicyName(name);
    if (key === 'root' || key === 'default') throw new CofferError('invalid_request', `cannot delete "${key}" policy`);
    await this.#barrier.delete(POLICY_PREFIX + key);
    this.#cache.delete(key);
    this.#forgetAcls();
  }

  /** Every policy name, including the built-in `default` and `root`, sorted. */
  async list(): Promise<string[]> {
    const stored = await this.#barrier.list(POLICY_PREFIX);
    return [...new Set([...stored.filter((n) => !n.endsWith('/')), 'default', 'root'])].sort();
  }

  /**
   * The ACL of a token holding `names`, compiled once per set of names until a policy changes. Unknown policy names
   * grant nothing.
   */
  async acl(names: readonly string[]): Promise<Acl> {
    if (names.includes('root')) return ROOT_ACL;
    const setKey = names.join('\n');
    const known = this.#acls.get(setKey);
    if (known) return known;
    const generation = this.#generation;
    const policies: Policy[] = [];
    for (const name of names) {
      const policy = await this.get(name);
      if (policy) policies.push(policy);
    }
    const acl = new Acl(policies, false);
    if (generation !== this.#generation) return acl;
    if (this.#acls.size >= MAX_CACHED_ACLS) this.#acls.clear();
    this.#acls.set(setKey, acl);
    return acl;
  }

  /**
   * Forgets cached policies and compiled ACLs: on seal, and (for HA) when another node changed a policy —
   * `invalidate(name)` drops one.
   */
  clear(): void {
    this.#cache.clear();
    this.#forgetAcls();
  }

  #forgetAcls(): void {
    this.#generation += 1;
    this.#acls.clear();
  }

  /** Forgets one policy (another node changed it) and every compiled ACL. */
  invalidate(name: string): void {
    this.#cache.delete(normalisePolicyName(name));
    this.#forgetAcls();
  }
}
