import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type CipherGCMTypes,
} from 'node:crypto';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import { splitVersioned } from './fields.js';
import { privateKeyObject, publicKeyObject } from './key-objects.js';
import { KEY_TYPE_INFO } from './key-types.js';
import { versionOf, type TransitKey } from './transit-key.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CONVERGENT_HMAC_BYTES = 32;
const EMPTY = new Uint8Array(0);

/** Per-request inputs of symmetric operations. */
export interface CipherOptions {
  /** Derivation context (required for derived keys). */
  context?: Uint8Array;
  /** AEAD associated data (symmetric keys only). */
  associatedData?: Uint8Array;
}

/**
 * The key bytes for `version`: the stored key, or for a derived key HKDF-SHA256(stored key, salt = none,
 * info = context) as Vault derives them, `length` bytes long. The caller wipes the result.
 * @throws CofferError `invalid_request` when a derived key gets no context.
 */
export function derivedKeyBytes(key: TransitKey, version: number, context: Uint8Array | undefined, length: number): Uint8Array {
  const base = versionOf(key, version).material;
  if (!key.derived) return base.slice();
  requireContext(key, context);
  return new Uint8Array(hkdfSync('sha256', base, EMPTY, context!, length));
}

/** RSA-OAEP with SHA-256 carries at most the modulus size less 66 bytes. @throws CofferError `invalid_request`. */
export function checkPlaintextSize(key: TransitKey, plaintext: Uint8Array): void {
  const bits = KEY_TYPE_INFO[key.type].rsaBits;
  if (bits && plaintext.length > bits / 8 - 66)
    throw new CofferError('invalid_request', `plaintext is too long for a ${key.type} key (at most ${bits / 8 - 66} bytes)`);
}

/** @throws CofferError `invalid_request` (Vault's message) when a derived key gets no context. */
export function requireContext(key: TransitKey, context: Uint8Array | undefined): void {
  if (key.derived && (!context || context.length === 0)) {
    throw new CofferError(
      'invalid_request',
      "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
    );
  }
}

/** The version an encryption uses: 0 is the latest; Vault's checks and messages. */
export function encryptionVersion(key: TransitKey, requested: number, verb = 'encryption'): number {
  if (requested < 0) throw new CofferError('invalid_request', `requested version for ${verb} is negative`);
  if (requested > key.latestVersion) throw new CofferError('invalid_request', `requested version for ${verb} is higher than the latest key version`);
  const version = requested === 0 ? key.latestVersion : requested;
  if (key.minEncryptionVersion > 0 && version < key.minEncryptionVersion) {
    throw new CofferError('invalid_request', `requested version for ${verb} is less than the minimum encryption key version`);
  }
  return version;
}

/**
 * Encrypts `plaintext` with `version` into Vault's `vault:vN:<base64>` form. Symmetric keys give
 * `nonce(12) ‖ ciphertext ‖ tag(16)`: the nonce is random, or for convergent keys the first 12 bytes of
 * HMAC-SHA256(derived HMAC key, plaintext) (Vault's convergent version 3). RSA keys use OAEP with SHA-256.
 */
export function encrypt(key: TransitKey, version: number, plaintext: Uint8Array, options: CipherOptions = {}): string {
  const info = KEY_TYPE_INFO[key.type];
  if (!info.encryption) throw new CofferError('invalid_request', `message encryption not supported for key type ${key.type}`);
  if (!info.symmetric) {
    if (options.associatedData && options.associatedData.length > 0)
      throw new CofferError('invalid_request', 'associated_data is not supported for RSA keys');
    const sealed = publicEncrypt(
      { key: publicKeyObject(key.type, versionOf(key, version).material), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      plaintext,
    );
    return `vault:v${version}:${sealed.toString('base64')}`;
  }
  const encBytes = info.keyBytes!;
  const derived = derivedKeyBytes(key, version, options.context, encBytes + (key.convergent ? CONVERGENT_HMAC_BYTES : 0));
  const encKey = derived.subarray(0, encBytes);
  let nonce: Uint8Array;
  if (key.convergent) {
    const mac = createHmac('sha256', derived.subarray(encBytes)).update(plaintext).digest();
    nonce = new Uint8Array(mac.subarray(0, NONCE_BYTES));
    mac.fill(0);
  } else {
    nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  }
  try {
    const cipher = createCipheriv(info.cipher as CipherGCMTypes, encKey, nonce, { authTagLength: TAG_BYTES });
    if (options.associatedData) cipher.setAAD(options.associatedData);
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `vault:v${version}:${body.toString('base64')}`;
  } finally {
    wipe(derived);
  }
}

/** The version and raw bytes of a `vault:vN:…` ciphertext, checked against the key's decryption window. */
export function parseCiphertext(key: TransitKey, ciphertext: string): { version: number; body: Uint8Array } {
  const { version: named, encoded } = splitVersioned(ciphertext, 'ciphertext');
  const version = Math.max(1, named);
  if (version > key.latestVersion) throw new CofferError('invalid_request', 'invalid ciphertext: version is too new');
  if (version < key.minDecryptionVersion)
    throw new CofferError('invalid_request', 'ciphertext or signature version is disallowed by policy (too old)');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
    throw new CofferError('invalid_request', 'invalid ciphertext: could not decode base64');
  return { version, body: new Uint8Array(Buffer.from(encoded, 'base64')) };
}

/** @throws CofferError `invalid_request` for malformed, too old, too new or tampered ciphertext, or the wrong context. */
export function decrypt(key: TransitKey, ciphertext: string, options: CipherOptions = {}): { plaintext: Uint8Array; version: number } {
  const info = KEY_TYPE_INFO[key.type];
  if (!info.encryption) throw new CofferError('invalid_request', `message decryption not supported for key type ${key.type}`);
  const { version, body } = parseCiphertext(key, ciphertext);
  if (!key.versions.has(version)) throw new CofferError('invalid_request', `invalid ciphertext: key version ${version} is not available`);
  if (!info.symmetric) {
    try {
      const plain = privateDecrypt(
        { key: privateKeyObject(key.type, versionOf(key, version).material), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        body,
      );
      const out = new Uint8Array(plain);
      plain.fill(0);
      return { plaintext: out, version };
    } catch {
      throw new CofferError('invalid_request', 'invalid ciphertext: unable to decrypt');
    }
  }
  if (body.length < NONCE_BYTES + TAG_BYTES) throw new CofferError('invalid_request', 'invalid ciphertext length');
  const derived = derivedKeyBytes(key, version, options.context, info.keyBytes!);
  try {
    const decipher = createDecipheriv(info.cipher as CipherGCMTypes, derived, body.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    if (options.associatedData) decipher.setAAD(options.associatedData);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const head = decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES));
    const tail = decipher.final();
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    head.fill(0);
    return { plaintext: out, version };
  } catch {
    throw new CofferError('invalid_request', 'invalid ciphertext: unable to decrypt');
  } finally {
    wipe(derived);
  }
}
