import { Command, CommanderError } from 'commander';
import type { CommandContext } from './commands/command-context.js';
import { registerOperatorInit } from './commands/operator-init.js';
import { registerOperatorRekey } from './commands/operator-rekey.js';
import { registerOperatorCensus } from './commands/operator-census.js';
import { registerOperatorRetire } from './commands/operator-retire.js';
import { registerOperatorRewrap } from './commands/operator-rewrap.js';
import { registerOperatorRotate } from './commands/operator-rotate.js';
import { registerOperatorSeal } from './commands/operator-seal.js';
import { registerOperatorUnseal } from './commands/operator-unseal.js';
import { registerKv } from './commands/kv.js';
import { registerPolicy } from './commands/policy.js';
import { registerRawPaths } from './commands/raw-paths.js';
import { registerSecrets } from './commands/secrets.js';
import { registerServer } from './commands/server.js';
import { registerToken } from './commands/token.js';
import { registerStatus } from './commands/status.js';
import { normalizeVaultArgs } from './normalize-args.js';

/** Builds the `coffer` command tree. Output goes to `ctx.output`; nothing here exits the process. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('coffer')
    .description('Coffer: a secrets server that speaks Vault\'s API')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.output.out(s), writeErr: (s) => ctx.output.err(s) });
  registerServer(program);
  registerStatus(program, ctx);
  const operator = program.command('operator').description('Operator commands: init, unseal, seal, rekey, rotate, key-status');
  registerOperatorInit(operator, ctx);
  registerOperatorUnseal(operator, ctx);
  registerOperatorSeal(operator, ctx);
  registerOperatorRotate(operator, ctx);
  registerOperatorRekey(operator, ctx);
  registerOperatorRewrap(operator, ctx);
  registerOperatorCensus(operator, ctx);
  registerOperatorRetire(operator, ctx);
  registerToken(program, ctx);
  registerPolicy(program, ctx);
  registerSecrets(program, ctx);
  registerKv(program, ctx);
  registerRawPaths(program, ctx);
  const all = (c: import('commander').Command): import('commander').Command[] => [c, ...c.commands.flatMap(all)];
  for (const cmd of all(program)) cmd.exitOverride();
  return program;
}

/** Parses Vault-style arguments and runs the command. Resolves with the exit code. */
export async function runCli(argv: readonly string[], ctx: Omit<CommandContext, 'setExitCode'>): Promise<number> {
  let exitCode = 0;
  const program = buildProgram({ ...ctx, setExitCode: (code) => (exitCode = code) });
  try {
    await program.parseAsync(normalizeVaultArgs(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; usage errors are exit 1, as in Vault.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 1;
    }
    ctx.output.err(`Error: ${(err as Error).message}\n`);
    return 1;
  }
  return exitCode;
}
