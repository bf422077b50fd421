import type { Command } from 'commander';
import { COFFER_BUILD_DATE, COFFER_VERSION } from '../../shared/version.js';
import { settingsFromEnv } from '../client/vault-client.js';
import { addClientOptions, clientFor, formatOf, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { formatStructured } from '../io/output.js';

/** `Coffer v0.1.0, built 2026-…`: the line `vault version` prints, with Coffer's name. */
export function versionLine(): string {
  return `Coffer v${COFFER_VERSION}, built ${COFFER_BUILD_DATE}`;
}

/** `coffer version`, `coffer print token` and `coffer path-help PATH`. */
export function registerVersion(program: Command, ctx: CommandContext): void {
  program
    .command('version')
    .description('Print the Coffer version (also: coffer -version, -v)')
    .action(() => ctx.output.out(`${versionLine()}\n`));

  const print = program.command('print').description('Print runtime values');
  print
    .command('token')
    .description('Print the token the other commands would use (VAULT_TOKEN, else ~/.vault-token)')
    .action(() => {
      // No request is made; the token printed is the one a request would carry, as in Vault.
      ctx.output.out(`${settingsFromEnv(ctx.env, {}).token ?? ''}\n`);
    });

  addClientOptions(program.command('path-help'))
    .description('Print the help text the server has for an API path')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, 'retrieving help', async () => {
        const clean = path.replace(/^\//, '');
        const res = await clientFor(ctx, opts).request<{ help?: string; openapi?: unknown }>('GET', `${clean}?help=1`);
        const help = res.body?.help;
        if (typeof help !== 'string') throw new NotFound(`No help available for ${clean}`);
        const format = formatOf(ctx, opts);
        ctx.output.out(format === 'table' ? help.replace(/\n?$/, '\n') : formatStructured(format, res.body?.openapi ?? res.body));
      });
    });
}
