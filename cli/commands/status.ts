import type { Command } from 'commander';
import type { LeaderResponse, SealStatusResponse } from '../../shared/api-types.js';
import type { VaultClient } from '../client/vault-client.js';
import { formatKeyValueTable, formatStructured, type OutputFormat } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

/** seal-status merged with sys/leader, as `vault status` shows it. */
export async function fetchStatus(client: VaultClient): Promise<SealStatusResponse & Partial<LeaderResponse>> {
  const seal = (await client.request<SealStatusResponse>('GET', 'sys/seal-status')).body!;
  const leader = (await client.request<LeaderResponse>('GET', 'sys/leader', undefined, { acceptAnyStatus: true })).body;
  return { ...seal, ...(leader && 'ha_enabled' in leader ? leader : {}) };
}

export function renderStatus(status: SealStatusResponse & Partial<LeaderResponse>, format: OutputFormat): string {
  if (format !== 'table') return formatStructured(format, status);
  const rows: Array<[string, string | number | boolean]> = [['Seal Type', status.type]];
  if (status.recovery_seal) rows.push(['Recovery Seal Type', status.recovery_seal_type ?? 'shamir']);
  rows.push(['Initialized', status.initialized], ['Sealed', status.sealed]);
  rows.push([status.recovery_seal ? 'Total Recovery Shares' : 'Total Shares', status.n], ['Threshold', status.t]);
  if (status.sealed) {
    rows.push(['Unseal Progress', `${status.progress}/${status.t}`], ['Unseal Nonce', status.nonce]);
  }
  if (status.migration) rows.push(['Seal Migration in Progress', true]);
  rows.push(['Version', status.version], ['Build Date', status.build_date]);
  if (status.storage_type) rows.push(['Storage Type', status.storage_type]);
  if (status.cluster_name && status.cluster_id) rows.push(['Cluster Name', status.cluster_name], ['Cluster ID', status.cluster_id]);
  rows.push(['HA Enabled', status.ha_enabled ?? false]);
  return formatKeyValueTable(rows);
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  addClientOptions(program.command('status'))
    .description('Print the seal status (exit 0 unsealed, 2 sealed, 1 error)')
    .action(async (opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      let failed = true;
      await runApi(ctx, 'checking seal status', async () => {
        const status = await fetchStatus(client);
        ctx.output.out(renderStatus(status, formatOf(ctx, opts)));
        failed = false;
        ctx.setExitCode(status.sealed ? 2 : 0);
      });
      if (failed) ctx.setExitCode(1);
    });
}
