import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import type { VaultClient } from '../client/vault-client.js';
import { formatKeyValueTable, formatStructured } from '../io/output.js';
import { promptLine } from '../io/prompt.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { readPgpKeyList } from './operator-init.js';
import { readSecret } from './operator-unseal.js';

interface GenerateRootOptions extends ClientOptions {
  init?: boolean;
  generateOtp?: boolean;
  otp?: string;
  pgpKey?: string;
  decode?: string;
  nonce?: string;
  status?: boolean;
  cancel?: boolean;
}

interface Attempt {
  started: boolean;
  nonce: string;
  progress: number;
  required: number;
  complete: boolean;
  encoded_token: string;
  encoded_root_token: string;
  pgp_fingerprint: string;
  otp: string;
  otp_length: number;
  started_time?: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PATH = 'sys/generate-root';

function attemptTable(a: Attempt): string {
  const rows: Array<[string, string | number | boolean]> = [
    ['Nonce', a.nonce],
    ['Started', a.started],
    ['Progress', `${a.progress}/${a.required}`],
    ['Complete', a.complete],
  ];
  if (a.pgp_fingerprint) rows.push(['PGP Fingerprint', a.pgp_fingerprint]);
  if (a.encoded_token) rows.push(['Encoded Token', a.encoded_token]);
  if (a.otp) rows.push(['OTP', a.otp]);
  rows.push(['OTP Length', a.otp_length]);
  return formatKeyValueTable(rows);
}

/** Vault's decoding: base64 (padding optional) of token XOR OTP. */
function decode(encoded: string, otp: string): string {
  const x = Buffer.from(encoded, 'base64');
  if (x.length !== otp.length) throw new LocalError('the encoded token and the OTP have different lengths');
  for (let i = 0; i < x.length; i++) x[i] = x[i]! ^ otp.charCodeAt(i);
  return x.toString('utf8');
}

/** `coffer operator generate-root`, with Vault's flags, prompts and output. */
export function registerOperatorGenerateRoot(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('generate-root'))
    .description('Generate a new root token from a quorum of unseal (or recovery) key shares')
    .argument('[key]', 'a share (prompted for when not given; "-" reads standard input)')
    .option('--init', 'start a root token generation')
    .option('--generate-otp', 'print a one-time password of the right length and exit')
    .option('--otp <otp>', 'the one-time password to encode the token with (-init) or decode it with (-decode)')
    .option('--pgp-key <key>', 'a PGP key file or base64 key to encrypt the token to, instead of an OTP')
    .option('--decode <encoded>', 'decode an encoded token with -otp ("-" reads standard input)')
    .option('--nonce <nonce>', 'the nonce of the attempt the share is for')
    .option('--status', 'print the status of the attempt')
    .option('--cancel', 'cancel the attempt (needs sudo once a share was submitted)')
    .action(async (key: string | undefined, opts: GenerateRootOptions) => {
      const format = formatOf(ctx, opts);
      if (opts.generateOtp) {
        return runApi(ctx, 'generating OTP', async () => {
          const client = clientFor(ctx, opts);
          const { otp_length: length } = (await client.request<Attempt>('GET', `${PATH}/attempt`)).body!;
          let otp = '';
          for (let i = 0; i < length; i++) otp += BASE62[randomInt(BASE62.length)]!;
          ctx.output.out(`${otp}\n`);
        });
      }
      if (opts.decode !== undefined) {
        return runApi(ctx, 'decoding root token', async () => {
          if (!opts.otp) throw new LocalError('-otp is required with -decode');
          const encoded = opts.decode === '-' ? await readSecret(ctx, '-', '') : opts.decode!;
          const token = decode(encoded.trim(), opts.otp);
          ctx.output.out(format === 'table' ? `${token}\n` : formatStructured(format, { token }));
        });
      }
      const client = clientFor(ctx, opts);
      if (opts.init) {
        return runApi(ctx, 'initializing root generation', async () => {
          const pgpKey = readPgpKeyList(opts.pgpKey)?.[0];
          const res = await client.request<Attempt>('PUT', `${PATH}/attempt`, {
            ...(opts.otp ? { otp: opts.otp } : {}),
            ...(pgpKey ? { pgp_key: pgpKey } : {}),
          });
          const body = res.body!;
          if (format !== 'table') return ctx.output.out(formatStructured(format, body));
          ctx.output.out(attemptTable(body));
          if (body.otp) {
            ctx.output.err(
              '\nA One-Time-Password has been generated for you and is shown in the OTP field. You will need this value to decode the resulting root token, so keep it safe.\n',
            );
          }
        });
      }
      if (opts.cancel) {
        return runApi(ctx, 'canceling root generation', async () => {
          await client.request('DELETE', `${PATH}/attempt`);
          ctx.output.out('Success! Root token generation canceled (if it was started)\n');
        });
      }
      if (opts.status) {
        return runApi(ctx, 'getting root generation status', async () => {
          const body = (await client.request<Attempt>('GET', `${PATH}/attempt`)).body!;
          ctx.output.out(format === 'table' ? attemptTable(body) : formatStructured(format, body));
        });
      }
      await runApi(ctx, 'providing unseal key', () => provideShare(ctx, client, key, opts, format === 'table'));
    });
}

/**
 * Sends one share — only to an attempt the holder has seen: at a terminal the attempt (nonce, start time, PGP
 * fingerprint or OTP delivery) is shown and must be confirmed; elsewhere -nonce is required and must match.
 */
async function provideShare(
  ctx: CommandContext,
  client: VaultClient,
  key: string | undefined,
  opts: GenerateRootOptions,
  table: boolean,
): Promise<void> {
  const attempt = (await client.request<Attempt>('GET', `${PATH}/attempt`)).body!;
  if (!attempt.started) throw new LocalError('No root generation is in progress. Start one with "coffer operator generate-root -init".');
  const interactive = key === undefined && ctx.stdin.isTTY === true;
  if (!interactive && !opts.nonce) {
    throw new LocalError(
      'Refusing to send a share without -nonce when not at a terminal: check the attempt with "coffer operator generate-root -status" and pass its nonce with -nonce',
    );
  }
  if (opts.nonce && opts.nonce !== attempt.nonce)
    throw new LocalError(`The root generation in progress has nonce ${attempt.nonce}, not ${opts.nonce}: no share was sent`);
  if (interactive) {
    const delivery = attempt.pgp_fingerprint
      ? `encrypted to PGP key ${attempt.pgp_fingerprint}`
      : 'encoded with the one-time password its requester holds';
    ctx.output.out(
      `Root generation operation nonce: ${attempt.nonce}\n${formatKeyValueTable([
        ['Started At', attempt.started_time ?? 'unknown'],
        ['Progress', `${attempt.progress}/${attempt.required}`],
        ['Token Delivery', delivery],
      ])}\n`,
    );
    const answer = (await promptLine('Send your share to this operation? Type "yes" to confirm: ', ctx.stdin, ctx.promptOutput)).trim();
    if (answer !== 'yes') throw new LocalError('Not confirmed: no share was sent');
  }
  const share = await readSecret(ctx, key, 'Unseal Key (will be hidden): ');
  const body = (await client.request<Attempt>('PUT', `${PATH}/update`, { key: share, nonce: opts.nonce ?? attempt.nonce })).body!;
  ctx.output.out(table ? attemptTable(body) : formatStructured(formatOf(ctx, opts), body));
}
