import type { Command } from 'commander';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { promptLine } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

function term(value: string, name: string): number {
  if (!/^\d+$/.test(value)) throw new LocalError(`${name} must be a positive integer`);
  return Number(value);
}

/** `coffer operator retire N` (soft, reversible with --undo) and `coffer operator trim N` (irreversible, confirmed). */
export function registerOperatorRetire(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('retire <min-decryption-term>'))
    .description('Refuse reads of every key term below N (needs a fresh census at 0 below N); --undo lowers it again')
    .option('--dry-run', 'only check the gate')
    .option('--undo', 'unretire: lower min_decryption_term to N')
    .action(async (n: string, opts: ClientOptions & { dryRun?: boolean; undo?: boolean }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, opts.undo ? 'unretiring terms' : 'retiring terms', async () => {
        const N = term(n, 'min-decryption-term');
        const path = opts.undo ? 'sys/keyring/unretire' : 'sys/keyring/retire';
        const body = opts.undo ? { min_decryption_term: N } : { min_decryption_term: N, ...(opts.dryRun ? { dry_run: true } : {}) };
        const res = (await client.request<{ data: Record<string, unknown> }>('PUT', path, body)).body!;
        if (formatOf(ctx, opts) === 'json') ctx.output.out(formatJson(res.data));
        else if (opts.dryRun) ctx.output.out(`Terms below ${N} can be retired: the census shows no entry under them.\n`);
        else ctx.output.out(opts.undo ? `Success! Terms from ${N} on are readable again\n` : `Success! Reads of terms below ${N} are now refused\n`);
      });
    });
  addClientOptions(operator.command('trim <min-available-term>'))
    .description('DESTROY the key bytes of every term below N (irreversible; shows a preview and asks for confirmation)')
    .option('--yes', 'do not ask for confirmation (scripts)')
    .action(async (n: string, opts: ClientOptions & { yes?: boolean }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'trimming terms', async () => {
        const N = term(n, 'min-available-term');
        const preview = (
          await client.request<{ data: { terms_to_destroy: number[]; confirm_token: string; expires_at: string } }>('PUT', 'sys/keyring/trim', {
            min_available_term: N,
          })
        ).body!.data;
        ctx.output.out(
          formatKeyValueTable([
            ['Terms To Destroy', preview.terms_to_destroy.join(', ')],
            ['Confirmation Expires', preview.expires_at],
          ]),
        );
        if (!opts.yes) {
          if (ctx.stdin.isTTY !== true) throw new LocalError('not a terminal: pass --yes to trim without a prompt');
          const answer = (
            await promptLine(
              `Destroy the keys of terms ${preview.terms_to_destroy.join(', ')} for good? Type "trim" to confirm: `,
              ctx.stdin,
              ctx.promptOutput,
            )
          ).trim();
          if (answer !== 'trim') throw new LocalError('Not confirmed: nothing was trimmed');
        }
        const done = (
          await client.request<{ data: Record<string, unknown> }>('PUT', 'sys/keyring/trim', {
            min_available_term: N,
            confirm_token: preview.confirm_token,
          })
        ).body!;
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(done.data) : `Success! Trimmed terms ${preview.terms_to_destroy.join(', ')}\n`);
      });
    });
}
