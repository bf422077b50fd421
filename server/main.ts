#!/usr/bin/env node
import { rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { DEFAULT_CONFIG_TEXT, loadConfigFile, parseConfig, type ServerConfig } from './config/load-config.js';
import { CofferError } from './core/errors.js';
import { createLogger } from './log/logger.js';
import { startCoffer, type RunningCoffer } from './start.js';

export interface ServerCommandOptions {
  configPath?: string;
  dev?: boolean;
}

/**
 * The process entry point: the only place that touches `process` (arguments, signals, exit). `coffer server` and
 * `npm start` both come here.
 */
export async function runServer(options: ServerCommandOptions): Promise<void> {
  // Everything the server creates (the LevelDB files above all) is private to its user: 0700 directories, 0600 files.
  process.umask(0o077);
  let config: ServerConfig;
  try {
    config = options.configPath ? loadConfigFile(options.configPath, process.env) : parseConfig(DEFAULT_CONFIG_TEXT, 'default config', process.env);
    // Like Vault's dev server, -dev serves the operator page.
    if (options.dev) config = { ...config, storage: { type: 'inmem' }, seals: [], ui: true };
  } catch (err) {
    process.stderr.write(`Error loading configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let logger: Logger;
  try {
    logger = createLogger(config.logLevel, undefined, { format: config.logFormat, ...(config.logFile ? { file: config.logFile } : {}) });
  } catch (err) {
    process.stderr.write(`Error starting Coffer: cannot open log_file ${config.logFile}: ${osError(err)}\n`);
    process.exit(1);
  }
  for (const note of config.notes) logger.warn({ config_key: note.key }, `config: ${note.key} has no effect: ${note.reason}`);
  const pidFile = config.pidFile;
  if (pidFile) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`);
    } catch (err) {
      process.stderr.write(`Error starting Coffer: cannot write pid_file ${pidFile}: ${osError(err)}\n`);
      process.exit(1);
    }
  }
  const removePidFile = () => {
    if (pidFile) rmSync(pidFile, { force: true });
  };
  let server: RunningCoffer;
  try {
    server = await startCoffer(config, {
      logger,
      env: process.env,
      stdout: (text) => new Promise<void>((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve()))),
    });
  } catch (err) {
    removePidFile();
    const message = err instanceof CofferError ? err.message : (err as Error).message;
    process.stderr.write(`Error starting Coffer: ${message}\n`);
    process.exit(1);
  }
  if (options.dev) await initialiseDevServer(server);
  process.stderr.write(`Coffer server listening on ${server.listeners.map((l) => l.url).join(', ')}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await server.close();
    removePidFile();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

function osError(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** `-dev`: in-memory storage, initialised with one share and unsealed; prints the key and the root token. */
async function initialiseDevServer(server: RunningCoffer): Promise<void> {
  const result = await server.core.initialize({
    secretShares: 1,
    secretThreshold: 1,
    pgpKeys: [],
    rootTokenPgpKey: '',
    recoveryShares: 0,
    recoveryThreshold: 0,
    recoveryPgpKeys: [],
  });
  const key = result.keys[0]!;
  await server.core.submitUnsealKey(key);
  // Like Vault's dev server: a KV version 2 engine at secret/.
  await server.core.mounts.enable('secret', 'kv', { version: '2' }, 'key/value secret storage');
  process.stdout.write(
    [
      'WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory',
      'and starts unsealed with a single unseal key.',
      '',
      'You may need to set the following environment variables:',
      '',
      `    $ export VAULT_ADDR='${server.url}'`,
      `    $ export VAULT_TOKEN='${result.rootToken}'`,
      '',
      'The unseal key and root token are displayed below in case you want to',
      'seal/unseal the Vault or re-authenticate.',
      '',
      `Unseal Key: ${Buffer.from(key).toString('base64')}`,
      `Root Token: ${result.rootToken}`,
      '',
      'Development mode should NOT be used in production installations!',
      '',
    ].join('\n'),
  );
  key.fill(0);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const args = process.argv.slice(2);
  const configIndex = args.findIndex((a) => /^--?config(=|$)/.test(a));
  const configArg =
    configIndex < 0 ? undefined : args[configIndex]!.includes('=') ? args[configIndex]!.split('=').slice(1).join('=') : args[configIndex + 1];
  await runServer({ ...(configArg ? { configPath: configArg } : {}), dev: args.some((a) => /^--?dev$/.test(a)) });
}
