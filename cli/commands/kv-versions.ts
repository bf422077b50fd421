import type { Command } from 'commander';
import { ApiError, type VaultClient } from '../client/vault-client.js';
import { parseKeyValues } from '../io/kv-args.js';
import { dataTable } from '../io/output.js';
import { readAll } from '../io/prompt.js';
import { printField, type SecretEnvelope } from '../io/secret-output.js';
import { addClientOptions, clientFor, emit, LocalError, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { kvPath, kvTarget, requireV2, versionList, writeTable, type KvOptions } from './kv-mount.js';

type VersionRead = SecretEnvelope & { data: { data: Record<string, unknown> | null; metadata: Record<string, unknown> | null } | null };

interface PatchOptions {
  cas?: string;
  removeData?: string[];
  method?: string;
  field?: string;
}

/** Reads a version (current when `version` is undefined) for patch's and rollback's read-then-write. */
async function readVersion(
  client: VaultClient,
  full: string,
  version: number | undefined,
  what: string,
): Promise<{ data: Record<string, unknown> | null; metadata: Record<string, unknown> }> {
  const body = await client.read<VersionRead>(version === undefined ? full : `${full}?version=${version}`);
  if (!body) throw new NotFound(`No value found at ${full}`);
  const metadata = body.data?.metadata;
  if (!metadata) throw new NotFound(`No metadata found at ${full}; ${what} only works on existing data`);
  return { data: body.data?.data ?? null, metadata };
}

/** `coffer kv patch|undelete|destroy|rollback` (KV version 2), as Vault's. */
export function registerKvVersions(kv: Command, ctx: CommandContext): void {
  addClientOptions(kv.command('patch'))
    .description('Change some keys of the current version, keeping the others (HTTP PATCH with a JSON merge patch)')
    .argument('<path>')
    .argument('[data...]')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--cas <n>', 'check-and-set: the version this patch expects to replace')
    .option('--remove-data <key...>', 'remove this key (repeatable)')
    .option('--method <method>', 'patch (HTTP PATCH) or rw (read, then write with cas); default: patch, falling back to rw')
    .option('--field <name>', 'print only this field of the response')
    .action(async (path: string, pairs: string[], opts: ClientOptions & KvOptions & PatchOptions) => {
      if (pairs.length === 0 && !opts.removeData)
        return runApi(ctx, 'patching', async () => Promise.reject(new LocalError('Must supply data', true)));
      const client = clientFor(ctx, opts);
      let full = path;
      await runApi(ctx, `writing data to ${path}`, async () => {
        if (opts.method !== undefined && opts.method !== 'patch' && opts.method !== 'rw') {
          throw new LocalError(`Unsupported method provided to -method flag: ${opts.method}`, true, 2);
        }
        const patch: Record<string, unknown> = await parseKeyValues(pairs, () => readAll(ctx.stdin));
        for (const key of opts.removeData ?? []) patch[key] = null;
        const target = await kvTarget(client, path, opts);
        requireV2(target, 'patch');
        full = kvPath(target, 'data');
        const readThenWrite = async () => {
          const current = await readVersion(client, full, undefined, 'patch');
          if (!current.data) throw new NotFound(`No data found at ${full}; patch only works on existing data`);
          const merged: Record<string, unknown> = { ...current.data, ...patch };
          for (const [k, v] of Object.entries(patch)) if (v === null) delete merged[k];
          return client.request<SecretEnvelope>('PUT', full, { data: merged, options: { cas: current.metadata.version } });
        };
        let res;
        if (opts.method === 'rw') {
          res = await readThenWrite();
        } else {
          try {
            res = await client.request<SecretEnvelope>('PATCH', full, {
              data: patch,
              options: opts.cas !== undefined ? { cas: Number(opts.cas) } : {},
            });
          } catch (err) {
            // Without -method, a server that refuses PATCH (405) or a policy without `patch` (403) gets the old way.
            if (opts.method !== undefined || !(err instanceof ApiError) || (err.status !== 405 && err.status !== 403)) throw err;
            res = await readThenWrite();
            if (err.status === 403) {
              ctx.output.err(
                `Data was written to ${full} but we recommend that you add the "patch" capability to your ACL policy in order to use HTTP PATCH in the future.\n`,
              );
            }
          }
        }
        const body = res.body;
        if (!body?.data) return ctx.output.out(`Success! Data written to: ${full}\n`);
        if (opts.field) return printField(ctx, opts, body.data[opts.field], opts.field);
        emit(ctx, opts, body, () => writeTable(full, body.data!));
      });
    });

  for (const [name, describe] of [
    ['undelete', 'Restore soft-deleted versions (-versions=1,2)'],
    ['destroy', 'Remove the data of versions for good (-versions=1,2)'],
  ] as const) {
    addClientOptions(kv.command(name))
      .description(describe)
      .argument('<path>')
      .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
      .option('--versions <list...>', 'the versions, comma-separated or repeated')
      .action(async (path: string, opts: ClientOptions & KvOptions & { versions?: string[] }) => {
        const client = clientFor(ctx, opts);
        await runApi(ctx, `writing data to ${path}`, async () => {
          const versions = versionList(opts.versions);
          if (versions.length === 0) throw new LocalError(`No versions provided, use the "-versions" flag to specify the version to ${name}.`, true);
          const target = await kvTarget(client, path, opts);
          if (target.version !== '2') throw new LocalError(`${name === 'undelete' ? 'Undelete' : 'Destroy'} not supported on KV Version 1`, true);
          const full = kvPath(target, name);
          await client.request('PUT', full, { versions });
          ctx.output.out(`Success! Data written to: ${full}\n`);
        });
      });
  }

  addClientOptions(kv.command('rollback'))
    .description('Write an earlier version again as the newest one')
    .argument('<path>')
    .option('--mount <path>', 'the KV mount; the argument is then the path inside it')
    .option('--version <n>', 'the version to restore')
    .action(async (path: string, opts: ClientOptions & KvOptions & { version?: string }) => {
      const client = clientFor(ctx, opts);
      await runApi(ctx, `writing data to ${path}`, async () => {
        if (opts.version === undefined) throw new LocalError('Version flag must be specified', true);
        const version = Number(opts.version);
        if (!Number.isInteger(version) || version <= 0) throw new LocalError(`Invalid value ${opts.version} for the version flag`, true);
        const target = await kvTarget(client, path, opts);
        requireV2(target, 'rollback');
        const full = kvPath(target, 'data');
        const current = await readVersion(client, full, undefined, 'rollback');
        const old = await readVersion(client, full, version, 'rollback');
        if (old.metadata.deletion_time) throw new LocalError('Cannot roll back to a version that has been deleted', true, 2);
        if (old.metadata.destroyed) throw new LocalError('Cannot roll back to a version that has been destroyed', true, 2);
        if (!old.data) throw new NotFound(`No data found at ${full}; rollback only works on existing data`);
        // cas = the version read first: a write that slipped in between makes the rollback fail instead of losing it.
        const res = await client.request<SecretEnvelope>('PUT', full, { data: old.data, options: { cas: current.metadata.version } });
        const body = res.body;
        if (!body?.data) return ctx.output.out(`Success! Data written to: ${full}\n`);
        emit(ctx, opts, body, () => dataTable(body.data!));
      });
    });
}
