import http from 'node:http';
import https from 'node:https';

/** TLS settings for talking to a Vault-dialect server. */
export interface TlsSettings {
  /** PEM bundle of trusted CAs (in addition to none: when set, only these are trusted). */
  ca?: Buffer;
  skipVerify?: boolean;
  serverName?: string;
  cert?: Buffer;
  key?: Buffer;
}

export interface RawResponse {
  status: number;
  text: string;
  /** The body as JSON, when it is JSON. */
  json: unknown;
  /** The `Location` header (a standby's redirect). */
  location?: string;
}

/**
 * One request to `<address>/v1/<path>` over node:http(s), used by the CLI and by the transit seal. The token goes
 * in a header, never in the URL. Rejects only for transport failures (connection, TLS, timeout).
 */
export async function vaultRequest(
  address: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; tls?: TlsSettings; timeoutMs?: number; headers?: Record<string, string>; wrapTtl?: string },
): Promise<RawResponse> {
  const url = new URL(`${address.replace(/\/+$/, '')}/v1/${path}`);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers, 'X-Vault-Request': 'true' };
  if (options.token) headers['X-Vault-Token'] = options.token;
  if (options.wrapTtl) headers['X-Vault-Wrap-TTL'] = options.wrapTtl;
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  const tls = options.tls ?? {};
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  const { status, text, location } = await new Promise<{ status: number; text: string; location: string | undefined }>((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method,
        headers,
        ...(secure
          ? {
              ca: tls.ca,
              rejectUnauthorized: !tls.skipVerify,
              ...(tls.serverName ? { servername: tls.serverName } : {}),
              ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
            }
          : {}),
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), location: res.headers.location }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status, text, json, ...(location ? { location } : {}) };
}

/** The `errors` list of a Vault error body, if it has one. */
export function errorsOf(json: unknown): string[] | undefined {
  const errors = (json as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.map(String) : undefined;
}
