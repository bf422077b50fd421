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

/**
 * Takes Vault's global `-output-curl-string` flag out of the arguments wherever it stands (before `--`), since
 * Vault accepts it before or after the command name.
 */
export function extractGlobalFlags(argv: readonly string[]): { args: string[]; outputCurlString: boolean } {
  const args: string[] = [];
  let outputCurlString = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const m = /^--?output-curl-string(?:=(.*))?$/i.exec(arg);
    if (m) {
      outputCurlString = m[1] === undefined || /^(1|t|true)$/i.test(m[1]);
      continue;
    }
    args.push(arg);
  }
  return { args, outputCurlString };
}
