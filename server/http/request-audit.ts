import type { AuditBroker } from '../core/audit/audit-broker.js';
import type { AuditAuth, AuditEntry, AuditRequest } from '../core/audit/audit-record.js';
import { rfc3339Nano, type Clock } from '../core/clock.js';
import type { MountTable } from '../core/mounts/mount-table.js';
import type { TokenRecord, TokenStore } from '../core/token/token-store.js';
import type { Method, Reply } from './routes/route-table.js';

/**
 * Paths never audited, as in Vault: they work while sealed (when no device is loaded) or carry nothing to attribute.
 * The key-holder endpoints (`sys/rekey*`, `sys/generate-root*`) ARE audited, unlike Vault.
 */
const NOT_AUDITED = new Set(['sys/init', 'sys/seal-status', 'sys/seal', 'sys/unseal', 'sys/leader', 'sys/health', 'sys/metrics']);

const OPERATION: Record<Method, string> = { GET: 'read', LIST: 'list', DELETE: 'delete', PATCH: 'patch', PUT: 'update' };

/** What the pipeline knows of a request before its handler runs. */
export interface AuditedRequest {
  method: Method;
  /** Below `/v1/`, as sent. */
  path: string;
  body: Readonly<Record<string, unknown>>;
  query: Readonly<Record<string, string>>;
  token: string | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

/** One request's pair of records; `request()` before the handler, `response()` after it. */
export interface AuditTrail {
  /** @throws CofferError `internal` when no device logged it: the handler must not run. */
  request(): Promise<void>;
  /** @throws CofferError `internal` when no device logged it: the client gets a 500 instead of the reply. */
  response(reply: Reply): Promise<void>;
}

/**
 * Builds audit records from HTTP requests and replies for the broker. The token is resolved with `lookup`, which
 * does not consume a use of a limited-use token (the handler's own authentication does).
 */
export class RequestAuditor {
  readonly #broker: AuditBroker;
  readonly #tokens: TokenStore;
  readonly #mounts: MountTable;
  readonly #clock: Clock;

  constructor(deps: { broker: AuditBroker; tokens: TokenStore; mounts: MountTable; clock: Clock }) {
    this.#broker = deps.broker;
    this.#tokens = deps.tokens;
    this.#mounts = deps.mounts;
    this.#clock = deps.clock;
  }

  /** The trail for `req`, or undefined when no device is enabled or the path is not audited. */
  begin(req: AuditedRequest): AuditTrail | undefined {
    if (!this.#broker.enabled || NOT_AUDITED.has(req.path)) return undefined;
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      path = req.path;
    }
    const operation = OPERATION[req.method];
    // A private copy: what the request record says is what the client sent, whatever the handler does afterwards.
    const dataSource = req.method === 'GET' || req.method === 'LIST' ? withoutListMarker(req.query) : req.body;
    const data = Object.keys(dataSource).length > 0 ? (JSON.parse(JSON.stringify(dataSource)) as unknown) : undefined;
    const request: AuditRequest = {
      id: crypto.randomUUID(),
      operation,
      path,
      ...this.#mountOf(path),
      ...(req.token ? { client_token: req.token } : {}),
      ...(data !== undefined ? { data } : {}),
      ...(req.remoteAddress ? { remote_address: req.remoteAddress } : {}),
      ...(req.remotePort ? { remote_port: req.remotePort } : {}),
    };
    let auth: AuditAuth | undefined;
    return {
      request: async () => {
        const record = req.token ? await this.#tokens.lookup(req.token).catch(() => undefined) : undefined;
        if (record) {
          auth = this.#authOf(req.token!, record);
          request.client_token_accessor = record.accessor;
        }
        await this.#broker.logRequest({ type: 'request', time: rfc3339Nano(this.#clock.now()), ...(auth ? { auth } : {}), request });
      },
      response: async (reply) => {
        const entry: AuditEntry = {
          type: 'response',
          time: rfc3339Nano(this.#clock.now()),
          ...(auth ? { auth } : {}),
          request,
          response: { status_code: reply.status },
        };
        describeReply(reply, entry, request);
        await this.#broker.logResponse(entry);
      },
    };
  }

  #mountOf(path: string): Pick<AuditRequest, 'mount_point' | 'mount_type' | 'mount_accessor'> {
    if (path === 'sys' || path.startsWith('sys/')) return { mount_point: 'sys/', mount_type: 'system', mount_accessor: 'system' };
    if (path.startsWith('auth/token/')) return { mount_point: 'auth/token/', mount_type: 'token' };
    const found = this.#mounts.find(path);
    return found ? { mount_point: found.entry.path, mount_type: found.entry.type, mount_accessor: found.entry.accessor } : {};
  }

  #authOf(token: string, record: TokenRecord): AuditAuth {
    return {
      client_token: token,
      accessor: record.accessor,
      display_name: record.displayName,
      policies: [...record.policies],
      token_policies: [...record.policies],
      metadata: { ...record.meta },
      ...(record.numUses > 0 ? { remaining_uses: record.numUses } : {}),
      token_type: 'service',
      token_ttl: record.ttl,
      token_issue_time: rfc3339Nano(new Date(record.creationTime * 1000)),
    };
  }
}

/** Fills the response part of `entry` from `reply`: Vault's envelope fields when it is one, else the whole body as data. */
function describeReply(reply: Reply, entry: AuditEntry, request: AuditRequest): void {
  const response = entry.response!;
  Object.assign(response, {
    ...(request.mount_point ? { mount_point: request.mount_point } : {}),
    ...(request.mount_type ? { mount_type: request.mount_type } : {}),
  });
  if (reply.kind === 'empty') return;
  if (reply.kind === 'text') {
    response.data = { text: reply.text };
    return;
  }
  const body = reply.body as Record<string, unknown> | null;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    response.data = body;
    return;
  }
  if (reply.status >= 400 && Array.isArray(body.errors)) {
    entry.error = (body.errors as unknown[]).map(String).join('; ');
    return;
  }
  if ('request_id' in body && 'data' in body && 'wrap_info' in body) {
    if (body.data !== null && body.data !== undefined) response.data = body.data;
    const auth = body.auth as Record<string, unknown> | null;
    if (auth) response.auth = httpAuthToAudit(auth);
    const wrap = body.wrap_info as Record<string, unknown> | null;
    if (wrap) response.wrap_info = wrap;
    if (Array.isArray(body.warnings) && body.warnings.length > 0) response.warnings = body.warnings.map(String);
    return;
  }
  response.data = body;
}

function httpAuthToAudit(auth: Record<string, unknown>): AuditAuth {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : undefined);
  const out: AuditAuth = {};
  const set = <K extends keyof AuditAuth>(k: K, v: AuditAuth[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('client_token', str(auth.client_token));
  set('accessor', str(auth.accessor));
  set('policies', list(auth.policies));
  set('token_policies', list(auth.token_policies));
  if (typeof auth.metadata === 'object' && auth.metadata !== null) set('metadata', auth.metadata as Record<string, string>);
  set('entity_id', str(auth.entity_id) || undefined);
  set('token_type', str(auth.token_type));
  if (typeof auth.lease_duration === 'number') set('token_ttl', auth.lease_duration);
  if (typeof auth.num_uses === 'number') set('num_uses', auth.num_uses);
  return out;
}

function withoutListMarker(query: Readonly<Record<string, string>>): Record<string, string> {
  const { list: _list, ...rest } = query;
  return rest;
}
