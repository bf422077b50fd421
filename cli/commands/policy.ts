import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatJson } from '../io/output.js';
import { readAll } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, runApi, type ClientOptions, type CommandContext } from './command-context.js';

/** `coffer policy write|read|list|delete`. */
export function registerPolicy(program: Command, ctx: CommandContext): void {
  const policy = program.command('policy').description('Manage ACL policies');
  addClientOptions(policy.command('write'))
    .argument('<name>')
    .argument('<file>', 'policy file (HCL or JSON), or - for standard input')
    .action(async (name: string, file: string, opts: ClientOptions) => {
      await runApi(ctx, 'uploading policy', async () => {
        const text = file === '-' ? await readAll(ctx.stdin) : readFileSync(file, 'utf8');
        await clientFor(ctx, opts).request('PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { policy: text });
        ctx.output.out(`Success! Uploaded policy: ${name}\n`);
      });
    });
  addClientOptions(policy.command('read'))
    .argument('<name>')
    .action(async (name: string, opts: ClientOptions) => {
      await runApi(ctx, 'reading policy', async () => {
        const res = await clientFor(ctx, opts).request<{ data: { name: string; policy: string } }>('GET', `sys/policies/acl/${encodeURIComponent(name)}`);
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(res.body) : res.body!.data.policy.replace(/\n?$/, '\n'));
      });
    });
  addClientOptions(policy.command('list'))
    .action(async (opts: ClientOptions) => {
      await runApi(ctx, 'listing policies', async () => {
        const res = await clientFor(ctx, opts).request<{ data: { keys: string[] } }>('GET', 'sys/policies/acl?list=true');
        const keys = res.body!.data.keys;
        ctx.output.out(formatOf(ctx, opts) === 'json' ? formatJson(keys) : keys.map((k) => `${k}\n`).join(''));
      });
    });
  addClientOptions(policy.command('delete'))
    .argument('<name>')
    .action(async (name: string, opts: ClientOptions) => {
      await runApi(ctx, 'deleting policy', async () => {
        await clientFor(ctx, opts).request('DELETE', `sys/policies/acl/${encodeURIComponent(name)}`);
        ctx.output.out(`Success! Deleted policy: ${name}\n`);
      });
    });
}
