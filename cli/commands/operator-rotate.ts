import type { Command } from 'commander';
import { formatKeyValueTable, formatStructured, type OutputFormat } from '../io/output.js';
import type { VaultClient } from '../client/vault-client.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface KeyStatus {
  term: number;
  install_time: string;
  encryptions: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC822 in UTC, as `vault operator key-status` prints it: `01 May 24 10:30 UTC`. */
export function formatRfc822(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCFullYear() % 100)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

async function keyStatus(client: VaultClient): Promise<KeyStatus> {
  const body = (await client.request<{ data: KeyStatus }>('GET', 'sys/key-status')).body!;
  return { term: body.data.term, install_time: body.data.install_time, encryptions: body.data.encryptions };
}

/** The three lines Vault prints (a table without its header). */
export function renderKeyStatus(status: KeyStatus, format: OutputFormat): string {
  if (format !== 'table') return formatStructured(format, status);
  const table = formatKeyValueTable([
    ['Key Term', status.term],
    ['Install Time', formatRfc822(status.install_time)],
    ['Encryption Count', status.encryptions],
  ]);
  return table.split('\n').slice(2).join('\n');
}

export function registerOperatorRotate(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('rotate'))
    .description('Add a new barrier encryption key term (sys/rotate); with -target=root also replace the root key (sys/rotate/root)')
    .option('--target <target>', 'keyring (default): a new key term; root: a new root key and key term, no shares needed', 'keyring')
    .action(async (opts: ClientOptions & { target: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'rotating key', async () => {
        if (opts.target !== 'keyring' && opts.target !== 'root') throw new LocalError(`unknown -target "${opts.target}": use keyring or root`);
        await client.request('PUT', opts.target === 'root' ? 'sys/rotate/root' : 'sys/rotate');
        const status = await keyStatus(client);
        const format = formatOf(ctx, opts);
        ctx.output.out(format !== 'table' ? renderKeyStatus(status, format) : `Success! Rotated key\n\n${renderKeyStatus(status, format)}`);
      });
    });
  addClientOptions(operator.command('key-status'))
    .description('Show the active key term, its install time and encryption count')
    .action(async (opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'reading key status', async () => {
        ctx.output.out(renderKeyStatus(await keyStatus(client), formatOf(ctx, opts)));
      });
    });
}
