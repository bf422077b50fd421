import { readFileSync } from 'node:fs';
import path from 'node:path';
import HCL from 'js-hcl-parser';
import type { DeclaredAuditDevice } from '../core/audit/audit-broker.js';
import { normaliseOptions } from '../core/audit/audit-options.js';
import { CofferError } from '../core/errors.js';
import { parseDurationSeconds } from '../core/duration.js';
import { auditStanzas } from './audit-stanzas.js';
import { blocks, boolValue, durationValue, lineOf, stringValue, type ConfigNote, type Fail } from './config-values.js';
import { listenerConfig, type ListenerConfig } from './listener-config.js';
import { sealStanza, type SealStanza } from './seal-stanza.js';
import { storageConfig, type StorageConfig } from './storage-config.js';
import { topTelemetryConfig, type TelemetryConfig } from './telemetry-config.js';

// The stanza modules own their types; they are re-exported so callers keep importing the configuration from here.
export type { ConfigNote } from './config-values.js';
export type { ListenerConfig, ListenerLimitsConfig } from './listener-config.js';
export type { SealStanza } from './seal-stanza.js';
export { DEFAULT_HA_LOCK_TTL_MS, DEFAULT_HA_RENEW_INTERVAL_MS } from './storage-config.js';
export type { PostgresqlStorageConfig, StorageConfig } from './storage-config.js';
export type { TelemetryConfig } from './telemetry-config.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** `json`: one JSON object per line (Coffer's default). `standard`: Vault's human-readable text lines. */
export type LogFormat = 'json' | 'standard';

export interface ServerConfig {
  storage: StorageConfig;
  /** At most one enabled and one disabled; none means Shamir. */
  seals: SealStanza[];
  listeners: ListenerConfig[];
  apiAddr: string;
  logLevel: LogLevel;
  disableUnauthedRekeyEndpoints: boolean;
  /** `disable_unauthed_generate_root_endpoints`: generate-root endpoints need a token with update + sudo. */
  disableUnauthedGenerateRootEndpoints: boolean;
  /** Set on any listener: the one HTTP application serves `sys/metrics` without a token. */
  unauthenticatedMetrics: boolean;
  /** `default_lease_ttl`: TTL of tokens (and KV v1 leases) that ask for none. Vault's 768h when absent. */
  defaultLeaseTtlSeconds: number;
  /** `max_lease_ttl`: no token lives longer than this from its creation. Vault's 768h when absent. */
  maxLeaseTtlSeconds: number;
  logFormat: LogFormat;
  /** `log_file`: logs are also appended here (a directory gets `vault.log` inside it). */
  logFile?: string;
  /** `pid_file`: written at start, removed at a clean stop. */
  pidFile?: string;
  /** `ui`: serve the operator page (false unless set; the embedded default sets it). */
  ui: boolean;
  /** `cluster_name`: the name given to the cluster when it is initialised. */
  clusterName?: string;
  telemetry: TelemetryConfig;
  /** `audit "<type>" "<path>" { description, options { … } }` stanzas, applied at every unseal. */
  audit: DeclaredAuditDevice[];
  /** `allow_audit_log_prefixing`: audit devices may set `prefix` (off by default: CVE-2025-6000). */
  allowAuditLogPrefixing: boolean;
  /** `disable_cache`: no read cache in front of storage (every read goes to the backend). */
  disableCache: boolean;
  /** `cache_size`: entries the storage read cache holds at most (Vault's 131072 when absent). */
  cacheSize: number;
  /** Accepted keys without an effect here (in the parser's key order). */
  notes: ConfigNote[];
  /** `keyring_trim_grace`: how long a term stays retired before its key may be trimmed (seconds; default 72h). */
  keyringTrimGraceSeconds: number;
}

/** Vault's default `cache_size`: entries of the storage read cache. */
export const DEFAULT_CACHE_SIZE = 131_072;

/** `cache_size`: a whole number of entries, as a number or a numeric string (Vault's parser takes both). */
function cacheSizeValue(value: unknown, fail: Fail): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    return fail(`invalid cache_size ${JSON.stringify(value)}: a whole number of entries`, 'cache_size');
  return n;
}

/** Vault's system default and maximum lease TTL: 768h (32 days). */
export const VAULT_DEFAULT_LEASE_TTL_SECONDS = 768 * 3600;

/** The embedded default: LevelDB under ./data, plain HTTP on loopback port 8200. */
export const DEFAULT_CONFIG_TEXT = `
storage "leveldb" { path = "./data" }
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
api_addr  = "http://127.0.0.1:8200"
log_level = "info"
ui        = true
`;

const TOP_LEVEL_KEYS = new Set([
  'keyring_trim_grace',
  'storage',
  'backend',
  'listener',
  'seal',
  'api_addr',
  'cluster_name',
  'log_level',
  'log_format',
  'log_file',
  'pid_file',
  'ui',
  'default_lease_ttl',
  'max_lease_ttl',
  'telemetry',
  'disable_unauthed_rekey_endpoints',
  'disable_unauthed_generate_root_endpoints',
  'audit',
  'allow_audit_log_prefixing',
  'disable_cache',
  'cache_size',
]);

/**
 * Vault keys that have nothing to act on in Coffer: accepted so a Vault config starts, and named in one log line
 * each at start with the reason.
 */
const NO_EFFECT_KEYS: Record<string, string> = {
  cluster_addr: "Coffer standbys redirect clients (307) to the active node's api_addr: there is no cluster port or request forwarding",
  disable_clustering: 'Coffer has no cluster listener to disable (standbys redirect to the active node)',
  disable_performance_standby: 'Coffer has no performance standbys: a standby serves no reads',
  disable_mlock: 'Node.js cannot lock memory (mlock); disable swap or encrypt it on the host instead',
  plugin_directory: 'Coffer has no external plugins; its engines are built in',
  disable_sealwrap: 'Coffer has no seal wrapping of individual entries (an Enterprise feature)',
  log_requests_level: 'Coffer does not log request completions at a separate level',
};

/** Vault keys Coffer refuses: accepting them would promise a behaviour Coffer does not have. */
const REFUSED_KEYS: Record<string, string> = {
  ha_storage:
    'Coffer takes its HA lock from the storage itself: use storage "postgresql" with ha_enabled = "true" (a separate ha_storage is not supported)',
  service_registration: 'Coffer does not register itself with Consul or Kubernetes (service_registration is not supported)',
  raw_storage_endpoint: 'Coffer has no sys/raw endpoint (raw_storage_endpoint is not supported)',
};

const LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
};

/** Reads and validates a configuration file (HCL v1 or JSON). Relative storage paths resolve against the cwd. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = {}): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CofferError('config', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseConfig(text, path.basename(file), env);
}

/**
 * Parses and validates configuration text. Unknown keys and blocks are errors naming the key and its line.
 * @throws CofferError `config`.
 */
export function parseConfig(text: string, source = 'config', env: NodeJS.ProcessEnv = {}): ServerConfig {
  const out = HCL.parse(text);
  if (!out.trimStart().startsWith('{')) throw new CofferError('config', `${source}: ${out.replace(/^unable to parse JSON: /, '')}`);
  const raw = JSON.parse(out) as Record<string, unknown>;
  const fail = (message: string, key?: string, fromLine = 1): never => {
    const line = key ? lineOf(text, key, fromLine) : undefined;
    throw new CofferError('config', `${source}${line ? `:${line}` : ''}: ${message}`);
  };

  const notes: ConfigNote[] = [];
  for (const key of Object.keys(raw)) {
    if (REFUSED_KEYS[key]) fail(REFUSED_KEYS[key], key);
    if (NO_EFFECT_KEYS[key]) notes.push({ key, reason: NO_EFFECT_KEYS[key] });
    else if (!TOP_LEVEL_KEYS.has(key)) fail(`unknown key "${key}"`, key);
  }
  if (raw.backend !== undefined && raw.storage !== undefined) fail('use either storage or its old name backend, not both', 'backend');

  // `backend` is Vault's old name for `storage`.
  const storageKind = raw.storage === undefined && raw.backend !== undefined ? 'backend' : 'storage';
  const storageBlocks = blocks(raw, storageKind, fail);
  if (storageBlocks.length > 1) fail('only one storage block is allowed', storageKind);
  const storage = storageBlocks[0] ? storageConfig(storageBlocks[0], text, fail, env) : ({ type: 'leveldb', path: './data' } as const);

  const listenerBlocks = blocks(raw, 'listener', fail);
  const listeners =
    listenerBlocks.length > 0
      ? listenerBlocks.map((b) => listenerConfig(b, text, fail))
      : [{ address: '127.0.0.1:8200', host: '127.0.0.1', port: 8200 }];

  const seals = blocks(raw, 'seal', fail).map((b) => sealStanza(b, text, fail, env));
  if (seals.filter((x) => !x.disabled).length > 1)
    fail('only one seal stanza may be enabled; during a migration mark the old one disabled = "true"', 'seal');
  if (seals.filter((x) => x.disabled).length > 1) fail('only one seal stanza may be disabled', 'seal');
  if (seals.length === 2 && seals[0]!.type === seals[1]!.type)
    fail(`two seal "${seals[0]!.type}" stanzas: a migration needs two different seals`, 'seal');

  const logLevelRaw = raw.log_level === undefined ? 'info' : String(raw.log_level).toLowerCase();
  const logLevel = LOG_LEVELS[logLevelRaw] ?? fail(`invalid log_level "${logLevelRaw}"`, 'log_level');
  const logFormatRaw = raw.log_format === undefined ? 'json' : String(raw.log_format).toLowerCase();
  if (logFormatRaw !== 'json' && logFormatRaw !== 'standard') fail(`invalid log_format "${logFormatRaw}" (json or standard)`, 'log_format');
  const logFormat = logFormatRaw as LogFormat;
  const apiAddr =
    raw.api_addr === undefined ? `${listeners[0]!.tls ? 'https' : 'http'}://${listeners[0]!.address}` : stringValue(raw.api_addr, 'api_addr', fail);

  const defaultLeaseTtlSeconds =
    raw.default_lease_ttl === undefined ? VAULT_DEFAULT_LEASE_TTL_SECONDS : durationValue(raw.default_lease_ttl, 'default_lease_ttl', fail);
  const maxLeaseTtlSeconds =
    raw.max_lease_ttl === undefined ? VAULT_DEFAULT_LEASE_TTL_SECONDS : durationValue(raw.max_lease_ttl, 'max_lease_ttl', fail);
  if (defaultLeaseTtlSeconds === 0) fail('default_lease_ttl must be more than 0', 'default_lease_ttl');
  if (maxLeaseTtlSeconds === 0) fail('max_lease_ttl must be more than 0', 'max_lease_ttl');
  // Vault refuses this combination too: a default the maximum would cut anyway is a configuration mistake.
  if (defaultLeaseTtlSeconds > maxLeaseTtlSeconds) {
    fail('default_lease_ttl cannot be larger than max_lease_ttl', raw.default_lease_ttl === undefined ? 'max_lease_ttl' : 'default_lease_ttl');
  }

  const optionalString = (key: string): string | undefined => (raw[key] === undefined ? undefined : stringValue(raw[key], key, fail));
  const logFile = optionalString('log_file');
  const pidFile = optionalString('pid_file');
  const clusterName = optionalString('cluster_name');
  const ui = raw.ui === undefined ? false : boolValue(raw.ui, 'ui', fail);
  const telemetry = topTelemetryConfig(raw.telemetry, text, fail, notes);
  const disableCache = raw.disable_cache === undefined ? false : boolValue(raw.disable_cache, 'disable_cache', fail);
  // 0 means the default, as in Vault.
  const cacheSize = raw.cache_size === undefined ? DEFAULT_CACHE_SIZE : cacheSizeValue(raw.cache_size, fail) || DEFAULT_CACHE_SIZE;
  const audit = auditStanzas(raw.audit, fail);
  const allowAuditLogPrefixing =
    raw.allow_audit_log_prefixing === undefined ? false : boolValue(raw.allow_audit_log_prefixing, 'allow_audit_log_prefixing', fail);
  // The same checks as sys/audit makes, so a bad stanza stops the start instead of the first unseal.
  for (const device of audit) {
    try {
      normaliseOptions(device.type, device.options, allowAuditLogPrefixing);
    } catch (err) {
      fail(`audit "${device.type}" "${device.path}": ${(err as Error).message}`, 'audit');
    }
  }

  let keyringTrimGraceSeconds = 72 * 3600;
  if (raw.keyring_trim_grace !== undefined) {
    try {
      keyringTrimGraceSeconds = parseDurationSeconds(raw.keyring_trim_grace, 'keyring_trim_grace');
    } catch {
      fail('keyring_trim_grace must be a duration such as "72h"', 'keyring_trim_grace');
    }
  }

  return {
    storage,
    seals,
    listeners,
    apiAddr,
    logLevel,
    logFormat,
    ...(logFile ? { logFile } : {}),
    ...(pidFile ? { pidFile } : {}),
    ...(clusterName ? { clusterName } : {}),
    ui,
    defaultLeaseTtlSeconds,
    maxLeaseTtlSeconds,
    telemetry,
    audit,
    allowAuditLogPrefixing,
    disableCache,
    cacheSize,
    notes,
    keyringTrimGraceSeconds,
    unauthenticatedMetrics: listeners.some((l) => l.unauthenticatedMetrics === true),
    disableUnauthedRekeyEndpoints:
      raw.disable_unauthed_rekey_endpoints === undefined
        ? false
        : boolValue(raw.disable_unauthed_rekey_endpoints, 'disable_unauthed_rekey_endpoints', fail),
    disableUnauthedGenerateRootEndpoints:
      raw.disable_unauthed_generate_root_endpoints === undefined
        ? false
        : boolValue(raw.disable_unauthed_generate_root_endpoints, 'disable_unauthed_generate_root_endpoints', fail),
  };
}
