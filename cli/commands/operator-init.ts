import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { InitRequestBody, InitResponse, SealStatusResponse } from '../../shared/api-types.js';
import { formatStructured, type OutputFormat } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface InitOptions extends ClientOptions {
  keyShares: number;
  keyThreshold: number;
  pgpKeys?: string;
  rootTokenPgpKey?: string;
  recoveryShares: number;
  recoveryThreshold: number;
  recoveryPgpKeys?: string;
  status?: boolean;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new LocalError(`invalid number "${v}"`);
  return n;
};

/**
 * A comma list of PGP keys, each a file (optionally prefixed with `@`) or a base64 key. Files may hold a binary
 * key, its base64, or an armored key; the server receives base64 (of the binary key or of the armor).
 */
export function readPgpKeyList(list: string | undefined): string[] | undefined {
  if (!list) return undefined;
  return list.split(',').map((item) => {
    const name = item.trim().replace(/^@/, '');
    if (!existsSync(name)) return name;
    const bytes = readFileSync(name);
    const text = bytes.toString('utf8').trim();
    if (text.startsWith('-----BEGIN PGP')) return Buffer.from(text).toString('base64');
    if (/^[A-Za-z0-9+/=\s]+$/.test(text)) return text.replace(/\s+/g, '');
    return bytes.toString('base64');
  });
}

export function registerOperatorInit(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('init'))
    .description('Initialise a server: create the root key, unseal key shares and root token')
    .addOption(new Option('-n, --key-shares <n>', 'number of unseal key shares').argParser(int).default(5))
    .addOption(new Option('-t, --key-threshold <n>', 'shares needed to unseal').argParser(int).default(3))
    .option('--pgp-keys <keys>', 'comma list of PGP key files or base64 keys, one per share')
    .option('--root-token-pgp-key <key>', 'PGP key file or base64 key to encrypt the root token')
    .addOption(new Option('--recovery-shares <n>').argParser(int).default(5))
    .addOption(new Option('--recovery-threshold <n>').argParser(int).default(3))
    .option('--recovery-pgp-keys <keys>')
    .option('--status', 'print whether the server is initialised (exit 0 yes, 2 no)')
    .action(async (opts: InitOptions) => {
      const client = clientFor(ctx, opts);
      if (opts.status) {
        await runApi(ctx, 'checking init status', async () => {
          const { body } = await client.request<{ initialized: boolean }>('GET', 'sys/init');
          ctx.output.out(body?.initialized ? 'Vault is initialized\n' : 'Vault is not initialized\n');
          ctx.setExitCode(body?.initialized ? 0 : 2);
        });
        return;
      }
      await runApi(ctx, 'initializing', async () => {
        const status = (await client.request<SealStatusResponse>('GET', 'sys/seal-status')).body!;
        const request: InitRequestBody = status.recovery_seal
          ? {
              recovery_shares: opts.recoveryShares,
              recovery_threshold: opts.recoveryThreshold,
              recovery_pgp_keys: readPgpKeyList(opts.recoveryPgpKeys) ?? null,
              root_token_pgp_key: readPgpKeyList(opts.rootTokenPgpKey)?.[0] ?? '',
            }
          : {
              secret_shares: opts.keyShares,
              secret_threshold: opts.keyThreshold,
              pgp_keys: readPgpKeyList(opts.pgpKeys) ?? null,
              root_token_pgp_key: readPgpKeyList(opts.rootTokenPgpKey)?.[0] ?? '',
            };
        const result = (await client.request<InitResponse>('PUT', 'sys/init', request)).body!;
        ctx.output.out(renderInit(result, opts, formatOf(ctx, opts), status.recovery_seal));
      });
    });
}

function renderInit(result: InitResponse, opts: InitOptions, format: OutputFormat, recoverySeal: boolean): string {
  const keysB64 = result.keys_base64.length === result.keys.length ? result.keys_base64 : result.keys;
  const recoveryHex = result.recovery_keys ?? [];
  const recoveryB64 = result.recovery_keys_base64 ?? recoveryHex;
  if (format !== 'table') {
    return formatStructured(format, {
      unseal_keys_b64: result.keys_base64,
      unseal_keys_hex: result.keys,
      unseal_shares: result.keys.length > 0 ? opts.keyShares : 1,
      unseal_threshold: result.keys.length > 0 ? opts.keyThreshold : 1,
      recovery_keys_b64: recoveryB64,
      recovery_keys_hex: recoveryHex,
      recovery_keys_shares: recoverySeal ? opts.recoveryShares : 0,
      recovery_keys_threshold: recoverySeal ? opts.recoveryThreshold : 0,
      root_token: result.root_token,
    });
  }
  const lines: string[] = [];
  keysB64.forEach((k, i) => lines.push(`Unseal Key ${i + 1}: ${k}`));
  recoveryB64.forEach((k, i) => lines.push(`Recovery Key ${i + 1}: ${k}`));
  lines.push('', `Initial Root Token: ${result.root_token}`, '');
  if (recoverySeal) {
    lines.push(
      'Success! Vault is initialized',
      '',
      `Recovery key initialized with ${opts.recoveryShares} key shares and a key threshold of ${opts.recoveryThreshold}. Please securely`,
      'distribute the key shares printed above.',
    );
  } else {
    const t = opts.keyThreshold;
    lines.push(
      `Vault initialized with ${opts.keyShares} key shares and a key threshold of ${t}. Please securely`,
      'distribute the key shares printed above. When the Vault is re-sealed,',
      `restarted, or stopped, you must supply at least ${t} of these keys to unseal it`,
      'before it can start servicing requests.',
      '',
      `Vault does not store the generated root key. Without at least ${t} keys to`,
      'reconstruct the root key, Vault will remain permanently sealed!',
      '',
      'It is possible to generate new unseal keys, provided you have a quorum of',
      'existing unseal keys shares. See "vault operator rekey" for more information.',
    );
  }
  return lines.join('\n') + '\n';
}
