import type { Command } from 'commander';
import { formatKeys, parseKeyValues } from '../io/kv-args.js';
import { readAll } from '../io/prompt.js';
import { printField, rawSecretField, warningsText, type SecretEnvelope } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { registerKvMetadata } from './kv-metadata.js';
import { customMetadata, kvPath, kvTarget, mapSection, pathSection, writeTable, type KvOptions } from './kv-mount.js';
import { registerKvVersions } from './kv-versions.js';

type KvData = { data: Record<string, unknown> | null; metadata?: Record<string, unknown> | null } & Record<string, unknown>;

/** `coffer kv put|get|list|delete` plus `metadata` and the version commands: KV commands that know v1 from v2. */
export function registerKv(program: Command, ctx: CommandContext): void {
  const kv = program.command('kv').description('Read and write key/value secrets (KV version 1 and 2)');

  addClientOptions(kv.command('put'))
    .argument('<path>')
    .argument('<data...>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--cas <n>', 'check-and-set: the version this write expects to replace')
    .option('--custom-metadata <k=v...>', 'also set these custom metadata keys on the secret (KV v2; repeatable)')
    .action(async (path: string, pairs: string[], opts: ClientOptions & KvOptions & { cas?: string; customMetadata?: string[] }) => {
      const client = clientFor(ctx, opts);
      let full = path;
      await runApi(ctx, `writing data to ${path}`, async () => {
        const custom = customMetadata(opts.customMetadata);
        const data = await parseKeyValues(pairs, () => readAll(ctx.stdin));
        const target = await kvTarget(client, path, opts);
        full = kvPath(target, 'data');
        if (target.version === '1') {
          await client.request('PUT', full, data);
          return ctx.output.out(`Success! Data written to: ${full}\n`);
        }
        const body = { data, ...(opts.cas !== undefined ? { options: { cas: Number(opts.cas) } } : {}) };
        const res = await client.request<{ data: Record<string, unknown> }>('PUT', full, body);
        // Custom metadata lives on the metadata endpoint; it is written once the new version exists.
        if (custom) {
          await client.request('PUT', kvPath(target, 'metadata'), { custom_metadata: custom });
          res.body!.data.custom_metadata = custom;
        }
        emit(ctx, opts, res.body, () => writeTable(full, res.body!.data));
      });
    });

  addClientOptions(kv.command('get'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--version <n>', 'read this version (KV v2)')
    .option('--field <name>', 'print only this field')
    .action(async (path: string, opts: ClientOptions & KvOptions & { version?: string; field?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `reading ${path}`, async () => {
        const target = await kvTarget(client, path, opts);
        const full = kvPath(target, 'data');
        const query = target.version === '2' && opts.version && opts.version !== '0' ? `?version=${encodeURIComponent(opts.version)}` : '';
        const body = await client.read<SecretEnvelope & { data: KvData | null }>(full + query);
        if (!body) throw new NotFound(`No value found at ${full}`);
        const v2 = target.version === '2';
        if (opts.field) {
          if (!v2) return printField(ctx, opts, rawSecretField(body, opts.field), opts.field);
          const data = body.data?.data;
          if (!data) throw new NotFound(`No data found at ${full}`);
          return printField(ctx, opts, data[opts.field], opts.field, 'map');
        }
        ctx.output.err(warningsText(body));
        emit(ctx, opts, body, () => {
          let out = v2 ? pathSection('Secret Path', full) : '';
          const metadata = v2 ? body.data?.metadata : undefined;
          if (metadata) out += `${mapSection('Metadata', metadata)}\n`;
          const data = v2 ? body.data?.data : body.data;
          // A deleted or destroyed version has metadata but no data: Vault prints the metadata alone.
          if (data) out += mapSection('Data', data);
          return out;
        });
      });
    });

  addClientOptions(kv.command('list'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .action(async (path: string, opts: ClientOptions & KvOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `listing ${path}`, async () => {
        const target = await kvTarget(client, path, opts);
        const full = kvPath(target, 'metadata');
        const body = await client.read<{ data: { keys?: string[] } }>(`${full}?list=true`);
        const keys = body?.data.keys ?? [];
        if (keys.length === 0) throw new NotFound(`No value found at ${full}`);
        emit(ctx, opts, keys, () => formatKeys(keys));
      });
    });

  addClientOptions(kv.command('delete'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--versions <list...>', 'soft-delete these versions (KV v2)')
    .action(async (path: string, opts: ClientOptions & KvOptions & { versions?: string[] }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `deleting ${path}`, async () => {
        const target = await kvTarget(client, path, opts);
        if (opts.versions && target.version === '2') {
          const full = kvPath(target, 'delete');
          await client.request('PUT', full, { versions: opts.versions.flatMap((v) => v.split(',')).map(Number) });
          return ctx.output.out(`Success! Data deleted (if it existed) at: ${full}\n`);
        }
        await client.request('DELETE', kvPath(target, 'data'));
        ctx.output.out(`Success! Data deleted (if it existed) at: ${kvPath(target, 'data')}\n`);
      });
    });

  registerKvVersions(kv, ctx);
  registerKvMetadata(kv, ctx);
}
