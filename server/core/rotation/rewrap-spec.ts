import { CofferError } from '../errors.js';

/** A validated rewrap job spec (see docs/rotation.md for the YAML form). */
export interface RewrapSpec {
  readonly description: string;
  readonly selection: {
    /** API paths as clients see them (`secret/app/`), OR-ed; `[""]` is the whole barrier. */
    readonly prefixes: readonly string[];
    /** Wildcard patterns (`*`, `?`) on API paths, OR-ed. */
    readonly exclude: readonly string[];
    /** Undefined: every readable term below the target. */
    readonly sourceTerms: readonly number[] | undefined;
    /** Seconds: select a term only when the NEXT term was installed at least this long ago (the term is surely older). */
    readonly olderThanSeconds: number | undefined;
    /** Seconds: select a term only when it was installed at most this long ago. */
    readonly newerThanSeconds: number | undefined;
  };
  readonly target: 'latest' | 'pinned';
  readonly execution: { readonly batchSize: number; readonly maxEntriesPerSecond: number | undefined };
  readonly retry: { readonly attempts: number; readonly delayMs: number };
  readonly notify:
    | {
        readonly endpoint: string;
        readonly token: string | undefined;
        readonly hmacSecret: string | undefined;
        readonly progressEveryPercent: number | undefined;
      }
    | undefined;
  readonly dryRun: boolean;
}

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;
export const MAX_RETRY_ATTEMPTS = 20;

/** A spec problem: the dotted field and, for YAML, the 1-based line. */
export class SpecError extends CofferError {
  readonly field: string;
  readonly line: number | undefined;
  constructor(field: string, message: string, line?: number) {
    super('invalid_request', `${field}${line !== undefined ? ` (line ${line})` : ''}: ${message}`);
    this.field = field;
    this.line = line;
  }
}

type Json = Record<string, unknown>;
/** Finds the line of a dotted field in the source document (YAML); undefined for JSON. */
export type LineOf = (path: readonly (string | number)[]) => number | undefined;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Validates a spec object: the AIStor-style `{rewrap: {...}}` or the inner object itself. Unknown keys and bad
 * values are refused with the field's dotted name (and line, when `lineOf` knows it); nothing is silently ignored.
 * @throws SpecError.
 */
export function parseRewrapSpec(input: unknown, lineOf: LineOf = () => undefined): RewrapSpec {
  const fail = (path: (string | number)[], message: string): never => {
    throw new SpecError(path.join('.') || 'spec', message, lineOf(path));
  };
  const obj = (value: unknown, path: (string | number)[], allowed: readonly string[]): Json => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'must be a mapping');
    const o = value as Json;
    for (const key of Object.keys(o)) if (!allowed.includes(key)) fail([...path, key], `unknown field (allowed: ${allowed.join(', ')})`);
    return o;
  };
  let root: (string | number)[] = [];
  let body = input;
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && Object.keys(input).length === 1 && 'rewrap' in input) {
    root = ['rewrap'];
    body = (input as Json).rewrap;
  }
  const top = obj(body, root, ['apiVersion', 'description', 'selection', 'target', 'execution', 'retry', 'notify', 'dryRun']);
  const at = (...p: (string | number)[]) => [...root, ...p];
  if (top.apiVersion !== 'v1') fail(at('apiVersion'), 'must be "v1"');
  const str = (v: unknown, path: (string | number)[]): string => (typeof v === 'string' ? v : fail(path, 'must be a string'));
  const strList = (v: unknown, path: (string | number)[]): string[] => {
    if (!Array.isArray(v)) fail(path, 'must be a list of strings');
    return (v as unknown[]).map((s, i) => str(s, [...path, i]));
  };
  const intIn = (v: unknown, path: (string | number)[], min: number, max: number): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(path, `must be an integer from ${min} to ${max}`);
  const duration = (v: unknown, path: (string | number)[]): number => {
    if (typeof v !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/.test(v.trim()))
      return fail(path, 'must be a duration such as "250ms", "72h" or "30d"');
    let ms = 0;
    for (const [, n, , unit] of v.trim().matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) ms += Number(n) * DURATION_UNITS[unit!]!;
    return Math.floor(ms);
  };

  const description = top.description === undefined ? '' : str(top.description, at('description'));
  if (description.length > 1024) fail(at('description'), 'must be at most 1024 characters');

  const sel =
    top.selection === undefined ? {} : obj(top.selection, at('selection'), ['prefixes', 'exclude', 'sourceTerms', 'olderThan', 'newerThan']);
  const prefixes = sel.prefixes === undefined ? [''] : strList(sel.prefixes, at('selection', 'prefixes'));
  if (prefixes.length === 0) fail(at('selection', 'prefixes'), 'must name at least one prefix (use "" for everything)');
  prefixes.forEach((p, i) => {
    if (p.startsWith('/') || p.includes('\0') || p.split('/').some((seg) => seg === '..'))
      fail(at('selection', 'prefixes', i), 'must be a relative API path');
  });
  const exclude = sel.exclude === undefined ? [] : strList(sel.exclude, at('selection', 'exclude'));
  exclude.forEach((p, i) => {
    if (p.length === 0) fail(at('selection', 'exclude', i), 'must not be empty');
  });
  let sourceTerms: number[] | undefined;
  if (sel.sourceTerms !== undefined) {
    if (!Array.isArray(sel.sourceTerms) || sel.sourceTerms.length === 0) fail(at('selection', 'sourceTerms'), 'must be a non-empty list of terms');
    sourceTerms = (sel.sourceTerms as unknown[]).map((t, i) => intIn(t, at('selection', 'sourceTerms', i), 1, 2 ** 32 - 1));
  }
  const olderThanSeconds = sel.olderThan === undefined ? undefined : duration(sel.olderThan, at('selection', 'olderThan')) / 1000;
  const newerThanSeconds = sel.newerThan === undefined ? undefined : duration(sel.newerThan, at('selection', 'newerThan')) / 1000;

  let target: 'latest' | 'pinned' = 'latest';
  if (top.target !== undefined) {
    const t = typeof top.target === 'string' ? top.target : obj(top.target, at('target'), ['term']).term;
    const path = typeof top.target === 'string' ? at('target') : at('target', 'term');
    if (t !== 'latest' && t !== 'pinned') fail(path, 'must be "latest" or "pinned"');
    target = t as 'latest' | 'pinned';
  }

  const exe = top.execution === undefined ? {} : obj(top.execution, at('execution'), ['batchSize', 'maxEntriesPerSecond']);
  const batchSize = exe.batchSize === undefined ? DEFAULT_BATCH_SIZE : intIn(exe.batchSize, at('execution', 'batchSize'), 1, MAX_BATCH_SIZE);
  let maxEntriesPerSecond: number | undefined;
  if (exe.maxEntriesPerSecond !== undefined) {
    const v = exe.maxEntriesPerSecond;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(at('execution', 'maxEntriesPerSecond'), 'must be a positive number');
    maxEntriesPerSecond = v as number;
  }

  const rt = top.retry === undefined ? {} : obj(top.retry, at('retry'), ['attempts', 'delay']);
  const attempts = rt.attempts === undefined ? 3 : intIn(rt.attempts, at('retry', 'attempts'), 0, MAX_RETRY_ATTEMPTS);
  const delayMs = rt.delay === undefined ? 250 : duration(rt.delay, at('retry', 'delay'));
  if (delayMs > 600_000) fail(at('retry', 'delay'), 'must be at most 10m');

  let notify: RewrapSpec['notify'];
  if (top.notify !== undefined) {
    const n = obj(top.notify, at('notify'), ['endpoint', 'token', 'hmacSecret', 'progressEveryPercent']);
    const endpoint = str(n.endpoint, at('notify', 'endpoint'));
    const problem = endpointProblem(endpoint);
    if (problem) fail(at('notify', 'endpoint'), problem);
    const token = n.token === undefined ? undefined : str(n.token, at('notify', 'token'));
    const hmacSecret = n.hmacSecret === undefined ? undefined : str(n.hmacSecret, at('notify', 'hmacSecret'));
    if (hmacSecret !== undefined && hmacSecret.length < 16) fail(at('notify', 'hmacSecret'), 'must be at least 16 characters');
    const progressEveryPercent =
      n.progressEveryPercent === undefined ? undefined : intIn(n.progressEveryPercent, at('notify', 'progressEveryPercent'), 1, 100);
    notify = { endpoint, token, hmacSecret, progressEveryPercent };
  }

  let dryRun = false;
  if (top.dryRun !== undefined) {
    if (typeof top.dryRun !== 'boolean') fail(at('dryRun'), 'must be true or false');
    dryRun = top.dryRun as boolean;
  }
  return {
    description,
    selection: { prefixes, exclude, sourceTerms, olderThanSeconds, newerThanSeconds },
    target,
    execution: { batchSize, maxEntriesPerSecond },
    retry: { attempts, delayMs },
    notify,
    dryRun,
  };
}

/** Why a webhook endpoint is refused: only `https://`, or `http://` to a loopback address. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials (use notify.token)';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return undefined;
    return 'http:// is allowed only to a loopback address; use https://';
  }
  return 'must be an https:// URL';
}

/** The spec as shown back: secrets replaced. */
export function redactedSpec(spec: RewrapSpec): Record<string, unknown> {
  return {
    ...spec,
    notify: spec.notify
      ? {
          endpoint: spec.notify.endpoint,
          token: spec.notify.token === undefined ? null : '**REDACTED**',
          hmacSecret: spec.notify.hmacSecret === undefined ? null : '**REDACTED**',
          progressEveryPercent: spec.notify.progressEveryPercent ?? null,
        }
      : null,
  };
}
