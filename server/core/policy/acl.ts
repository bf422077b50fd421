import { comparePriority, patternMatches, type Capability, type Policy } from './policy.js';

/** A request as the ACL sees it. */
export type Operation = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list';

/**
 * Paths of the sys backend that need `sudo` in addition to the operation's capability (Vault CE's list). Entries
 * ending in `*` are prefixes; the others match exactly (`sys/rotate` does not cover `sys/rotate/config`).
 */
const SUDO_PATHS = [
  'auth/*', 'remount', 'audit', 'audit/*', 'raw', 'raw/*', 'replication/primary/secondary-token',
  'replication/performance/primary/secondary-token', 'replication/dr/primary/secondary-token', 'replication/reindex',
  'replication/dr/reindex', 'replication/performance/reindex', 'rotate', 'rotate/keyring', 'config/cors', 'config/auditing/*',
  'config/ui/headers/*', 'plugins/catalog/*', 'plugins/runtimes/catalog/*', 'revoke-prefix/*', 'revoke-force/*',
  'leases/revoke-prefix/*', 'leases/revoke-force/*', 'leases/lookup/*', 'storage/raft/snapshot-auto/config/*', 'leases',
  'internal/inspect/*', 'seal', 'step-down',
].map((p) => `sys/${p}`);

/** Token-store paths that need `sudo` (Vault's token backend root paths). */
const TOKEN_SUDO_PATHS = ['auth/token/create-orphan', 'auth/token/revoke-orphan', 'auth/token/accessors/'];

export function isSudoPath(path: string): boolean {
  return [...SUDO_PATHS, ...TOKEN_SUDO_PATHS].some((p) => (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path));
}

/**
 * The union of a token's policies. Rules for the same pattern are merged (capabilities unioned, `deny` wins);
 * among different matching patterns only the highest-priority one applies, as in Vault.
 */
export class Acl {
  readonly #root: boolean;
  readonly #rules: Array<{ pattern: string; capabilities: Set<Capability> }>;

  constructor(policies: readonly Policy[], root: boolean) {
    this.#root = root;
    const merged = new Map<string, Set<Capability>>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const set = merged.get(rule.pattern) ?? new Set<Capability>();
        for (const c of rule.capabilities) set.add(c);
        merged.set(rule.pattern, set);
      }
    }
    // Highest priority first, so the first match is the winner.
    this.#rules = [...merged].map(([pattern, capabilities]) => ({ pattern, capabilities })).sort((a, b) => comparePriority(b.pattern, a.pattern));
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
   * Whether any rule grants something at or below `prefix` (a mount path such as `secret/`): what decides which
   * mounts `sys/internal/ui/mounts` shows a token.
   */
  hasAccessUnder(prefix: string): boolean {
    if (this.#root) return true;
    return this.#rules.some((r) => {
      if (r.capabilities.has('deny') || r.capabilities.size === 0) return false;
      const base = r.pattern.endsWith('*') ? r.pattern.slice(0, -1) : r.pattern;
      return base.startsWith(prefix) || (r.pattern.endsWith('*') && prefix.startsWith(base)) || base.split('/').includes('+');
    });
  }

  allows(path: string, operation: Operation, needsSudo = isSudoPath(path)): boolean {
    if (this.#root) return true;
    const caps = this.capabilities(path);
    if (caps.includes('deny')) return false;
    return caps.includes(operation) && (!needsSudo || caps.includes('sudo'));
  }
}
