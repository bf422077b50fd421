import type { Command } from 'commander';
import { addClientOptions, clientFor, runApi, type ClientOptions, type CommandContext } from './command-context.js';

/** `coffer operator step-down`: `PUT sys/step-down`, then Vault's `Success! Stepped down: <address>`. */
export function registerOperatorStepDown(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('step-down'))
    .description('Ask the active node to step down (needs update and sudo on sys/step-down)')
    .action(async (opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'stepping down', async () => {
        await client.request('PUT', 'sys/step-down');
        ctx.output.out(`Success! Stepped down: ${client.address}\n`);
      });
    });
}
