import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import HCL from 'js-hcl-parser';
import { formatHcl } from '../io/hcl-format.js';
import { readAll } from '../io/prompt.js';
import { addClientOptions, clientFor, emit, LocalError, NotFound, runApi, type ClientOptions, type CommandContext } from './command-context.js';

/**
 * Checks that `text` is HCL (or JSON) with only the keys a policy has, as `vault policy fmt` does before printing.
 * @throws LocalError naming the problem.
 */
function checkPolicy(text: string): void {
  const parsed = HCL.parse(text);
  if (!parsed.trimStart().startsWith('{')) throw new LocalError(`failed to parse policy: ${parsed.replace(/^unable to parse JSON: /, '')}`, true);
  for (const key of Object.keys(JSON.parse(parsed) as object)) {
    if (key !== 'path' && key !== 'name') throw new LocalError(`failed to parse policy: invalid key "${key}"`, true);
  }
}

/** `coffer policy write|read|list|delete|fmt`. */
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
      await runApi(ctx, `reading policy named ${name}`, async () => {
        const body = await clientFor(ctx, opts).read<{ data: { name: string; policy: string } }>(`sys/policies/acl/${encodeURIComponent(name)}`);
        if (!body?.data?.policy) throw new NotFound(`No policy named: ${name}`);
        emit(ctx, opts, body, () => `${body.data.policy.trim()}\n`);
      });
    });
  addClientOptions(policy.command('list')).action(async (opts: ClientOptions) => {
    await runApi(ctx, 'listing policies', async () => {
      const res = await clientFor(ctx, opts).request<{ data: { keys: string[] } }>('GET', 'sys/policies/acl?list=true');
      const keys = res.body!.data.keys;
      emit(ctx, opts, keys, () => keys.map((k) => `${k}\n`).join(''));
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
  policy
    .command('fmt')
    .description('Rewrite a policy file in the canonical HCL layout (checked first; nothing is sent to the server)')
    .argument('<file>')
    .action(async (file: string) => {
      await runApi(ctx, 'formatting policy', async () => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new LocalError(`Error reading source file: ${(err as Error).message}`, true);
        }
        checkPolicy(text);
        // A JSON policy has no HCL layout to normalise: it is checked and left as written.
        const formatted = text.trimStart().startsWith('{') ? text : formatHcl(text);
        writeFileSync(file, formatted);
        ctx.output.out(`Success! Formatted policy: ${file}\n`);
      });
    });
}
