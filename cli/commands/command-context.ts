import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { ApiError, settingsFromEnv, VaultClient } from '../client/vault-client.js';
import type { Output } from '../io/output.js';

/** What every command receives; nothing is read from `process` below `cli/main.ts`. */
export interface CommandContext {
  output: Output;
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Where prompts are written (the terminal). */
  promptOutput: Writable;
  /** Sets the process exit code. */
  setExitCode(code: number): void;
}

/** Options every API command accepts, as Vault's do. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--address <addr>', 'address of the Coffer server (VAULT_ADDR)')
    .option('--ca-cert <file>', 'PEM CA certificate to verify the server (VAULT_CACERT)')
    .option('--tls-skip-verify', 'do not verify the server certificate (VAULT_SKIP_VERIFY)')
    .option('--format <format>', 'output format: table or json (VAULT_FORMAT)')
    .option('--wrap-ttl <duration>', 'wrap the response in a single-use token with this TTL (VAULT_WRAP_TTL)');
}

export interface ClientOptions {
  address?: string;
  caCert?: string;
  tlsSkipVerify?: boolean;
  format?: string;
  wrapTtl?: string;
}

/** A client from the environment and flags; `token` replaces the configured token (used by `login`). */
export function clientFor(ctx: CommandContext, opts: ClientOptions, token?: string): VaultClient {
  const settings = settingsFromEnv(ctx.env, {
    ...(opts.address ? { address: opts.address } : {}),
    ...(opts.caCert ? { caCert: opts.caCert } : {}),
    ...(opts.tlsSkipVerify ? { tlsSkipVerify: true } : {}),
    ...(opts.wrapTtl ? { wrapTtl: opts.wrapTtl } : {}),
  });
  return new VaultClient(token === undefined ? settings : { ...settings, token });
}

export function formatOf(ctx: CommandContext, opts: ClientOptions): 'table' | 'json' {
  const format = (opts.format ?? ctx.env.VAULT_FORMAT ?? 'table').toLowerCase();
  return format === 'json' ? 'json' : 'table';
}

/**
 * Runs an API action and reports failures as Vault does: `Error <doing>: <details>` on stderr and exit code 2
 * for an API error (1 for a local one).
 */
export async function runApi(ctx: CommandContext, doing: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (err instanceof ApiError) {
      ctx.output.err(`Error ${doing}: ${err.describe()}\n`);
      ctx.setExitCode(2);
    } else {
      ctx.output.err(`Error ${doing}: ${(err as Error).message}\n`);
      ctx.setExitCode(err instanceof LocalError ? 1 : 2);
    }
  }
}

/** A failure on the client side (bad flag, unreadable file): exit code 1. */
export class LocalError extends Error {}
