import { createHmac } from 'node:crypto';
import { CofferError } from '../../errors.js';
import { constantTimeEqual } from '../../secret-bytes.js';
import type { LogicalResponse } from '../secret-engine.js';
import { encryptionVersion } from './ciphers.js';
import {
  batchItems,
  batchResponse,
  boolField,
  decodeBase64,
  hashName,
  HASHES,
  intField,
  optionalString,
  splitVersioned,
  stringOf,
  type Item,
} from './fields.js';
import type { KeyStore } from './key-store.js';
import { KEY_TYPE_INFO } from './key-types.js';
import { checkSigningOptions, signWith, verifyWith, type SigningOptions } from './signing.js';
import { versionOf, type TransitKey } from './transit-key.js';

const inputOf = (item: Item) => {
  if (item.input === undefined) throw new CofferError('invalid_request', 'missing input');
  return decodeBase64(item.input, 'unable to decode input as base64');
};

/** The request-wide signing options: URL hash first, then `hash_algorithm`, then `algorithm` (Vault's order). */
function signingOptions(data: Item, urlHash: string | undefined): SigningOptions {
  const marshaling = optionalString(data, 'marshaling_algorithm') || 'asn1';
  if (marshaling !== 'asn1' && marshaling !== 'jws') throw new CofferError('invalid_request', `invalid marshaling type "${marshaling}"`);
  const signatureAlgorithm = optionalString(data, 'signature_algorithm') || 'pss';
  if (signatureAlgorithm !== 'pss' && signatureAlgorithm !== 'pkcs1v15')
    throw new CofferError('invalid_request', `unsupported rsa signature algorithm ${signatureAlgorithm}`);
  const rawSalt = data.salt_length ?? 'auto';
  let saltLength: SigningOptions['saltLength'];
  if (rawSalt === 'auto' || rawSalt === 'hash') saltLength = rawSalt;
  else {
    const n = typeof rawSalt === 'number' ? rawSalt : typeof rawSalt === 'string' && /^-?\d+$/.test(rawSalt) ? Number(rawSalt) : NaN;
    if (!Number.isSafeInteger(n)) throw new CofferError('invalid_request', `salt length neither 'auto', 'hash', nor an int: ${String(rawSalt)}`);
    if (n < -1) throw new CofferError('invalid_request', `salt length is invalid: ${n}`);
    // As Go's rsa package: 0 means "auto" and -1 "equal to the hash".
    saltLength = n === 0 ? 'auto' : n === -1 ? 'hash' : n;
  }
  return { hash: hashName(data, urlHash), prehashed: boolField(data, 'prehashed') ?? false, signatureAlgorithm, marshaling, saltLength };
}

function requireSigning(key: TransitKey, verb: 'signing' | 'verification'): void {
  if (!KEY_TYPE_INFO[key.type].signing) throw new CofferError('invalid_request', `key type ${key.type} does not support ${verb}`);
}

/** `sign/:name[/:hash]`: one signature per item; batch items fail on their own. */
export function signOp(store: KeyStore, name: string, urlHash: string | undefined, data: Item): Promise<LogicalResponse> {
  const options = signingOptions(data, urlHash);
  const { items, batch } = batchItems(data, 'input', 'missing input');
  return store.use(name, 'signing key not found', (key) => {
    requireSigning(key, 'signing');
    checkSigningOptions(key, options);
    const version = intField(data, 'key_version') ?? 0;
    return batchResponse(
      batch,
      items,
      (item) => {
        const context = decodeBase64(item.context ?? data.context, 'failed to base64-decode context');
        const out = signWith(key, version, inputOf(item), { ...options, context });
        return { signature: out.signature, key_version: out.version, ...(out.publicKey ? { public_key: out.publicKey } : {}) };
      },
      false,
    );
  });
}

/** `verify/:name[/:hash]` with `signature`, or with `hmac` for an HMAC made by `hmac/`. */
export function verifyOp(store: KeyStore, name: string, urlHash: string | undefined, data: Item): Promise<LogicalResponse> {
  const batchRaw = data.batch_input;
  const batch = batchRaw !== undefined && batchRaw !== null;
  const items: Item[] = batch ? batchItems(data, 'input', 'missing input').items : [data];
  const withSig = items.filter((i) => i.signature !== undefined).length;
  const withHmac = items.filter((i) => i.signature === undefined && i.hmac !== undefined).length;
  const missing = items.length - withSig - withHmac;
  if (!batch && withSig > 0 && data.hmac !== undefined) throw new CofferError('invalid_request', "provide one of 'signature' or 'hmac'");
  if (!batch && missing > 0) throw new CofferError('invalid_request', "neither a 'signature' nor an 'hmac' were given to verify");
  if (withSig > 0 && withHmac > 0)
    throw new CofferError('invalid_request', "elements of batch_input must all provide 'signature' or all provide 'hmac'");
  if (missing > 0 && withSig > 0) throw new CofferError('invalid_request', "some elements of batch_input are missing 'signature'");
  if (missing > 0 && withHmac > 0) throw new CofferError('invalid_request', "some elements of batch_input are missing 'hmac'");
  if (missing > 0) throw new CofferError('invalid_request', "no batch_input elements have 'signature' or 'hmac'");
  if (withHmac > 0) return hmacVerifyOp(store, name, urlHash, data, items, batch);
  const options = signingOptions(data, urlHash);
  return store.use(name, 'signature verification key not found', (key) => {
    requireSigning(key, 'verification');
    checkSigningOptions(key, options);
    return batchResponse(
      batch,
      items,
      (item) => {
        const context = decodeBase64(item.context ?? data.context, 'failed to base64-decode context');
        return { valid: verifyWith(key, inputOf(item), stringOf(item.signature, 'signature'), { ...options, context }) };
      },
      false,
    );
  });
}

function hmacAlgorithm(name: string): string {
  const hash = HASHES[name];
  if (!hash) throw new CofferError('invalid_request', `unsupported algorithm "${name}"`);
  return hash.node;
}

/** `hmac/:name[/:algo]`: `vault:vN:<base64 HMAC>` under the version's HMAC key. */
export function hmacOp(store: KeyStore, name: string, urlAlgorithm: string | undefined, data: Item): Promise<LogicalResponse> {
  const algorithm = hmacAlgorithm(hashName(data, urlAlgorithm, ['algorithm', 'hash_algorithm']));
  const { items, batch } = batchItems(data, 'input', 'missing input for HMAC');
  return store.use(name, 'encryption key not found', (key) => {
    let version: number;
    const requested = intField(data, 'key_version') ?? 0;
    if (key.minEncryptionVersion > 0 && requested !== 0 && requested < key.minEncryptionVersion) {
      throw new CofferError('invalid_request', 'cannot generate HMAC: version is too old (disallowed by policy)');
    }
    try {
      version = encryptionVersion(key, requested, 'HMAC');
    } catch {
      throw new CofferError('invalid_request', `key version does not exist; latest key version is ${key.latestVersion}`);
    }
    const hmacKey = versionOf(key, version).hmacKey;
    return batchResponse(
      batch,
      items,
      (item) => {
        if (item.input === undefined) throw new CofferError('invalid_request', 'missing input for HMAC');
        const mac = createHmac(algorithm, hmacKey).update(inputOf(item)).digest('base64');
        return { hmac: `vault:v${version}:${mac}` };
      },
      false,
    );
  });
}

function hmacVerifyOp(
  store: KeyStore,
  name: string,
  urlAlgorithm: string | undefined,
  data: Item,
  items: Item[],
  batch: boolean,
): Promise<LogicalResponse> {
  const hashAlgorithm = hashName(data, urlAlgorithm);
  if (!HASHES[hashAlgorithm]) throw new CofferError('invalid_request', `invalid hash algorithm "${hashAlgorithm}"`);
  const algorithm = HASHES[hashAlgorithm]!.node;
  return store.use(name, 'encryption key not found', (key) =>
    batchResponse(
      batch,
      items,
      (item) => {
        const input = inputOf(item);
        const { version, encoded } = splitVersioned(stringOf(item.hmac, 'hmac'), 'HMAC');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
          throw new CofferError('invalid_request', 'unable to decode verification HMAC as base64');
        if (version > key.latestVersion) throw new CofferError('invalid_request', 'invalid HMAC: version is too new');
        if (key.minDecryptionVersion > 0 && version < key.minDecryptionVersion)
          throw new CofferError('invalid_request', 'cannot verify HMAC: version is too old (disallowed by policy)');
        const expected = createHmac(algorithm, versionOf(key, version).hmacKey).update(input).digest();
        return { valid: constantTimeEqual(expected, Buffer.from(encoded, 'base64')) };
      },
      false,
    ),
  );
}
