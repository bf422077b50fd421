import { USERPASS_LOGIN_REQUEST, USERPASS_USER_REQUEST } from '../../../shared/schemas.js';
import { CofferError } from '../errors.js';
import { decodeJson, encodeJson, type BarrierView, type LogicalResponse } from '../secrets/secret-engine.js';
import type { AuthMethod, AuthRequest, LoginResult, TokenSettings } from './auth-method.js';
import { hashPassword, verifyPassword } from './password-hash.js';
import { applyTokenSettings, describeTokenSettings, NO_TOKEN_SETTINGS } from './token-settings.js';

interface UserEntry {
  passwordHash: string;
  settings: TokenSettings;
}

const USER_PREFIX = 'user/';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
/** One answer for every failed login, whatever failed. */
const INVALID = 'invalid username or password';

/**
 * The userpass method: users (names case-insensitive, as in Vault) with a scrypt password hash and token settings,
 * stored under the mount's view behind the barrier. The password itself is never stored.
 */
export class Userpass implements AuthMethod {
  constructor(private readonly view: BarrierView) {}

  isLogin(path: string): boolean {
    return path.startsWith('login/');
  }

  async exists(path: string): Promise<boolean> {
    const m = /^users\/([^/]+)(\/(password|policies))?$/.exec(path);
    return m ? (await this.#user(m[1]!)) !== undefined : false;
  }

  async login(req: AuthRequest): Promise<LoginResult> {
    const name = req.path.slice('login/'.length);
    const body = req.body<{ password?: string }>(USERPASS_LOGIN_REQUEST);
    if (!body.password) throw new CofferError('invalid_request', 'missing password');
    const user = NAME.test(name) ? await this.#user(name) : undefined;
    // Unknown users cost a full hash too: no user-exists oracle by timing.
    if (!(await verifyPassword(body.password, user?.passwordHash))) throw new CofferError('invalid_request', INVALID);
    return { settings: user!.settings, metadata: { username: name.toLowerCase() }, displayName: `userpass-${name.toLowerCase()}` };
  }

  async handle(req: AuthRequest): Promise<LogicalResponse | undefined> {
    if (req.path === 'users' || req.path === 'users/') {
      if (req.operation !== 'list') throw new CofferError('unsupported_operation', 'unsupported operation');
      const keys = await this.view.list(USER_PREFIX);
      return keys.length === 0 ? undefined : { data: { keys } };
    }
    const m = /^users\/([^/]+)(?:\/(password|policies))?$/.exec(req.path);
    if (!m) throw new CofferError('unsupported_path', 'unsupported path');
    const name = m[1]!.toLowerCase();
    if (!NAME.test(name)) throw new CofferError('invalid_request', `invalid username "${m[1]}"`);
    const sub = m[2];
    const current = await this.#user(name);
    switch (req.operation) {
      case 'read':
        if (sub) throw new CofferError('unsupported_operation', 'unsupported operation');
        return current ? { data: describeTokenSettings(current.settings) } : undefined;
      case 'delete':
        if (sub) throw new CofferError('unsupported_operation', 'unsupported operation');
        await this.view.delete(USER_PREFIX + name);
        return undefined;
      case 'create':
      case 'update': {
        const body = req.body<Record<string, unknown>>(USERPASS_USER_REQUEST);
        if (sub === 'password') {
          if (!current) throw new CofferError('invalid_request', 'username does not exist');
          for (const key of Object.keys(body))
            if (key !== 'password') throw new CofferError('invalid_request', `unknown field "${key}": not accepted on users/:name/password`);
          if (typeof body.password !== 'string' || body.password === '') throw new CofferError('invalid_request', 'missing password');
          await this.#put(name, { ...current, passwordHash: await hashPassword(body.password) });
          return undefined;
        }
        if (sub === 'policies') {
          if (!current) throw new CofferError('invalid_request', 'username does not exist');
          for (const key of Object.keys(body))
            if (key !== 'policies' && key !== 'token_policies')
              throw new CofferError('invalid_request', `unknown field "${key}": not accepted on users/:name/policies`);
          await this.#put(name, { ...current, settings: applyTokenSettings(current.settings, body) });
          return undefined;
        }
        if (!current && (typeof body.password !== 'string' || body.password === '')) throw new CofferError('invalid_request', 'missing password');
        const settings = applyTokenSettings(current?.settings ?? NO_TOKEN_SETTINGS, body);
        const passwordHash = typeof body.password === 'string' && body.password !== '' ? await hashPassword(body.password) : current!.passwordHash;
        await this.#put(name, { passwordHash, settings });
        return undefined;
      }
      default:
        throw new CofferError('unsupported_operation', 'unsupported operation');
    }
  }

  async #user(name: string): Promise<UserEntry | undefined> {
    const raw = await this.view.get(USER_PREFIX + name.toLowerCase());
    return raw ? decodeJson<UserEntry>(raw) : undefined;
  }

  async #put(name: string, entry: UserEntry): Promise<void> {
    await this.view.put(USER_PREFIX + name, encodeJson(entry));
  }
}
