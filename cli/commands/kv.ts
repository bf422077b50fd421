import type { Command } from 'commander';
import type { VaultClient } from '../client/vault-client.js';
import { formatKeys, parseKeyValues } from '../io/kv-args.js';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { readAll } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { dataTable } from './raw-paths.js';

interface Mount {
  path: string;
  version: '1' | '2';
}

/** Asks the server which mount serves `path` and its KV version, as `vault kv` does. */
async function mountOf(client: VaultClient, path: string): Promise<Mount> {
  const res = await client.request<{ data: { path: string; options: { version: string } } }>('GET', `sys/internal/ui/mounts/${path}`);
  return { path: res.body!.data.path, version: res.body!.data.options.version === '2' ? '2' : '1' };
}

/** `secret/app/db` on a v2 mount → `secret/data/app/db` (or `metadata`, …). */
function apiPath(mount: Mount, path: string, kind: string): string {
  if (mount.version === '1') return path;
  return `${mount.path}${kind}/${path.slice(mount.path.length)}`;
}

function section(title: string, body: string): string {
  return `== ${title} ==\n${body}`;
}

function metadataTable(meta: Record<string, unknown>): string {
  return dataTable({ ...meta, deletion_time: meta.deletion_time === '' ? '' : meta.deletion_time });
}

/** `coffer kv put|get|list|delete|metadata`: KV commands that know v1 from v2 mounts. */
export function registerKv(program: Command, ctx: CommandContext): void {
  const kv = program.command('kv').description('Read and write key/value secrets (KV version 1 and 2)');
  const clean = (p: string) => p.replace(/^\/+/, '');

  addClientOptions(kv.command('put'))
    .argument('<path>')
    .argument('<data...>')
    .option('--cas <n>', 'check-and-set: the version this write expects to replace')
    .action(async (path: string, pairs: string[], opts: ClientOptions & { cas?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `writing data to ${path}`, async () => {
        const data = await parseKeyValues(pairs, () => readAll(ctx.stdin));
        const mount = await mountOf(client, clean(path));
        const full = apiPath(mount, clean(path), 'data');
        if (mount.version === '1') {
          await client.request('PUT', full, data);
          ctx.output.out(`Success! Data written to: ${path}\n`);
          return;
        }
        const body = { data, ...(opts.cas !== undefined ? { options: { cas: Number(opts.cas) } } : {}) };
        const res = await client.request<{ data: Record<string, unknown> }>('PUT', full, body);
        if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(res.body));
        ctx.output.out(`${section('Secret Path', `${full}\n`)}\n${section('Metadata', metadataTable(res.body!.data))}`);
      });
    });

  addClientOptions(kv.command('get'))
    .argument('<path>')
    .option('--version <n>', 'read this version (KV v2)')
    .option('--field <name>', 'print only this field')
    .action(async (path: string, opts: ClientOptions & { version?: string; field?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `reading ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        const full = apiPath(mount, clean(path), 'data') + (opts.version ? `?version=${encodeURIComponent(opts.version)}` : '');
        const res = await client.request<{ data: Record<string, unknown> }>('GET', full);
        const data = (mount.version === '2' ? res.body!.data.data : res.body!.data) as Record<string, unknown>;
        if (opts.field) return ctx.output.out(`${String(data[opts.field] ?? '')}\n`);
        if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(res.body));
        if (mount.version === '1') return ctx.output.out(dataTable(data));
        ctx.output.out(
          `${section('Secret Path', `${full.split('?')[0]}\n`)}\n${section('Metadata', metadataTable(res.body!.data.metadata as Record<string, unknown>))}\n${section('Data', dataTable(data))}`,
        );
      });
    });

  addClientOptions(kv.command('list'))
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `listing ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        const res = await client.request<{ data: { keys: string[] } }>('GET', `${apiPath(mount, clean(path), 'metadata')}?list=true`);
        const keys = res.body?.data.keys ?? [];
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(keys) : formatKeys(keys));
      });
    });

  addClientOptions(kv.command('delete'))
    .argument('<path>')
    .option('--versions <list>', 'soft-delete these versions (KV v2)')
    .action(async (path: string, opts: ClientOptions & { versions?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `deleting ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        if (opts.versions && mount.version === '2') {
          await client.request('PUT', apiPath(mount, clean(path), 'delete'), { versions: opts.versions.split(',').map(Number) });
        } else {
          await client.request('DELETE', apiPath(mount, clean(path), 'data'));
        }
        ctx.output.out(`Success! Data deleted (if it existed) at: ${apiPath(mount, clean(path), 'data')}\n`);
      });
    });

  const metadata = kv.command('metadata').description('KV v2 metadata: get, put, delete');
  addClientOptions(metadata.command('get'))
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `reading metadata for ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        const res = await client.request<{ data: Record<string, unknown> }>('GET', apiPath(mount, clean(path), 'metadata'));
        if (formatOf(ctx, opts) === 'json') return ctx.output.out(formatJson(res.body));
        const { versions, ...rest } = res.body!.data;
        let out = section('Metadata', dataTable(rest));
        for (const [v, info] of Object.entries((versions ?? {}) as Record<string, Record<string, unknown>>)) {
          out += `\n${section(`Version ${v}`, formatKeyValueTable(Object.entries(info).map(([k, x]) => [k, x === '' ? '' : String(x)] as [string, string])))}`;
        }
        ctx.output.out(out);
      });
    });
  addClientOptions(metadata.command('put'))
    .argument('<path>')
    .option('--max-versions <n>')
    .option('--cas-required')
    .action(async (path: string, opts: ClientOptions & { maxVersions?: string; casRequired?: boolean }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `writing metadata for ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        await client.request('PUT', apiPath(mount, clean(path), 'metadata'), {
          ...(opts.maxVersions !== undefined ? { max_versions: Number(opts.maxVersions) } : {}),
          ...(opts.casRequired ? { cas_required: true } : {}),
        });
        ctx.output.out(`Success! Data written to: ${apiPath(mount, clean(path), 'metadata')}\n`);
      });
    });
  addClientOptions(metadata.command('delete'))
    .argument('<path>')
    .action(async (path: string, opts: ClientOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `deleting metadata for ${path}`, async () => {
        const mount = await mountOf(client, clean(path));
        await client.request('DELETE', apiPath(mount, clean(path), 'metadata'));
        ctx.output.out(`Success! Data deleted (if it existed) at: ${apiPath(mount, clean(path), 'metadata')}\n`);
      });
    });
}
