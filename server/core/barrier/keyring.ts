import { CofferError } from '../errors.js';
import { KEY_BYTES } from './aead.js';
import { wipe } from '../secret-bytes.js';

/** Public facts about one term key. */
export interface TermInfo {
  readonly term: number;
  readonly installTime: Date;
  /** Encryptions persisted for this term (the barrier adds what it has counted since). */
  readonly encryptions: number;
}

/** Automatic rotation settings, stored inside the keyring. */
export interface RotationConfig {
  readonly maxOperations: number;
  /** Seconds; 0 means no interval trigger. */
  readonly intervalSeconds: number;
  readonly enabled: boolean;
}

/** 0.9 × 2^32: NIST's limit for random-nonce GCM with a 10 % margin for counts lost in a crash. */
export const MAX_OPERATIONS_LIMIT = 3_865_470_566;
export const DEFAULT_ROTATION_CONFIG: RotationConfig = {
  maxOperations: MAX_OPERATIONS_LIMIT,
  intervalSeconds: 0,
  enabled: true,
};

const FORMAT_VERSION = 1;

interface TermEntry {
  readonly info: TermInfo;
  readonly key: Uint8Array;
}

interface KeyringMetadata {
  active_term: number;
  /** True only when the counts were flushed by a clean seal or shutdown. */
  clean?: boolean;
  terms: Array<{ term: number; install_time: string; encryptions: number }>;
  rotation: { max_operations: number; interval_seconds: number; enabled: boolean };
}

/**
 * The set of term keys. Immutable: every change returns a new keyring with its own copies of the key bytes, so
 * wiping one keyring never corrupts another. The caller persists the new keyring before swapping it in.
 */
export class Keyring {
  readonly #terms: ReadonlyMap<number, TermEntry>;
  readonly activeTerm: number;
  readonly rotation: RotationConfig;
  /** Whether the encryption counts were persisted by a clean seal or shutdown (see `AesGcmBarrier`). */
  readonly clean: boolean;

  private constructor(terms: Map<number, TermEntry>, rotation: RotationConfig, clean = false) {
    this.#terms = terms;
    this.activeTerm = Math.max(...terms.keys());
    this.rotation = rotation;
    this.clean = clean;
  }

  /** A keyring holding term 1. `key` is copied. Its counts are exact, so it starts out clean. */
  static create(key: Uint8Array, installTime: Date): Keyring {
    assertKey(key);
    return new Keyring(new Map([[1, { info: { term: 1, installTime, encryptions: 0 }, key: key.slice() }]]), DEFAULT_ROTATION_CONFIG, true);
  }

  /** The key of `term`, or undefined when the keyring does not hold it. The returned bytes belong to the keyring. */
  keyFor(term: number): Uint8Array | undefined {
    return this.#terms.get(term)?.key;
  }

  termInfo(term: number): TermInfo | undefined {
    return this.#terms.get(term)?.info;
  }

  get terms(): number[] {
    return [...this.#terms.keys()].sort((a, b) => a - b);
  }

  /** A new keyring whose active term is `activeTerm + 1`, installed at `installTime`. `key` is copied. */
  withNewTerm(key: Uint8Array, installTime: Date): Keyring {
    assertKey(key);
    const terms = this.#copyTerms();
    const term = this.activeTerm + 1;
    terms.set(term, { info: { term, installTime, encryptions: 0 }, key: key.slice() });
    return new Keyring(terms, this.rotation);
  }

  withRotationConfig(rotation: RotationConfig): Keyring {
    return new Keyring(this.#copyTerms(), { ...rotation });
  }

  withEncryptions(term: number, encryptions: number): Keyring {
    const terms = this.#copyTerms();
    const entry = terms.get(term);
    if (entry) terms.set(term, { info: { ...entry.info, encryptions }, key: entry.key });
    return new Keyring(terms, this.rotation, this.clean);
  }

  withClean(clean: boolean): Keyring {
    return new Keyring(this.#copyTerms(), this.rotation, clean);
  }

  /**
   * Binary form: `version (u8) | metadata length (u32 BE) | metadata JSON | one 32-byte key per term, in the
   * metadata's order`. Keys never pass through a string.
   */
  serialize(): Uint8Array {
    const terms = this.terms.map((t) => this.#terms.get(t)!);
    const meta: KeyringMetadata = {
      active_term: this.activeTerm,
      clean: this.clean,
      terms: terms.map(({ info }) => ({ term: info.term, install_time: info.installTime.toISOString(), encryptions: info.encryptions })),
      rotation: {
        max_operations: this.rotation.maxOperations,
        interval_seconds: this.rotation.intervalSeconds,
        enabled: this.rotation.enabled,
      },
    };
    const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
    const out = new Uint8Array(1 + 4 + metaBytes.length + terms.length * KEY_BYTES);
    const view = new DataView(out.buffer);
    out[0] = FORMAT_VERSION;
    view.setUint32(1, metaBytes.length);
    out.set(metaBytes, 5);
    terms.forEach(({ key }, i) => out.set(key, 5 + metaBytes.length + i * KEY_BYTES));
    return out;
  }

  /** @throws CofferError `integrity` when the bytes are not a well-formed keyring. */
  static deserialize(bytes: Uint8Array): Keyring {
    const bad = (why: string) => new CofferError('integrity', `malformed keyring: ${why}`);
    if (bytes.length < 5 || bytes[0] !== FORMAT_VERSION) throw bad('unknown format');
    const metaLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
    if (5 + metaLength > bytes.length) throw bad('truncated');
    let meta: KeyringMetadata;
    try {
      meta = JSON.parse(new TextDecoder().decode(bytes.subarray(5, 5 + metaLength))) as KeyringMetadata;
    } catch {
      throw bad('metadata');
    }
    if (!Array.isArray(meta.terms) || meta.terms.length === 0) throw bad('no terms');
    if (bytes.length !== 5 + metaLength + meta.terms.length * KEY_BYTES) throw bad('length');
    const terms = new Map<number, TermEntry>();
    meta.terms.forEach((t, i) => {
      if (!Number.isInteger(t.term) || t.term < 1 || terms.has(t.term)) throw bad('term numbers');
      const start = 5 + metaLength + i * KEY_BYTES;
      terms.set(t.term, {
        info: { term: t.term, installTime: new Date(t.install_time), encryptions: t.encryptions ?? 0 },
        key: bytes.slice(start, start + KEY_BYTES),
      });
    });
    const keyring = new Keyring(terms, sanitizeRotation(meta.rotation), meta.clean === true);
    if (keyring.activeTerm !== meta.active_term) throw bad('active term');
    return keyring;
  }

  /** Zeroes every key this keyring holds. The keyring must not be used afterwards. */
  destroy(): void {
    for (const { key } of this.#terms.values()) wipe(key);
  }

  #copyTerms(): Map<number, TermEntry> {
    return new Map([...this.#terms].map(([t, e]) => [t, { info: e.info, key: e.key.slice() }]));
  }
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new CofferError('internal', `term keys must be exactly ${KEY_BYTES} bytes`);
  }
}

function sanitizeRotation(raw: KeyringMetadata['rotation'] | undefined): RotationConfig {
  if (!raw) return DEFAULT_ROTATION_CONFIG;
  const max =
    Number.isInteger(raw.max_operations) && raw.max_operations > 0 ? Math.min(raw.max_operations, MAX_OPERATIONS_LIMIT) : MAX_OPERATIONS_LIMIT;
  return {
    maxOperations: max,
    intervalSeconds: Number.isInteger(raw.interval_seconds) && raw.interval_seconds > 0 ? raw.interval_seconds : 0,
    enabled: raw.enabled !== false,
  };
}
