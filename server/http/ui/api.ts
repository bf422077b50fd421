/** A JSON object as the API returns it. */
export type Json = Record<string, unknown>;

/** A refused request, carrying Vault's `errors[]` words as they came. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.length > 0 ? errors.join('; ') : `the server answered ${status}`);
  }

  /** 404/405: this server has no such endpoint (a feature it does not have), not a failure of the request. */
  get unavailable(): boolean {
    return this.status === 404 || this.status === 405;
  }
}

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `data` of a logical response, or the body itself for the raw `sys/*` answers. */
export function dataOf(body: Json): Json {
  return isRecord(body.data) ? body.data : body;
}

/**
 * Calls `/v1/<path>` on this origin. The token goes in the `X-Vault-Token` header and secrets in the JSON body:
 * never in the URL. No cookies, no cache, no referrer, no redirects followed.
 * @throws ApiError for any answer outside 2xx; a TypeError when the server cannot be reached.
 */
export async function api(method: string, path: string, options: { body?: unknown; token?: string | undefined } = {}): Promise<Json> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer' };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const res = await fetch(`/v1/${path}`, init);
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    parsed = {};
  }
  if (!res.ok) {
    const errors = isRecord(parsed) && Array.isArray(parsed.errors) ? parsed.errors.map(String) : [];
    throw new ApiError(res.status, errors);
  }
  return isRecord(parsed) ? parsed : {};
}

/**
 * Decodes a generate-root `encoded_token`: base64 (with or without padding, standard or URL alphabet) XORed with
 * the one-time password's bytes.
 * @throws Error when the lengths differ (a wrong OTP).
 */
export function decodeRootToken(encoded: string, otp: string): string {
  const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const raw = atob(padded);
  const key = new TextEncoder().encode(otp);
  if (raw.length !== key.length) throw new Error(`the encoded token has ${raw.length} bytes but the one-time password ${key.length}`);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i) ^ key[i]!;
  const token = new TextDecoder().decode(out);
  out.fill(0);
  key.fill(0);
  return token;
}
