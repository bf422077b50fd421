import { readFileSync } from 'node:fs';
import { errorsOf, vaultRequest } from '../../lib/vault-http.js';
import { curlString } from './curl-string.js';
import { readStoredToken } from './token-helper.js';

/** Vault's CLI default when neither `VAULT_ADDR` nor `-address` is given. */
export const DEFAULT_ADDRESS = 'https://127.0.0.1:8200';

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

/**
 * The server could not be reached. The message reads like Go's (`Get "<url>": dial tcp …: connect: connection
 * refused`) and carries a plain hint instead of the TLS library's text.
 */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly hint: string | undefined,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Thrown instead of sending a request under `-output-curl-string`: the command prints `curl` and exits 0. */
export class CurlOutput extends Error {
  constructor(readonly curl: string) {
    super('output a string, please');
    this.name = 'CurlOutput';
  }
}

export interface ClientSettings {
  address: string;
  token?: string;
  caCert?: string;
  skipVerify?: boolean;
  /** Print the curl equivalent of the first (non-preflight) request instead of sending it. */
  outputCurlString?: boolean;
}

/** Settings from Vault's environment variables, overridden by flags. */
export function settingsFromEnv(env: NodeJS.ProcessEnv, flags: { address?: string; caCert?: string; tlsSkipVerify?: boolean }): ClientSettings {
  const skip = flags.tlsSkipVerify ?? /^(1|t|true)$/i.test(env.VAULT_SKIP_VERIFY ?? '');
  const caCert = flags.caCert ?? env.VAULT_CACERT;
  const token = env.VAULT_TOKEN || readStoredToken(env);
  return {
    address: (flags.address ?? (env.VAULT_ADDR || DEFAULT_ADDRESS)).replace(/\/+$/, ''),
    ...(token ? { token } : {}),
    ...(caCert ? { caCert } : {}),
    skipVerify: skip,
  };
}

export interface ApiResponse<T> {
  status: number;
  body: T | undefined;
}

export interface RequestOptions {
  /** Resolve whatever the status (used for `sys/leader`). */
  acceptAnyStatus?: boolean;
  /** A lookup the command needs before its real request (KV mount version): sent even under `-output-curl-string`. */
  preflight?: boolean;
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

  /** The token requests carry (from `VAULT_TOKEN` or the token helper), as `print token` shows it. */
  get token(): string | undefined {
    return this.#settings.token;
  }

  /**
   * Sends a request to `/v1/<path>`. Resolves for 2xx/3xx (and for `sys/health`, whatever its code).
   * @throws ApiError for an error status; ConnectionError when the server cannot be reached; CurlOutput under
   *   `-output-curl-string`.
   */
  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = `${this.#settings.address}/v1/${path}`;
    if (this.#settings.outputCurlString && !options.preflight) {
      throw new CurlOutput(
        curlString({
          method,
          url,
          body,
          hasToken: this.#settings.token !== undefined,
          skipVerify: this.#settings.skipVerify ?? false,
          ...(this.#settings.caCert ? { caCert: this.#settings.caCert } : {}),
        }),
      );
    }
    let response;
    try {
      response = await vaultRequest(this.#settings.address, method, path, {
        ...(this.#settings.token ? { token: this.#settings.token } : {}),
        body,
        tls: { ...(this.#ca ? { ca: this.#ca } : {}), skipVerify: this.#settings.skipVerify ?? false },
      });
    } catch (err) {
      throw connectionError(method, url, this.#settings.address, err as NodeJS.ErrnoException);
    }
    if (response.status >= 400 && !options.acceptAnyStatus) {
      throw new ApiError(method, url, response.status, errorsOf(response.json), response.text);
    }
    return { status: response.status, body: response.json as T | undefined };
  }

  /**
   * A read as Vault's `Logical().Read` does it: a 404 whose body carries neither data nor warnings means "nothing
   * there" and resolves `undefined` (the caller prints `No value found at <path>`); a 404 with data (a deleted KV
   * version's metadata) resolves with that body.
   */
  async read<T extends { data?: unknown; warnings?: unknown }>(path: string, options: RequestOptions = {}): Promise<T | undefined> {
    try {
      return (await this.request<T>('GET', path, undefined, options)).body;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      let body: T | undefined;
      try {
        body = JSON.parse(err.rawBody) as T;
      } catch {
        return undefined;
      }
      const hasData = body?.data !== null && typeof body?.data === 'object' && Object.keys(body.data as object).length > 0;
      const hasWarnings = Array.isArray(body?.warnings) && body.warnings.length > 0;
      return hasData || hasWarnings ? body : undefined;
    }
  }
}

/** Go's `url.Error` text for a transport failure, with a hint where the cause is plain. */
function connectionError(method: string, url: string, address: string, err: NodeJS.ErrnoException): ConnectionError {
  const op = `${method[0]}${method.slice(1).toLowerCase()} ${JSON.stringify(url)}`;
  const host = new URL(address).host;
  const hint = `is the server running at ${address}? Set VAULT_ADDR or -address if it listens elsewhere.`;
  const text = `${err.message ?? ''} ${err.code ?? ''}`;
  if (err.code === 'ECONNREFUSED') return new ConnectionError(`${op}: dial tcp ${host}: connect: connection refused`, hint);
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new ConnectionError(`${op}: dial tcp: lookup ${new URL(address).hostname}: no such host`, hint);
  }
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long/i.test(text)) {
    const plainHint = `is the server running at ${address}? It may serve plain http: try VAULT_ADDR=http://${host}.`;
    return new ConnectionError(`${op}: http: server gave HTTP response to HTTPS client`, plainHint);
  }
  if (/CERT|certificate|self.signed|UNABLE_TO_VERIFY|ALTNAME/i.test(text)) {
    return new ConnectionError(`${op}: tls: failed to verify certificate: ${err.message}`, "trust the server's CA with VAULT_CACERT or -ca-cert.");
  }
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return new ConnectionError(`${op}: EOF`, hint);
  return new ConnectionError(`${op}: ${err.message}`, undefined);
}
