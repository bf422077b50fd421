import { readFileSync } from 'node:fs';
import { aeadOpen, aeadSeal } from '../barrier/aead.js';
import { CofferError } from '../errors.js';
import type { AutoSeal } from './auto-seal.js';

const AAD = new TextEncoder().encode('coffer static seal v1');

/**
 * The `static` seal: the root key is wrapped with AES-256-GCM under a 32-byte key the operator provides (a file
 * or an environment variable). Whoever can read that key and the storage can read everything: keep them apart.
 */
export class StaticSeal implements AutoSeal {
  readonly type = 'static' as const;
  readonly #key: Uint8Array;

  constructor(
    key: Uint8Array,
    readonly description: string,
  ) {
    if (key.length !== 32) throw new CofferError('config', `static seal: ${description} must hold a 32-byte key`);
    this.#key = key.slice();
  }

  async encrypt(plaintext: Uint8Array): Promise<string> {
    return Buffer.from(aeadSeal(this.#key, plaintext, AAD)).toString('base64');
  }

  async decrypt(blob: string): Promise<Uint8Array> {
    try {
      return aeadOpen(this.#key, new Uint8Array(Buffer.from(blob, 'base64')), AAD);
    } catch {
      throw new CofferError('seal_failed', `static seal: the key from ${this.description} does not decrypt the stored root key (wrong key?)`);
    }
  }
}

/**
 * A 32-byte key given as 64 hex characters, 44 base64 characters or 32 raw bytes (surrounding whitespace is
 * ignored for the text forms).
 * @throws CofferError `config` naming the source, never the content.
 */
export function parseStaticKey(raw: Uint8Array, source: string): Uint8Array {
  if (raw.length === 32) return raw.slice();
  const text = Buffer.from(raw).toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return new Uint8Array(Buffer.from(text, 'base64'));
  throw new CofferError('config', `static seal: ${source} must hold a 32-byte key (64 hex characters, base64, or 32 raw bytes)`);
}

/**
 * Reads the key from `key_file` or from the environment variable named by `key_env`. The variable is deleted from
 * `env` once read, so the key does not stay in the environment the process holds (child processes, crash dumps,
 * diagnostics that print the environment).
 * @throws CofferError `config` when the file or variable is missing or does not hold a 32-byte key.
 */
export function loadStaticSeal(source: { keyFile?: string; keyEnv?: string }, env: NodeJS.ProcessEnv): StaticSeal {
  if (source.keyFile) {
    let raw: Buffer;
    try {
      raw = readFileSync(source.keyFile);
    } catch (err) {
      throw new CofferError('config', `static seal: cannot read key_file ${source.keyFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const key = parseStaticKey(raw, `key_file ${source.keyFile}`);
    raw.fill(0);
    return new StaticSeal(key, `key_file ${source.keyFile}`);
  }
  const name = source.keyEnv!;
  const value = env[name];
  if (!value) throw new CofferError('config', `static seal: environment variable ${name} is not set`);
  delete env[name];
  const raw = new TextEncoder().encode(value);
  const key = parseStaticKey(raw, `environment variable ${name}`);
  raw.fill(0);
  return new StaticSeal(key, `environment variable ${name}`);
}
