import type { Command } from 'commander';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface Census {
  state: string;
  completed_at: string | null;
  active_term: number;
  scanned: number;
  terms: Record<string, { entries: number; bytes: number }>;
  exempt: Record<string, { description: string }>;
  unknown_terms: Record<string, { entries: number }>;
  malformed: { entries: number };
}

export function renderCensus(c: Census): string {
  const rows: Array<[string, string | number]> = [
    ['State', c.state],
    ['Completed', c.completed_at ?? 'n/a'],
    ['Active Term', c.active_term],
    ['Entries Scanned', c.scanned],
    ...Object.entries(c.terms).map(([t, v]) => [`Term ${t}`, `${v.entries} entries, ${v.bytes} bytes`] as [string, string]),
    ['Exempt Entries', Object.keys(c.exempt).join(', ')],
    [
      'Unknown Terms',
      Object.entries(c.unknown_terms)
        .map(([t, v]) => `${t}:${v.entries}`)
        .join(' ') || 'none',
    ],
    ['Malformed Entries', c.malformed.entries],
  ];
  return formatKeyValueTable(rows);
}

/** `coffer operator census`: count entries per key term (from headers only) and print the result. */
export function registerOperatorCensus(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('census'))
    .description('Count stored entries per key term (needs sudo on sys/rewrap/census)')
    .option('--status', 'show the latest census without starting one')
    .action(async (opts: ClientOptions & { status?: boolean }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, 'running census', async () => {
        if (!opts.status) await client.request('POST', 'sys/rewrap/census');
        let census = (await client.request<{ data: Census }>('GET', 'sys/rewrap/census')).body!.data;
        while (census.state === 'running') {
          await new Promise((r) => setTimeout(r, 500));
          census = (await client.request<{ data: Census }>('GET', 'sys/rewrap/census')).body!.data;
        }
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(census) : renderCensus(census));
      });
    });
}
