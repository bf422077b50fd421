import { Option, type Command } from 'commander';
import type { RekeyStatusResponse, RekeyVerifyStatusResponse } from '../../shared/api-types.js';
import type { VaultClient } from '../client/vault-client.js';
import { formatKeyValueTable, formatStructured } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';
import { readPgpKeyList } from './operator-init.js';
import { readSecret } from './operator-unseal.js';
import { promptLine } from '../io/prompt.js';

interface RekeyOptions extends ClientOptions {
  init?: boolean;
  cancel?: boolean;
  status?: boolean;
  keyShares: number;
  keyThreshold: number;
  nonce?: string;
  pgpKeys?: string;
  target: 'barrier' | 'recovery';
  verify?: boolean;
  backup?: boolean;
  backupRetrieve?: boolean;
  backupDelete?: boolean;
}

type Status = RekeyStatusResponse;

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new LocalError(`invalid number "${v}"`);
  return n;
};

function statusTable(s: Status): string {
  const progress = `${s.progress}/${s.required}${s.verification_required && s.verification_nonce ? ' (verification in progress)' : ''}`;
  const rows: Array<[string, string | number | boolean]> = [
    ['Nonce', s.nonce],
    ['Started', s.started],
    ['Rekey Progress', progress],
    ['New Shares', s.n],
    ['New Threshold', s.t],
    ['Verification Required', s.verification_required],
  ];
  if (s.verification_nonce) rows.push(['Verification Nonce', s.verification_nonce]);
  if (s.pgp_fingerprints) rows.push(['PGP Fingerprints', `[${s.pgp_fingerprints.join(' ')}]`], ['Backup', s.backup]);
  return formatKeyValueTable(rows);
}

function verifyTable(s: RekeyVerifyStatusResponse): string {
  return formatKeyValueTable([
    ['Started', s.started],
    ['New Shares', s.n],
    ['New Threshold', s.t],
    ['Verification Nonce', s.nonce],
    ['Verification Progress', `${s.progress}/${s.t}`],
  ]);
}

/** What a key holder is about to authorise. */
function operationTable(s: Status & { started_time?: string }, target: string): string {
  const rows: Array<[string, string | number | boolean]> = [
    ['Target', target],
    ['Started At', s.started_time ?? 'unknown'],
    ['New Shares', s.n],
    ['New Threshold', s.t],
    ['PGP Fingerprints', s.pgp_fingerprints ? `[${s.pgp_fingerprints.join(' ')}]` : 'none: the new shares will be returned in plain text'],
    ['Backup', s.backup],
    ['Verification Required', s.verification_required],
  ];
  return formatKeyValueTable(rows);
}

/** `coffer operator rekey`, with Vault's flags, prompts and output. */
export function registerOperatorRekey(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('rekey'))
    .description('Generate new unseal (or recovery) key shares, authorised by a quorum of the current ones')
    .argument('[key]', 'a current share (prompted for when not given; "-" reads standard input)')
    .option('--init', 'start a rekey')
    .option('--cancel', 'cancel the rekey (or, with -verify, reset the verification)')
    .option('--status', 'print the rekey status')
    .addOption(new Option('-n, --key-shares <n>', 'number of new shares').argParser(int).default(5))
    .addOption(new Option('-t, --key-threshold <n>', 'new threshold').argParser(int).default(3))
    .option('--nonce <nonce>', 'the rekey (or verification) nonce')
    .option('--pgp-keys <keys>', 'comma list of PGP key files or base64 keys, one per new share')
    .addOption(
      new Option('--target <target>', 'barrier or recovery')
        .choices(['barrier', 'recovery', 'hsm'])
        .default('barrier')
        .argParser((v) => (v === 'hsm' ? 'recovery' : v)),
    )
    .option('--verify', 'require (or perform) verification of the new shares')
    .option('--backup', 'store the PGP-encrypted new shares in Coffer')
    .option('--backup-retrieve', 'print the stored backup')
    .option('--backup-delete', 'delete the stored backup')
    .action(async (key: string | undefined, opts: RekeyOptions) => {
      const client = clientFor(ctx, opts);
      const base = opts.target === 'recovery' ? 'sys/rekey-recovery-key' : 'sys/rekey';
      const format = formatOf(ctx, opts);
      const json = format !== 'table';
      const formatJson = (v: unknown) => formatStructured(format, v);
      const backupPath = opts.target === 'recovery' ? 'sys/rekey/recovery-key-backup' : 'sys/rekey/backup';

      if (opts.backupRetrieve) {
        return runApi(ctx, 'retrieving backed-up unseal keys', async () => {
          const res = await client.request<{ data: { nonce: string; keys: Record<string, string[]>; keys_base64: Record<string, string[]> } }>(
            'GET',
            backupPath,
          );
          const d = res.body!.data;
          ctx.output.out(
            json
              ? formatJson(res.body)
              : formatKeyValueTable([
                  ['Nonce', d.nonce],
                  ['Keys', JSON.stringify(d.keys)],
                  ['KeysB64', JSON.stringify(d.keys_base64)],
                ]),
          );
        });
      }
      if (opts.backupDelete) {
        return runApi(ctx, 'deleting backed-up unseal keys', async () => {
          await client.request('DELETE', backupPath);
          ctx.output.out('Success! Delete stored keys (if they existed)\n');
        });
      }
      if (opts.init) {
        return runApi(ctx, 'initializing rekey', async () => {
          const pgpKeys = readPgpKeyList(opts.pgpKeys);
          const res = await client.request<Status>('PUT', `${base}/init`, {
            secret_shares: opts.keyShares,
            secret_threshold: opts.keyThreshold,
            pgp_keys: pgpKeys ?? null,
            backup: opts.backup === true,
            require_verification: opts.verify === true,
          });
          if (json) return ctx.output.out(formatJson(res.body));
          if (!pgpKeys) {
            ctx.output.err(
              'WARNING! The new key shares will be printed in plain text, and nothing can recover them if they\nare lost. To protect them, cancel and start again with -pgp-keys (and -backup to keep an\nencrypted copy in Coffer).\n\n',
            );
          } else if (!opts.backup) {
            ctx.output.err(
              'WARNING! The new key shares will be encrypted with PGP, but no copy is kept in Coffer: if the\nencrypted shares are lost they cannot be recovered. To keep a copy, cancel and start again with\n-backup.\n\n',
            );
          }
          ctx.output.out(statusTable(res.body!));
        });
      }
      if (opts.cancel) {
        return runApi(ctx, 'canceling rekey', async () => {
          await client.request('DELETE', `${base}/${opts.verify ? 'verify' : 'init'}`, opts.nonce ? { nonce: opts.nonce } : undefined);
          ctx.output.out('Success! Canceled rekeying (if it was started)\n');
        });
      }
      if (opts.status) {
        return runApi(ctx, 'reading rekey status', async () => {
          if (opts.verify) {
            const res = await client.request<RekeyVerifyStatusResponse>('GET', `${base}/verify`);
            return ctx.output.out(json ? formatJson(res.body) : verifyTable(res.body!));
          }
          const res = await client.request<Status>('GET', `${base}/init`);
          ctx.output.out(json ? formatJson(res.body) : statusTable(res.body!));
        });
      }
      await runApi(ctx, 'rekeying', () => provideKey(ctx, client, base, key, opts, json));
    });
}

/**
 * Sends one share. Before it does, the holder must know which operation the share authorises: anyone who can reach
 * the server can start a rekey (encrypting the new shares to their own PGP key), so a share is never sent to "the
 * current operation" blindly. At a terminal the operation is shown and must be confirmed; elsewhere -nonce is
 * required and must match.
 */
async function provideKey(
  ctx: CommandContext,
  client: VaultClient,
  base: string,
  key: string | undefined,
  opts: RekeyOptions,
  json: boolean,
): Promise<void> {
  const statusPath = `${base}/${opts.verify ? 'verify' : 'init'}`;
  const status = (await client.request<Status & { started_time?: string }>('GET', statusPath)).body!;
  if (!status.started) {
    throw new LocalError(`No rekey is in progress. Start a rekey process by running "coffer operator rekey -init".`);
  }
  const interactive = key === undefined && ctx.stdin.isTTY === true;
  if (key !== undefined && !opts.nonce) throw new LocalError('Missing nonce value: specify it via the -nonce flag');
  if (!interactive && !opts.nonce) {
    throw new LocalError(
      'Refusing to send a share without -nonce when not at a terminal: check the operation with "coffer operator rekey -status" and pass its nonce with -nonce',
    );
  }
  if (opts.nonce && opts.nonce !== status.nonce) {
    throw new LocalError(`The ${opts.verify ? 'verification' : 'rekey'} in progress has nonce ${status.nonce}, not ${opts.nonce}: no share was sent`);
  }
  let nonce = opts.nonce;
  if (interactive) {
    nonce = status.nonce;
    const operation = opts.verify ? (await client.request<Status & { started_time?: string }>('GET', `${base}/init`)).body! : status;
    ctx.output.out(`Rekey operation nonce: ${nonce}\n${operationTable(operation, opts.target)}\n`);
    const answer = (await promptLine('Send your share to this operation? Type "yes" to confirm: ', ctx.stdin, ctx.promptOutput)).trim();
    if (answer !== 'yes') throw new LocalError('Not confirmed: no share was sent');
  }
  const label = opts.target === 'recovery' ? 'Recovery Key' : 'Unseal Key';
  const share = await readSecret(ctx, key, `${label} (will be hidden): `);
  const res = await client.request<Record<string, unknown>>('PUT', `${base}/${opts.verify ? 'verify' : 'update'}`, { key: share, nonce });
  const body = res.body!;
  if (json) return ctx.output.out(formatStructured(formatOf(ctx, opts), body));
  if (!body.complete) {
    ctx.output.out(opts.verify ? verifyTable(body as never) : statusTable(body as unknown as Status));
    return;
  }
  if (opts.verify) {
    ctx.output.out('Success! Rekey verification successful. The rekey operation is complete and the new keys are now active.\n');
    return;
  }
  const keys = (body.keys_base64 as string[]) ?? [];
  const fingerprints = body.pgp_fingerprints as string[] | null;
  const lines = keys.map((k, i) => (fingerprints ? `Key ${i + 1} fingerprint: ${fingerprints[i]}; value: ${k}` : `Key ${i + 1}: ${k}`));
  lines.push('', `Operation nonce: ${String(body.nonce)}`, '');
  if (body.backup) {
    lines.push(
      `The encrypted unseal keys are backed up to "${opts.target === 'recovery' ? 'core/recovery-keys-backup' : 'core/unseal-keys-backup'}" in Coffer's storage. Remove them with "coffer operator rekey -backup-delete" once they are safe.`,
      '',
    );
  }
  // The threshold the server is applying, from the status read before the share was sent (not the flag default).
  const t = status.t;
  if (body.verification_required) {
    lines.push(
      `Coffer has created a new key, split into ${keys.length} key shares and a key threshold of ${t}. These will not be active until after verification is complete. Please securely distribute the key shares printed above. When Coffer is re-sealed, restarted, or stopped, you must still provide at least ${t} of the old key shares to unseal it until verification is complete.`,
      '',
      verifyTable({ nonce: String(body.verification_nonce), started: true, t, n: keys.length, progress: 0 }),
    );
  } else {
    lines.push(
      `Vault rekeyed with ${keys.length} key shares and a key threshold of ${t}. Please securely distribute the key shares printed above. When Vault is re-sealed, restarted, or stopped, you must supply at least ${t} of these keys to unseal it before it can start servicing requests.`,
      '',
    );
  }
  ctx.output.out(lines.join('\n'));
}
