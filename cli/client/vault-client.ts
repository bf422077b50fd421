import { readFileSync } from 'node:fs';
import { errorsOf, vaultRequest } from '../../shared/vault-http.js';
import { readStoredToken } from './token-helper.js';

/** An HTTP error answer from the server, printed the way Vault's CLI prints it. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errors: string[] | undefined,
    readonly rawBody: string,
  ) {
    super(`Code: ${status}`);
    this.name = 'ApiError';
  }

  /** `Error making API request.\n\nURL: PUT …\nCode: 400. Errors:\n\n* msg` */
  describe(): string {
    const head = `Error making API request.\n\nURL: ${this.method} ${this.url}\n`;
    if (this.errors === undefined) return `${head}Code: ${this.status}. Raw Message:\n\n${this.rawBody}`;
    return `${head}Code: ${this.status}. Errors:\n\n${this.errors.map((e) => `* ${e}`).join('\n')}`;
  }
}

export interface ClientSettings {
  address: string;
  token?: string;
  caCert?: string;
  skipVerify?: boolean;
  /** `-wrap-ttl` / `VAULT_WRAP_TTL`: every response comes back wrapped. */
  wrapTtl?: string;
}

/** Settings from Vault's environment variables, overridden by flags. */
export function settingsFromEnv(env: NodeJS.ProcessEnv, flags: { address?: string; caCert?: string; tlsSkipVerify?: boolean; wrapTtl?: string }): ClientSettings {
  const skip = flags.tlsSkipVerify ?? /^(1|t|true)$/i.test(env.VAULT_SKIP_VERIFY ?? '');
  const caCert = flags.caCert ?? env.VAULT_CACERT;
  const token = env.VAULT_TOKEN || readStoredToken(env);
  return {
    address: (flags.address ?? env.VAULT_ADDR ?? 'https://127.0.0.1:8200').replace(/\/+$/, ''),
    ...(token ? { token } : {}),
    ...(caCert ? { caCert } : {}),
    ...((flags.wrapTtl ?? env.VAULT_WRAP_TTL) ? { wrapTtl: flags.wrapTtl ?? env.VAULT_WRAP_TTL } : {}),
    skipVerify: skip,
  };
}

export interface ApiResponse<T> {
  status: number;
  body: T | undefined;
}

/** A small typed client over node:http(s), so a custom CA works without extra dependencies. */
export class VaultClient {
  readonly #settings: ClientSettings;
  readonly #ca: Buffer | undefined;

  constructor(settings: ClientSettings) {
    this.#settings = settings;
    this.#ca = settings.caCert ? readFileSync(settings.caCert) : undefined;
  }

  get address(): string {
    return this.#settings.address;
  }

  /**
   * Sends a request to `/v1/<path>`. Resolves for 2xx/3xx (and for `sys/health`, whatever its code).
   * @throws ApiError for an error status; Error for a connection failure.
   */
  async request<T>(method: string, path: string, body?: unknown, options: { acceptAnyStatus?: boolean } = {}): Promise<ApiResponse<T>> {
    const response = await vaultRequest(this.#settings.address, method, path, {
      ...(this.#settings.token ? { token: this.#settings.token } : {}),
      ...(this.#settings.wrapTtl ? { wrapTtl: this.#settings.wrapTtl } : {}),
      body,
      tls: { ...(this.#ca ? { ca: this.#ca } : {}), skipVerify: this.#settings.skipVerify ?? false },
    });
    if (response.status >= 400 && !options.acceptAnyStatus) {
      const url = `${this.#settings.address}/v1/${path}`;
      throw new ApiError(method, url, response.status, errorsOf(response.json), response.text);
    }
    return { status: response.status, body: response.json as T | undefined };
  }
}
