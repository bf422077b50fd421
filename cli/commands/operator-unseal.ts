import type { Command } from 'commander';
import type { SealStatusResponse } from '../../shared/api-types.js';
import { promptHidden, readAll } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { fetchStatus, renderStatus } from './status.js';

interface UnsealOptions extends ClientOptions {
  reset?: boolean;
  migrate?: boolean;
}

/**
 * A secret from the command line: the argument, `-` for standard input, or (no argument) a hidden prompt. Passing
 * the secret as an argument works, as in Vault, but leaves it in shell history; the prompt is the safe way.
 */
export async function readSecret(ctx: CommandContext, arg: string | undefined, question: string): Promise<string> {
  if (arg === '-') return (await readAll(ctx.stdin)).trim();
  if (arg !== undefined) return arg.trim();
  return (await promptHidden(question, ctx.stdin, ctx.promptOutput)).trim();
}

export function registerOperatorUnseal(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('unseal'))
    .description('Provide one unseal key share (prompted for when not given; "-" reads standard input)')
    .argument('[key]')
    .option('--reset', 'discard the shares submitted so far')
    .option('--migrate', 'the share belongs to the old seal during a seal migration')
    .action(async (key: string | undefined, opts: UnsealOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'unsealing', async () => {
        if (opts.reset) {
          await client.request<SealStatusResponse>('PUT', 'sys/unseal', { reset: true });
        } else {
          const share = await readSecret(ctx, key, 'Unseal Key (will be hidden): ');
          await client.request<SealStatusResponse>('PUT', 'sys/unseal', { key: share, reset: false, migrate: opts.migrate ?? false });
        }
        ctx.output.out(renderStatus(await fetchStatus(client), formatOf(ctx, opts)));
      });
    });
}
