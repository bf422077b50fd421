import type { BodySchema } from '../../../shared/schemas.js';
import type { LogicalResponse } from '../secrets/secret-engine.js';

/** A request to an auth method, the path relative to its mount (`login`, `role/web/secret-id`). */
export interface AuthRequest {
  readonly operation: 'read' | 'list' | 'create' | 'update' | 'delete';
  readonly path: string;
  /** The body validated against `schema`. @throws CofferError `invalid_request` (wrong type, unknown field). */
  body<T>(schema: BodySchema): T;
  /** Whether the request carried a body field at all (Vault's framework treats absent and default differently). */
  readonly remoteAddress: string | undefined;
}

/** How the tokens a role or user issues look (Vault's `tokenutil` fields), seconds; 0 = not set. */
export interface TokenSettings {
  policies: string[];
  ttl: number;
  maxTtl: number;
  explicitMaxTtl: number;
  period: number;
  numUses: number;
  noDefaultPolicy: boolean;
  boundCidrs: string[];
}

/** What a successful login asks the token store for. */
export interface LoginResult {
  settings: TokenSettings;
  /** Shown as `auth.metadata` and stored as the token's meta. */
  metadata: Record<string, string>;
  displayName: string;
}

export interface AuthMethod {
  /** Paths reachable without a token (the login endpoints). */
  isLogin(path: string): boolean;
  /** @throws CofferError `invalid_request` for bad credentials (one message whatever was wrong). */
  login(req: AuthRequest): Promise<LoginResult>;
  /** The method's management endpoints (ACL-checked by the caller). */
  handle(req: AuthRequest): Promise<LogicalResponse | undefined>;
  /** Whether a write to `path` updates something (`update`) or creates it (`create`), for the ACL. */
  exists(path: string): Promise<boolean>;
}
