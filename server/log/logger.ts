import { statSync } from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/load-config.js';

/**
 * Structured logs. Nothing secret is logged on purpose; redaction is the second line of defence for fields
 * that could carry a share, key or token if someone ever logs a body or headers. Counts are not secrets: a
 * number in one of these fields (`shares: 5`, `threshold: 3`) is shown as it is (see `censor`).
 */
export const REDACTED_PATHS = [
  'key',
  'keys',
  'keys_base64',
  'recovery_keys',
  'recovery_keys_base64',
  'root_token',
  'encoded_token',
  'encoded_root_token',
  'otp',
  'token',
  'client_token',
  'share',
  'shares',
  'unseal_key',
  'plaintext',
  'password',
  'secret_id',
  '*.key',
  '*.keys',
  '*.keys_base64',
  '*.recovery_keys',
  '*.root_token',
  '*.token',
  '*.client_token',
  '*.plaintext',
  'headers["x-vault-token"]',
  'headers.authorization',
  'req.headers["x-vault-token"]',
  'req.headers.authorization',
];

/** Numbers (share counts, thresholds) and booleans carry no secret; everything else in a redacted field is hidden. */
function censor(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'boolean' ? value : '[REDACTED]';
}

export interface LoggerOptions {
  /** `json` (default) or Vault's `standard` text lines. */
  format?: LogFormat;
  /** Also append every line to this file (`log_file`); a directory gets `vault.log` inside it. */
  file?: string;
}

/**
 * A pino logger writing to `destination` (stdout when absent) and, with `options.file`, to that file as well.
 * @throws Error with the OS code (EACCES, ENOENT…) when the log file cannot be opened.
 */
export function createLogger(level: LogLevel | 'silent', destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'json';
  const wrap = (stream: DestinationStream): DestinationStream => (format === 'standard' ? standardFormat(stream) : stream);
  const streams: DestinationStream[] = [wrap(destination ?? pino.destination(1))];
  if (options.file) streams.push(wrap(pino.destination({ dest: logFilePath(options.file), append: true, mkdir: true, sync: true })));
  const target = streams.length === 1 ? streams[0]! : pino.multistream(streams.map((stream) => ({ stream, level: 'trace' as const })));
  return pino({ level, base: { service: 'coffer' }, redact: { paths: REDACTED_PATHS, censor } }, target);
}

/** Where `log_file` writes: the file itself, or `vault.log` in it when it names a directory (as Vault does). */
export function logFilePath(file: string): string {
  let isDirectory = file.endsWith('/');
  try {
    isDirectory ||= statSync(file).isDirectory();
  } catch {
    // Not there yet: a file to create.
  }
  return isDirectory ? path.join(file, 'vault.log') : file;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/**
 * Vault's `standard` log format (hclog's text lines): `2026-01-02T03:04:05.000Z [INFO]  message: key=value`.
 * pino has already redacted the record when it reaches here.
 */
export function standardFormat(destination: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        destination.write(line);
        return;
      }
      destination.write(`${formatStandard(record)}\n`);
    },
  };
}

export function formatStandard(record: Record<string, unknown>): string {
  const time = new Date(typeof record.time === 'number' ? record.time : Date.now()).toISOString();
  const level = `[${LEVEL_NAMES[Number(record.level)] ?? 'INFO'}]`.padEnd(8);
  const fields = Object.entries(record)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  const msg = typeof record.msg === 'string' ? record.msg : '';
  return `${time} ${level}${msg}${fields.length > 0 ? `${msg ? ':' : ''} ${fields.join(' ')}` : ''}`;
}

/** Strings are quoted only when they contain spaces, quotes or `=`; other values print as JSON. */
function formatValue(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value) ?? 'null';
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}
