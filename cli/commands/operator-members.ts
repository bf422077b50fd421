import type { Command } from 'commander';
import { formatColumns, formatStructured } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface HaNode {
  hostname: string;
  api_address: string;
  cluster_address: string;
  active_node: boolean;
  last_echo: string | null;
  version: string;
}

/** `coffer operator members`: the nodes of an HA cluster (`GET sys/ha-status`), as Vault's command lists them. */
export function registerOperatorMembers(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('members'))
    .description('List the nodes of an HA cluster and which one is active (needs read on sys/ha-status)')
    .action(async (opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'listing members', async () => {
        const body = (await client.request<{ data: { nodes: HaNode[] } }>('GET', 'sys/ha-status')).body!;
        const nodes = body.data.nodes;
        const format = formatOf(ctx, opts);
        if (format !== 'table') {
          ctx.output.out(formatStructured(format, nodes));
          return;
        }
        const rows = [['Host Name', 'API Address', 'Cluster Address', 'Active Node', 'Version', 'Last Echo']];
        for (const n of nodes) rows.push([n.hostname, n.api_address, n.cluster_address, String(n.active_node), n.version, n.last_echo ?? '']);
        ctx.output.out(formatColumns(rows));
      });
    });
}
