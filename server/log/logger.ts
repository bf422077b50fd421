import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/load-config.js';

/**
 * Structured JSON logs. Nothing secret is logged on purpose; redaction is the second line of defence for fields
 * that could carry a share, key or token if someone ever logs a body or headers.
 */
export const REDACTED_PATHS = [
  'key',
  'keys',
  'keys_base64',
  'root_token',
  'token',
  'share',
  'shares',
  'unseal_key',
  '*.key',
  '*.keys',
  '*.keys_base64',
  '*.root_token',
  '*.token',
  'headers["x-vault-token"]',
  'headers.authorization',
  'req.headers["x-vault-token"]',
  'req.headers.authorization',
];

export function createLogger(level: LogLevel | 'silent', destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'coffer' }, redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } }, destination);
}
