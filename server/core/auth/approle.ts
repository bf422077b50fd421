import { Mutex } from 'async-mutex';
import {
  APPROLE_LOGIN_REQUEST,
  APPROLE_ROLE_ID_REQUEST,
  APPROLE_ROLE_REQUEST,
  APPROLE_SECRET_ID_REF,
  APPROLE_SECRET_ID_REQUEST,
} from '../../../shared/schemas.js';
import type { BarrierOp } from '../barrier/barrier.js';
import { rfc3339Nano, type Clock, type Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { decodeJson, encodeJson, type BarrierView, type LogicalResponse } from '../secrets/secret-engine.js';
import { parseDurationSeconds } from '../go-duration.js';
import type { AuthMethod, AuthRequest, LoginResult, TokenSettings } from './auth-method.js';
import { cidrsAllow, parseCidrs } from './cidr.js';
import { applyTokenSettings, describeTokenSettings, NO_TOKEN_SETTINGS } from './token-settings.js';

interface RoleEntry {
  roleId: string;
  bindSecretId: boolean;
  secretIdBoundCidrs: string[];
  secretIdNumUses: number;
  secretIdTtl: number;
  settings: TokenSettings;
}

interface SecretIdEntry {
  accessor: string;
  /** Unix seconds. */
  creationTime: number;
  /** Unix seconds; 0 = never. */
  expirationTime: number;
  lastUpdatedTime: number;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  cidrList: string[];
  tokenBoundCidrs: string[];
  metadata: Record<string, string>;
}

const ROLE = 'role/';
const ROLE_ID = 'role_id/';
const SECRET_ID = 'secret_id/';
const ACCESSOR = 'accessor/';
const NAME = /^[A-Za-z0-9_.-]+$/;
const INVALID = 'invalid role or secret ID';

/**
 * The AppRole method. Roles live under the mount's view; a role id is found through the keyed hash of it, and a
 * secret id is stored ONLY as its keyed hash (the HMAC key is the token store's, behind the barrier), so storage
 * never holds a usable secret id. Secret-id accessors are indexed the same way.
 */
export class AppRole implements AuthMethod {
  readonly #lock = new Mutex();

  constructor(
    private readonly view: BarrierView,
    private readonly clock: Clock,
    private readonly random: Random,
    /** Keyed hash under the store's key; `purpose` separates the uses. */
    private readonly hmac: (purpose: string, value: string) => string,
  ) {}

  isLogin(path: string): boolean {
    return path === 'login';
  }

  async exists(path: string): Promise<boolean> {
    const m = /^role\/([^/]+)$/.exec(path);
    return m ? (await this.#role(m[1]!)) !== undefined : false;
  }

  async login(req: AuthRequest): Promise<LoginResult> {
    const body = req.body<{ role_id?: string; secret_id?: string }>(APPROLE_LOGIN_REQUEST);
    if (!body.role_id) throw new CofferError('invalid_request', 'missing role_id');
    return this.#lock.runExclusive(async () => {
      const nameRaw = await this.view.get(ROLE_ID + this.hmac('approle-role-id', body.role_id!));
      const name = nameRaw ? new TextDecoder().decode(nameRaw) : undefined;
      const role = name ? await this.#role(name) : undefined;
      if (!name || !role) throw new CofferError('invalid_request', INVALID);
      if (!cidrsAllow(role.secretIdBoundCidrs, req.remoteAddress)) throw new CofferError('invalid_request', INVALID);
      let metadata: Record<string, string> = {};
      let tokenCidrs = role.settings.boundCidrs;
      if (role.bindSecretId) {
        if (!body.secret_id) throw new CofferError('invalid_request', 'missing secret_id');
        const key = `${SECRET_ID}${name}/${this.hmac('approle-secret-id', body.secret_id)}`;
        const raw = await this.view.get(key);
        const entry = raw ? decodeJson<SecretIdEntry>(raw) : undefined;
        const now = this.#now();
        if (!entry || (entry.expirationTime > 0 && now >= entry.expirationTime)) throw new CofferError('invalid_request', INVALID);
        if (!cidrsAllow(entry.cidrList, req.remoteAddress)) throw new CofferError('invalid_request', INVALID);
        if (entry.numUses === 1) {
          await this.view.batch([
            { type: 'delete', path: key },
            { type: 'delete', path: ACCESSOR + this.hmac('approle-accessor', entry.accessor) },
          ]);
        } else if (entry.numUses > 1) {
          await this.view.put(key, encodeJson({ ...entry, numUses: entry.numUses - 1, lastUpdatedTime: now }));
        }
        metadata = entry.metadata;
        if (entry.tokenBoundCidrs.length > 0) tokenCidrs = entry.tokenBoundCidrs;
      }
      return { settings: { ...role.settings, boundCidrs: tokenCidrs }, metadata: { ...metadata, role_name: name }, displayName: 'approle' };
    });
  }

  async handle(req: AuthRequest): Promise<LogicalResponse | undefined> {
    if (req.path === 'role' || req.path === 'role/') {
      if (req.operation !== 'list') throw new CofferError('unsupported_operation', 'unsupported operation');
      const keys = await this.view.list(ROLE);
      return keys.length === 0 ? undefined : { data: { keys } };
    }
    const m = /^role\/([^/]+)(?:\/(.+))?$/.exec(req.path);
    if (!m) throw new CofferError('unsupported_path', 'unsupported path');
    const name = m[1]!;
    if (!NAME.test(name)) throw new CofferError('invalid_request', `invalid role name "${name}"`);
    const sub = m[2];
    return this.#lock.runExclusive(() => (sub === undefined ? this.#roleOp(req, name) : this.#subOp(req, name, sub)));
  }

  async #roleOp(req: AuthRequest, name: string): Promise<LogicalResponse | undefined> {
    const current = await this.#role(name);
    switch (req.operation) {
      case 'read':
        return current ? { data: describeRole(current) } : undefined;
      case 'delete': {
        if (!current) return undefined;
        const ops: BarrierOp[] = [
          { type: 'delete', path: ROLE + name },
          { type: 'delete', path: ROLE_ID + this.hmac('approle-role-id', current.roleId) },
          ...(await this.#secretIdDeletes(name)),
        ];
        await this.view.batch(ops);
        return undefined;
      }
      case 'create':
      case 'update': {
        const body = req.body<Record<string, unknown>>(APPROLE_ROLE_REQUEST);
        if (body.local_secret_ids !== undefined && body.local_secret_ids !== false && body.local_secret_ids !== 'false') {
          throw new CofferError('invalid_request', 'invalid value for "local_secret_ids": Coffer has no cluster-local storage');
        }
        const role: RoleEntry = current
          ? { ...current }
          : {
              roleId: this.random.uuid(),
              bindSecretId: true,
              secretIdBoundCidrs: [],
              secretIdNumUses: 0,
              secretIdTtl: 0,
              settings: NO_TOKEN_SETTINGS,
            };
        if (body.bind_secret_id !== undefined) role.bindSecretId = parseBool(body.bind_secret_id, 'bind_secret_id');
        const cidrField =
          body.secret_id_bound_cidrs !== undefined ? 'secret_id_bound_cidrs' : body.bound_cidr_list !== undefined ? 'bound_cidr_list' : undefined;
        if (cidrField) role.secretIdBoundCidrs = parseCidrs(body[cidrField], cidrField);
        if (body.secret_id_num_uses !== undefined) role.secretIdNumUses = parseInt0(body.secret_id_num_uses, 'secret_id_num_uses');
        if (body.secret_id_ttl !== undefined) role.secretIdTtl = parseDurationSeconds(body.secret_id_ttl, 'secret_id_ttl');
        role.settings = applyTokenSettings(role.settings, body);
        const ops: BarrierOp[] = [];
        if (typeof body.role_id === 'string' && body.role_id !== role.roleId) {
          if (body.role_id === '') throw new CofferError('invalid_request', 'missing role_id');
          await this.#claimRoleId(body.role_id, name);
          if (current) ops.push({ type: 'delete', path: ROLE_ID + this.hmac('approle-role-id', current.roleId) });
          role.roleId = body.role_id;
        }
        if (!role.bindSecretId && role.secretIdBoundCidrs.length === 0 && role.settings.boundCidrs.length === 0) {
          throw new CofferError('invalid_request', 'at least one constraint should be enabled on the role');
        }
        ops.push({ type: 'put', path: ROLE + name, value: encodeJson(role) });
        ops.push({ type: 'put', path: ROLE_ID + this.hmac('approle-role-id', role.roleId), value: new TextEncoder().encode(name) });
        await this.view.batch(ops);
        return undefined;
      }
      default:
        throw new CofferError('unsupported_operation', 'unsupported operation');
    }
  }

  async #subOp(req: AuthRequest, name: string, sub: string): Promise<LogicalResponse | undefined> {
    const role = await this.#role(name);
    if (!role) throw new CofferError('invalid_request', `role "${name}" does not exist`);
    const write = req.operation === 'create' || req.operation === 'update';
    switch (sub) {
      case 'role-id':
        if (req.operation === 'read') return { data: { role_id: role.roleId } };
        if (write) {
          const { role_id: roleId } = req.body<{ role_id?: string }>(APPROLE_ROLE_ID_REQUEST);
          if (!roleId) throw new CofferError('invalid_request', 'missing role_id');
          if (roleId === role.roleId) return undefined;
          await this.#claimRoleId(roleId, name);
          await this.view.batch([
            { type: 'delete', path: ROLE_ID + this.hmac('approle-role-id', role.roleId) },
            { type: 'put', path: ROLE_ID + this.hmac('approle-role-id', roleId), value: new TextEncoder().encode(name) },
            { type: 'put', path: ROLE + name, value: encodeJson({ ...role, roleId }) },
          ]);
          return undefined;
        }
        break;
      case 'secret-id':
        if (req.operation === 'list') {
          const keys: string[] = [];
          for (const hash of await this.view.list(`${SECRET_ID}${name}/`)) {
            const raw = await this.view.get(`${SECRET_ID}${name}/${hash}`);
            if (raw) keys.push(decodeJson<SecretIdEntry>(raw).accessor);
          }
          return keys.length === 0 ? undefined : { data: { keys: keys.sort() } };
        }
        if (write) return this.#issueSecretId(req, name, role, false);
        break;
      case 'custom-secret-id':
        if (write) return this.#issueSecretId(req, name, role, true);
        break;
      case 'secret-id/lookup':
      case 'secret-id/destroy':
      case 'secret-id-accessor/lookup':
      case 'secret-id-accessor/destroy': {
        if (!write && req.operation !== 'delete') break;
        const body = req.body<{ secret_id?: string; secret_id_accessor?: string }>(APPROLE_SECRET_ID_REF);
        const byAccessor = sub.startsWith('secret-id-accessor');
        const field = byAccessor ? 'secret_id_accessor' : 'secret_id';
        const other = byAccessor ? 'secret_id' : 'secret_id_accessor';
        if (body[other] !== undefined) throw new CofferError('invalid_request', `unknown field "${other}": not accepted on ${sub}`);
        const value = body[field];
        if (!value) throw new CofferError('invalid_request', `missing ${field}`);
        const key = byAccessor ? await this.#keyByAccessor(name, value) : `${SECRET_ID}${name}/${this.hmac('approle-secret-id', value)}`;
        const raw = key ? await this.view.get(key) : undefined;
        const entry = raw ? decodeJson<SecretIdEntry>(raw) : undefined;
        const now = this.#now();
        const live = entry && !(entry.expirationTime > 0 && now >= entry.expirationTime) ? entry : undefined;
        if (sub.endsWith('/lookup')) {
          if (!live && byAccessor) throw new CofferError('invalid_request', `failed to find accessor entry for secret_id_accessor: "${value}"`);
          return live ? { data: describeSecretId(live) } : undefined;
        }
        if (entry) {
          await this.view.batch([
            { type: 'delete', path: key! },
            { type: 'delete', path: ACCESSOR + this.hmac('approle-accessor', entry.accessor) },
          ]);
        }
        return undefined;
      }
      default:
        throw new CofferError('unsupported_path', 'unsupported path');
    }
    throw new CofferError('unsupported_operation', 'unsupported operation');
  }

  async #issueSecretId(req: AuthRequest, name: string, role: RoleEntry, custom: boolean): Promise<LogicalResponse> {
    if (!role.bindSecretId) throw new CofferError('invalid_request', 'bind_secret_id is not set on the role');
    const body = req.body<Record<string, unknown>>(APPROLE_SECRET_ID_REQUEST);
    if (!custom && body.secret_id !== undefined)
      throw new CofferError('invalid_request', 'unknown field "secret_id": use custom-secret-id to choose a secret id');
    const secretId = custom ? String(body.secret_id ?? '') : this.random.uuid();
    if (secretId === '') throw new CofferError('invalid_request', 'missing secret_id');
    let metadata: Record<string, string> = {};
    if (typeof body.metadata === 'string' && body.metadata !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.metadata);
      } catch {
        throw new CofferError('invalid_request', 'failed to parse metadata: it must be a JSON object of strings');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
        throw new CofferError('invalid_request', 'failed to parse metadata: it must be a JSON object of strings');
      }
      metadata = parsed as Record<string, string>;
    }
    const cidrList = body.cidr_list !== undefined ? parseCidrs(body.cidr_list, 'cidr_list') : [];
    const tokenBoundCidrs = body.token_bound_cidrs !== undefined ? parseCidrs(body.token_bound_cidrs, 'token_bound_cidrs') : [];
    let numUses = role.secretIdNumUses;
    if (body.num_uses !== undefined) {
      numUses = parseInt0(body.num_uses, 'num_uses');
      if (role.secretIdNumUses > 0 && (numUses === 0 || numUses > role.secretIdNumUses))
        throw new CofferError('invalid_request', "num_uses cannot be higher than the role's secret_id_num_uses");
    }
    let ttl = role.secretIdTtl;
    if (body.ttl !== undefined) {
      ttl = parseDurationSeconds(body.ttl, 'ttl');
      if (role.secretIdTtl > 0 && (ttl === 0 || ttl > role.secretIdTtl))
        throw new CofferError('invalid_request', "ttl cannot be longer than the role's secret_id_ttl");
    }
    const hash = this.hmac('approle-secret-id', secretId);
    const key = `${SECRET_ID}${name}/${hash}`;
    if (await this.view.get(key)) throw new CofferError('invalid_request', 'secret_id is already registered');
    const now = this.#now();
    const entry: SecretIdEntry = {
      accessor: this.random.uuid(),
      creationTime: now,
      expirationTime: ttl > 0 ? now + ttl : 0,
      lastUpdatedTime: now,
      numUses,
      cidrList,
      tokenBoundCidrs,
      metadata,
    };
    await this.view.batch([
      { type: 'put', path: key, value: encodeJson(entry) },
      { type: 'put', path: ACCESSOR + this.hmac('approle-accessor', entry.accessor), value: encodeJson({ role: name, hash }) },
    ]);
    return { data: { secret_id: secretId, secret_id_accessor: entry.accessor, secret_id_ttl: ttl, secret_id_num_uses: numUses } };
  }

  async #claimRoleId(roleId: string, name: string): Promise<void> {
    const owner = await this.view.get(ROLE_ID + this.hmac('approle-role-id', roleId));
    if (owner && new TextDecoder().decode(owner) !== name) throw new CofferError('invalid_request', 'role_id already in use');
  }

  async #keyByAccessor(name: string, accessor: string): Promise<string | undefined> {
    const raw = await this.view.get(ACCESSOR + this.hmac('approle-accessor', accessor));
    if (!raw) return undefined;
    const ref = decodeJson<{ role: string; hash: string }>(raw);
    return ref.role === name ? `${SECRET_ID}${name}/${ref.hash}` : undefined;
  }

  async #secretIdDeletes(name: string): Promise<BarrierOp[]> {
    const ops: BarrierOp[] = [];
    for (const hash of await this.view.list(`${SECRET_ID}${name}/`)) {
      const raw = await this.view.get(`${SECRET_ID}${name}/${hash}`);
      if (raw) ops.push({ type: 'delete', path: ACCESSOR + this.hmac('approle-accessor', decodeJson<SecretIdEntry>(raw).accessor) });
      ops.push({ type: 'delete', path: `${SECRET_ID}${name}/${hash}` });
    }
    return ops;
  }

  async #role(name: string): Promise<RoleEntry | undefined> {
    if (!NAME.test(name)) return undefined;
    const raw = await this.view.get(ROLE + name);
    return raw ? decodeJson<RoleEntry>(raw) : undefined;
  }

  #now(): number {
    return Math.floor(this.clock.now().getTime() / 1000);
  }
}

function describeRole(role: RoleEntry): Record<string, unknown> {
  return {
    bind_secret_id: role.bindSecretId,
    secret_id_bound_cidrs: role.secretIdBoundCidrs,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    local_secret_ids: false,
    ...describeTokenSettings(role.settings),
  };
}

function describeSecretId(entry: SecretIdEntry): Record<string, unknown> {
  const iso = (s: number) => rfc3339Nano(new Date(s * 1000));
  return {
    cidr_list: entry.cidrList,
    creation_time: iso(entry.creationTime),
    expiration_time: entry.expirationTime === 0 ? '0001-01-01T00:00:00Z' : iso(entry.expirationTime),
    last_updated_time: iso(entry.lastUpdatedTime),
    metadata: entry.metadata,
    secret_id_accessor: entry.accessor,
    secret_id_num_uses: entry.numUses,
    secret_id_ttl: entry.expirationTime === 0 ? 0 : entry.expirationTime - entry.creationTime,
    token_bound_cidrs: entry.tokenBoundCidrs,
  };
}

function parseBool(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(value))) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(String(value))) return false;
  throw new CofferError('invalid_request', `invalid value for "${field}": expected a boolean`);
}

function parseInt0(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new CofferError('invalid_request', `invalid value for "${field}": expected a non-negative integer`);
  return n;
}
