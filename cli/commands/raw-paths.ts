import type { Command } from 'commander';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { formatKeys, parseKeyValues } from '../io/kv-args.js';
import { readAll } from '../io/prompt.js';
import { wrapTable, type WrapInfo } from './auth.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface Envelope {
  data: Record<string, unknown> | null;
  auth?: Record<string, unknown> | null;
  wrap_info?: WrapInfo | null;
}

/** A data map as Vault's `read` prints it: one row per key, values JSON-encoded unless they are strings. */
export function dataTable(data: Record<string, unknown>): string {
  return formatKeyValueTable(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, v === null ? '<nil>' : typeof v === 'string' ? v : JSON.stringify(v)] as [string, string]));
}

/** `read`, `write`, `delete` and `list` on any API path, as in Vault. */
export function registerRawPaths(program: Command, ctx: CommandContext): void {
  addClientOptions(program.command('read'))
    .description('Read data at a path')
    .argument('<path>')
    .option('--field <name>', 'print only this field')
    .action(async (path: string, opts: ClientOptions & { field?: string }) => {
      await runApi(ctx, `reading ${path}`, async () => {
        const res = await clientFor(ctx, opts).request<Envelope>('GET', path.replace(/^\//, ''));
        if (res.body?.wrap_info && formatOf(ctx, opts) !== 'json') return ctx.output.out(wrapTable(res.body.wrap_info));
        const data = res.body?.data ?? {};
        if (opts.field) ctx.output.out(`${String(data[opts.field] ?? '')}\n`);
        else ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(res.body) : dataTable(data));
      });
    });
  addClientOptions(program.command('write'))
    .description('Write key=value pairs to a path (key=- reads stdin, key=@file reads a file)')
    .argument('<path>')
    .argument('[data...]')
    .action(async (path: string, pairs: string[], opts: ClientOptions) => {
      await runApi(ctx, `writing data to ${path}`, async () => {
        const body = await parseKeyValues(pairs, () => readAll(ctx.stdin));
        const res = await clientFor(ctx, opts).request<Envelope>('PUT', path.replace(/^\//, ''), body);
        if (res.status === 204 || !res.body) ctx.output.out(`Success! Data written to: ${path}\n`);
        else if (res.body.wrap_info && formatOf(ctx, opts) !== 'json') ctx.output.out(wrapTable(res.body.wrap_info));
        else ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(res.body) : dataTable(res.body.data ?? res.body.auth ?? {}));
      });
    });
  addClientOptions(program.command('delete'))
    .description('Delete data at a path')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, `deleting ${path}`, async () => {
        await clientFor(ctx, opts).request('DELETE', path.replace(/^\//, ''));
        ctx.output.out(`Success! Data deleted (if it existed) at: ${path}\n`);
      });
    });
  addClientOptions(program.command('list'))
    .description('List keys under a path')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, `listing ${path}`, async () => {
        const res = await clientFor(ctx, opts).request<Envelope>('GET', `${path.replace(/^\//, '')}?list=true`);
        const keys = (res.body?.data?.keys as string[] | undefined) ?? [];
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(keys) : formatKeys(keys));
      });
    });
}
