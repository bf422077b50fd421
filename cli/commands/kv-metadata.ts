import type { Command } from 'commander';
import { printField, rawSecretField, type SecretEnvelope } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, LocalError, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { customMetadata, kvPath, kvTarget, mapSection, pathSection, type KvOptions } from './kv-mount.js';

/** `coffer kv metadata get|put|delete` (KV version 2). */
export function registerKvMetadata(kv: Command, ctx: CommandContext): void {
  const metadata = kv.command('metadata').description('KV v2 metadata: get, put, delete');
  addClientOptions(metadata.command('get'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--field <name>', 'print only this field')
    .action(async (path: string, opts: ClientOptions & KvOptions & { field?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `reading ${path}`, async () => {
        const target = await kvTarget(client, path, opts);
        if (target.version !== '2') throw new LocalError('Metadata not supported on KV Version 1', true);
        const full = kvPath(target, 'metadata');
        const body = await client.read<SecretEnvelope>(full);
        if (!body?.data) throw new NotFound(`No value found at ${full}`);
        if (opts.field) return printField(ctx, opts, rawSecretField(body, opts.field), opts.field);
        emit(ctx, opts, body, () => {
          const { versions, ...rest } = body.data!;
          let out = `${pathSection('Metadata Path', full)}${mapSection('Metadata', rest)}`;
          const byNumber = Object.entries((versions ?? {}) as Record<string, Record<string, unknown>>).sort(([a], [b]) => Number(a) - Number(b));
          for (const [v, info] of byNumber) out += `\n${mapSection(`Version ${v}`, info)}`;
          return out;
        });
      });
    });
  addClientOptions(metadata.command('put'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--max-versions <n>')
    .option('--cas-required', 'require check-and-set on every write')
    .option('--custom-metadata <k=v...>', 'custom metadata key (repeatable); replaces the whole custom metadata map')
    .action(async (path: string, opts: ClientOptions & KvOptions & { maxVersions?: string; casRequired?: boolean; customMetadata?: string[] }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `writing data to ${path}`, async () => {
        const custom = customMetadata(opts.customMetadata);
        const target = await kvTarget(client, path, opts);
        if (target.version !== '2') throw new LocalError('Metadata not supported on KV Version 1', true);
        const full = kvPath(target, 'metadata');
        await client.request('PUT', full, {
          ...(opts.maxVersions !== undefined ? { max_versions: Number(opts.maxVersions) } : {}),
          ...(opts.casRequired ? { cas_required: true } : {}),
          ...(custom ? { custom_metadata: custom } : {}),
        });
        ctx.output.out(`Success! Data written to: ${full}\n`);
      });
    });
  addClientOptions(metadata.command('delete'))
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .action(async (path: string, opts: ClientOptions & KvOptions) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `deleting ${path}`, async () => {
        const target = await kvTarget(client, path, opts);
        if (target.version !== '2') throw new LocalError('Metadata not supported on KV Version 1', true);
        await client.request('DELETE', kvPath(target, 'metadata'));
        ctx.output.out(`Success! Data deleted (if it existed) at: ${kvPath(target, 'metadata')}\n`);
      });
    });
}
