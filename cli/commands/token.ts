import type { Command } from 'commander';
import type { VaultClient } from '../client/vault-client.js';
import { storeToken } from '../client/token-helper.js';
import { dataTable, formatKeyValueTable } from '../io/output.js';
import { promptHidden, readAll } from '../io/prompt.js';
import { authRows, type AuthInfo } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

async function lookupSelf(client: VaultClient): Promise<Record<string, unknown>> {
  return (await client.request<{ data: Record<string, unknown> }>('GET', 'auth/token/lookup-self')).body!.data;
}

/** `coffer token create|lookup|revoke` and `coffer login`; returns the `token` command for more subcommands. */
export function registerToken(program: Command, ctx: CommandContext): Command {
  const token = program.command('token').description('Create, look up, renew and revoke tokens; print their capabilities');
  addClientOptions(token.command('create'))
    .option('--policy <name...>', 'policy to attach (repeatable)')
    .option('--ttl <duration>')
    .option('--explicit-max-ttl <duration>')
    .option('--use-limit <n>')
    .option('--display-name <name>')
    .option('--no-default-policy', 'do not attach the default policy')
    .action(
      async (
        opts: ClientOptions & {
          policy?: string[];
          ttl?: string;
          explicitMaxTtl?: string;
          useLimit?: string;
          displayName?: string;
          defaultPolicy?: boolean;
        },
      ) => {
        await runApi(ctx, 'creating token', async () => {
          const res = await clientFor(ctx, opts).request<{ auth: AuthInfo }>('POST', 'auth/token/create', {
            policies: (opts.policy ?? []).flatMap((p) => p.split(',')),
            ...(opts.ttl ? { ttl: opts.ttl } : {}),
            ...(opts.explicitMaxTtl ? { explicit_max_ttl: opts.explicitMaxTtl } : {}),
            ...(opts.useLimit ? { num_uses: Number(opts.useLimit) } : {}),
            ...(opts.displayName ? { display_name: opts.displayName } : {}),
            no_default_policy: opts.defaultPolicy === false,
          });
          emit(ctx, opts, res.body, () => formatKeyValueTable(authRows(res.body!.auth)));
        });
      },
    );
  addClientOptions(token.command('lookup'))
    .argument('[token]', 'token to look up (default: your own); "-" reads it from standard input')
    .option('--accessor', 'the argument is an accessor')
    .action(async (target: string | undefined, opts: ClientOptions & { accessor?: boolean }) => {
      await runApi(ctx, 'looking up token', async () => {
        const client = clientFor(ctx, opts);
        let data: Record<string, unknown>;
        if (!target) data = await lookupSelf(client);
        else if (opts.accessor)
          data = (await client.request<{ data: Record<string, unknown> }>('POST', 'auth/token/lookup-accessor', { accessor: target })).body!.data;
        else data = (await client.request<{ data: Record<string, unknown> }>('POST', 'auth/token/lookup', { token: target })).body!.data;
        emit(ctx, opts, { data }, () => dataTable(data));
      });
    });
  addClientOptions(token.command('revoke'))
    .argument('[token]')
    .option('--self', 'revoke the token in use')
    .option('--accessor', 'the argument is an accessor')
    .action(async (target: string | undefined, opts: ClientOptions & { self?: boolean; accessor?: boolean }) => {
      await runApi(ctx, 'revoking token', async () => {
        const client = clientFor(ctx, opts);
        if (opts.self) await client.request('POST', 'auth/token/revoke-self');
        else if (!target) throw new LocalError('a token or accessor is required (or -self)');
        else if (opts.accessor) await client.request('POST', 'auth/token/revoke-accessor', { accessor: target });
        else await client.request('POST', 'auth/token/revoke', { token: target });
        ctx.output.out('Success! Revoked token (if it existed)\n');
      });
    });

  addClientOptions(program.command('login'))
    .description('Authenticate with a token and store it in ~/.vault-token (prompts when no token is given)')
    .argument('[token]', 'the token; "-" reads it from standard input')
    .action(async (given: string | undefined, opts: ClientOptions) => {
      await runApi(ctx, 'authenticating', async () => {
        const secret =
          given === '-'
            ? (await readAll(ctx.stdin)).trim()
            : (given ?? (await promptHidden('Token (will be hidden): ', ctx.stdin, ctx.promptOutput))).trim();
        const data = await lookupSelf(clientFor(ctx, opts, secret));
        storeToken(ctx.env, secret);
        ctx.output.out(
          'Success! You are now authenticated. The token information displayed below\nis already stored in the token helper. You do NOT need to run "coffer login"\nagain. Future Coffer requests will automatically use this token.\n\n' +
            formatKeyValueTable(
              authRows({
                client_token: secret,
                accessor: String(data.accessor),
                lease_duration: Number(data.ttl),
                renewable: Boolean(data.renewable),
                token_policies: data.policies as string[],
                policies: data.policies as string[],
              }),
            ),
        );
      });
    });
  return token;
}
