import { constants, createPublicKey, privateEncrypt, publicDecrypt, sign, verify, type KeyObject } from 'node:crypto';
import { CofferError } from '../../errors.js';
import { constantTimeEqual, wipe } from '../../secret-bytes.js';
import { derivedKeyBytes, encryptionVersion } from './ciphers.js';
import { HASHES, splitVersioned } from './fields.js';
import { privateKeyObject, publicKeyObject } from './key-objects.js';
import { KEY_TYPE_INFO } from './key-types.js';
import { versionOf, type TransitKey } from './transit-key.js';

/** Options of `sign` and `verify`, already checked by `parseSigningOptions`. */
export interface SigningOptions {
  hash: string;
  prehashed: boolean;
  signatureAlgorithm: 'pss' | 'pkcs1v15';
  marshaling: 'asn1' | 'jws';
  /** `auto`, `hash`, or a byte count. */
  saltLength: 'auto' | 'hash' | number;
  context?: Uint8Array;
}

/**
 * RFC 8017's DER DigestInfo prefixes: a PKCS#1 v1.5 signature of a precomputed digest is the RSA private operation
 * on `prefix ‖ digest` with type-1 padding, which OpenSSL does for us (`privateEncrypt`).
 */
const DIGEST_INFO: Record<string, string> = {
  sha1: '3021300906052b0e03021a05000414',
  'sha2-224': '302d300d06096086480165030402040500041c',
  'sha2-256': '3031300d060960864801650304020105000420',
  'sha2-384': '3041300d060960864801650304020205000430',
  'sha2-512': '3051300d060960864801650304020305000440',
  'sha3-224': '302d300d06096086480165030402070500041c',
  'sha3-256': '3031300d060960864801650304020805000420',
  'sha3-384': '3041300d060960864801650304020905000430',
  'sha3-512': '3051300d060960864801650304020a05000440',
};

/**
 * Checks the combination of options against the key type, with Vault's messages where Vault has one. Coffer
 * refuses (rather than ignores) what node:crypto cannot do: a precomputed digest with ECDSA or RSA-PSS, and a
 * hash algorithm with ed25519 (which signs the input itself).
 */
export function checkSigningOptions(key: TransitKey, options: SigningOptions): void {
  if (options.hash !== 'none' && !HASHES[options.hash]) throw new CofferError('invalid_request', `invalid hash algorithm "${options.hash}"`);
  if (options.hash === 'none' && (!options.prehashed || options.signatureAlgorithm !== 'pkcs1v15')) {
    throw new CofferError('invalid_request', 'hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15');
  }
  const info = KEY_TYPE_INFO[key.type];
  if (key.type === 'ed25519' && options.hash !== 'sha2-256' && options.hash !== 'none') {
    throw new CofferError(
      'invalid_request',
      `hash_algorithm ${options.hash} does not apply to ed25519 keys, which sign the input itself; leave it unset`,
    );
  }
  if (info.curve && options.prehashed)
    throw new CofferError('invalid_request', 'prehashed=true is not supported for ECDSA keys; send the input and a hash_algorithm');
  if (info.rsaBits && options.prehashed && options.signatureAlgorithm === 'pss') {
    throw new CofferError('invalid_request', 'prehashed=true is supported for RSA keys only with signature_algorithm=pkcs1v15');
  }
  if (!info.rsaBits && options.signatureAlgorithm !== 'pss') throw new CofferError('invalid_request', 'signature_algorithm applies to RSA keys only');
  if (info.rsaBits && typeof options.saltLength === 'number') {
    const max = Math.ceil((info.rsaBits - 1) / 8) - 2 - HASHES[options.hash]!.size;
    if (options.saltLength > max) throw new CofferError('invalid_request', `requested salt length ${options.saltLength} is invalid`);
  }
}

function rsaSaltLength(options: SigningOptions, signing: boolean): number {
  if (options.saltLength === 'hash') return constants.RSA_PSS_SALTLEN_DIGEST;
  if (options.saltLength === 'auto') return signing ? constants.RSA_PSS_SALTLEN_MAX_SIGN : constants.RSA_PSS_SALTLEN_AUTO;
  return options.saltLength;
}

function digestInfo(options: SigningOptions, digest: Uint8Array): Buffer {
  if (options.hash === 'none') return Buffer.from(digest);
  if (digest.length !== HASHES[options.hash]!.size)
    throw new CofferError('invalid_request', `prehashed input must be a ${options.hash} digest of ${HASHES[options.hash]!.size} bytes`);
  return Buffer.concat([Buffer.from(DIGEST_INFO[options.hash]!, 'hex'), digest]);
}

/** The private key of `version` (for a derived ed25519 key, the one derived from `context`). */
function signingKey(key: TransitKey, version: number, context: Uint8Array | undefined): KeyObject {
  if (!key.derived) return privateKeyObject(key.type, versionOf(key, version).material);
  const seed = derivedKeyBytes(key, version, context, 32);
  try {
    return privateKeyObject(key.type, seed);
  } finally {
    wipe(seed);
  }
}

/**
 * Signs `input` with `version` (0 = latest) and returns Vault's `vault:vN:<signature>` (base64; base64url without
 * padding for `jws`) and, for derived ed25519 keys, the derived public key.
 * @throws CofferError `invalid_request` for an unusable version, wrong digest length or missing context.
 */
export function signWith(
  key: TransitKey,
  requestedVersion: number,
  input: Uint8Array,
  options: SigningOptions,
): { signature: string; version: number; publicKey?: string } {
  const info = KEY_TYPE_INFO[key.type];
  const version = encryptionVersion(key, requestedVersion, 'signing');
  const privateKey = signingKey(key, version, options.context);
  let sig: Buffer;
  if (key.type === 'ed25519') {
    sig = sign(null, input, privateKey);
  } else if (info.curve) {
    sig = sign(HASHES[options.hash]!.node, input, { key: privateKey, dsaEncoding: options.marshaling === 'jws' ? 'ieee-p1363' : 'der' });
  } else if (options.signatureAlgorithm === 'pss') {
    sig = sign(HASHES[options.hash]!.node, input, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: rsaSaltLength(options, true),
    });
  } else if (options.prehashed) {
    sig = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo(options, input));
  } else {
    sig = sign(HASHES[options.hash]!.node, input, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  }
  const encoded = options.marshaling === 'jws' ? sig.toString('base64url') : sig.toString('base64');
  const publicKey = key.derived ? createPublicKey(privateKey).export({ format: 'jwk' }).x : undefined;
  return {
    signature: `vault:v${version}:${encoded}`,
    version,
    ...(publicKey ? { publicKey: Buffer.from(publicKey, 'base64url').toString('base64') } : {}),
  };
}

/**
 * Whether `signature` (`vault:vN:…`) is a valid signature of `input`. A well-formed signature that does not match
 * is `false`, not an error.
 * @throws CofferError `invalid_request` for a malformed signature or a version outside the key's window.
 */
export function verifyWith(key: TransitKey, input: Uint8Array, signature: string, options: SigningOptions): boolean {
  const info = KEY_TYPE_INFO[key.type];
  const { version, encoded } = splitVersioned(signature, 'signature');
  if (version > key.latestVersion) throw new CofferError('invalid_request', 'invalid signature: version is too new');
  if (key.minDecryptionVersion > 0 && version < key.minDecryptionVersion)
    throw new CofferError('invalid_request', 'ciphertext or signature version is disallowed by policy (too old)');
  const pattern = options.marshaling === 'jws' ? /^[A-Za-z0-9_-]*$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (!pattern.test(encoded) || (options.marshaling === 'asn1' && encoded.length % 4 !== 0))
    throw new CofferError('invalid_request', 'invalid base64 signature value');
  const sig = Buffer.from(encoded, options.marshaling === 'jws' ? 'base64url' : 'base64');
  if (!key.versions.has(version)) throw new CofferError('invalid_request', 'no such key version');
  const publicKey = key.derived
    ? createPublicKey(signingKey(key, version, options.context))
    : publicKeyObject(key.type, versionOf(key, version).material);
  try {
    if (key.type === 'ed25519') return verify(null, input, publicKey, sig);
    if (info.curve) {
      if (options.marshaling === 'jws' && sig.length !== 2 * Math.ceil(info.curve.bits / 8)) return false;
      return verify(HASHES[options.hash]!.node, input, { key: publicKey, dsaEncoding: options.marshaling === 'jws' ? 'ieee-p1363' : 'der' }, sig);
    }
    if (options.signatureAlgorithm === 'pss') {
      return verify(
        HASHES[options.hash]!.node,
        input,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: rsaSaltLength(options, false) },
        sig,
      );
    }
    if (options.prehashed) {
      const expected = digestInfo(options, input);
      return constantTimeEqual(publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sig), expected);
    }
    return verify(HASHES[options.hash]!.node, input, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch (err) {
    if (err instanceof CofferError) throw err;
    // OpenSSL rejects malformed signatures (bad DER, wrong length, bad padding) by throwing: that is "not valid".
    return false;
  }
}
