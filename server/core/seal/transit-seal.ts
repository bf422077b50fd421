import { errorsOf, vaultRequest, type TlsSettings } from '../../../lib/vault-http.js';
import { CofferError } from '../errors.js';
import type { AutoSeal } from './auto-seal.js';

export interface TransitSealSettings {
  /** Base address of the key server, e.g. `https://kms:8200`. */
  address: string;
  token: string;
  keyName: string;
  /** With a trailing slash, e.g. `transit/`. */
  mountPath: string;
  tls: TlsSettings;
  timeoutMs?: number;
}

/**
 * The `transit` seal: the root key is encrypted and decrypted by a transit key on another Coffer (or Vault)
 * server; the token needs `update` on `<mount>/encrypt/<key>` and `<mount>/decrypt/<key>`.
 */
export class TransitSeal implements AutoSeal {
  readonly type = 'transit' as const;
  readonly description: string;
  readonly #settings: TransitSealSettings;

  constructor(settings: TransitSealSettings) {
    this.#settings = { ...settings, mountPath: settings.mountPath.replace(/^\/+/, '').replace(/\/*$/, '/') };
    this.description = `transit key "${settings.keyName}" at ${settings.address.replace(/\/+$/, '')}/v1/${this.#settings.mountPath}`;
  }

  async encrypt(plaintext: Uint8Array): Promise<string> {
    const data = await this.#call('encrypt', { plaintext: Buffer.from(plaintext).toString('base64') });
    if (typeof data.ciphertext !== 'string') throw new CofferError('seal_failed', `transit seal: ${this.description} answered without a ciphertext`);
    return data.ciphertext;
  }

  async decrypt(blob: string): Promise<Uint8Array> {
    const data = await this.#call('decrypt', { ciphertext: blob });
    if (typeof data.plaintext !== 'string') throw new CofferError('seal_failed', `transit seal: ${this.description} answered without a plaintext`);
    return new Uint8Array(Buffer.from(data.plaintext, 'base64'));
  }

  async #call(operation: 'encrypt' | 'decrypt', body: Record<string, string>): Promise<Record<string, unknown>> {
    const { address, token, keyName, mountPath, tls, timeoutMs } = this.#settings;
    const path = `${mountPath}${operation}/${encodeURIComponent(keyName)}`;
    let response;
    try {
      response = await vaultRequest(address, 'PUT', path, { token, body, tls, timeoutMs: timeoutMs ?? 10_000 });
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
      throw new CofferError('seal_failed', `transit seal: ${operation} with ${this.description} was refused with ${response.status}${errors ? `: ${errors}` : ''}${hint}`);
    }
    const data = (response.json as { data?: Record<string, unknown> } | undefined)?.data;
    if (!data) throw new CofferError('seal_failed', `transit seal: ${address} answered ${response.status} without data`);
    return data;
  }
}
