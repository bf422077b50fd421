import type { Command } from 'commander';
import { formatKeys, parseKeyValues } from '../io/kv-args.js';
import { readAll } from '../io/prompt.js';
import { printField, rawSecretField, secretTable, warningsText, type SecretEnvelope } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, formatOf, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';

export { dataTable } from '../io/output.js';
import { wrapTable, type WrapInfo } from './auth.js';

const clean = (p: string) => p.replace(/^\//, '');

/** `read`, `write`, `delete` and `list` on any API path, as in Vault. */
export function registerRawPaths(program: Command, ctx: CommandContext): void {
  addClientOptions(program.command('read'))
    .description('Read data at a path')
    .argument('<path>')
    .option('--field <name>', 'print only this field')
    .action(async (path: string, opts: ClientOptions & { field?: string }) => {
      await runApi(ctx, `reading ${path}`, async () => {
        const body = await clientFor(ctx, opts).read<SecretEnvelope>(clean(path));
        if (!body) throw new NotFound(`No value found at ${clean(path)}`);
        const wrapped = (body as { wrap_info?: WrapInfo | null }).wrap_info;
        if (wrapped && formatOf(ctx, opts) !== 'json') return ctx.output.out(wrapTable(wrapped));
        if (opts.field) return printField(ctx, opts, rawSecretField(body, opts.field), opts.field);
        ctx.output.err(warningsText(body));
        emit(ctx, opts, body, () => secretTable(body));
      });
    });
  addClientOptions(program.command('write'))
    .description('Write key=value pairs to a path (key=- reads stdin, key=@file reads a file)')
    .argument('<path>')
    .argument('[data...]')
    .option('--field <name>', 'print only this field of the response')
    .action(async (path: string, pairs: string[], opts: ClientOptions & { field?: string }) => {
      await runApi(ctx, `writing data to ${path}`, async () => {
        const body = await parseKeyValues(pairs, () => readAll(ctx.stdin));
        const res = await clientFor(ctx, opts).request<SecretEnvelope>('PUT', clean(path), body);
        if (res.status === 204 || !res.body) return ctx.output.out(`Success! Data written to: ${clean(path)}\n`);
        const wrapped = (res.body as { wrap_info?: WrapInfo | null }).wrap_info;
        if (wrapped && formatOf(ctx, opts) !== 'json') return ctx.output.out(wrapTable(wrapped));
        if (opts.field) return printField(ctx, opts, rawSecretField(res.body, opts.field), opts.field);
        ctx.output.err(warningsText(res.body));
        emit(ctx, opts, res.body, () => secretTable(res.body!));
      });
    });
  addClientOptions(program.command('delete'))
    .description('Delete data at a path')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, `deleting ${path}`, async () => {
        await clientFor(ctx, opts).request('DELETE', clean(path));
        ctx.output.out(`Success! Data deleted (if it existed) at: ${clean(path)}\n`);
      });
    });
  addClientOptions(program.command('list'))
    .description('List keys under a path')
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      await runApi(ctx, `listing ${path}`, async () => {
        const body = await clientFor(ctx, opts).read<SecretEnvelope>(`${clean(path)}?list=true`);
        const keys = (body?.data?.keys as string[] | undefined) ?? [];
        if (!body || keys.length === 0) throw new NotFound(`No value found at ${clean(path)}`);
        emit(ctx, opts, keys, () => formatKeys(keys));
      });
    });
}
