import { readFileSync } from 'node:fs';
import path from 'node:path';
import HCL from 'js-hcl-parser';
import type { DeclaredAuditDevice } from '../core/audit/audit-broker.js';
import { normaliseOptions } from '../core/audit/audit-options.js';
import { CofferError } from '../core/errors.js';
import { parseDurationSeconds } from '../core/duration.js';
import { parseGoDurationMs } from '../core/go-duration.js';
import { isLoopback, parseAddress } from '../core/net-address.js';
import { checkTransitAddress } from '../core/seal/transit-seal.js';

export type StorageConfig = { type: 'leveldb'; path: string } | { type: 'inmem' } | PostgresqlStorageConfig;

/** `storage "postgresql"`: Vault's keys, plus the HA lock timings (Go durations in the file). */
export interface PostgresqlStorageConfig {
  type: 'postgresql';
  /** From `connection_url`, or `VAULT_PG_CONNECTION_URL` which wins as in Vault. Holds a password: never log it. */
  connectionUrl: string;
  table?: string;
  haTable?: string;
  maxParallel?: number;
  haEnabled: boolean;
  /** Lifetime of the lock row on the database clock. */
  haLockTtlMs: number;
  /** How often the active renews the lock row. */
  haRenewIntervalMs: number;
}

/**
 * Default HA timings. A crashed active's row expires at most `ttl` after its last renewal, and a standby retries
 * every second, so a standby takes over within about 6 s (Vault: 15 s + 1 s). Renewing every second leaves four
 * renewals' worth of slack before a slow database costs the active its lock, and the active's local deadline
 * (ttl − renew interval after the start of its last successful renewal) keeps it from acting on a lock the
 * database may already have given away.
 */
export const DEFAULT_HA_LOCK_TTL_MS = 5000;
export const DEFAULT_HA_RENEW_INTERVAL_MS = 1000;

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

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** `json`: one JSON object per line (Coffer's default). `standard`: Vault's human-readable text lines. */
export type LogFormat = 'json' | 'standard';

/** The top-level `telemetry { ... }` stanza, as far as it means something for Coffer's Prometheus metrics. */
export interface TelemetryConfig {
  /** `prometheus_retention_time = 0` turns the Prometheus format of sys/metrics off, as in Vault. */
  prometheusEnabled: boolean;
  /** `metrics_prefix`: the first part of every metric name (`coffer` unless set). */
  metricsPrefix: string;
  /** `enable_hostname_label`: every series carries `host="<hostname>"`. */
  hostnameLabel: boolean;
}

/** A key Coffer accepts for Vault compatibility but that has no effect here; logged once at start with the reason. */
export interface ConfigNote {
  key: string;
  reason: string;
}

/** A `seal` stanza. `disabled` marks the old seal of a migration. */
export type SealStanza =
  | { type: 'shamir'; disabled: boolean }
  | { type: 'static'; disabled: boolean; keyFile?: string; keyEnv?: string }
  | {
      type: 'transit';
      disabled: boolean;
      address: string;
      token: string;
      keyName: string;
      mountPath: string;
      /** Sent as `X-Vault-Namespace` on every request to the key service. */
      namespace?: string;
      /** Never renew the token (something else does). */
      disableRenewal: boolean;
      tls: { caCert?: string; clientCert?: string; clientKey?: string; serverName?: string; skipVerify: boolean };
    };

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

  const seals = blocks(raw, 'seal', fail).map((b) => sealConfig(b, text, fail, env));
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

/**
 * `audit "<type>" "<path>" { description = "…", options { k = "v" } }` (OpenBao's declarative form). The HCL parser
 * gives nested labels as `{type: {path: [body]}}`; option values must be strings (or numbers/booleans, turned into
 * text as the API does). Checking the options themselves is the audit broker's job, at unseal.
 */
function auditStanzas(value: unknown, fail: Fail): DeclaredAuditDevice[] {
  if (value === undefined) return [];
  const out: DeclaredAuditDevice[] = [];
  const shape = 'audit stanzas look like audit "file" "to-file" { options { file_path = "/var/log/coffer-audit.log" } }';
  for (const item of (Array.isArray(value) ? value : [value]) as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(shape, 'audit');
    for (const [type, byPath] of Object.entries(item as Record<string, unknown>)) {
      for (const inner of (Array.isArray(byPath) ? byPath : [byPath]) as unknown[]) {
        if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) fail(shape, 'audit');
        for (const [devicePath, bodies] of Object.entries(inner as Record<string, unknown>)) {
          for (const body of (Array.isArray(bodies) ? bodies : [bodies]) as unknown[]) {
            if (typeof body !== 'object' || body === null || Array.isArray(body)) fail(shape, 'audit');
            const b = body as Record<string, unknown>;
            const unknown = Object.keys(b).filter((k) => k !== 'description' && k !== 'options' && k !== 'local');
            if (unknown.length > 0) fail(`unknown key "${unknown[0]}" in audit "${type}" "${devicePath}"`, unknown[0]);
            if (b.local !== undefined && boolValue(b.local, 'local', fail))
              fail('local audit devices are not supported: Coffer runs one node', 'local');
            const description =
              b.description === undefined
                ? ''
                : typeof b.description === 'string'
                  ? b.description
                  : fail('description must be a string', 'description');
            const options: Record<string, string> = {};
            for (const block of (b.options === undefined ? [] : Array.isArray(b.options) ? b.options : [b.options]) as unknown[]) {
              if (typeof block !== 'object' || block === null || Array.isArray(block)) fail('options must be a block', 'options');
              for (const [k, v] of Object.entries(block as Record<string, unknown>)) {
                if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`audit option ${k} must be a string`, k);
                options[k] = String(v);
              }
            }
            if (out.some((d) => d.path.replace(/\/+$/, '') === devicePath.replace(/\/+$/, '')))
              fail(`two audit stanzas for the path "${devicePath}"`, 'audit');
            out.push({ type, path: devicePath, description, options });
          }
        }
      }
    }
  }
  return out;
}

/** Telemetry keys of Vault's push sinks: Coffer only serves Prometheus metrics at sys/metrics. */
const PUSH_SINK_KEY = /^(statsite_|statsd_|dogstatsd_|circonus_|stackdriver_)/;
const TELEMETRY_NO_EFFECT: Record<string, string> = {
  usage_gauge_period: "Coffer's gauges are computed at scrape time; it has no periodic usage-gauge collection",
  maximum_gauge_cardinality: 'Coffer has no high-cardinality usage gauges to cap',
  lease_metrics_epsilon: 'Coffer has no lease-expiry metrics (it issues no leases to revoke)',
  num_lease_metrics_buckets: 'Coffer has no lease-expiry metrics (it issues no leases to revoke)',
  add_lease_metrics_namespace_labels: 'Coffer has no lease-expiry metrics and no namespaces',
  add_mount_point_rollback_metrics: 'Coffer has no rollback manager metrics',
};

/**
 * The top-level `telemetry` stanza. `prometheus_retention_time`, `metrics_prefix` and `enable_hostname_label`
 * take effect; `disable_hostname = true` is what Coffer always does; keys about Vault-only metrics are noted.
 */
function topTelemetryConfig(value: unknown, text: string, fail: Fail, notes: ConfigNote[]): TelemetryConfig {
  const out: TelemetryConfig = { prometheusEnabled: true, metricsPrefix: 'coffer', hostnameLabel: false };
  if (value === undefined) return out;
  const from = lineOf(text, 'telemetry') ?? 1;
  for (const body of (Array.isArray(value) ? value : [value]) as unknown[]) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('telemetry must be a block', 'telemetry');
    for (const [key, v] of Object.entries(body)) {
      if (key === 'prometheus_retention_time') {
        out.prometheusEnabled = durationValue(v, key, fail) > 0;
        if (out.prometheusEnabled) {
          notes.push({
            key: `telemetry.${key}`,
            reason: 'Coffer keeps every series for the life of the process; only 0 (Prometheus off) changes anything',
          });
        }
      } else if (key === 'metrics_prefix') {
        const prefix = stringValue(v, key, fail);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) fail('metrics_prefix must be a Prometheus name: letters, digits and _', key, from);
        out.metricsPrefix = prefix;
      } else if (key === 'enable_hostname_label') {
        out.hostnameLabel = boolValue(v, key, fail);
      } else if (key === 'disable_hostname') {
        if (!boolValue(v, key, fail)) {
          notes.push({
            key: `telemetry.${key}`,
            reason: 'Coffer never prefixes metric names with the hostname (use enable_hostname_label for a host label)',
          });
        }
      } else if (TELEMETRY_NO_EFFECT[key]) {
        notes.push({ key: `telemetry.${key}`, reason: TELEMETRY_NO_EFFECT[key] });
      } else if (PUSH_SINK_KEY.test(key)) {
        fail(`telemetry ${key}: Coffer does not push metrics; scrape sys/metrics?format=prometheus instead`, key, from);
      } else {
        fail(`unknown key "${key}" in telemetry`, key, from);
      }
    }
  }
  return out;
}

type Fail = (message: string, key?: string, fromLine?: number) => never;
interface Block {
  kind: string;
  label: string;
  body: Record<string, unknown>;
}

/** Normalises the parser's `[{label: [body]}]` shape. */
function blocks(raw: Record<string, unknown>, kind: string, fail: Fail): Block[] {
  const value = raw[kind];
  if (value === undefined) return [];
  const out: Block[] = [];
  for (const item of (Array.isArray(value) ? value : [value]) as unknown[]) {
    const entries = typeof item === 'object' && item !== null ? Object.entries(item) : [];
    for (const [label, bodies] of entries) {
      const list = Array.isArray(bodies) ? bodies : [bodies];
      if (list.length === 0 || list.some((b) => typeof b !== 'object' || b === null || Array.isArray(b))) {
        fail(`${kind} block needs a type label, as in ${kind} "${kind === 'listener' ? 'tcp' : 'leveldb'}" { ... }`, kind);
      }
      for (const body of list) out.push({ kind, label, body: body as Record<string, unknown> });
    }
    if (entries.length === 0) fail(`${kind} block needs a type label`, kind);
  }
  return out;
}

function checkKeys(block: Block, allowed: string[], text: string, fail: Fail): void {
  const from = lineOf(text, block.kind) ?? 1;
  for (const key of Object.keys(block.body)) {
    if (!allowed.includes(key)) fail(`unknown key "${key}" in ${block.kind} "${block.label}"`, key, from);
  }
}

function storageConfig(block: Block, text: string, fail: Fail, env: NodeJS.ProcessEnv): StorageConfig {
  if (block.label === 'postgresql') return postgresqlConfig(block, text, fail, env);
  if (block.label === 'inmem') {
    checkKeys(block, [], text, fail);
    return { type: 'inmem' };
  }
  if (block.label === 'leveldb') {
    checkKeys(block, ['path'], text, fail);
    if (block.body.path === undefined) fail('storage "leveldb" needs a path', 'storage');
    return { type: 'leveldb', path: stringValue(block.body.path, 'path', fail) };
  }
  if (block.label === 'file' || block.label === 'raft') {
    return fail(
      `storage "${block.label}" is not available in Coffer: use storage "leveldb" { path = "..." } (or "inmem" for tests); ` +
        'or storage "postgresql" for a shared, highly available database',
      block.kind,
    );
  }
  return fail(`unknown storage type "${block.label}" (supported: leveldb, postgresql, inmem)`, block.kind);
}

function postgresqlConfig(block: Block, text: string, fail: Fail, env: NodeJS.ProcessEnv): PostgresqlStorageConfig {
  checkKeys(block, ['connection_url', 'table', 'max_parallel', 'ha_enabled', 'ha_table', 'ha_lock_ttl', 'ha_renew_interval'], text, fail);
  const str = (key: string): string | undefined => (block.body[key] === undefined ? undefined : stringValue(block.body[key], key, fail));
  const connectionUrl =
    env.VAULT_PG_CONNECTION_URL ||
    str('connection_url') ||
    fail('storage "postgresql" needs a connection_url (or VAULT_PG_CONNECTION_URL)', 'storage');
  const table = str('table');
  const haTable = str('ha_table');
  let maxParallel: number | undefined;
  if (block.body.max_parallel !== undefined) {
    const raw = block.body.max_parallel;
    const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) fail('max_parallel must be a whole number of at least 1', 'max_parallel');
    maxParallel = n;
  }
  const haEnabled = block.body.ha_enabled === undefined ? false : boolValue(block.body.ha_enabled, 'ha_enabled', fail);
  const haLockTtlMs = block.body.ha_lock_ttl === undefined ? DEFAULT_HA_LOCK_TTL_MS : durationMs(block.body.ha_lock_ttl, 'ha_lock_ttl', fail);
  const haRenewIntervalMs =
    block.body.ha_renew_interval === undefined ? DEFAULT_HA_RENEW_INTERVAL_MS : durationMs(block.body.ha_renew_interval, 'ha_renew_interval', fail);
  if (haLockTtlMs < 1000) fail('ha_lock_ttl must be at least 1s', 'ha_lock_ttl');
  if (haRenewIntervalMs <= 0 || haRenewIntervalMs * 2 > haLockTtlMs)
    fail('ha_renew_interval must be more than 0 and at most half of ha_lock_ttl', 'ha_renew_interval');
  if (!haEnabled && (block.body.ha_lock_ttl !== undefined || block.body.ha_renew_interval !== undefined || haTable !== undefined)) {
    fail('ha_lock_ttl, ha_renew_interval and ha_table need ha_enabled = "true"', block.body.ha_table !== undefined ? 'ha_table' : 'ha_lock_ttl');
  }
  return {
    type: 'postgresql',
    connectionUrl,
    ...(table ? { table } : {}),
    ...(haTable ? { haTable } : {}),
    ...(maxParallel ? { maxParallel } : {}),
    haEnabled,
    haLockTtlMs,
    haRenewIntervalMs,
  };
}

/**
 * A seal stanza. Transit settings fall back to Vault's environment variables (VAULT_ADDR, VAULT_TOKEN,
 * VAULT_TRANSIT_SEAL_KEY_NAME, VAULT_TRANSIT_SEAL_MOUNT_PATH, VAULT_NAMESPACE, VAULT_TRANSIT_SEAL_DISABLE_RENEWAL),
 * as Vault's transit seal does. A plain-HTTP address must be loopback: the root key travels in the body.
 */
function sealConfig(block: Block, text: string, fail: Fail, env: NodeJS.ProcessEnv): SealStanza {
  const str = (key: string): string | undefined => (block.body[key] === undefined ? undefined : stringValue(block.body[key], key, fail));
  const disabled = block.body.disabled === undefined ? false : boolValue(block.body.disabled, 'disabled', fail);
  if (block.label === 'shamir') {
    checkKeys(block, ['disabled'], text, fail);
    return { type: 'shamir', disabled };
  }
  if (block.label === 'static') {
    checkKeys(block, ['disabled', 'key_file', 'key_env', 'current_key', 'current_key_id'], text, fail);
    let keyFile = str('key_file');
    let keyEnv = str('key_env');
    // Vault's static seal names its key as file://PATH or env://NAME.
    const current = str('current_key');
    if (current?.startsWith('file://')) keyFile = current.slice('file://'.length);
    else if (current?.startsWith('env://')) keyEnv = current.slice('env://'.length);
    else if (current !== undefined) fail('current_key must be file://PATH or env://NAME', 'current_key');
    if ((keyFile === undefined) === (keyEnv === undefined)) fail('seal "static" needs exactly one of key_file or key_env', 'seal');
    return { type: 'static', disabled, ...(keyFile ? { keyFile } : {}), ...(keyEnv ? { keyEnv } : {}) };
  }
  if (block.label === 'transit') {
    checkKeys(
      block,
      [
        'disabled',
        'address',
        'token',
        'key_name',
        'mount_path',
        'tls_ca_cert',
        'tls_client_cert',
        'tls_client_key',
        'tls_server_name',
        'tls_skip_verify',
        'disable_renewal',
        'namespace',
      ],
      text,
      fail,
    );
    const address = str('address') ?? env.VAULT_ADDR ?? fail('seal "transit" needs an address (or VAULT_ADDR)', 'seal');
    const token = str('token') ?? env.VAULT_TOKEN ?? fail('seal "transit" needs a token (or VAULT_TOKEN)', 'seal');
    const keyName = str('key_name') ?? env.VAULT_TRANSIT_SEAL_KEY_NAME ?? fail('seal "transit" needs a key_name', 'seal');
    const mountPath = str('mount_path') ?? env.VAULT_TRANSIT_SEAL_MOUNT_PATH ?? fail('seal "transit" needs a mount_path', 'seal');
    if (!/^https?:\/\//.test(address)) fail('address must start with http:// or https://', 'address');
    try {
      checkTransitAddress(address);
    } catch (err) {
      fail((err as Error).message, 'address');
    }
    const namespace = str('namespace') ?? (env.VAULT_NAMESPACE || undefined);
    const disableRenewalRaw = block.body.disable_renewal ?? (env.VAULT_TRANSIT_SEAL_DISABLE_RENEWAL || undefined);
    const disableRenewal = disableRenewalRaw === undefined ? false : boolValue(disableRenewalRaw, 'disable_renewal', fail);
    const tls = {
      ...(str('tls_ca_cert') ? { caCert: str('tls_ca_cert')! } : {}),
      ...(str('tls_client_cert') ? { clientCert: str('tls_client_cert')! } : {}),
      ...(str('tls_client_key') ? { clientKey: str('tls_client_key')! } : {}),
      ...(str('tls_server_name') ? { serverName: str('tls_server_name')! } : {}),
      skipVerify: block.body.tls_skip_verify === undefined ? false : boolValue(block.body.tls_skip_verify, 'tls_skip_verify', fail),
    };
    return { type: 'transit', disabled, address, token, keyName, mountPath, ...(namespace ? { namespace } : {}), disableRenewal, tls };
  }
  return fail(`unknown seal type "${block.label}" (supported: shamir, static, transit)`, 'seal');
}

function listenerConfig(block: Block, text: string, fail: Fail): ListenerConfig {
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

function stringValue(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${key} must be a non-empty string`, key);
  return value;
}

/** A Vault duration: seconds as a number, or a string such as "768h", "30m", "90s", "1h30m". */
function durationValue(value: unknown, key: string, fail: Fail): number {
  try {
    return parseDurationSeconds(value, key);
  } catch {
    return fail(`${key} must be a duration such as "768h" or a number of seconds`, key);
  }
}

/** A Go duration (`10s`, `500ms`, `5m`) or a whole number of seconds, as Vault's listener takes it; 0 means none. */
function durationMs(value: unknown, key: string, fail: Fail): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value * 1000;
  const ms = typeof value === 'string' ? parseGoDurationMs(value) : undefined;
  return ms ?? fail(`${key} must be a duration such as "10s" or "5m"`, key);
}

/** Vault accepts true/false, "true"/"false" and 1/0 for booleans. */
function boolValue(value: unknown, key: string, fail: Fail): boolean {
  if (value === true || value === 1 || value === 'true' || value === '1') return true;
  if (value === false || value === 0 || value === 'false' || value === '0') return false;
  return fail(`${key} must be a boolean`, key);
}

/** 1-based line of the first `key` used as an attribute or block name at or after `fromLine`. */
function lineOf(text: string, key: string, fromLine = 1): number | undefined {
  const pattern = new RegExp(`(^|[\\s{,])"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*[={"]`);
  const lines = text.split('\n');
  for (let i = fromLine - 1; i < lines.length; i++) {
    if (pattern.test(lines[i]!)) return i + 1;
  }
  return undefined;
}
