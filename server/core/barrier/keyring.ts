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

/**
 * Retirement bounds (see docs/rotation.md). Terms below `minDecryptionTerm` are retired: their keys are kept but
 * refused for reads (reversible). Terms below `minAvailableTerm` are trimmed: their key bytes are gone for good.
 * Always `minAvailableTerm <= minDecryptionTerm <= activeTerm`.
 */
export interface KeyringBounds {
  readonly minDecryptionTerm: number;
  readonly minAvailableTerm: number;
  /** When `minDecryptionTerm` was last raised; undefined when nothing is retired. */
  readonly retiredAt: Date | undefined;
  /** Reads refused because their term was retired, since `retiredAt`. */
  readonly deniedReads: number;
  /** Facts about the trimmed terms (their keys are gone). */
  readonly trimmed: readonly TermInfo[];
}

export const NO_RETIREMENT: KeyringBounds = { minDecryptionTerm: 1, minAvailableTerm: 1, retiredAt: undefined, deniedReads: 0, trimmed: [] };

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
  /** Absent in keyrings written before retirement existed: nothing retired. */
  min_decryption_term?: number;
  min_available_term?: number;
  retired_at?: string;
  denied_reads?: number;
  trimmed_terms?: Array<{ term: number; install_time: string; encryptions: number }>;
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
  readonly bounds: KeyringBounds;

  private constructor(terms: Map<number, TermEntry>, rotation: RotationConfig, clean: boolean, bounds: KeyringBounds) {
    this.#terms = terms;
    this.activeTerm = Math.max(...terms.keys());
    this.rotation = rotation;
    this.clean = clean;
    this.bounds = bounds;
  }

  /** A keyring holding term 1. `key` is copied. Its counts are exact, so it starts out clean. */
  static create(key: Uint8Array, installTime: Date): Keyring {
    assertKey(key);
    return new Keyring(
      new Map([[1, { info: { term: 1, installTime, encryptions: 0 }, key: key.slice() }]]),
      DEFAULT_ROTATION_CONFIG,
      true,
      NO_RETIREMENT,
    );
  }

  /** The key of `term`, or undefined when the keyring does not hold it. The returned bytes belong to the keyring. */
  keyFor(term: number): Uint8Array | undefined {
    return this.#terms.get(term)?.key;
  }

  termInfo(term: number): TermInfo | undefined {
    return this.#terms.get(term)?.info ?? this.bounds.trimmed.find((t) => t.term === term);
  }

  /** Whether reads of `term` are refused because it was retired (trimmed terms included). */
  isRetired(term: number): boolean {
    return term < this.bounds.minDecryptionTerm;
  }

  /** Whether `term` was ever installed (trimmed terms included): what {@link allTerms} lists, without building it. */
  hasTerm(term: number): boolean {
    return this.#terms.has(term) || this.bounds.trimmed.some((t) => t.term === term);
  }

  /** Every term ever installed, trimmed ones included, ascending. */
  get allTerms(): number[] {
    return [...this.bounds.trimmed.map((t) => t.term), ...this.terms].sort((a, b) => a - b);
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
    return new Keyring(terms, this.rotation, false, this.bounds);
  }

  withRotationConfig(rotation: RotationConfig): Keyring {
    return new Keyring(this.#copyTerms(), { ...rotation }, false, this.bounds);
  }

  /**
   * Retires (raises) or un-retires (lowers) `minDecryptionTerm`. Raising restarts the grace period and the count of
   * denied reads.
   * @throws CofferError `invalid_request` when the bounds would break `minAvailableTerm <= N <= activeTerm`.
   */
  withMinDecryptionTerm(term: number, at: Date): Keyring {
    if (!Number.isInteger(term) || term < this.bounds.minAvailableTerm || term > this.activeTerm) {
      throw new CofferError(
        'invalid_request',
        `min_decryption_term must be between ${this.bounds.minAvailableTerm} and the active term ${this.activeTerm}`,
      );
    }
    const raised = term > this.bounds.minDecryptionTerm;
    const bounds: KeyringBounds =
      term === 1 || term <= this.bounds.minAvailableTerm
        ? { ...this.bounds, minDecryptionTerm: term, retiredAt: undefined, deniedReads: 0 }
        : raised
          ? { ...this.bounds, minDecryptionTerm: term, retiredAt: at, deniedReads: 0 }
          : { ...this.bounds, minDecryptionTerm: term };
    return new Keyring(this.#copyTerms(), this.rotation, this.clean, bounds);
  }

  withDeniedReads(deniedReads: number): Keyring {
    return new Keyring(this.#copyTerms(), this.rotation, this.clean, { ...this.bounds, deniedReads });
  }

  /**
   * Drops the key bytes of every term below `term` (the copies this keyring would have held are zeroed).
   * @throws CofferError `invalid_request` unless `minAvailableTerm < term <= minDecryptionTerm`.
   */
  withTrimmedBelow(term: number): Keyring {
    if (!Number.isInteger(term) || term <= this.bounds.minAvailableTerm || term > this.bounds.minDecryptionTerm || term > this.activeTerm) {
      throw new CofferError(
        'invalid_request',
        `min_available_term must be above ${this.bounds.minAvailableTerm} and at most min_decryption_term ${this.bounds.minDecryptionTerm}`,
      );
    }
    const terms = this.#copyTerms();
    const trimmed = [...this.bounds.trimmed];
    for (const [t, entry] of [...terms]) {
      if (t >= term) continue;
      trimmed.push(entry.info);
      wipe(entry.key);
      terms.delete(t);
    }
    return new Keyring(terms, this.rotation, this.clean, {
      ...this.bounds,
      minAvailableTerm: term,
      trimmed: trimmed.sort((a, b) => a.term - b.term),
    });
  }

  withEncryptions(term: number, encryptions: number): Keyring {
    const terms = this.#copyTerms();
    const entry = terms.get(term);
    if (entry) terms.set(term, { info: { ...entry.info, encryptions }, key: entry.key });
    else {
      const i = this.bounds.trimmed.findIndex((t) => t.term === term);
      if (i >= 0) {
        const trimmed = [...this.bounds.trimmed];
        trimmed[i] = { ...trimmed[i]!, encryptions };
        return new Keyring(terms, this.rotation, this.clean, { ...this.bounds, trimmed });
      }
    }
    return new Keyring(terms, this.rotation, this.clean, this.bounds);
  }

  withClean(clean: boolean): Keyring {
    return new Keyring(this.#copyTerms(), this.rotation, clean, this.bounds);
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
      min_decryption_term: this.bounds.minDecryptionTerm,
      min_available_term: this.bounds.minAvailableTerm,
      ...(this.bounds.retiredAt ? { retired_at: this.bounds.retiredAt.toISOString() } : {}),
      denied_reads: this.bounds.deniedReads,
      trimmed_terms: this.bounds.trimmed.map((t) => ({ term: t.term, install_time: t.installTime.toISOString(), encryptions: t.encryptions })),
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
    const trimmed = (Array.isArray(meta.trimmed_terms) ? meta.trimmed_terms : []).map((t) => {
      if (!Number.isInteger(t.term) || t.term < 1 || terms.has(t.term)) throw bad('trimmed term numbers');
      return { term: t.term, installTime: new Date(t.install_time), encryptions: t.encryptions ?? 0 };
    });
    const minAvailableTerm = meta.min_available_term ?? 1;
    const minDecryptionTerm = meta.min_decryption_term ?? 1;
    const bounds: KeyringBounds = {
      minDecryptionTerm,
      minAvailableTerm,
      retiredAt: meta.retired_at ? new Date(meta.retired_at) : undefined,
      deniedReads: Number.isInteger(meta.denied_reads) ? meta.denied_reads! : 0,
      trimmed,
    };
    const keyring = new Keyring(terms, sanitizeRotation(meta.rotation), meta.clean === true, bounds);
    if (keyring.activeTerm !== meta.active_term) throw bad('active term');
    if (
      !Number.isInteger(minAvailableTerm) ||
      !Number.isInteger(minDecryptionTerm) ||
      minAvailableTerm < 1 ||
      minAvailableTerm > minDecryptionTerm ||
      minDecryptionTerm > keyring.activeTerm
    ) {
      throw bad('retirement bounds');
    }
    if ([...terms.keys()].some((t) => t < minAvailableTerm)) throw bad('a trimmed term still has a key');
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
