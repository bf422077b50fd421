import { CofferError } from '../../errors.js';

/** One request body, or one `batch_input` item. */
export type Item = Record<string, unknown>;

/** The items to process: `batch_input`, or the request itself as a single item. */
export function batchItems(data: Item, field: string, missing: string): { items: Item[]; batch: boolean } {
  if (data.batch_input !== undefined && data.batch_input !== null) {
    if (!Array.isArray(data.batch_input) || data.batch_input.some((i) => typeof i !== 'object' || i === null || Array.isArray(i))) {
      throw new CofferError('invalid_request', 'batch_input must be a list of objects');
    }
    if (data.batch_input.length === 0) throw new CofferError('invalid_request', 'missing batch input to process');
    return { items: data.batch_input as Item[], batch: true };
  }
  if (data[field] === undefined) throw new CofferError('invalid_request', missing);
  return { items: [data], batch: false };
}

/**
 * Runs `fn` per item. A single request fails as a whole; a batch reports errors per item (with each item's
 * `reference` echoed). `allFailedIsError`: encrypt/decrypt fail the whole batch when every item failed (as Vault).
 */
export function batchResponse(batch: boolean, items: Item[], fn: (item: Item) => Item, allFailedIsError = true): { data: Item } {
  if (!batch) return { data: fn(items[0]!) };
  const results: Item[] = [];
  let failures = 0;
  for (const item of items) {
    const reference = typeof item.reference === 'string' ? { reference: item.reference } : {};
    try {
      results.push({ ...fn(item), ...reference });
    } catch (err) {
      if (!(err instanceof CofferError) || err.code !== 'invalid_request') throw err;
      failures += 1;
      results.push({ error: err.message, ...reference });
    }
  }
  if (allFailedIsError && failures === items.length) throw new CofferError('invalid_request', String(results[0]!.error));
  return { data: { batch_results: results } };
}

export function stringOf(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new CofferError('invalid_request', `missing ${field}`);
  return value;
}

/** An optional string field; anything else than a string is refused with a 400 naming it. */
export function optionalString(data: Item, name: string): string | undefined {
  const value = data[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new CofferError('invalid_request', `error converting input for field "${name}": expected a string`);
  return value;
}

/** Copies base64 text into owned bytes; the temporary Buffer (possibly from Node's pool) is zeroed. */
export function bytesFromBase64(text: string): Uint8Array {
  const temp = Buffer.from(text, 'base64');
  const out = new Uint8Array(temp);
  temp.fill(0);
  return out;
}

/** Standard base64 (Vault's `base64.StdEncoding`): empty input is empty bytes. @throws `invalid_request` with `message`. */
export function decodeBase64(value: unknown, message: string): Uint8Array {
  if (value === undefined || value === null || value === '') return new Uint8Array(0);
  if (typeof value !== 'string') throw new CofferError('invalid_request', message);
  const compact = value.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw new CofferError('invalid_request', message);
  return bytesFromBase64(compact);
}

/** Vault's field parser takes numbers and numeric strings for integer fields. */
export function intField(data: Item, name: string): number | undefined {
  const value = data[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new CofferError('invalid_request', `error converting input for field "${name}": expected an integer`);
  return n;
}

export function boolField(data: Item, name: string): boolean | undefined {
  const value = data[name];
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true' || value === 1 || value === '1') return true;
  if (value === false || value === 'false' || value === 0 || value === '0') return false;
  throw new CofferError('invalid_request', `error converting input for field "${name}": expected a boolean`);
}

/** Vault's hash names → node:crypto's, with digest sizes in bytes. */
export const HASHES: Record<string, { node: string; size: number }> = {
  sha1: { node: 'sha1', size: 20 },
  'sha2-224': { node: 'sha224', size: 28 },
  'sha2-256': { node: 'sha256', size: 32 },
  'sha2-384': { node: 'sha384', size: 48 },
  'sha2-512': { node: 'sha512', size: 64 },
  'sha3-224': { node: 'sha3-224', size: 28 },
  'sha3-256': { node: 'sha3-256', size: 32 },
  'sha3-384': { node: 'sha3-384', size: 48 },
  'sha3-512': { node: 'sha3-512', size: 64 },
};

export const DEFAULT_HASH = 'sha2-256';

/** The hash named by the URL, else `hash_algorithm`, else the deprecated `algorithm`, else sha2-256 (Vault's order). */
export function hashName(data: Item, urlAlgorithm: string | undefined, fields: readonly string[] = ['hash_algorithm', 'algorithm']): string {
  if (urlAlgorithm) return urlAlgorithm;
  for (const field of fields) {
    const value = optionalString(data, field);
    if (value) return value;
  }
  return DEFAULT_HASH;
}

/** The version part of `vault:vN:…` values (ciphertexts, signatures, HMACs). */
export function splitVersioned(value: string, what: string): { version: number; encoded: string } {
  if (!value.startsWith('vault:v')) throw new CofferError('invalid_request', `invalid ${what}: no prefix`);
  const rest = value.slice('vault:v'.length);
  const colon = rest.indexOf(':');
  if (colon < 0) throw new CofferError('invalid_request', `invalid ${what}: wrong number of fields`);
  const versionText = rest.slice(0, colon);
  if (!/^\d{1,9}$/.test(versionText)) throw new CofferError('invalid_request', `invalid ${what}: version number could not be decoded`);
  return { version: Number(versionText), encoded: rest.slice(colon + 1) };
}
