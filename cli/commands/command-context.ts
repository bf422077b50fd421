import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { ApiError, ConnectionError, CurlOutput, settingsFromEnv, VaultClient } from '../client/vault-client.js';
import { formatStructured, OUTPUT_FORMATS, type Output, type OutputFormat } from '../io/output.js';

/** What every command receives; nothing is read from `process` below `cli/main.ts`. */
export interface CommandContext {
  output: Output;
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Where prompts are written (the terminal). */
  promptOutput: Writable;
  /** Sets the process exit code. */
  setExitCode(code: number): void;
  /** The global `-output-curl-string` flag: print the request as a curl command instead of sending it. */
  outputCurlString?: boolean;
  /** Set once a curl command was printed. */
  curlPrinted?: boolean;
}

/** Options every API command accepts, as Vault's do. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--address <addr>', 'address of the Coffer server (VAULT_ADDR)')
    .option('--ca-cert <file>', 'PEM CA certificate to verify the server (VAULT_CACERT)')
    .option('--tls-skip-verify', 'do not verify the server certificate (VAULT_SKIP_VERIFY)')
    .option('--format <format>', 'output format: table, json or yaml (VAULT_FORMAT)')
    .option('--output-curl-string', 'print the equivalent curl command instead of sending the request')
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
  return new VaultClient({ ...settings, ...(token === undefined ? {} : { token }), outputCurlString: ctx.outputCurlString === true });
}

/**
 * The output format from `-format` or `VAULT_FORMAT` (default `table`).
 * @throws LocalError `Invalid output format: <x>` for anything but table, json or yaml.
 */
export function formatOf(ctx: CommandContext, opts: ClientOptions): OutputFormat {
  const format = (opts.format ?? (ctx.env.VAULT_FORMAT || 'table')).toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new LocalError(`Invalid output format: ${format}`, true);
  return format as OutputFormat;
}

/** Prints `value` as JSON or YAML, or `table()` for the table format. */
export function emit(ctx: CommandContext, opts: ClientOptions, value: unknown, table: () => string): void {
  const format = formatOf(ctx, opts);
  ctx.output.out(format === 'table' ? table() : formatStructured(format, value));
}

/** Vault's "nothing there" answer to a read: `No value found at <path>` on stderr, exit 2. */
export class NotFound extends Error {}

/**
 * Runs an API action and reports failures as Vault does: `Error <doing>: <details>` on stderr and exit code 2
 * for an API error (1 for a local one). Under `-output-curl-string` the first request is printed as curl, exit 0.
 */
export async function runApi(ctx: CommandContext, doing: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (err instanceof CurlOutput) {
      ctx.output.out(`${err.curl}\n`);
      ctx.curlPrinted = true;
      ctx.setExitCode(0);
    } else if (err instanceof NotFound) {
      ctx.output.err(`${err.message}\n`);
      ctx.setExitCode(2);
    } else if (err instanceof ApiError) {
      ctx.output.err(`Error ${doing}: ${err.describe()}\n`);
      ctx.setExitCode(2);
    } else if (err instanceof ConnectionError) {
      ctx.output.err(`Error ${doing}: ${err.message}\n${err.hint ? `\nHint: ${err.hint}\n` : ''}`);
      ctx.setExitCode(2);
    } else if (err instanceof LocalError && err.bare) {
      ctx.output.err(`${err.message}\n`);
      ctx.setExitCode(err.exitCode);
    } else {
      ctx.output.err(`Error ${doing}: ${(err as Error).message}\n`);
      ctx.setExitCode(err instanceof LocalError ? err.exitCode : 2);
    }
  }
}

/**
 * A failure on the client side (bad flag, unreadable file): exit code 1 unless told otherwise. A `bare` error
 * prints its message alone, as Vault prints messages such as `Invalid output format: xml`.
 */
export class LocalError extends Error {
  constructor(
    message: string,
    readonly bare = false,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
