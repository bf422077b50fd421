import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/load-config.js';
import { systemClock, systemRandom, type Clock, type Random } from './core/clock.js';
import { CofferCore } from './core/coffer-core.js';
import { CofferError, isCofferError } from './core/errors.js';
import type { SealSetup } from './core/seal/auto-seal.js';
import { sealSetupFrom, startSealTokenRenewals, warnAboutSeals } from './seal-setup.js';
import { CachedBackend } from './core/storage/cached-backend.js';
import { GroupCommitBackend } from './core/storage/group-commit-backend.js';
import { InmemBackend } from './core/storage/inmem-backend.js';
import { LeveldbBackend } from './core/storage/leveldb-backend.js';
import type { StorageBackend } from './core/storage/storage-backend.js';
import { openPostgresql, startHa, type RunningHa } from './ha-setup.js';
import { PostgresqlBackend } from './core/storage/postgresql/postgresql-backend.js';
import type { HaTimings } from './core/ha/ha-coordinator.js';
import { createApp } from './http/app.js';
import { CofferMetrics } from './metrics/metrics.js';
import { listen, type RunningListener } from './http/http-server.js';

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  random?: Random;
  /** Use this backend instead of the configured one (tests wrap storage to inject faults). */
  storage?: StorageBackend;
  /** Milliseconds between maintenance runs (count flush, automatic rotation); 0 disables the timer (tests). */
  maintenanceIntervalMs?: number;
  /** Use these seals instead of building them from the configuration. */
  seal?: SealSetup;
  /** First delay of the auto-unseal retry loop (doubling up to `AUTO_UNSEAL_MAX_DELAY_MS`). */
  autoUnsealRetryMs?: number;
  /** The process environment (main passes `process.env`); a static seal's `key_env` is read and deleted from it. */
  env?: NodeJS.ProcessEnv;
  /** Schedules the auto-unseal retries (default: a real timer); tests inject one they drive by hand. */
  schedule?: Scheduler;
  /** Schedules the transit seal token's renewals (default: a real timer); tests inject one they drive by hand. */
  sealTokenSchedule?: Scheduler;
  /** Where an audit device with `file_path = "stdout"` writes (main passes the process's standard output). */
  stdout?: (text: string) => Promise<void>;
  /** HA retry/poll/step-down timings (tests shorten them). */
  haTimings?: Partial<HaTimings>;
}

/** Runs `fn` after `ms`; returns a cancel function. */
export type Scheduler = (fn: () => void, ms: number) => () => void;

const timerScheduler: Scheduler = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export const AUTO_UNSEAL_FIRST_DELAY_MS = 500;
export const AUTO_UNSEAL_MAX_DELAY_MS = 10_000;

/** Real time between maintenance runs; the decisions inside use the injected clock. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

export interface RunningCoffer {
  readonly core: CofferCore;
  readonly metrics: CofferMetrics;
  readonly storage: StorageBackend;
  /** Base URL of the first listener. */
  readonly url: string;
  readonly listeners: RunningListener[];
  /** HA on PostgreSQL (`ha_enabled`), else undefined. */
  readonly ha: RunningHa | undefined;
  /** Stops listening, seals and closes storage. */
  close(): Promise<void>;
}

/** The configured backend; LevelDB's synced writes are group-committed (one fsync for the writes that queue up). */
export async function openStorage(config: ServerConfig['storage']): Promise<StorageBackend> {
  if (config.type === 'postgresql') return openPostgresql(config);
  return config.type === 'inmem' ? new InmemBackend() : new GroupCommitBackend(await LeveldbBackend.open(config.path));
}

/** Composition: config → storage → core → HTTP → listen. */
export async function startCoffer(config: ServerConfig, options: StartOptions): Promise<RunningCoffer> {
  const seal = options.seal ?? sealSetupFrom(config.seals, options.env ?? {});
  warnAboutSeals(seal, options.logger);
  const backend = options.storage ?? (await openStorage(config.storage));
  // The read cache holds the backend's ciphertext only; the core clears it on seal.
  const storage = config.disableCache ? backend : new CachedBackend(backend, { maxEntries: config.cacheSize });
  const metrics = new CofferMetrics(config.telemetry);
  const core = new CofferCore({
    observer: metrics,
    rewrapObserver: metrics,
    storage,
    storageType: config.storage.type,
    keyringTrimGraceSeconds: config.keyringTrimGraceSeconds,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger,
    seal,
    ...(config.clusterName ? { clusterName: config.clusterName } : {}),
    audit: { declared: config.audit, allowPrefixing: config.allowAuditLogPrefixing, ...(options.stdout ? { stdout: options.stdout } : {}) },
  });
  // The gauges read the barrier at scrape time.
  metrics.watch({
    sealed: () => core.barrier.sealed,
    keyStatus: () => (core.barrier.sealed ? undefined : core.barrier.keyStatus()),
  });
  const ha =
    config.storage.type === 'postgresql' && config.storage.haEnabled && backend instanceof PostgresqlBackend
      ? startHa(core, backend, storage, config.storage, {
          apiAddr: config.apiAddr,
          logger: options.logger,
          ...(options.haTimings ? { timings: options.haTimings } : {}),
          events: { active: (a) => metrics.haActive(a), leadershipLost: () => metrics.haLeadershipLost(), stepDown: () => metrics.haStepDown() },
        })
      : undefined;
  // A failed start stops the HA machinery too (its connections would keep the process alive).
  const closeStorage = async () => {
    await ha?.stop();
    await ha?.closeLock();
    await storage.close();
  };
  core.tokens.setLeaseLimits(config.defaultLeaseTtlSeconds, config.maxLeaseTtlSeconds);
  core.mounts.setLeaseLimits(config.defaultLeaseTtlSeconds, config.maxLeaseTtlSeconds);
  try {
    await core.checkSealSetup();
  } catch (err) {
    await closeStorage();
    throw err;
  }
  // An auto seal unseals at start. A key service that refuses (wrong key, permission) stops the start with its
  // reason; one that is unreachable or sealed is retried in the background while the server answers "sealed".
  const autoUnseal = new AutoUnsealLoop(
    core,
    options.logger,
    options.autoUnsealRetryMs ?? AUTO_UNSEAL_FIRST_DELAY_MS,
    options.schedule ?? timerScheduler,
  );
  try {
    await autoUnseal.first();
  } catch (err) {
    await closeStorage();
    throw err;
  }
  const app = createApp(core, {
    logger: options.logger,
    disableUnauthedRekeyEndpoints: config.disableUnauthedRekeyEndpoints,
    disableUnauthedGenerateRootEndpoints: config.disableUnauthedGenerateRootEndpoints,
    metrics,
    ...(ha ? { ha: ha.coordinator } : {}),
    unauthenticatedMetrics: config.unauthenticatedMetrics,
    ui: config.ui,
  });
  const listeners: RunningListener[] = [];
  try {
    for (const l of config.listeners) {
      const tls = l.tls ? { cert: readPem(l.tls.certFile), key: readPem(l.tls.keyFile) } : undefined;
      listeners.push(await listen(app, { host: l.host, port: l.port, ...(tls ? { tls } : {}), ...(l.limits ? { limits: l.limits } : {}) }));
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await closeStorage();
    throw err instanceof CofferError ? err : new CofferError('config', `cannot listen: ${(err as Error).message}`);
  }
  options.logger.info({ addresses: listeners.map((l) => l.url), storage: config.storage.type }, 'listening');
  const renewals = startSealTokenRenewals(seal, options.logger, options.sealTokenSchedule ?? timerScheduler);
  const intervalMs = options.maintenanceIntervalMs ?? MAINTENANCE_INTERVAL_MS;
  let running: Promise<unknown> = Promise.resolve();
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          running = core.maintenance().catch((err: unknown) => options.logger.error({ err: (err as Error).message }, 'maintenance failed'));
        }, intervalMs).unref()
      : undefined;
  return {
    core,
    metrics,
    storage,
    url: listeners[0]!.url,
    listeners,
    ha,
    close: async () => {
      if (timer) clearInterval(timer);
      await autoUnseal.stop();
      await renewals.stop();
      await running;
      await Promise.all(listeners.map((l) => l.close()));
      await ha?.stop();
      await core.seal();
      await ha?.closeLock();
      await storage.close();
    },
  };
}

/** Unseals through the auto seal at start, then retries with doubling delays while the key service is unavailable. */
class AutoUnsealLoop {
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly core: CofferCore,
    private readonly logger: Logger,
    private readonly firstDelayMs: number,
    private readonly schedule: Scheduler,
  ) {}

  /** @throws CofferError `seal_failed` / `integrity` when retrying cannot help. */
  async first(): Promise<void> {
    if (!this.core.autoUnseal) return;
    try {
      await this.core.unsealWithSeal();
    } catch (err) {
      if (!isCofferError(err, 'seal_unavailable')) throw err;
      this.#retry(err, this.firstDelayMs);
    }
  }

  #retry(err: CofferError, delayMs: number): void {
    if (this.#stopped) return;
    this.logger.error({ err: err.message, retry_in_ms: delayMs }, 'cannot unseal through the seal yet; retrying');
    this.#cancel = this.schedule(() => {
      this.#running = this.core.unsealWithSeal().catch((next: unknown) => {
        if (isCofferError(next, 'seal_unavailable')) this.#retry(next, Math.min(delayMs * 2, AUTO_UNSEAL_MAX_DELAY_MS));
        else this.logger.error({ err: (next as Error).message }, 'auto-unseal failed; not retrying: fix the seal configuration and restart');
      });
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running;
  }
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CofferError('config', `cannot read TLS file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
