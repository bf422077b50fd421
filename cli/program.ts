import { Command, CommanderError, Help, type Option } from 'commander';
import { LocalError, type CommandContext } from './commands/command-context.js';
import { registerOperatorInit } from './commands/operator-init.js';
import { registerOperatorRekey } from './commands/operator-rekey.js';
import { registerOperatorRotate } from './commands/operator-rotate.js';
import { registerOperatorSeal } from './commands/operator-seal.js';
import { registerOperatorStepDown } from './commands/operator-step-down.js';
import { registerOperatorUnseal } from './commands/operator-unseal.js';
import { registerKv } from './commands/kv.js';
import { registerPolicy } from './commands/policy.js';
import { registerRawPaths } from './commands/raw-paths.js';
import { registerSecrets } from './commands/secrets.js';
import { registerServer } from './commands/server.js';
import { registerToken } from './commands/token.js';
import { registerTokenExtras } from './commands/token-extras.js';
import { registerStatus } from './commands/status.js';
import { registerVersion, versionLine } from './commands/version.js';
import { OUTPUT_FORMATS } from './io/output.js';
import { extractGlobalFlags, normalizeVaultArgs } from './normalize-args.js';

/** Options print as Vault prints its flags: `-key-shares <n>`, not `--key-shares <n>`. */
class VaultStyleHelp extends Help {
  override optionTerm(option: Option): string {
    return super.optionTerm(option).replace(/(^|[\s,])--(?=[a-z])/g, '$1-');
  }
}

/** Builds the `coffer` command tree. Output goes to `ctx.output`; nothing here exits the process. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('coffer')
    .description("Coffer: a secrets server that speaks Vault's API")
    .usage('<command> [args]')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.output.out(s), writeErr: (s) => ctx.output.err(s) });
  program.createHelp = () => Object.assign(new VaultStyleHelp(), program.configureHelp());
  registerServer(program);
  registerStatus(program, ctx);
  registerVersion(program, ctx);
  const operator = program.command('operator').description('Operator commands: init, unseal, seal, rekey, rotate, key-status, step-down');
  registerOperatorInit(operator, ctx);
  registerOperatorUnseal(operator, ctx);
  registerOperatorSeal(operator, ctx);
  registerOperatorRotate(operator, ctx);
  registerOperatorRekey(operator, ctx);
  registerOperatorStepDown(operator, ctx);
  const token = registerToken(program, ctx);
  registerTokenExtras(token, ctx);
  registerPolicy(program, ctx);
  registerSecrets(program, ctx);
  registerKv(program, ctx);
  registerRawPaths(program, ctx);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd.exitOverride();
    cmd.createHelp = program.createHelp;
  }
  return program;
}

/**
 * Parses Vault-style arguments and runs the command. Resolves with the exit code: as in Vault, a bare `coffer` or
 * an unknown command prints the usage and exits 127, `-version` / `-v` alone runs `version`, and
 * `-output-curl-string` anywhere prints the first request as a curl command instead of sending it.
 */
export async function runCli(argv: readonly string[], ctx: Omit<CommandContext, 'setExitCode'>): Promise<number> {
  let exitCode = 0;
  const { args, outputCurlString } = extractGlobalFlags(argv);
  const context: CommandContext = { ...ctx, setExitCode: (code) => (exitCode = code), outputCurlString };
  const program = buildProgram(context);
  if (args.length === 1 && ['-v', '-version', '--version'].includes(args[0]!)) {
    ctx.output.out(`${versionLine()}\n`);
    return 0;
  }
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  if (args.length === 0 || (!args[0]!.startsWith('-') && !known.has(args[0]!))) {
    ctx.output.out(program.helpInformation());
    return 127;
  }
  const badFormat = formatProblem(args, ctx.env);
  if (badFormat) {
    ctx.output.err(`${badFormat}\n`);
    return 1;
  }
  try {
    await program.parseAsync(normalizeVaultArgs(args), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; usage errors are exit 1, as in Vault.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 1;
    }
    ctx.output.err(err instanceof LocalError && err.bare ? `${err.message}\n` : `Error: ${(err as Error).message}\n`);
    return err instanceof LocalError ? err.exitCode : 1;
  }
  if (outputCurlString && !context.curlPrinted && exitCode === 0) {
    ctx.output.err('Could not generate cURL command\n');
    return 1;
  }
  return exitCode;
}

/** Vault refuses an unknown `-format` (flag or `VAULT_FORMAT`) before running anything. */
function formatProblem(args: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  let format: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    const m = /^--?format(?:=(.*))?$/.exec(a);
    if (m) format = m[1] ?? args[i + 1];
  }
  const chosen = (format ?? (env.VAULT_FORMAT || 'table')).toLowerCase();
  return (OUTPUT_FORMATS as readonly string[]).includes(chosen) ? undefined : `Invalid output format: ${chosen}`;
}
