import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/load-config.js';
import { systemClock, systemRandom, type Clock, type Random } from './core/clock.js';
import { CofferCore } from './core/coffer-core.js';
import { CofferError } from './core/errors.js';
import { InmemBackend } from './core/storage/inmem-backend.js';
import { LeveldbBackend } from './core/storage/leveldb-backend.js';
import type { StorageBackend } from './core/storage/storage-backend.js';
import { createApp } from './http/app.js';
import { listen, type RunningListener } from './http/http-server.js';

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  random?: Random;
  /** Use this backend instead of the configured one (tests wrap storage to inject faults). */
  storage?: StorageBackend;
  /** Milliseconds between maintenance runs (count flush, automatic rotation); 0 disables the timer (tests). */
  maintenanceIntervalMs?: number;
}

/** Real time between maintenance runs; the decisions inside use the injected clock. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

export interface RunningCoffer {
  readonly core: CofferCore;
  readonly storage: StorageBackend;
  /** Base URL of the first listener. */
  readonly url: string;
  readonly listeners: RunningListener[];
  /** Stops listening, seals and closes storage. */
  close(): Promise<void>;
}

export async function openStorage(config: ServerConfig['storage']): Promise<StorageBackend> {
  return config.type === 'inmem' ? new InmemBackend() : LeveldbBackend.open(config.path);
}

/** Composition: config → storage → core → HTTP → listen. */
export async function startCoffer(config: ServerConfig, options: StartOptions): Promise<RunningCoffer> {
  const storage = options.storage ?? (await openStorage(config.storage));
  const core = new CofferCore({
    storage,
    storageType: config.storage.type,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger,
  });
  await core.pendingRekeyWarning();
  const app = createApp({ core, logger: options.logger, disableUnauthedRekeyEndpoints: config.disableUnauthedRekeyEndpoints });
  const listeners: RunningListener[] = [];
  try {
    for (const l of config.listeners) {
      const tls = l.tls ? { cert: readPem(l.tls.certFile), key: readPem(l.tls.keyFile) } : undefined;
      listeners.push(await listen(app, { host: l.host, port: l.port, ...(tls ? { tls } : {}) }));
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await storage.close();
    throw err instanceof CofferError ? err : new CofferError('config', `cannot listen: ${(err as Error).message}`);
  }
  options.logger.info({ addresses: listeners.map((l) => l.url), storage: config.storage.type }, 'listening');
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
    storage,
    url: listeners[0]!.url,
    listeners,
    close: async () => {
      if (timer) clearInterval(timer);
      await running;
      await Promise.all(listeners.map((l) => l.close()));
      await core.seal();
      await storage.close();
    },
  };
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CofferError('config', `cannot read TLS file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
