import { LocalError, type ClientOptions, type CommandContext, formatOf } from '../commands/command-context.js';
import { goCell, goQuotedList, goValue, humanDuration } from './go-format.js';
import { formatKeyValueTable, formatStructured } from './output.js';

/** The response envelope of a logical request, as the Go client's `api.Secret` sees it. */
export interface SecretEnvelope {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: Record<string, unknown> | null;
  auth?: AuthInfo | null;
  warnings?: string[] | null;
}

export interface AuthInfo {
  client_token: string;
  accessor: string;
  policies: string[] | null;
  token_policies: string[] | null;
  identity_policies?: string[] | null;
  lease_duration: number;
  renewable: boolean;
}

/** Vault's warning block, printed on stderr before a table. */
export function warningsText(envelope: SecretEnvelope | undefined): string {
  const warnings = envelope?.warnings ?? [];
  if (warnings.length === 0) return '';
  return `WARNING! The following warnings were returned from Vault:\n\n${warnings.map((w) => `  * ${w}`).join('\n\n')}\n\n`;
}

/** Rows for an `auth` block: token, accessor, duration (`∞` for none), renewable and the three policy lists. */
export function authRows(auth: AuthInfo): Array<[string, string | boolean]> {
  return [
    ['token', auth.client_token],
    ['token_accessor', auth.accessor],
    ['token_duration', auth.lease_duration === 0 ? '∞' : humanDuration(auth.lease_duration)],
    ['token_renewable', auth.renewable],
    ['token_policies', goQuotedList(auth.token_policies ?? [])],
    ['identity_policies', goQuotedList(auth.identity_policies ?? [])],
    ['policies', goQuotedList(auth.policies ?? [])],
  ];
}

/**
 * A whole response as Vault's table prints it: lease rows (or `refresh_interval` for a lease without an id, as KV
 * v1 answers), the auth rows, then the data sorted by key.
 */
export function secretTable(envelope: SecretEnvelope): string {
  const rows: Array<[string, string | number | boolean]> = [];
  const lease = envelope.lease_duration ?? 0;
  if (lease > 0) {
    if (envelope.lease_id) {
      rows.push(['lease_id', envelope.lease_id], ['lease_duration', humanDuration(lease)], ['lease_renewable', envelope.renewable ?? false]);
    } else {
      rows.push(['refresh_interval', humanDuration(lease)]);
    }
  }
  if (envelope.auth) rows.push(...authRows(envelope.auth));
  const data = envelope.data ?? {};
  const keys = Object.keys(data).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  rows.push(...keys.map((k) => [k, goCell(k, data[k])] as [string, string]));
  return rows.length === 0 ? '' : formatKeyValueTable(rows);
}

/** The value `-field=<name>` picks from a response, as Vault's CLI picks it (`data` is the whole map on KV v1). */
export function rawSecretField(envelope: SecretEnvelope, field: string): unknown {
  const data = envelope.data ?? {};
  if (envelope.auth) {
    const auth = envelope.auth;
    const fromAuth: Record<string, unknown> = {
      token: auth.client_token,
      token_accessor: auth.accessor,
      token_duration: auth.lease_duration,
      token_renewable: auth.renewable,
      token_policies: auth.token_policies,
      identity_policies: auth.identity_policies ?? [],
      policies: auth.policies,
    };
    if (field in fromAuth) return fromAuth[field];
  }
  switch (field) {
    case 'lease_duration':
    case 'refresh_interval':
      return envelope.lease_duration;
    case 'lease_id':
      return envelope.lease_id;
    case 'request_id':
      return envelope.request_id;
    case 'renewable':
      return envelope.renewable;
    case 'data':
      return 'data' in data ? data.data : data;
    default:
      return data[field];
  }
}

/**
 * Prints one field as Vault's `-field` does: `%v` of the value (a map as `map[k:v]`), without a trailing newline
 * when standard output is not a terminal, so `$(coffer read -field=x …)` and redirects get the bare value.
 * @throws LocalError `Field "<name>" not present in secret` (exit 1).
 */
export function printField(ctx: CommandContext, opts: ClientOptions, value: unknown, field: string, typeName = 'secret'): void {
  if (value === undefined || value === null) throw new LocalError(`Field "${field}" not present in ${typeName}`, true);
  const format = formatOf(ctx, opts);
  if (format !== 'table') return ctx.output.out(formatStructured(format, value));
  ctx.output.out(goValue(value) + (ctx.output.isTTY ? '\n' : ''));
}
