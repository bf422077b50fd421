import type { Command } from 'commander';
import { formatKeyValueTable } from '../io/output.js';
import { authRows, printField, rawSecretField, type SecretEnvelope } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

/** `coffer token capabilities [TOKEN] PATH` and `coffer token renew [TOKEN]`, as Vault's. */
export function registerTokenExtras(token: Command, ctx: CommandContext): void {
  addClientOptions(token.command('capabilities'))
    .description('Print the capabilities of a token (default: yours, via sys/capabilities-self) on a path')
    .argument('<tokenOrPath>', 'the token, or the path when no token is given')
    .argument('[path]')
    .action(async (first: string, second: string | undefined, opts: ClientOptions) => {
      await runApi(ctx, 'listing capabilities', async () => {
        const [target, path] = second === undefined ? [undefined, first] : [first, second];
        const client = clientFor(ctx, opts);
        // With a token argument Vault asks sys/capabilities (which needs its own permission); without, -self.
        const res = target
          ? await client.request<{ data?: Record<string, unknown> } & Record<string, unknown>>('PUT', 'sys/capabilities', {
              token: target,
              paths: [path],
            })
          : await client.request<{ data?: Record<string, unknown> } & Record<string, unknown>>('PUT', 'sys/capabilities-self', { paths: [path] });
        const data = res.body?.data ?? res.body ?? {};
        const caps = ((data[path] ?? data.capabilities ?? []) as string[]).slice();
        if (caps.length === 0) throw new LocalError('No capabilities found', true, 1);
        emit(ctx, opts, caps, () => `${caps.sort().join(', ')}\n`);
      });
    });

  addClientOptions(token.command('renew'))
    .description('Renew a token (default: yours, via auth/token/renew-self)')
    .argument('[token]')
    .option('--increment <duration>', 'ask for this much more time (e.g. 1h)')
    .option('--field <name>', 'print only this field')
    .action(async (target: string | undefined, opts: ClientOptions & { increment?: string; field?: string }) => {
      await runApi(ctx, 'renewing token', async () => {
        const client = clientFor(ctx, opts);
        const increment = opts.increment !== undefined ? { increment: opts.increment } : {};
        const res = target
          ? await client.request<SecretEnvelope>('PUT', 'auth/token/renew', { token: target, ...increment })
          : await client.request<SecretEnvelope>('PUT', 'auth/token/renew-self', increment);
        const body = res.body!;
        if (opts.field) return printField(ctx, opts, rawSecretField(body, opts.field), opts.field);
        emit(ctx, opts, body, () => (body.auth ? formatKeyValueTable(authRows(body.auth)) : ''));
      });
    });
}
