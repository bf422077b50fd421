import { parseDurationSeconds } from '../http/go-duration.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import HCL from 'js-hcl-parser';
import { CofferError } from '../core/errors.js';
import { isLoopback, parseAddress } from '../http/http-server.js';

export type StorageConfig = { type: 'leveldb'; path: string } | { type: 'inmem' };

export interface ListenerConfig {
  address: string;
  host: string;
  port: number;
  /** Certificate and key files; plain HTTP when absent. */
  tls?: { certFile: string; keyFile: string };
  /** `telemetry { unauthenticated_metrics_access = true }`: sys/metrics without a token. */
  unauthenticatedMetrics?: boolean;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

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
  /** Set on any listener: the one HTTP application serves `sys/metrics` without a token. */
  unauthenticatedMetrics: boolean;
  /** `keyring_trim_grace`: how long a term stays retired before its key may be trimmed (seconds; default 72h). */
  keyringTrimGraceSeconds: number;
}

/** The embedded default: LevelDB under ./data, plain HTTP on loopback port 8200. */
export const DEFAULT_CONFIG_TEXT = `
storage "leveldb" { path = "./data" }
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}
api_addr  = "http://127.0.0.1:8200"
log_level = "info"
`;

const TOP_LEVEL_KEYS = new Set([
  'keyring_trim_grace',
  'storage',
  'listener',
  'seal',
  'api_addr',
  'cluster_name',
  'log_level',
  'disable_unauthed_rekey_endpoints',
  // Common in Vault configs and harmless here: accepted and ignored (Node cannot mlock; Coffer has no UI yet).
  'disable_mlock',
  'ui',
]);
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
export function loadConfigFile(file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CofferError('config', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseConfig(text, path.basename(file));
}

/**
 * Parses and validates configuration text. Unknown keys and blocks are errors naming the key and its line.
 * @throws CofferError `config`.
 */
export function parseConfig(text: string, source = 'config', env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const out = HCL.parse(text);
  if (!out.trimStart().startsWith('{')) throw new CofferError('config', `${source}: ${out.replace(/^unable to parse JSON: /, '')}`);
  const raw = JSON.parse(out) as Record<string, unknown>;
  const fail = (message: string, key?: string, fromLine = 1): never => {
    const line = key ? lineOf(text, key, fromLine) : undefined;
    throw new CofferError('config', `${source}${line ? `:${line}` : ''}: ${message}`);
  };

  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.has(key)) fail(`unknown key "${key}"`, key);
  }

  const storageBlocks = blocks(raw, 'storage', fail);
  if (storageBlocks.length > 1) fail('only one storage block is allowed', 'storage');
  const storage = storageBlocks[0] ? storageConfig(storageBlocks[0], text, fail) : ({ type: 'leveldb', path: './data' } as const);

  const listenerBlocks = blocks(raw, 'listener', fail);
  const listeners =
    listenerBlocks.length > 0
      ? listenerBlocks.map((b) => listenerConfig(b, text, fail))
      : [{ address: '127.0.0.1:8200', host: '127.0.0.1', port: 8200 }];

  const seals = blocks(raw, 'seal', fail).map((b) => sealConfig(b, text, fail, env));
  if (seals.filter((x) => !x.disabled).length > 1) fail('only one seal stanza may be enabled; during a migration mark the old one disabled = "true"', 'seal');
  if (seals.filter((x) => x.disabled).length > 1) fail('only one seal stanza may be disabled', 'seal');
  if (seals.length === 2 && seals[0]!.type === seals[1]!.type) fail(`two seal "${seals[0]!.type}" stanzas: a migration needs two different seals`, 'seal');

  const logLevelRaw = raw.log_level === undefined ? 'info' : String(raw.log_level).toLowerCase();
  const logLevel = LOG_LEVELS[logLevelRaw] ?? fail(`invalid log_level "${logLevelRaw}"`, 'log_level');
  const apiAddr =
    raw.api_addr === undefined ? `${listeners[0]!.tls ? 'https' : 'http'}://${listeners[0]!.address}` : stringValue(raw.api_addr, 'api_addr', fail);

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
    keyringTrimGraceSeconds,
    unauthenticatedMetrics: listeners.some((l) => l.unauthenticatedMetrics === true),
    disableUnauthedRekeyEndpoints:
      raw.disable_unauthed_rekey_endpoints === undefined
        ? false
        : boolValue(raw.disable_unauthed_rekey_endpoints, 'disable_unauthed_rekey_endpoints', fail),
  };
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
  for (const item of Array.isArray(value) ? value : [value]) {
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

function storageConfig(block: Block, text: string, fail: Fail): StorageConfig {
  if (block.label === 'inmem') {
    checkKeys(block, [], text, fail);
    return { type: 'inmem' };
  }
  if (block.label === 'leveldb') {
    checkKeys(block, ['path'], text, fail);
    if (block.body.path === undefined) fail('storage "leveldb" needs a path', 'storage');
    return { type: 'leveldb', path: stringValue(block.body.path, 'path', fail) };
  }
  return fail(`unknown storage type "${block.label}" (supported: leveldb, inmem)`, 'storage');
}

/**
 * A seal stanza. Transit settings fall back to Vault's environment variables (VAULT_ADDR, VAULT_TOKEN,
 * VAULT_TRANSIT_SEAL_KEY_NAME, VAULT_TRANSIT_SEAL_MOUNT_PATH), as Vault's transit seal does.
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
      ['disabled', 'address', 'token', 'key_name', 'mount_path', 'tls_ca_cert', 'tls_client_cert', 'tls_client_key', 'tls_server_name', 'tls_skip_verify', 'disable_renewal', 'namespace'],
      text,
      fail,
    );
    const address = str('address') ?? env.VAULT_ADDR ?? fail('seal "transit" needs an address (or VAULT_ADDR)', 'seal');
    const token = str('token') ?? env.VAULT_TOKEN ?? fail('seal "transit" needs a token (or VAULT_TOKEN)', 'seal');
    const keyName = str('key_name') ?? env.VAULT_TRANSIT_SEAL_KEY_NAME ?? fail('seal "transit" needs a key_name', 'seal');
    const mountPath = str('mount_path') ?? env.VAULT_TRANSIT_SEAL_MOUNT_PATH ?? fail('seal "transit" needs a mount_path', 'seal');
    if (!/^https?:\/\//.test(address)) fail('address must start with http:// or https://', 'address');
    const tls = {
      ...(str('tls_ca_cert') ? { caCert: str('tls_ca_cert')! } : {}),
      ...(str('tls_client_cert') ? { clientCert: str('tls_client_cert')! } : {}),
      ...(str('tls_client_key') ? { clientKey: str('tls_client_key')! } : {}),
      ...(str('tls_server_name') ? { serverName: str('tls_server_name')! } : {}),
      skipVerify: block.body.tls_skip_verify === undefined ? false : boolValue(block.body.tls_skip_verify, 'tls_skip_verify', fail),
    };
    return { type: 'transit', disabled, address, token, keyName, mountPath, tls };
  }
  return fail(`unknown seal type "${block.label}" (supported: shamir, static, transit)`, 'seal');
}

function listenerConfig(block: Block, text: string, fail: Fail): ListenerConfig {
  if (block.label !== 'tcp') fail(`unknown listener type "${block.label}" (supported: tcp)`, 'listener');
  checkKeys(block, ['address', 'tls_disable', 'tls_cert_file', 'tls_key_file', 'telemetry'], text, fail);
  const telemetry = telemetryConfig(block.body.telemetry, text, fail);
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

  const base = { address, host, port, ...telemetry };
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
  return value as string;
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
