import { readFileSync } from 'node:fs';
import { LocalError } from '../commands/command-context.js';

/**
 * `key=value` arguments as `vault write` / `vault kv put` take them. `key=@file` reads a file and `key=-` reads
 * standard input (`stdinText`), so secret values need not appear in argv.
 */
export function parseKeyValues(args: readonly string[], stdinText: () => Promise<string>): Promise<Record<string, string>> {
  return (async () => {
    const out: Record<string, string> = {};
    for (const arg of args) {
      const eq = arg.indexOf('=');
      if (eq <= 0) throw new LocalError(`invalid key/value pair "${arg.split('=')[0]}": format must be key=value`);
      const key = arg.slice(0, eq);
      const value = arg.slice(eq + 1);
      if (value === '-') out[key] = (await stdinText()).replace(/\r?\n$/, '');
      else if (value.startsWith('@')) out[key] = readFileSync(value.slice(1), 'utf8');
      else out[key] = value;
    }
    return out;
  })();
}

/** Prints a list response as Vault does: `Keys`, a dashed line, one key per line. */
export function formatKeys(keys: readonly string[]): string {
  return ['Keys', '----', ...keys].join('\n') + '\n';
}
