import { comparePriority, patternMatches, type Capability, type ParameterValue, type PathRule, type Policy } from './policy.js';

/** A request as the ACL sees it. */
export type Operation = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list';

/**
 * Paths of the sys backend that need `sudo` in addition to the operation's capability (Vault CE's list). Entries
 * ending in `*` are prefixes; the others match exactly (`sys/rotate` does not cover `sys/rotate/config`).
 */
const SUDO_PATHS = [
  'auth/*',
  'remount',
  'audit',
  'audit/*',
  'raw',
  'raw/*',
  'replication/primary/secondary-token',
  'replication/performance/primary/secondary-token',
  'replication/dr/primary/secondary-token',
  'replication/reindex',
  'replication/dr/reindex',
  'replication/performance/reindex',
  'rotate',
  'rotate/keyring',
  'config/cors',
  'config/auditing/*',
  'config/ui/headers/*',
  'plugins/catalog/*',
  'plugins/runtimes/catalog/*',
  'revoke-prefix/*',
  'revoke-force/*',
  'leases/revoke-prefix/*',
  'leases/revoke-force/*',
  'leases/lookup/*',
  'storage/raft/snapshot-auto/config/*',
  'leases',
  'internal/inspect/*',
  'seal',
  'step-down',
].map((p) => `sys/${p}`);

/** Token-store paths that need `sudo` (Vault's token backend root paths). */
const TOKEN_SUDO_PATHS = ['auth/token/create-orphan', 'auth/token/revoke-orphan', 'auth/token/accessors/'];

export function isSudoPath(path: string): boolean {
  return [...SUDO_PATHS, ...TOKEN_SUDO_PATHS].some((p) => (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path));
}

/** What `Acl.allowsRequest` looks at besides the path and operation. */
export interface RequestFacts {
  /**
   * The request's parameters: the JSON body for writes, the query parameters for reads (as Vault does). Absent or
   * empty means "no parameters".
   */
  data?: Readonly<Record<string, unknown>>;
  /** The wrapping TTL the client asked for (`X-Vault-Wrap-TTL`), in seconds; absent when it asked for none. */
  wrapTtlSeconds?: number;
}

/**
 * The outcome of an ACL check. `reason` is for the server log only: it names the rule part and the parameter
 * NAME that failed, never a value (values can be secrets). Clients get Vault's plain "permission denied".
 */
export type AclDecision = { allowed: true } | { allowed: false; reason: string };

/** One pattern's rules from all of a token's policies, merged as Vault merges them. */
interface MergedRule {
  pattern: string;
  capabilities: Set<Capability>;
  allowed?: Map<string, ParameterValue[]>;
  denied?: Map<string, ParameterValue[]>;
  required?: string[];
  minWrappingTtl: number;
  maxWrappingTtl: number;
}

/** Operations whose parameters the constraints look at (Vault's list: not list or delete). */
const PARAMETER_OPERATIONS: ReadonlySet<Operation> = new Set(['read', 'create', 'update', 'patch']);

/**
 * The union of a token's policies. Rules for the same pattern are merged (capabilities unioned, `deny` wins and
 * drops the parameter constraints; allowed/denied parameter lists are joined, an empty list — any value — winning
 * over values; required parameters unioned; of each wrapping TTL bound the lowest set value kept); among different
 * matching patterns only the highest-priority one applies, as in Vault.
 */
export class Acl {
  readonly #root: boolean;
  readonly #rules: MergedRule[];

  constructor(policies: readonly Policy[], root: boolean) {
    this.#root = root;
    const merged = new Map<string, MergedRule>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const existing = merged.get(rule.pattern);
        if (!existing) {
          merged.set(rule.pattern, fromRule(rule));
          continue;
        }
        if (existing.capabilities.has('deny')) continue;
        if (rule.capabilities.has('deny')) {
          merged.set(rule.pattern, { pattern: rule.pattern, capabilities: new Set(['deny']), minWrappingTtl: 0, maxWrappingTtl: 0 });
          continue;
        }
        for (const c of rule.capabilities) existing.capabilities.add(c);
        existing.minWrappingTtl = lowestSet(existing.minWrappingTtl, rule.minWrappingTtl ?? 0);
        existing.maxWrappingTtl = lowestSet(existing.maxWrappingTtl, rule.maxWrappingTtl ?? 0);
        if (rule.allowedParameters?.size) existing.allowed = joinLists(existing.allowed, rule.allowedParameters);
        if (rule.deniedParameters?.size) existing.denied = joinLists(existing.denied, rule.deniedParameters);
        if (rule.requiredParameters?.length) existing.required = [...new Set([...(existing.required ?? []), ...rule.requiredParameters])];
      }
    }
    // Highest priority first, so the first match is the winner.
    this.#rules = [...merged.values()].sort((a, b) => comparePriority(b.pattern, a.pattern));
  }

  /** The capabilities granted on `path` (`['deny']` when denied, `['root']` for the root policy). */
  capabilities(path: string): string[] {
    if (this.#root) return ['root'];
    const rule = this.#rules.find((r) => patternMatches(r.pattern, path));
    if (!rule || rule.capabilities.size === 0) return ['deny'];
    if (rule.capabilities.has('deny')) return ['deny'];
    return [...rule.capabilities].sort();
  }

  /**
   * Capability check without the request's parameters. A rule that carries parameter or wrapping-TTL constraints
   * cannot be judged without them, so it is refused here (fail closed): callers that have the request use
   * `allowsRequest`.
   */
  allows(path: string, operation: Operation, needsSudo = isSudoPath(path)): boolean {
    if (this.#root) return true;
    const rule = this.#rules.find((r) => patternMatches(r.pattern, path));
    if (rule && hasConstraints(rule)) return false;
    return this.allowsRequest(path, operation, {}, needsSudo).allowed;
  }

  /**
   * The full ACL decision for one request, as Vault's ACL makes it:
   * 1. the root policy allows everything;
   * 2. the highest-priority pattern matching `path` must grant `operation` (and `sudo` when `needsSudo`), with no
   *    `deny`;
   * 3. wrapping: with `max_wrapping_ttl` the request must ask for wrapping with at most that TTL; with
   *    `min_wrapping_ttl`, with at least that TTL (so `min_wrapping_ttl = 1` makes wrapping mandatory);
   * 4. for read, create, update and patch only: every `required_parameters` name must be present; then, if the
   *    request has parameters, none may match `denied_parameters` (`"*"` denies any parameter; an empty list
   *    denies any value of that name; otherwise a value listed — or, for a list value or a comma-separated
   *    string, any element listed — denies), and when `allowed_parameters` is set each parameter must be listed
   *    (or `"*"` must be) with its value — or every element of a list or comma-separated value — among the
   *    listed values (an empty list allows any value). Denied wins over allowed.
   * Parameter names are compared case-insensitively. String values match a listed value exactly or by a glob
   * with `*` at the start (suffix match), end (prefix match) or both (substring); `"*"` alone only matches "*".
   * Numbers and booleans also match the same text (`5` matches `"5"`); other values compare structurally.
   * Pure: reads nothing but its arguments and the policies, throws nothing.
   */
  allowsRequest(path: string, operation: Operation, request: RequestFacts = {}, needsSudo = isSudoPath(path)): AclDecision {
    if (this.#root) return { allowed: true };
    const rule = this.#rules.find((r) => patternMatches(r.pattern, path));
    if (!rule || rule.capabilities.size === 0) return deny('no policy grants any capability on this path');
    if (rule.capabilities.has('deny')) return deny(`denied by the rule for "${rule.pattern}"`);
    if (!rule.capabilities.has(operation)) return deny(`the rule for "${rule.pattern}" does not grant ${operation}`);
    if (needsSudo && !rule.capabilities.has('sudo')) return deny(`the path needs sudo and the rule for "${rule.pattern}" does not grant it`);

    const wrapTtl = request.wrapTtlSeconds;
    // Possible only after merging policies (a single rule with min > max is refused when written).
    if (rule.minWrappingTtl > 0 && rule.maxWrappingTtl > 0 && rule.maxWrappingTtl < rule.minWrappingTtl) {
      return deny(`the merged rules for "${rule.pattern}" have max_wrapping_ttl below min_wrapping_ttl`);
    }
    if (rule.maxWrappingTtl > 0 && (wrapTtl === undefined || wrapTtl > rule.maxWrappingTtl)) {
      return deny(`the rule for "${rule.pattern}" requires response wrapping with a TTL of at most ${rule.maxWrappingTtl}s`);
    }
    if (rule.minWrappingTtl > 0 && (wrapTtl === undefined || wrapTtl < rule.minWrappingTtl)) {
      return deny(`the rule for "${rule.pattern}" requires response wrapping with a TTL of at least ${rule.minWrappingTtl}s`);
    }

    if (!PARAMETER_OPERATIONS.has(operation)) return { allowed: true };
    const params = Object.entries(request.data ?? {});
    const names = new Set(params.map(([name]) => name.toLowerCase()));
    for (const name of rule.required ?? []) {
      if (!names.has(name)) return deny(`required parameter "${name}" is missing`);
    }
    if (params.length === 0) return { allowed: true };

    if (rule.denied?.size) {
      if (rule.denied.has('*')) return deny('all parameters are denied on this path');
      for (const [name, value] of params) {
        const list = rule.denied.get(name.toLowerCase());
        if (list && deniedMatch(value, list)) return deny(`parameter "${name}" is denied${list.length ? ' for this value' : ''}`);
      }
    }
    if (!rule.allowed?.size) return { allowed: true };
    const allowAll = rule.allowed.has('*');
    for (const [name, value] of params) {
      const list = rule.allowed.get(name.toLowerCase());
      if (!list) {
        if (allowAll) continue;
        return deny(`parameter "${name}" is not allowed`);
      }
      if (!allowedMatch(value, list)) return deny(`this value of parameter "${name}" is not allowed`);
    }
    return { allowed: true };
  }
}

function deny(reason: string): AclDecision {
  return { allowed: false, reason };
}

function fromRule(rule: PathRule): MergedRule {
  const copy = (m: ReadonlyMap<string, readonly ParameterValue[]> | undefined) =>
    m && m.size > 0 ? new Map([...m].map(([k, v]) => [k, [...v]] as [string, ParameterValue[]])) : undefined;
  const allowed = copy(rule.allowedParameters);
  const denied = copy(rule.deniedParameters);
  return {
    pattern: rule.pattern,
    capabilities: new Set(rule.capabilities),
    // A deny rule keeps nothing else, as in Vault.
    ...(rule.capabilities.has('deny') ? {} : { ...(allowed ? { allowed } : {}), ...(denied ? { denied } : {}) }),
    ...(rule.requiredParameters?.length && !rule.capabilities.has('deny') ? { required: [...rule.requiredParameters] } : {}),
    minWrappingTtl: rule.minWrappingTtl ?? 0,
    maxWrappingTtl: rule.maxWrappingTtl ?? 0,
  };
}

function hasConstraints(rule: MergedRule): boolean {
  return Boolean(rule.allowed?.size || rule.denied?.size || rule.required?.length || rule.minWrappingTtl || rule.maxWrappingTtl);
}

/** The lower of two bounds where 0 means "not set". */
function lowestSet(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/** Joins parameter lists of the same name: an empty list (any value) on either side stays empty. */
function joinLists(
  into: Map<string, ParameterValue[]> | undefined,
  from: ReadonlyMap<string, readonly ParameterValue[]>,
): Map<string, ParameterValue[]> {
  const out = new Map(into ?? []);
  for (const [name, values] of from) {
    const before = out.get(name);
    out.set(name, before === undefined ? [...values] : before.length === 0 || values.length === 0 ? [] : [...values, ...before]);
  }
  return out;
}

/** Every element of a list value (or of a comma-separated string) must be listed. */
function allowedMatch(value: unknown, list: readonly ParameterValue[]): boolean {
  if (list.length === 0 || listed(value, list)) return true;
  const elements = elementsOf(value);
  return elements !== undefined && elements.every((e) => listed(e, list));
}

/** Any element of a list value (or of a comma-separated string) listed is enough to deny. */
function deniedMatch(value: unknown, list: readonly ParameterValue[]): boolean {
  if (list.length === 0 || listed(value, list)) return true;
  return (elementsOf(value) ?? []).some((e) => listed(e, list));
}

/** A list value's elements, or a string's comma-separated parts (trimmed), as Vault treats comma-string fields. */
function elementsOf(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string' && value.includes(',')) return value.split(',').map((part) => part.trim());
  return undefined;
}

function listed(value: unknown, list: readonly ParameterValue[]): boolean {
  return list.some((item) => {
    if (item === null || value === null || value === undefined) return item === (value ?? null);
    const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (typeof item === 'string') return text !== undefined && globMatch(item, text);
    if (typeof item === 'number' || typeof item === 'boolean') return text === String(item);
    return deepEqual(item, value);
  });
}

/** `*foo*` contains, `*foo` ends with, `foo*` starts with; anything else (including a lone `*`) is exact. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern.length < 2) return pattern === value;
  const head = pattern.startsWith('*');
  const tail = pattern.endsWith('*');
  if (head && tail) return value.includes(pattern.slice(1, -1));
  if (head) return value.endsWith(pattern.slice(1));
  if (tail) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
