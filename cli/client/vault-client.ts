import { readFileSync } from 'node:fs';
import http from 'node:http';
import { readStoredToken } from './token-helper.js';
import https from 'node:https';

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
}

/** Settings from Vault's environment variables, overridden by flags. */
export function settingsFromEnv(env: NodeJS.ProcessEnv, flags: { address?: string; caCert?: string; tlsSkipVerify?: boolean }): ClientSettings {
  const skip = flags.tlsSkipVerify ?? /^(1|t|true)$/i.test(env.VAULT_SKIP_VERIFY ?? '');
  const caCert = flags.caCert ?? env.VAULT_CACERT;
  const token = env.VAULT_TOKEN || readStoredToken(env);
  return {
    address: (flags.address ?? env.VAULT_ADDR ?? 'https://127.0.0.1:8200').replace(/\/+$/, ''),
    ...(token ? { token } : {}),
    ...(caCert ? { caCert } : {}),
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
    const url = new URL(`${this.#settings.address}/v1/${path}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    if (this.#settings.token) headers['X-Vault-Token'] = this.#settings.token;
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          headers,
          ...(url.protocol === 'https:' ? { ca: this.#ca, rejectUnauthorized: !this.#settings.skipVerify } : {}),
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(payload);
    });
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (status >= 400 && !options.acceptAnyStatus) {
      const errors = (parsed as { errors?: unknown } | undefined)?.errors;
      throw new ApiError(method, url.toString(), status, Array.isArray(errors) ? errors.map(String) : undefined, text);
    }
    return { status, body: parsed as T | undefined };
  }
}
