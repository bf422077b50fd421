/**
 * The `storage` stanza (Vault's old name `backend` too): LevelDB, in-memory, or PostgreSQL with its HA lock
 * settings.
 */
import { boolValue, checkKeys, durationMs, stringValue, type Block, type Fail } from './config-values.js';

/** Where Coffer keeps its (encrypted) data. */
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

/**
 * A `storage` block by its type label. `file` and `raft` are refused with the alternatives.
 * @throws through `fail` on an unknown type or key, or a missing `path`.
 */
export function storageConfig(block: Block, text: string, fail: Fail, env: NodeJS.ProcessEnv): StorageConfig {
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
