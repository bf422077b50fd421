import { createHash } from 'node:crypto';
import type { Random } from '../../clock.js';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import type { LogicalResponse } from '../secret-engine.js';
import { decodeBase64, HASHES, intField, optionalString, type Item } from './fields.js';

/** Vault's cap on one `random` request. */
export const RANDOM_MAX_BYTES = 128 * 1024;
const SOURCES = ['platform', 'seal', 'all'];

/** `hash[/:algo]`: a plain digest of `input`, hex (default) or base64. */
export function hashOp(urlAlgorithm: string | undefined, data: Item): LogicalResponse {
  if (data.input === undefined || data.input === null) throw new CofferError('invalid_request', 'input missing');
  const input = decodeBase64(data.input, 'unable to decode input as base64');
  const format = optionalString(data, 'format') || 'hex';
  if (format !== 'hex' && format !== 'base64')
    throw new CofferError('invalid_request', `unsupported encoding format ${format}; must be "hex" or "base64"`);
  const algorithm = urlAlgorithm || optionalString(data, 'algorithm') || optionalString(data, 'hash_algorithm') || 'sha2-256';
  if (!HASHES[algorithm] || algorithm === 'sha1') throw new CofferError('invalid_request', `unsupported algorithm ${algorithm}`);
  return { data: { sum: createHash(HASHES[algorithm]!.node).update(input).digest(format) } };
}

/**
 * `random[/:source][/:bytes]`: `bytes` (default 32) from the OS CSPRNG, base64 (default) or hex. `seal` and `all`
 * are accepted as Vault does without seal entropy augmentation: the platform source, with a warning for `seal`.
 */
export function randomOp(random: Random, pathParts: string[], data: Item): LogicalResponse {
  let source = 'platform';
  let bytes: number | undefined;
  const [first, second] = pathParts;
  if (pathParts.length > 2) throw new CofferError('unsupported_path', 'unsupported path');
  if (first !== undefined && second !== undefined) {
    source = first;
    bytes = parseUrlBytes(second);
  } else if (first !== undefined && SOURCES.includes(first)) {
    source = first;
  } else if (first !== undefined) {
    bytes = parseUrlBytes(first);
  }
  const source2 = optionalString(data, 'source');
  if (first === undefined && source2) source = source2;
  bytes ??= intField(data, 'bytes') ?? 32;
  const format = optionalString(data, 'format') || 'base64';
  if (bytes < 1) throw new CofferError('invalid_request', "'bytes' cannot be less than 1");
  if (bytes > RANDOM_MAX_BYTES) throw new CofferError('invalid_request', `'bytes' should be less than ${RANDOM_MAX_BYTES}`);
  if (format !== 'hex' && format !== 'base64')
    throw new CofferError('invalid_request', `unsupported encoding format "${format}"; must be "hex" or "base64"`);
  if (!SOURCES.includes(source))
    throw new CofferError('invalid_request', `unsupported entropy source "${source}"; must be "platform" or "seal", or "all"`);
  const out = random.bytes(bytes);
  try {
    return {
      data: { random_bytes: Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString(format) },
      ...(source === 'seal' ? { warnings: ['no seal/entropy augmentation available, using platform entropy source'] } : {}),
    };
  } finally {
    wipe(out);
  }
}

function parseUrlBytes(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new CofferError('invalid_request', `error parsing url-set byte count: ${text} is not a number`);
  return Number(text);
}
