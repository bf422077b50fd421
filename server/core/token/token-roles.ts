import type { Barrier } from '../barrier/barrier.js';
import { CofferError } from '../errors.js';
import { decodeJson, encodeJson } from '../secrets/secret-engine.js';

/** A token role: what `auth/token/create/:role` may issue. Durations in seconds; 0 = unset. */
export interface TokenRole {
  name: string;
  allowedPolicies: string[];
  disallowedPolicies: string[];
  orphan: boolean;
  renewable: boolean;
  pathSuffix: string;
  period: number;
  explicitMaxTtl: number;
  noDefaultPolicy: boolean;
  numUses: number;
  boundCidrs: string[];
}

const ROLE_PREFIX = 'sys/token/role/';
const NAME = /^[A-Za-z0-9_.-]+$/;

/** Token roles behind the barrier at `sys/token/role/<name>`. */
export class TokenRoles {
  constructor(private readonly barrier: Barrier) {}

  async get(name: string): Promise<TokenRole | undefined> {
    if (!NAME.test(name)) return undefined;
    const raw = await this.barrier.get(ROLE_PREFIX + name);
    return raw ? decodeJson<TokenRole>(raw) : undefined;
  }

  /** @throws CofferError `invalid_request` for a name that is not `[A-Za-z0-9_.-]+`. */
  async put(role: TokenRole): Promise<void> {
    if (!NAME.test(role.name)) throw new CofferError('invalid_request', `invalid role name "${role.name}"`);
    await this.barrier.put(ROLE_PREFIX + role.name, encodeJson(role));
  }

  async delete(name: string): Promise<void> {
    if (!NAME.test(name)) return;
    await this.barrier.batch([{ type: 'delete', path: ROLE_PREFIX + name }]);
  }

  list(): Promise<string[]> {
    return this.barrier.list(ROLE_PREFIX);
  }
}
