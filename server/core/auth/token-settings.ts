import { CofferError } from '../errors.js';
import { normalisePolicyName } from '../policy/policy.js';
import { parseCidrs } from './cidr.js';
import type { TokenSettings } from './auth-method.js';
import { parseDurationSeconds } from '../go-duration.js';

type Body = Record<string, unknown>;

function list(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

function bool(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(value))) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(String(value))) return false;
  throw new CofferError('invalid_request', `invalid value for "${field}": expected a boolean`);
}

function int(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new CofferError('invalid_request', `invalid value for "${field}": expected a non-negative integer`);
  return n;
}

export const NO_TOKEN_SETTINGS: TokenSettings = {
  policies: [],
  ttl: 0,
  maxTtl: 0,
  explicitMaxTtl: 0,
  period: 0,
  numUses: 0,
  noDefaultPolicy: false,
  boundCidrs: [],
};

/**
 * Applies the `token_*` fields of a role or user body (and their legacy aliases `policies`, `period`, `ttl`,
 * `max_ttl`, `bound_cidrs`) to `current`. Only fields present in the body change.
 * @throws CofferError `invalid_request`: a bad value, `token_type` other than service, `token_ttl` over `token_max_ttl`.
 */
export function applyTokenSettings(current: TokenSettings, body: Body): TokenSettings {
  const next = { ...current, policies: [...current.policies], boundCidrs: [...current.boundCidrs] };
  const pick = (name: string, legacy?: string) =>
    body[name] !== undefined ? ([name, body[name]] as const) : legacy && body[legacy] !== undefined ? ([legacy, body[legacy]] as const) : undefined;
  const policies = pick('token_policies', 'policies');
  if (policies) next.policies = list(policies[1]).map(normalisePolicyName);
  const ttl = pick('token_ttl', 'ttl');
  if (ttl) next.ttl = parseDurationSeconds(ttl[1], ttl[0]);
  const maxTtl = pick('token_max_ttl', 'max_ttl');
  if (maxTtl) next.maxTtl = parseDurationSeconds(maxTtl[1], maxTtl[0]);
  const explicit = pick('token_explicit_max_ttl');
  if (explicit) next.explicitMaxTtl = parseDurationSeconds(explicit[1], explicit[0]);
  const period = pick('token_period', 'period');
  if (period) next.period = parseDurationSeconds(period[1], period[0]);
  const uses = pick('token_num_uses');
  if (uses) next.numUses = int(uses[1], uses[0]);
  const noDefault = pick('token_no_default_policy');
  if (noDefault) next.noDefaultPolicy = bool(noDefault[1], noDefault[0]);
  const cidrs = pick('token_bound_cidrs', 'bound_cidrs');
  if (cidrs) next.boundCidrs = parseCidrs(cidrs[1], cidrs[0]);
  const type = body.token_type;
  if (type !== undefined && type !== 'service' && type !== 'default' && type !== 'default-service') {
    throw new CofferError('invalid_request', `invalid value for "token_type": Coffer issues service tokens only`);
  }
  if (next.maxTtl > 0 && next.ttl > next.maxTtl)
    throw new CofferError('invalid_request', '"token_ttl" value must be less than "token_max_ttl" value');
  return next;
}

/** The `token_*` fields as Vault shows them on a role or user read. */
export function describeTokenSettings(s: TokenSettings): Record<string, unknown> {
  return {
    token_policies: s.policies,
    policies: s.policies,
    token_ttl: s.ttl,
    token_max_ttl: s.maxTtl,
    token_explicit_max_ttl: s.explicitMaxTtl,
    token_period: s.period,
    period: s.period,
    token_num_uses: s.numUses,
    token_no_default_policy: s.noDefaultPolicy,
    token_bound_cidrs: s.boundCidrs,
    token_type: 'default',
  };
}
