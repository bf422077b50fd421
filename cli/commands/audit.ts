import type { Command } from 'commander';
import { formatColumns } from '../io/output.js';
import { addClientOptions, clientFor, emit, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

const devicePath = (p: string) => `${p.replace(/^\/+|\/+$/g, '')}/`;

interface AuditOutput {
  type: string;
  description: string;
  options?: Record<string, string> | null;
  local?: boolean;
  path?: string;
}

/** Vault's `audit list` table; `-detailed` adds Replication and the options as sorted `k=v` pairs. */
function auditTable(devices: Record<string, AuditOutput>, detailed: boolean): string {
  const paths = Object.keys(devices).sort();
  const head = detailed ? ['Path', 'Type', 'Description', 'Replication', 'Options'] : ['Path', 'Type', 'Description'];
  const rows = paths.map((p) => {
    const d = devices[p]!;
    const row = [p, d.type, d.description || 'n/a'];
    if (detailed) {
      const options = Object.entries(d.options ?? {})
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      row.push(d.local ? 'local' : 'replicated', options);
    }
    return row;
  });
  return formatColumns([head, head.map((h) => '-'.repeat(h.length)), ...rows]);
}

/** `coffer audit enable|disable|list`. */
export function registerAudit(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description('Enable, disable and list audit devices');
  addClientOptions(audit.command('enable'))
    .description('Enable an audit device: coffer audit enable [-path=P] [-description=D] TYPE [K=V...]')
    .argument('<type>', 'device type: file')
    .argument('[options...]', 'device options as key=value, e.g. file_path=/var/log/coffer-audit.log')
    .option('--path <path>', 'where to enable it (default: the type)')
    .option('--description <text>')
    .option('--local', 'refused: Coffer runs one node')
    .action(async (type: string, pairs: string[], opts: ClientOptions & { path?: string; description?: string; local?: boolean }) => {
      const path = devicePath(opts.path ?? type);
      await runApi(ctx, 'enabling audit device', async () => {
        const options: Record<string, string> = {};
        for (const pair of pairs) {
          const eq = pair.indexOf('=');
          if (eq <= 0) throw new LocalError(`invalid key/value pair "${pair}": format must be key=value`);
          options[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        await clientFor(ctx, opts).request('PUT', `sys/audit/${path.slice(0, -1)}`, {
          type,
          description: opts.description ?? '',
          options,
          ...(opts.local ? { local: true } : {}),
        });
        ctx.output.out(`Success! Enabled the ${type} audit device at: ${path}\n`);
      });
    });
  addClientOptions(audit.command('disable'))
    .description('Disable an audit device')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, 'disabling audit device', async () => {
        await clientFor(ctx, opts).request('DELETE', `sys/audit/${devicePath(path).slice(0, -1)}`);
        ctx.output.out(`Success! Disabled audit device (if it was enabled) at: ${devicePath(path)}\n`);
      });
    });
  addClientOptions(audit.command('list'))
    .description('List the enabled audit devices')
    .option('--detailed', 'also print replication and options')
    .action(async (opts: ClientOptions & { detailed?: boolean }) => {
      await runApi(ctx, 'retrieving audit devices', async () => {
        const res = await clientFor(ctx, opts).request<{ data: Record<string, AuditOutput> }>('GET', 'sys/audit');
        const devices = res.body!.data;
        if (formatOf(ctx, opts) === 'table' && Object.keys(devices).length === 0) {
          ctx.output.out('No audit devices are enabled.\n');
          ctx.setExitCode(2);
          return;
        }
        emit(ctx, opts, devices, () => auditTable(devices, opts.detailed === true));
      });
    });
}
