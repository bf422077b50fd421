import HCL from 'js-hcl-parser';
import { CofferError } from '../errors.js';
import { parseDurationSeconds } from '../duration.js';

/** Vault's capabilities. `deny` overrides every other capability of the same path rule. */
export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Vault's legacy `policy = "..."` shorthand. */
const LEGACY: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'patch', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'],
};

/** A value a parameter constraint lists: strings may glob with a leading and/or trailing `*`. */
export type ParameterValue = string | number | boolean | null | ParameterValue[] | { [key: string]: ParameterValue };

/**
 * Vault's fine-grained rule fields. Parameter names are stored lower-cased (Vault compares them case-insensitively);
 * an empty value list means "any value". Wrapping TTLs are seconds, 0 = not set.
 */
export interface ParameterConstraints {
  readonly allowedParameters?: ReadonlyMap<string, readonly ParameterValue[]>;
  readonly deniedParameters?: ReadonlyMap<string, readonly ParameterValue[]>;
  readonly requiredParameters?: readonly string[];
  readonly minWrappingTtl?: number;
  readonly maxWrappingTtl?: number;
}

export interface PathRule extends ParameterConstraints {
  /** The pattern as written: exact, `*` as the last character (prefix), `+` as a whole segment. */
  readonly pattern: string;
  readonly capabilities: ReadonlySet<Capability>;
}

export interface Policy {
  readonly name: string;
  /** The text as the operator wrote it, returned by reads. */
  readonly text: string;
  readonly rules: readonly PathRule[];
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Policy names are case-insensitive in Vault and stored lower-cased. @throws CofferError `invalid_request`. */
export function normalisePolicyName(name: string): string {
  const lower = name.toLowerCase();
  if (!NAME.test(lower)) throw new CofferError('invalid_request', `invalid policy name "${name}"`);
  return lower;
}

/**
 * Parses policy text in HCL or JSON (`path "<pattern>" { capabilities = [...] }`).
 * @throws CofferError `invalid_request` with a message naming what is wrong.
 */
export function parsePolicy(name: string, text: string): Policy {
  const bad = (message: string): never => {
    throw new CofferError('invalid_request', `failed to parse policy: ${message}`);
  };
  if (text.trim() === '') bad('policy is empty');
  const out = HCL.parse(text);
  if (!out.trimStart().startsWith('{')) bad(out.replace(/^unable to parse JSON: /, ''));
  const raw = JSON.parse(out) as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (key !== 'path' && key !== 'name') bad(`unknown key "${key}"`);

  const rules: PathRule[] = [];
  const blocks = raw.path === undefined ? [] : Array.isArray(raw.path) ? raw.path : [raw.path];
  for (const block of blocks) {
    if (typeof block !== 'object' || block === null) bad('path blocks need a pattern: path "secret/*" { ... }');
    for (const [pattern, bodies] of Object.entries(block as Record<string, unknown>)) {
      for (const body of Array.isArray(bodies) ? bodies : [bodies]) {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) bad(`path "${pattern}" needs a block`);
        rules.push(parseRule(pattern, body as Record<string, unknown>, bad));
      }
    }
  }
  if (rules.length === 0) bad('policy has no path rules');
  return { name, text, rules };
}

function parseRule(pattern: string, body: Record<string, unknown>, bad: (m: string) => never): PathRule {
  const star = pattern.indexOf('*');
  if (star >= 0 && star !== pattern.length - 1) bad(`path "${pattern}": "*" is only allowed as the last character`);
  if (pattern.startsWith('/')) pattern = pattern.slice(1);
  const capabilities = new Set<Capability>();
  const constraints: { -readonly [K in keyof ParameterConstraints]: ParameterConstraints[K] } = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'capabilities') {
      if (!Array.isArray(value)) bad(`path "${pattern}": capabilities must be a list`);
      for (const cap of value as unknown[]) {
        const c = String(cap).toLowerCase();
        if (!(CAPABILITIES as readonly string[]).includes(c)) bad(`path "${pattern}": invalid capability "${String(cap)}"`);
        capabilities.add(c as Capability);
      }
    } else if (key === 'policy') {
      const legacy = LEGACY[String(value).toLowerCase()];
      if (!legacy) bad(`path "${pattern}": invalid policy "${String(value)}"`);
      for (const c of legacy) capabilities.add(c);
    } else if (key === 'allowed_parameters' || key === 'denied_parameters') {
      const map = parameterMap(value, `path "${pattern}": ${key}`, bad);
      if (key === 'allowed_parameters') constraints.allowedParameters = map;
      else constraints.deniedParameters = map;
    } else if (key === 'required_parameters') {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
        bad(`path "${pattern}": required_parameters must be a list of names`);
      }
      constraints.requiredParameters = [...new Set((value as string[]).map((v) => v.toLowerCase()))];
    } else if (key === 'min_wrapping_ttl' || key === 'max_wrapping_ttl') {
      let seconds: number;
      try {
        seconds = parseDurationSeconds(value, key);
      } catch {
        return bad(`path "${pattern}": ${key} must be a duration such as "90s" or a number of seconds`);
      }
      if (key === 'min_wrapping_ttl') constraints.minWrappingTtl = seconds;
      else constraints.maxWrappingTtl = seconds;
    } else {
      // mfa_methods, control_group, subscribe_event_types…: refused rather than silently not enforced.
      bad(`path "${pattern}": "${key}" is not supported`);
    }
  }
  if (constraints.minWrappingTtl && constraints.maxWrappingTtl && constraints.maxWrappingTtl < constraints.minWrappingTtl) {
    bad(`path "${pattern}": max_wrapping_ttl cannot be less than min_wrapping_ttl`);
  }
  return { pattern, capabilities, ...constraints };
}

/**
 * `{ "name" = [values…] }` (HCL gives a list of such objects, JSON one object). Names are lower-cased; `"*"` may
 * only have the empty list, as in Vault's documentation.
 */
function parameterMap(value: unknown, where: string, bad: (m: string) => never): Map<string, ParameterValue[]> {
  const objects = Array.isArray(value) ? value : [value];
  const out = new Map<string, ParameterValue[]>();
  for (const object of objects) {
    if (typeof object !== 'object' || object === null || Array.isArray(object)) bad(`${where} must be a map of parameter names to lists of values`);
    for (const [name, values] of Object.entries(object as Record<string, unknown>)) {
      if (!Array.isArray(values)) bad(`${where}: "${name}" must be a list of values ([] for any value)`);
      if (name === '*' && (values as unknown[]).length > 0) bad(`${where}: "*" only takes the empty list []`);
      const key = name.toLowerCase();
      const before = out.get(key);
      // The same name twice (in any case): an empty list ("any value") wins, else the lists add up.
      const list = values as ParameterValue[];
      out.set(key, before === undefined ? [...list] : before.length === 0 || list.length === 0 ? [] : [...before, ...list]);
    }
  }
  return out;
}

/**
 * Sort key of Vault's rule priority: a pattern whose first wildcard comes later wins; then one not ending in `*`;
 * then fewer `+` segments; then the longer; then the lexicographically greater. Exact patterns beat all globs.
 */
export function comparePriority(a: string, b: string): number {
  const wa = firstWildcard(a);
  const wb = firstWildcard(b);
  if (wa !== wb) return wa < wb ? -1 : 1;
  const sa = a.endsWith('*');
  const sb = b.endsWith('*');
  if (sa !== sb) return sa ? -1 : 1;
  const pa = a.split('/').filter((s) => s === '+').length;
  const pb = b.split('/').filter((s) => s === '+').length;
  if (pa !== pb) return pa > pb ? -1 : 1;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Character offset of the first `*` or `+` segment; Infinity for an exact pattern. */
function firstWildcard(pattern: string): number {
  let offset = 0;
  for (const segment of pattern.split('/')) {
    if (segment === '+') return offset;
    const star = segment.indexOf('*');
    if (star >= 0) return offset + star;
    offset += segment.length + 1;
  }
  return Infinity;
}

/** Whether `pattern` matches `path`: `+` is exactly one segment, a final `*` matches any suffix. */
export function patternMatches(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*');
  const patternSegments = (prefix ? pattern.slice(0, -1) : pattern).split('/');
  const pathSegments = path.split('/');
  if (!prefix && patternSegments.length !== pathSegments.length) return false;
  if (prefix && pathSegments.length < patternSegments.length) return false;
  for (let i = 0; i < patternSegments.length; i++) {
    const p = patternSegments[i]!;
    const s = pathSegments[i]!;
    const last = i === patternSegments.length - 1;
    if (p === '+') {
      if (s.length === 0 && !(prefix && last)) return false;
      continue;
    }
    if (prefix && last) return s.startsWith(p);
    if (p !== s) return false;
  }
  return true;
}
