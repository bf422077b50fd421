import { errorsOf, vaultRequest, type TlsSettings } from '../../../lib/vault-http.js';
import { CofferError } from '../errors.js';
import { isLoopback } from '../net-address.js';
import type { AutoSeal } from './auto-seal.js';

export interface TransitSealSettings {
  /** Base address of the key server, e.g. `https://kms:8200`; `http://` only to a loopback host. */
  address: string;
  token: string;
  keyName: string;
  /** With a trailing slash, e.g. `transit/`. */
  mountPath: string;
  /** Vault Enterprise namespace of the transit mount, sent as `X-Vault-Namespace` on every request. */
  namespace?: string;
  /** `disable_renewal`: something else keeps the token alive, so Coffer never renews it. */
  disableRenewal?: boolean;
  tls: TlsSettings;
  timeoutMs?: number;
}

/** What the key service says about the seal token: seconds left (0 = never expires) and whether it can be renewed. */
export interface SealTokenLease {
  ttlSeconds: number;
  renewable: boolean;
}

/**
 * Refuses a plain-HTTP key service anywhere but on this machine: the root key crosses that connection in the clear.
 * @throws CofferError `config`.
 */
export function checkTransitAddress(address: string): void {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new CofferError('config', `seal "transit": invalid address ${JSON.stringify(address)}`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new CofferError('config', 'seal "transit": address must start with http:// or https://');
  if (!isLoopback(url.hostname)) {
    throw new CofferError(
      'config',
      `seal "transit": address ${url.origin} is plain HTTP to another machine, which would send the root key in the clear: use https:// (plain http:// is allowed only to 127.0.0.1, ::1 or localhost)`,
    );
  }
}

/**
 * The `transit` seal: the root key is encrypted and decrypted by a transit key on another Coffer (or Vault)
 * server; the token needs `update` on `<mount>/encrypt/<key>` and `<mount>/decrypt/<key>`, and, to be renewed,
 * `read` on `auth/token/lookup-self` and `update` on `auth/token/renew-self` (the default policy grants both).
 */
export class TransitSeal implements AutoSeal {
  readonly type = 'transit' as const;
  readonly description: string;
  /** Whether the server should keep the token alive (see `SealTokenRenewal`). */
  readonly renewsToken: boolean;
  /** `tls_skip_verify`: the key service's certificate is not checked (the start logs a warning). */
  readonly skipsTlsVerify: boolean;
  readonly #settings: TransitSealSettings;

  /** @throws CofferError `config` for a plain-HTTP address that is not loopback. */
  constructor(settings: TransitSealSettings) {
    checkTransitAddress(settings.address);
    this.#settings = { ...settings, mountPath: settings.mountPath.replace(/^\/+/, '').replace(/\/*$/, '/') };
    this.renewsToken = settings.disableRenewal !== true;
    this.skipsTlsVerify = settings.tls.skipVerify === true;
    const ns = settings.namespace ? ` (namespace ${settings.namespace})` : '';
    this.description = `transit key "${settings.keyName}" at ${settings.address.replace(/\/+$/, '')}/v1/${this.#settings.mountPath}${ns}`;
  }

  async encrypt(plaintext: Uint8Array): Promise<string> {
    const data = await this.#data('encrypt', 'PUT', this.#keyPath('encrypt'), { plaintext: Buffer.from(plaintext).toString('base64') });
    if (typeof data.ciphertext !== 'string') throw new CofferError('seal_failed', `transit seal: ${this.description} answered without a ciphertext`);
    return data.ciphertext;
  }

  async decrypt(blob: string): Promise<Uint8Array> {
    const data = await this.#data('decrypt', 'PUT', this.#keyPath('decrypt'), { ciphertext: blob });
    if (typeof data.plaintext !== 'string') throw new CofferError('seal_failed', `transit seal: ${this.description} answered without a plaintext`);
    return new Uint8Array(Buffer.from(data.plaintext, 'base64'));
  }

  /**
   * `auth/token/lookup-self`: the seal token's remaining TTL and whether it is renewable.
   * @throws CofferError `seal_unavailable` / `seal_failed` like encrypt and decrypt.
   */
  async lookupToken(): Promise<SealTokenLease> {
    const data = await this.#data('token lookup', 'GET', 'auth/token/lookup-self');
    return { ttlSeconds: numberOr0(data.ttl), renewable: data.renewable === true };
  }

  /**
   * `auth/token/renew-self` with the token's own increment: the TTL it now has.
   * @throws CofferError `seal_unavailable` / `seal_failed` like encrypt and decrypt.
   */
  async renewToken(): Promise<SealTokenLease> {
    const response = await this.#send('token renewal', 'PUT', 'auth/token/renew-self', {});
    const auth = (response as { auth?: Record<string, unknown> } | undefined)?.auth;
    if (!auth) throw new CofferError('seal_failed', `transit seal: ${this.#settings.address} answered the token renewal without auth data`);
    return { ttlSeconds: numberOr0(auth.lease_duration), renewable: auth.renewable === true };
  }

  #keyPath(operation: 'encrypt' | 'decrypt'): string {
    return `${this.#settings.mountPath}${operation}/${encodeURIComponent(this.#settings.keyName)}`;
  }

  async #data(operation: string, method: string, path: string, body?: Record<string, string>): Promise<Record<string, unknown>> {
    const json = await this.#send(operation, method, path, body);
    const data = (json as { data?: Record<string, unknown> } | undefined)?.data;
    if (!data) throw new CofferError('seal_failed', `transit seal: ${this.#settings.address} answered ${operation} without data`);
    return data;
  }

  /** One request to the key service; the token goes in a header and never into an error. */
  async #send(operation: string, method: string, path: string, body?: Record<string, string>): Promise<unknown> {
    const { address, token, namespace, tls, timeoutMs } = this.#settings;
    let response;
    try {
      response = await vaultRequest(address, method, path, {
        token,
        ...(body ? { body } : {}),
        tls,
        timeoutMs: timeoutMs ?? 10_000,
        ...(namespace ? { headers: { 'X-Vault-Namespace': namespace } } : {}),
      });
    } catch (err) {
      const cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CofferError('seal_unavailable', `transit seal: cannot reach ${address}: ${cause}`);
    }
    const errors = (errorsOf(response.json)?.join('; ') ?? '').replace(/\s+/g, ' ').trim();
    if (response.status >= 500 || response.status === 429) {
      throw new CofferError('seal_unavailable', `transit seal: ${address} answered ${response.status} to ${operation}${errors ? `: ${errors}` : ''}`);
    }
    if (response.status >= 400) {
      const hint = response.status === 403 ? ' (check the seal token and its policy)' : '';
      const what = operation === 'encrypt' || operation === 'decrypt' ? `${operation} with ${this.description}` : `${operation} at ${address}`;
      throw new CofferError('seal_failed', `transit seal: ${what} was refused with ${response.status}${errors ? `: ${errors}` : ''}${hint}`);
    }
    return response.json;
  }
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
