import type { Command } from 'commander';
import { formatJson } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

const mountPath = (p: string) => `${p.replace(/^\/+|\/+$/g, '')}/`;

/** `coffer secrets enable|disable|list`. */
export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program.command('secrets').description('Enable, disable and list secret engines');
  addClientOptions(secrets.command('enable'))
    .argument('<type>', 'engine type: kv (add -version=2) or kv-v2')
    .option('--path <path>', 'where to mount it (default: the type)')
    .option('--version <n>', 'KV version')
    .option('--description <text>')
    .action(async (type: string, opts: ClientOptions & { path?: string; version?: string; description?: string }) => {
      const path = mountPath(opts.path ?? type);
      await runApi(ctx, 'enabling', async () => {
        await clientFor(ctx, opts).request('POST', `sys/mounts/${path.slice(0, -1)}`, {
          type,
          description: opts.description ?? '',
          options: opts.version ? { version: opts.version } : {},
        });
        ctx.output.out(`Success! Enabled the ${type} secrets engine at: ${path}\n`);
      });
    });
  addClientOptions(secrets.command('disable'))
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, 'disabling secrets engine', async () => {
        await clientFor(ctx, opts).request('DELETE', `sys/mounts/${mountPath(path).slice(0, -1)}`);
        ctx.output.out(`Success! Disabled the secrets engine (if it existed) at: ${mountPath(path)}\n`);
      });
    });
  addClientOptions(secrets.command('list'))
    .action(async (opts: ClientOptions) => {
      await runApi(ctx, 'listing secrets engines', async () => {
        const res = await clientFor(ctx, opts).request<{ data: Record<string, { type: string; accessor: string; description: string }> }>('GET', 'sys/mounts');
        const mounts = res.body!.data;
        if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(mounts));
        const rows = [['Path', 'Type', 'Accessor', 'Description'], ['----', '----', '--------', '-----------'], ...Object.entries(mounts).map(([p, m]) => [p, m.type, m.accessor, m.description || 'n/a'])];
        const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
        ctx.output.out(rows.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('    ').trimEnd()).join('\n') + '\n');
      });
    });
}
