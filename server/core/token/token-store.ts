import { createHmac, randomInt } from 'node:crypto';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { wipe } from '../secret-bytes.js';

/** What is stored for a token. The token itself is never stored: only its keyed hash names the entry. */
export interface TokenEntry {
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly displayName: string;
  /** Unix seconds. */
  readonly creationTime: number;
  /** Seconds; 0 = never expires. */
  readonly ttl: number;
}

export const TOKEN_HMAC_KEY_PATH = 'core/token-hmac-key';
const TOKEN_ID_PREFIX = 'sys/token/id/';
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 24 uniformly random base62 characters (~143 bits). */
function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/** Service tokens look like Vault's: `hvs.` + 24 base62 characters. */
export function generateToken(): string {
  return `hvs.${randomBase62(24)}`;
}

/**
 * Tokens behind the barrier, addressed by HMAC-SHA256(token) under a key that is itself stored behind the
 * barrier. A lookup therefore needs no comparison of secrets, and a storage dump reveals no usable token.
 */
export class TokenStore {
  readonly #barrier: Barrier;
  readonly #clock: Clock;
  #hmacKey: Uint8Array | undefined;

  constructor(barrier: Barrier, clock: Clock) {
    this.#barrier = barrier;
    this.#clock = clock;
  }

  /** Entries that set up a new token store with a root token, for the init batch. */
  static initialEntries(random: Random, now: Date): { token: string; ops: BarrierOp[] } {
    const hmacKey = random.bytes(32);
    const token = generateToken();
    const entry: TokenEntry = {
      accessor: randomBase62(24),
      policies: ['root'],
      displayName: 'root',
      creationTime: Math.floor(now.getTime() / 1000),
      ttl: 0,
    };
    const ops: BarrierOp[] = [
      { type: 'put', path: TOKEN_HMAC_KEY_PATH, value: hmacKey.slice() },
      { type: 'put', path: TOKEN_ID_PREFIX + tokenHash(hmacKey, token), value: encodeEntry(entry) },
    ];
    wipe(hmacKey);
    return { token, ops };
  }

  /** Loads the HMAC key after unseal. */
  async load(): Promise<void> {
    const key = await this.#barrier.get(TOKEN_HMAC_KEY_PATH);
    if (!key || key.length !== 32) throw new CofferError('integrity', 'token HMAC key is missing');
    this.#hmacKey = key;
  }

  /** Forgets the HMAC key when the server seals. */
  unload(): void {
    wipe(this.#hmacKey);
    this.#hmacKey = undefined;
  }

  /**
   * Creates a token with `policies` and persists its entry. Returns the token, which exists nowhere else.
   * @throws CofferError `sealed`.
   */
  async create(options: { policies: readonly string[]; ttl?: number; displayName?: string }): Promise<{ token: string; entry: TokenEntry }> {
    if (!this.#hmacKey) throw new CofferError('sealed', 'Vault is sealed');
    const token = generateToken();
    const entry: TokenEntry = {
      accessor: randomBase62(24),
      policies: [...options.policies],
      displayName: options.displayName ?? 'token',
      creationTime: Math.floor(this.#clock.now().getTime() / 1000),
      ttl: options.ttl ?? 0,
    };
    await this.#barrier.put(TOKEN_ID_PREFIX + tokenHash(this.#hmacKey, token), encodeEntry(entry));
    return { token, entry };
  }

  /** The entry of a live token, or undefined for an unknown or expired one. */
  async lookup(token: string): Promise<TokenEntry | undefined> {
    if (!this.#hmacKey) throw new CofferError('sealed', 'Vault is sealed');
    if (token.length === 0 || token.length > 512) return undefined;
    const raw = await this.#barrier.get(TOKEN_ID_PREFIX + tokenHash(this.#hmacKey, token));
    if (!raw) return undefined;
    const entry = decodeEntry(raw);
    if (entry.ttl > 0 && this.#clock.now().getTime() / 1000 >= entry.creationTime + entry.ttl) return undefined;
    return entry;
  }
}

function tokenHash(key: Uint8Array, token: string): string {
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

function encodeEntry(entry: TokenEntry): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      accessor: entry.accessor,
      policies: entry.policies,
      display_name: entry.displayName,
      creation_time: entry.creationTime,
      ttl: entry.ttl,
    }),
  );
}

function decodeEntry(raw: Uint8Array): TokenEntry {
  const j = JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>;
  return {
    accessor: String(j.accessor),
    policies: Array.isArray(j.policies) ? j.policies.map(String) : [],
    displayName: String(j.display_name ?? ''),
    creationTime: Number(j.creation_time ?? 0),
    ttl: Number(j.ttl ?? 0),
  };
}
