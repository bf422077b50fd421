/**
 * Vault's CLI uses Go's flag package: `-key-shares=3`, `-key-shares 3`, `--key-shares=3` and `-init=true` all work.
 * Commander only knows `--long` options, so arguments are rewritten first: a single-dash long flag gets a second
 * dash, `-flag=true` becomes `--flag` and `-flag=false` is dropped. `-n`, `-` (stdin) and everything after `--`
 * are left alone.
 */
export function normalizeVaultArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const match = /^--?([a-zA-Z][a-zA-Z0-9-]+)(=(.*))?$/s.exec(arg);
    if (!match || (arg.startsWith('-') && !arg.startsWith('--') && match[1]!.length === 1)) {
      out.push(arg);
      continue;
    }
    const [, name, hasValue, value] = match;
    if (hasValue && /^(true|false)$/i.test(value!)) {
      if (value!.toLowerCase() === 'true') out.push(`--${name}`);
      continue;
    }
    out.push(hasValue ? `--${name}=${value}` : `--${name}`);
  }
  return out;
}
