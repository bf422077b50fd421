import type { Command } from 'commander';
import { storeToken } from '../client/token-helper.js';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { parseKeyValues } from '../io/kv-args.js';
import { promptHidden, readAll } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { dataTable } from './raw-paths.js';

const mountPath = (p: string) => `${p.replace(/^\/+|\/+$/g, '')}/`;

interface Auth {
  client_token: string;
  accessor: string;
  policies: string[] | null;
  token_policies: string[] | null;
  lease_duration: number;
  renewable: boolean;
  metadata: Record<string, string> | null;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

/** A wrapped response as Vault's CLI prints it (`-wrap-ttl`). */
export function wrapTable(info: WrapInfo): string {
  return formatKeyValueTable([
    ['wrapping_token:', info.token],
    ['wrapping_accessor:', info.accessor],
    ['wrapping_token_ttl:', `${info.ttl}s`],
    ['wrapping_token_creation_time:', info.creation_time],
    ['wrapping_token_creation_path:', info.creation_path],
    ...(info.wrapped_accessor ? ([['wrapped_accessor:', info.wrapped_accessor]] as Array<[string, string]>) : []),
  ]);
}

/** A new token as Vault's CLI prints it after a login. */
export function loginTable(auth: Auth): string {
  const rows: Array<[string, string | boolean]> = [
    ['token', auth.client_token],
    ['token_accessor', auth.accessor],
    ['token_duration', auth.lease_duration === 0 ? '∞' : `${auth.lease_duration}s`],
    ['token_renewable', auth.renewable],
    ['token_policies', `[${(auth.token_policies ?? []).join(' ')}]`],
    ['identity_policies', '[]'],
    ['policies', `[${(auth.policies ?? []).join(' ')}]`],
  ];
  for (const [k, v] of Object.entries(auth.metadata ?? {}).sort()) rows.push([`token_meta_${k}`, v]);
  return formatKeyValueTable(rows);
}

/**
 * `coffer login -method=userpass username=… [password=…]` (and `-method=approle role_id=… secret_id=…`): logs in
 * through an auth method and stores the token. A missing userpass password is prompted for, never required in argv.
 */
export async function loginWithMethod(
  ctx: CommandContext,
  method: string,
  path: string | undefined,
  pairs: string[],
  opts: ClientOptions & { noStore?: boolean },
): Promise<void> {
  await runApi(ctx, 'authenticating', async () => {
    const values = await parseKeyValues(pairs, () => readAll(ctx.stdin));
    const mount = (path ?? method).replace(/^\/+|\/+$/g, '');
    let loginPath: string;
    let body: Record<string, string>;
    if (method === 'userpass') {
      const { username, password, ...rest } = values;
      if (!username) throw new LocalError('missing username (username=…)');
      if (Object.keys(rest).length > 0) throw new LocalError(`unknown login parameter "${Object.keys(rest)[0]}" for userpass`);
      const secret = password ?? (await promptHidden('Password (will be hidden): ', ctx.stdin, ctx.promptOutput));
      loginPath = `auth/${mount}/login/${encodeURIComponent(username)}`;
      body = { password: secret };
    } else if (method === 'approle') {
      loginPath = `auth/${mount}/login`;
      body = values;
    } else {
      throw new LocalError(`unknown auth method: ${method} (Coffer has token, userpass and approle)`);
    }
    const res = await clientFor(ctx, opts, '').request<{ auth: Auth }>('PUT', loginPath, body);
    const auth = res.body!.auth;
    if (!opts.noStore) storeToken(ctx.env, auth.client_token);
    if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(res.body));
    ctx.output.out(
      (opts.noStore
        ? ''
        : 'Success! You are now authenticated. The token information displayed below\nis already stored in the token helper. You do NOT need to run "coffer login"\nagain. Future Coffer requests will automatically use this token.\n\n') +
        loginTable(auth),
    );
  });
}

/** `coffer auth enable|disable|list|tune`. */
export function registerAuth(program: Command, ctx: CommandContext): void {
  const auth = program.command('auth').description('Enable, disable, list and tune auth methods');
  addClientOptions(auth.command('enable'))
    .argument('<type>', 'method type: approle or userpass')
    .option('--path <path>', 'where to mount it (default: the type)')
    .option('--description <text>')
    .option('--default-lease-ttl <duration>')
    .option('--max-lease-ttl <duration>')
    .action(async (type: string, opts: ClientOptions & { path?: string; description?: string; defaultLeaseTtl?: string; maxLeaseTtl?: string }) => {
      const path = mountPath(opts.path ?? type);
      await runApi(ctx, 'enabling', async () => {
        const config = {
          ...(opts.defaultLeaseTtl ? { default_lease_ttl: opts.defaultLeaseTtl } : {}),
          ...(opts.maxLeaseTtl ? { max_lease_ttl: opts.maxLeaseTtl } : {}),
        };
        await clientFor(ctx, opts).request('POST', `sys/auth/${path.slice(0, -1)}`, {
          type,
          description: opts.description ?? '',
          ...(Object.keys(config).length > 0 ? { config } : {}),
        });
        ctx.output.out(`Success! Enabled ${type} auth method at: ${path}\n`);
      });
    });
  addClientOptions(auth.command('disable'))
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, 'disabling auth method', async () => {
        await clientFor(ctx, opts).request('DELETE', `sys/auth/${mountPath(path).slice(0, -1)}`);
        ctx.output.out(`Success! Disabled the auth method (if it existed) at: ${mountPath(path)}\n`);
      });
    });
  addClientOptions(auth.command('list')).action(async (opts: ClientOptions) => {
    await runApi(ctx, 'listing enabled authentications', async () => {
      const res = await clientFor(ctx, opts).request<{ data: Record<string, { type: string; accessor: string; description: string }> }>(
        'GET',
        'sys/auth',
      );
      const mounts = res.body!.data;
      if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(mounts));
      const rows = [
        ['Path', 'Type', 'Accessor', 'Description'],
        ['----', '----', '--------', '-----------'],
        ...Object.entries(mounts)
          .sort()
          .map(([p, m]) => [p, m.type, m.accessor, m.description || 'n/a']),
      ];
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
      ctx.output.out(
        rows
          .map((r) =>
            r
              .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
              .join('    ')
              .trimEnd(),
          )
          .join('\n') + '\n',
      );
    });
  });
  addClientOptions(auth.command('tune'))
    .argument('<path>')
    .option('--description <text>')
    .option('--default-lease-ttl <duration>')
    .option('--max-lease-ttl <duration>')
    .action(async (path: string, opts: ClientOptions & { description?: string; defaultLeaseTtl?: string; maxLeaseTtl?: string }) => {
      await runApi(ctx, 'tuning auth method', async () => {
        const body = {
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.defaultLeaseTtl ? { default_lease_ttl: opts.defaultLeaseTtl } : {}),
          ...(opts.maxLeaseTtl ? { max_lease_ttl: opts.maxLeaseTtl } : {}),
        };
        if (Object.keys(body).length === 0) throw new LocalError('nothing to tune: give -description, -default-lease-ttl or -max-lease-ttl');
        await clientFor(ctx, opts).request('POST', `sys/auth/${mountPath(path).slice(0, -1)}/tune`, body);
        ctx.output.out(`Success! Tuned the auth method at: ${mountPath(path)}\n`);
      });
    });
}

/** `coffer unwrap [token]`: the wrapped response, once; without an argument the token in use is the wrapping token. */
export function registerUnwrap(program: Command, ctx: CommandContext): void {
  addClientOptions(program.command('unwrap'))
    .description('Unwrap a wrapped secret (the wrapping token works once)')
    .argument('[token]', 'the wrapping token (default: the token in use); "-" reads it from standard input')
    .option('--field <name>', 'print only this field of the data')
    .action(async (given: string | undefined, opts: ClientOptions & { field?: string }) => {
      await runApi(ctx, 'unwrapping', async () => {
        const token = given === '-' ? (await readAll(ctx.stdin)).trim() : given;
        // With a token argument, the request carries no token of its own: the wrapping token is the credential.
        const client = token ? clientFor(ctx, opts, '') : clientFor(ctx, opts);
        const res = await client.request<{ data: Record<string, unknown> | null; auth: Auth | null }>(
          'PUT',
          'sys/wrapping/unwrap',
          token ? { token } : undefined,
        );
        const body = res.body!;
        if (opts.field) return ctx.output.out(`${String(body.data?.[opts.field] ?? '')}\n`);
        if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(body));
        ctx.output.out(body.auth ? loginTable(body.auth) : dataTable(body.data ?? {}));
      });
    });
}
