import type { Command } from 'commander';
import { addClientOptions, clientFor, runApi, type ClientOptions, type CommandContext } from './command-context.js';

export function registerOperatorSeal(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('seal'))
    .description('Seal the server (needs a token with update and sudo on sys/seal)')
    .action(async (opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'sealing', async () => {
        await client.request('PUT', 'sys/seal');
        ctx.output.out('Success! Vault is sealed.\n');
      });
    });
}
