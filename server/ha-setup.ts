import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PostgresqlStorageConfig } from './config/load-config.js';
import type { CofferCore } from './core/coffer-core.js';
import { HaCoordinator, type HaEvents, type HaTimings } from './core/ha/ha-coordinator.js';
import { CachedBackend } from './core/storage/cached-backend.js';
import { PostgresqlBackend } from './core/storage/postgresql/postgresql-backend.js';
import type { StorageBackend } from './core/storage/storage-backend.js';
import { PostgresqlHaLock } from './core/storage/postgresql/postgresql-ha-lock.js';

/**
 * Writes standbys must follow: keyring, root key upgrades, seal configuration, mounts, cluster identity (`core/`)
 * and policies. Other writes (secrets, tokens) are read from storage at use, so a standby has nothing to drop.
 */
const FOLLOWED_PREFIXES = ['core/', 'sys/policy/'];

/** Opens `storage "postgresql"` (creating its tables when missing). @throws CofferError `storage` / `config`. */
export async function openPostgresql(config: PostgresqlStorageConfig): Promise<PostgresqlBackend> {
  return PostgresqlBackend.open({
    connectionUrl: config.connectionUrl,
    ...(config.table ? { table: config.table } : {}),
    ...(config.haTable ? { haTable: config.haTable } : {}),
    ...(config.maxParallel ? { maxParallel: config.maxParallel } : {}),
    ...(config.haEnabled ? { notifyPrefixes: FOLLOWED_PREFIXES } : {}),
  });
}

export interface RunningHa {
  readonly coordinator: HaCoordinator;
  /** Stops competing and listening; the caller seals (which releases the lock) and then calls `closeLock`. */
  stop(): Promise<void>;
  closeLock(): Promise<void>;
}

/**
 * HA on PostgreSQL: the lock (its own connection), write fencing in the storage, the coordinator that elects and
 * follows, and LISTEN for the active node's changes (the coordinator's poll is the fallback). Must run before the
 * first unseal (an auto seal unseals during start).
 */
export function startHa(
  core: CofferCore,
  backend: PostgresqlBackend,
  storage: StorageBackend,
  config: PostgresqlStorageConfig,
  options: { apiAddr: string; logger: Logger; timings?: Partial<HaTimings>; events?: HaEvents },
): RunningHa {
  const nodeId = randomUUID();
  // Not active yet: reads go to the database until this node takes over.
  if (storage instanceof CachedBackend) storage.setEnabled(false);
  const lock = new PostgresqlHaLock({
    connectionUrl: config.connectionUrl,
    haTable: backend.haTable,
    ttlMs: config.haLockTtlMs,
    renewIntervalMs: config.haRenewIntervalMs,
    value: () => JSON.stringify({ api_addr: options.apiAddr, node_id: nodeId, active_time: new Date().toISOString() }),
  });
  const coordinator = new HaCoordinator({
    lock,
    storage,
    enableFence: () => backend.setFence(lock.fence),
    ...(storage instanceof CachedBackend ? { enableStorageCache: (enabled: boolean) => storage.setEnabled(enabled) } : {}),
    barrier: core.barrier,
    lifecycle: core.lifecycle,
    sealStore: core.sealStore,
    logger: options.logger,
    clock: core.clock,
    apiAddr: options.apiAddr,
    nodeId,
    ...(options.timings ? { timings: options.timings } : {}),
    ...(options.events ? { events: options.events } : {}),
  });
  // Notifications arrive per key; one refresh covers a burst of them.
  let pending: Promise<void> | undefined;
  let again = false;
  const refresh = () => {
    if (pending) {
      again = true;
      return;
    }
    pending = coordinator.refresh().finally(() => {
      pending = undefined;
      if (again) {
        again = false;
        refresh();
      }
    });
  };
  const unlisten = backend.listen(() => refresh());
  return {
    coordinator,
    stop: async () => {
      await unlisten();
      await coordinator.close();
      await pending;
    },
    closeLock: () => lock.close(),
  };
}
