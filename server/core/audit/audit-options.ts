import { CofferError } from '../errors.js';
import { parseGoDurationMs } from '../go-duration.js';
import { socketTarget } from './socket-device.js';

/** The options every device type takes. */
const COMMON = ['format', 'prefix', 'log_raw', 'hmac_accessor', 'elide_list_responses', 'skip_test', 'write_timeout'];
const BY_TYPE: Record<string, string[]> = {
  file: [...COMMON, 'file_path', 'path', 'mode'],
  socket: [...COMMON, 'address', 'socket_type'],
};

/** The types `sys/audit` accepts. */
export const AUDIT_TYPES = Object.keys(BY_TYPE);

/** Options common to all devices, parsed. */
export interface DeviceSettings {
  logRaw: boolean;
  hmacAccessor: boolean;
  elideListResponses: boolean;
  prefix: string;
  skipTest: boolean;
  /** Milliseconds a write may take before this device counts as failed for the record; 0 = no limit. */
  writeTimeoutMs: number;
}

/** Default bound on one device's write: a slow device fails its record instead of holding every request. */
export const DEFAULT_WRITE_TIMEOUT_MS = 5000;

/**
 * Checks an enable request's options as strings, the way Vault's API takes them (`map[string]string`): numbers and
 * booleans are accepted and turned into their text.
 * @throws CofferError `invalid_request` naming unknown keys, a non-scalar value, a format other than json, or a
 * prefix when the server does not allow prefixing.
 */
export function normaliseOptions(type: string, raw: unknown, allowPrefixing: boolean): Record<string, string> {
  const allowed = BY_TYPE[type];
  if (!allowed) throw new CofferError('invalid_request', `unknown backend type: "${type}"`);
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw)))
    throw new CofferError('invalid_request', 'options must be a map of strings');
  const out: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (!allowed.includes(key)) {
      unknown.push(key);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new CofferError('invalid_request', `option "${key}" must be a string`);
    }
    out[key] = String(value);
  }
  if (unknown.length > 0) throw new CofferError('invalid_request', `unknown option(s) for a ${type} audit device: ${unknown.sort().join(', ')}`);
  const format = out.format ?? 'json';
  if (format !== 'json') throw new CofferError('invalid_request', `unsupported format "${format}": only json is available`);
  if ((out.prefix ?? '') !== '' && !allowPrefixing) {
    throw new CofferError('invalid_request', 'audit log prefixing is not allowed: set allow_audit_log_prefixing = true in the server configuration');
  }
  deviceSettings(out);
  if (type === 'file') {
    if ((out.file_path ?? out.path ?? '') === '') throw new CofferError('invalid_request', 'file_path is required');
    fileMode(out);
  }
  if (type === 'socket') socketTarget(out);
  return out;
}

/** @throws CofferError `invalid_request` for a malformed boolean or duration. */
export function deviceSettings(options: Readonly<Record<string, string>>): DeviceSettings {
  const timeout = options.write_timeout;
  let writeTimeoutMs = DEFAULT_WRITE_TIMEOUT_MS;
  if (timeout !== undefined) {
    const ms = /^\d+$/.test(timeout) ? Number(timeout) * 1000 : parseGoDurationMs(timeout);
    if (ms === undefined) throw new CofferError('invalid_request', `write_timeout must be a duration such as "2s": ${JSON.stringify(timeout)}`);
    writeTimeoutMs = ms;
  }
  return {
    logRaw: bool(options, 'log_raw', false),
    hmacAccessor: bool(options, 'hmac_accessor', true),
    elideListResponses: bool(options, 'elide_list_responses', false),
    prefix: options.prefix ?? '',
    skipTest: bool(options, 'skip_test', false),
    writeTimeoutMs,
  };
}

function bool(options: Readonly<Record<string, string>>, key: string, fallback: boolean): boolean {
  const v = options[key];
  if (v === undefined || v === '') return fallback;
  if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(v)) return true;
  if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(v)) return false;
  throw new CofferError('invalid_request', `option "${key}" must be a boolean: ${JSON.stringify(v)}`);
}

/**
 * A file device's `mode`: octal, `0600` by default; `0000` leaves the file's mode as it is (returned as 0).
 * @throws CofferError `invalid_request` for a malformed mode or one with an executable bit (a log file must never be
 * something the host could run: CVE-2025-6000).
 */
export function fileMode(options: Readonly<Record<string, string>>): number {
  const raw = options.mode ?? '0600';
  if (!/^0?[0-7]{3}$/.test(raw)) throw new CofferError('invalid_request', `invalid mode "${raw}": must be an octal file mode such as 0600`);
  const mode = parseInt(raw, 8);
  if ((mode & 0o111) !== 0) throw new CofferError('invalid_request', `mode "${raw}" is refused: an audit log may not be executable`);
  return mode;
}
