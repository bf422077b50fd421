/** The `listener "tcp"` stanza: address, TLS files, resource limits and the listener's `telemetry` block. */
import { isLoopback, parseAddress } from '../core/net-address.js';
import { boolValue, checkKeys, durationMs, stringValue, type Block, type Fail } from './config-values.js';

/** One `listener "tcp"` stanza, checked. */
export interface ListenerConfig {
  address: string;
  host: string;
  port: number;
  /** Certificate and key files; plain HTTP when absent. */
  tls?: { certFile: string; keyFile: string };
  /** `telemetry { unauthenticated_metrics_access = true }`: sys/metrics without a token. */
  unauthenticatedMetrics?: boolean;
  /** Only the limits the file sets; the listener supplies the defaults for the rest. */
  limits?: Partial<ListenerLimitsConfig>;
}

/** Per-listener resource limits in milliseconds (0 = none) and connections; see docs/http-api.md. */
export interface ListenerLimitsConfig {
  readHeaderTimeoutMs: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** Vault's listener timeout keys, then Coffer's connection cap (Vault has no per-listener cap). */
const LISTENER_TIMEOUT_KEYS = {
  http_read_header_timeout: 'readHeaderTimeoutMs',
  http_read_timeout: 'readTimeoutMs',
  http_write_timeout: 'writeTimeoutMs',
  http_idle_timeout: 'idleTimeoutMs',
} as const;

/**
 * A `listener` block. Plain HTTP is refused on a non-loopback address unless `tls_disable` is set.
 * @throws through `fail` on an unknown type or key, a bad address, limit or half a TLS pair.
 */
export function listenerConfig(block: Block, text: string, fail: Fail): ListenerConfig {
  if (block.label !== 'tcp') fail(`unknown listener type "${block.label}" (supported: tcp)`, 'listener');
  checkKeys(
    block,
    ['address', 'tls_disable', 'tls_cert_file', 'tls_key_file', 'telemetry', ...Object.keys(LISTENER_TIMEOUT_KEYS), 'max_connections'],
    text,
    fail,
  );
  const telemetry = telemetryConfig(block.body.telemetry, text, fail);
  const limits: Partial<ListenerLimitsConfig> = {};
  for (const [key, field] of Object.entries(LISTENER_TIMEOUT_KEYS)) {
    if (block.body[key] !== undefined) limits[field] = durationMs(block.body[key], key, fail);
  }
  if (block.body.max_connections !== undefined) {
    const cap = block.body.max_connections;
    const n = typeof cap === 'string' && /^\d+$/.test(cap.trim()) ? Number(cap) : cap;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail('max_connections must be a whole number (0 for no cap)', 'max_connections');
    limits.maxConnections = n;
  }
  const address = block.body.address === undefined ? '127.0.0.1:8200' : stringValue(block.body.address, 'address', fail);
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseAddress(address));
  } catch (err) {
    return fail((err as Error).message, 'address');
  }
  const tlsDisableSet = block.body.tls_disable !== undefined;
  const tlsDisable = tlsDisableSet ? boolValue(block.body.tls_disable, 'tls_disable', fail) : false;
  const certFile = block.body.tls_cert_file === undefined ? undefined : stringValue(block.body.tls_cert_file, 'tls_cert_file', fail);
  const keyFile = block.body.tls_key_file === undefined ? undefined : stringValue(block.body.tls_key_file, 'tls_key_file', fail);

  const base = { address, host, port, ...telemetry, ...(Object.keys(limits).length > 0 ? { limits } : {}) };
  if (tlsDisable) return base;
  if (certFile && keyFile) return { ...base, tls: { certFile, keyFile } };
  if (certFile || keyFile) fail('listener "tcp" needs both tls_cert_file and tls_key_file', certFile ? 'tls_cert_file' : 'tls_key_file');
  if (tlsDisableSet) fail('listener "tcp" has tls_disable = false but no tls_cert_file and tls_key_file', 'tls_disable');
  if (!isLoopback(host)) {
    fail(
      `listener "tcp" on ${address} would serve plain HTTP on a non-loopback address: set tls_cert_file and tls_key_file, or tls_disable = true to accept plain HTTP`,
      'address',
    );
  }
  return base;
}

/** A listener's `telemetry { unauthenticated_metrics_access = true }` block (Vault's form). */
function telemetryConfig(value: unknown, text: string, fail: Fail): { unauthenticatedMetrics?: boolean } {
  if (value === undefined) return {};
  const bodies = (Array.isArray(value) ? value : [value]) as unknown[];
  let allowed: boolean | undefined;
  for (const body of bodies) {
    if (typeof body !== 'object' || body === null) fail('telemetry must be a block', 'telemetry');
    const block: Block = { kind: 'telemetry', label: '', body: body as Record<string, unknown> };
    checkKeys(block, ['unauthenticated_metrics_access'], text, fail);
    const raw = block.body.unauthenticated_metrics_access;
    if (raw !== undefined) allowed = boolValue(raw, 'unauthenticated_metrics_access', fail);
  }
  return allowed === undefined ? {} : { unauthenticatedMetrics: allowed };
}
