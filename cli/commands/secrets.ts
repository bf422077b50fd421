import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { goValue } from '../io/go-format.js';
import { formatColumns } from '../io/output.js';
import { addClientOptions, clientFor, emit, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

const mountPath = (p: string) => `${p.replace(/^\/+|\/+$/g, '')}/`;

interface MountOutput {
  type: string;
  accessor: string;
  description: string;
  uuid?: string;
  local?: boolean;
  seal_wrap?: boolean;
  external_entropy_access?: boolean;
  options?: Record<string, string> | null;
  plugin_version?: string;
  running_plugin_version?: string;
  running_sha256?: string;
  deprecation_status?: string;
  config?: { default_lease_ttl?: number; max_lease_ttl?: number; force_no_cache?: boolean };
}

/** Vault's `-detailed` TTL cell: blank for system mounts, `system` for "use the default", else seconds. */
const ttlCell = (type: string, ttl: number | undefined) => (type === 'system' || type === 'cubbyhole' ? '' : ttl ? String(ttl) : 'system');

function mountsTable(mounts: Record<string, MountOutput>, detailed: boolean): string {
  const paths = Object.keys(mounts).sort();
  if (!detailed) {
    const rows = paths.map((p) => [p, mounts[p]!.type, mounts[p]!.accessor, mounts[p]!.description || 'n/a']);
    return formatColumns([['Path', 'Type', 'Accessor', 'Description'], ['----', '----', '--------', '-----------'], ...rows]);
  }
  const head = ['Path', 'Plugin', 'Accessor', 'Default TTL', 'Max TTL', 'Force No Cache', 'Replication', 'Seal Wrap', 'External Entropy Access'];
  head.push('Options', 'Description', 'UUID', 'Version', 'Running Version', 'Running SHA256', 'Deprecation Status');
  const rows = paths.map((p) => {
    const m = mounts[p]!;
    return [
      p,
      m.type,
      m.accessor,
      ttlCell(m.type, m.config?.default_lease_ttl),
      ttlCell(m.type, m.config?.max_lease_ttl),
      String(m.config?.force_no_cache ?? false),
      m.local ? 'local' : 'replicated',
      String(m.seal_wrap ?? false),
      String(m.external_entropy_access ?? false),
      goValue(m.options ?? {}),
      m.description,
      m.uuid ?? '',
      m.plugin_version ?? '',
      m.running_plugin_version ?? '',
      m.running_sha256 ?? '',
      m.deprecation_status ?? '',
    ].map((c) => (c === '' ? 'n/a' : c));
  });
  return formatColumns([head, head.map((h) => '-'.repeat(h.length)), ...rows]);
}

/** `-options=k=v` (repeatable) as a map. @throws LocalError for an entry without `=`. */
function optionsMap(list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new LocalError(`invalid key/value pair "${item}": format must be key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `coffer secrets enable|disable|list|tune|move`. */
export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program.command('secrets').description('Enable, disable, list, tune and move secret engines');
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
    .option('--detailed', 'print every column Vault prints (TTLs, options, UUID, …)')
    .action(async (opts: ClientOptions & { detailed?: boolean }) => {
      await runApi(ctx, 'listing secrets engines', async () => {
        const res = await clientFor(ctx, opts).request<{ data: Record<string, MountOutput> }>('GET', 'sys/mounts');
        const mounts = res.body!.data;
        emit(ctx, opts, mounts, () => mountsTable(mounts, opts.detailed === true));
      });
    });
  addClientOptions(secrets.command('tune'))
    .description('Change the settings of a mounted engine (sys/mounts/<path>/tune)')
    .argument('<path>')
    .option('--description <text>')
    .option('--default-lease-ttl <duration>')
    .option('--max-lease-ttl <duration>')
    .option('--options <k=v...>', 'engine options, e.g. -options=version=2 (repeatable)')
    .action(
      async (path: string, opts: ClientOptions & { description?: string; defaultLeaseTtl?: string; maxLeaseTtl?: string; options?: string[] }) => {
        await runApi(ctx, `tuning secrets engine ${mountPath(path)}`, async () => {
          const options = optionsMap(opts.options);
          // Only the settings given are sent, as Vault's CLI does, so a tune never resets the others.
          await clientFor(ctx, opts).request('POST', `sys/mounts/${mountPath(path).slice(0, -1)}/tune`, {
            ...(opts.description !== undefined ? { description: opts.description } : {}),
            ...(opts.defaultLeaseTtl !== undefined ? { default_lease_ttl: opts.defaultLeaseTtl } : {}),
            ...(opts.maxLeaseTtl !== undefined ? { max_lease_ttl: opts.maxLeaseTtl } : {}),
            ...(options ? { options } : {}),
          });
          ctx.output.out(`Success! Tuned the secrets engine at: ${mountPath(path)}\n`);
        });
      },
    );
  addClientOptions(secrets.command('move'))
    .description('Move a mounted engine to a new path (sys/remount)')
    .argument('<source>')
    .argument('<destination>')
    .action(async (source: string, destination: string, opts: ClientOptions) => {
      const [from, to] = [mountPath(source), mountPath(destination)];
      await runApi(ctx, `moving secrets engine ${from} to ${to}`, async () => {
        const client = clientFor(ctx, opts);
        const res = await client.request<{ migration_id?: string; data?: { migration_id?: string } }>('POST', 'sys/remount', { from, to });
        const id = res.body?.migration_id ?? res.body?.data?.migration_id ?? '';
        if (!id) return ctx.output.out(`Success! Finished moving secrets engine ${from} to ${to}\n`);
        ctx.output.out(`Started moving secrets engine ${from} to ${to}, with migration ID ${id}\n`);
        // Vault polls the migration about once a second until it ends.
        for (;;) {
          const status = await client.request<{ data?: { migration_info?: { status?: string } } }>(
            'GET',
            `sys/remount/status/${encodeURIComponent(id)}`,
          );
          const state = status.body?.data?.migration_info?.status;
          if (state === 'success') return ctx.output.out(`Success! Finished moving secrets engine ${from} to ${to}, with migration ID ${id}\n`);
          if (state === 'failure')
            throw new LocalError(`Failure! Error encountered moving secrets engine ${from} to ${to}, with migration ID ${id}`, true, 1);
          ctx.output.out(`Waiting for terminal status in migration of secrets engine ${from} to ${to}, with migration ID ${id}\n`);
          await delay(1000);
        }
      });
    });
}
