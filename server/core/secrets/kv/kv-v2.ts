import { createHash } from 'node:crypto';
import { rfc3339Nano, type Clock } from '../../clock.js';
import { CofferError } from '../../errors.js';
import { formatGoDuration, parseDurationSeconds } from '../../go-duration.js';
import {
  type BarrierView,
  decodeJson,
  encodeJson,
  refuseUnknownFields,
  type LogicalRequest,
  type LogicalResponse,
  type SecretEngine,
} from '../secret-engine.js';

interface VersionInfo {
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

interface Metadata {
  created_time: string;
  updated_time: string;
  current_version: number;
  oldest_version: number;
  max_versions: number;
  cas_required: boolean;
  custom_metadata: Record<string, string> | null;
  delete_version_after: string;
  versions: Record<string, VersionInfo>;
}

interface Config {
  max_versions: number;
  cas_required: boolean;
  delete_version_after: string;
}

/** Vault keeps 10 versions unless told otherwise. */
const DEFAULT_MAX_VERSIONS = 10;

/**
 * KV version 2. Per secret: a metadata entry at `metadata/<path>` (listable) and one entry per version at
 * `versions/<sha256(path)>/<n>`. A write commits the new version and the metadata in one atomic batch.
 */
export class KvV2 implements SecretEngine {
  /** The last queued change per secret (see #serialised). */
  readonly #busy = new Map<string, Promise<void>>();

  constructor(
    private readonly view: BarrierView,
    private readonly clock: Clock,
  ) {}

  async exists(path: string): Promise<boolean> {
    const { kind, key } = split(path);
    // Whether the metadata entry is there; reading it (decrypting, parsing) is left to the change itself: every KV v2
    // change reads the metadata, so an entry that no longer decrypts still fails the request, after the ACL check.
    if (kind === 'data' || kind === 'metadata') return key !== '' && (await this.view.has(`metadata/${key}`));
    return true; // delete/undelete/destroy/config are updates, as in Vault
  }

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const { kind, key } = split(req.path);
    const op = req.operation === 'create' ? 'update' : req.operation;
    if (op === 'read' || op === 'list' || kind === 'config') return this.#handle(req, kind, key, op);
    return this.#serialised(key, () => this.#handle(req, kind, key, op));
  }

  /**
   * Runs the changes of one secret one after another: each reads the metadata, decides (version number,
   * check-and-set) and writes it back, so two concurrent writes must not both see the same current version.
   */
  async #serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#busy.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settledRun = run.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(key, settledRun);
    try {
      return await run;
    } finally {
      if (this.#busy.get(key) === settledRun) this.#busy.delete(key);
    }
  }

  async #handle(
    req: LogicalRequest,
    kind: string,
    key: string,
    op: Exclude<LogicalRequest['operation'], 'create'>,
  ): Promise<LogicalResponse | undefined> {
    if (kind === 'config') {
      if (op === 'read') return { data: { ...(await this.#config()) } };
      if (op === 'update') return this.#writeConfig(req.data);
    } else if (kind === 'data') {
      if (op === 'read') return this.#read(key, req.query.version);
      if (op === 'update') return this.#write(key, req.data);
      if (op === 'patch') return this.#patch(key, req.data);
      if (op === 'delete') return this.#softDelete(key, undefined);
    } else if (kind === 'metadata') {
      if (op === 'list') {
        const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
        const keys = await this.view.list(`metadata/${prefix}`);
        return keys.length === 0 ? undefined : { data: { keys } };
      }
      if (op === 'read') {
        const meta = await this.#metadata(key);
        return meta ? { data: publicMetadata(meta) } : undefined;
      }
      if (op === 'update') return this.#writeMetadata(key, req.data);
      if (op === 'delete') return this.#deleteAll(key);
    } else if (kind === 'delete' && op === 'update') {
      return this.#softDelete(key, versionsOf(req.data));
    } else if (kind === 'undelete' && op === 'update') {
      return this.#undelete(key, versionsOf(req.data));
    } else if (kind === 'destroy' && op === 'update') {
      return this.#destroy(key, versionsOf(req.data));
    } else {
      throw new CofferError('unsupported_path', 'unsupported path');
    }
    throw new CofferError('unsupported_operation', 'unsupported operation');
  }

  async #read(key: string, versionParam: string | undefined): Promise<LogicalResponse | undefined> {
    requireKey(key);
    const meta = await this.#metadata(key);
    if (!meta) return undefined;
    let version = meta.current_version;
    if (versionParam !== undefined && versionParam !== '' && versionParam !== '0') {
      if (!/^\d+$/.test(versionParam)) throw new CofferError('invalid_request', 'version must be an integer');
      version = Number(versionParam);
    }
    const info = meta.versions[String(version)];
    if (!info) return undefined;
    const metadata = {
      created_time: info.created_time,
      custom_metadata: meta.custom_metadata,
      deletion_time: info.deletion_time,
      destroyed: info.destroyed,
      version,
    };
    if (isDeleted(info, rfc3339Nano(this.clock.now())) || info.destroyed) return { data: { data: null, metadata }, notFound: true };
    const raw = await this.view.get(versionPath(key, version));
    if (!raw) return undefined;
    return { data: { data: decodeJson(raw), metadata } };
  }

  async #write(key: string, body: Record<string, unknown>): Promise<LogicalResponse> {
    requireKey(key);
    const data = body.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CofferError('invalid_request', 'no data provided');
    const now = rfc3339Nano(this.clock.now());
    return this.#commit(key, (await this.#metadata(key)) ?? emptyMetadata(now), data, body, now);
  }

  /**
   * `PATCH data/<path>`: applies `data` to the current version as a JSON merge patch (RFC 7386: `null` removes a
   * key, objects merge, anything else replaces) and writes the result as a new version. Only a live current version
   * can be patched (404 otherwise, as in Vault); `options.cas` and `cas_required` apply as for a write.
   */
  async #patch(key: string, body: Record<string, unknown>): Promise<LogicalResponse> {
    requireKey(key);
    const patch = body.data;
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new CofferError('invalid_request', 'no data provided');
    const meta = await this.#metadata(key);
    const info = meta?.versions[String(meta.current_version)];
    // Nothing live to patch: 404 with no error text, as Vault answers.
    const missing = new CofferError('unsupported_path', 'no live current version to patch');
    if (!meta || !info || info.deletion_time !== '' || info.destroyed) throw missing;
    const raw = await this.view.get(versionPath(key, meta.current_version));
    if (!raw) throw missing;
    const merged = mergePatch(decodeJson<Record<string, unknown>>(raw), patch) as Record<string, unknown>;
    return this.#commit(key, meta, merged, body, rfc3339Nano(this.clock.now()));
  }

  /** Checks `options.cas`, then writes `data` as the next version with its metadata in one batch. */
  async #commit(key: string, meta: Metadata, data: object, body: Record<string, unknown>, now: string): Promise<LogicalResponse> {
    const config = await this.#config();
    const options = (typeof body.options === 'object' && body.options !== null ? body.options : {}) as Record<string, unknown>;
    refuseUnknownFields(body, ['data', 'options'], 'KV v2 data');
    refuseUnknownFields(options, ['cas'], 'KV v2 data options');
    const cas = options.cas;
    if (cas === undefined || cas === null) {
      if (meta.cas_required || config.cas_required) throw new CofferError('invalid_request', 'check-and-set parameter required for this call');
    } else if (Number(cas) !== meta.current_version) {
      throw new CofferError('invalid_request', 'check-and-set parameter did not match the current version');
    }
    const version = meta.current_version + 1;
    meta.current_version = version;
    meta.updated_time = now;
    // delete_version_after: the version is written already scheduled for deletion (the shorter of metadata's and config's).
    const deleteAfter = [seconds(meta.delete_version_after), seconds(config.delete_version_after)].filter((s) => s > 0);
    const deletionTime = deleteAfter.length > 0 ? rfc3339Nano(new Date(this.clock.now().getTime() + Math.min(...deleteAfter) * 1000)) : '';
    meta.versions[String(version)] = { created_time: now, deletion_time: deletionTime, destroyed: false };
    if (meta.oldest_version === 0) meta.oldest_version = version;

    const ops: Array<{ type: 'put'; path: string; value: Uint8Array } | { type: 'delete'; path: string }> = [
      { type: 'put', path: versionPath(key, version), value: encodeJson(data) },
    ];
    const max = meta.max_versions || config.max_versions || DEFAULT_MAX_VERSIONS;
    const kept = Object.keys(meta.versions)
      .map(Number)
      .sort((a, b) => a - b);
    while (kept.length > max) {
      const oldest = kept.shift()!;
      delete meta.versions[String(oldest)];
      ops.push({ type: 'delete', path: versionPath(key, oldest) });
    }
    meta.oldest_version = kept[0] ?? version;
    ops.push({ type: 'put', path: `metadata/${key}`, value: encodeJson(meta) });
    await this.view.batch(ops);
    return { data: { created_time: now, custom_metadata: meta.custom_metadata, deletion_time: deletionTime, destroyed: false, version } };
  }

  async #softDelete(key: string, versions: number[] | undefined): Promise<undefined> {
    requireKey(key);
    const meta = await this.#metadata(key);
    if (!meta) return undefined;
    const now = rfc3339Nano(this.clock.now());
    for (const v of versions ?? [meta.current_version]) {
      const info = meta.versions[String(v)];
      if (info && !isDeleted(info, now) && !info.destroyed) info.deletion_time = now;
    }
    await this.view.put(`metadata/${key}`, encodeJson(meta));
    return undefined;
  }

  async #undelete(key: string, versions: number[] | undefined): Promise<undefined> {
    requireKey(key);
    if (!versions) throw new CofferError('invalid_request', 'no version number provided');
    const meta = await this.#metadata(key);
    if (!meta) return undefined;
    for (const v of versions) {
      const info = meta.versions[String(v)];
      if (info && !info.destroyed) info.deletion_time = '';
    }
    await this.view.put(`metadata/${key}`, encodeJson(meta));
    return undefined;
  }

  async #destroy(key: string, versions: number[] | undefined): Promise<undefined> {
    requireKey(key);
    if (!versions) throw new CofferError('invalid_request', 'no version number provided');
    const meta = await this.#metadata(key);
    if (!meta) return undefined;
    const ops: Array<{ type: 'put'; path: string; value: Uint8Array } | { type: 'delete'; path: string }> = [];
    for (const v of versions) {
      const info = meta.versions[String(v)];
      if (info && !info.destroyed) {
        info.destroyed = true;
        ops.push({ type: 'delete', path: versionPath(key, v) });
      }
    }
    ops.push({ type: 'put', path: `metadata/${key}`, value: encodeJson(meta) });
    await this.view.batch(ops);
    return undefined;
  }

  async #deleteAll(key: string): Promise<undefined> {
    requireKey(key);
    const meta = await this.#metadata(key);
    if (!meta) return undefined;
    await this.view.batch([
      ...Object.keys(meta.versions).map((v) => ({ type: 'delete' as const, path: versionPath(key, Number(v)) })),
      { type: 'delete', path: `metadata/${key}` },
    ]);
    return undefined;
  }

  async #writeMetadata(key: string, body: Record<string, unknown>): Promise<undefined> {
    requireKey(key);
    refuseUnknownFields(body, ['max_versions', 'cas_required', 'custom_metadata', 'delete_version_after'], 'KV v2 metadata');
    const now = rfc3339Nano(this.clock.now());
    const meta: Metadata = (await this.#metadata(key)) ?? emptyMetadata(now);
    if (body.max_versions !== undefined) meta.max_versions = nonNegativeInt(body.max_versions, 'max_versions');
    if (body.cas_required !== undefined) meta.cas_required = body.cas_required === true || body.cas_required === 'true';
    if (body.delete_version_after !== undefined)
      meta.delete_version_after = formatGoDuration(parseDurationSeconds(body.delete_version_after, 'delete_version_after'));
    if (body.custom_metadata !== undefined) {
      const custom = body.custom_metadata;
      if (custom !== null && (typeof custom !== 'object' || Array.isArray(custom)))
        throw new CofferError('invalid_request', 'custom_metadata must be a map of strings');
      meta.custom_metadata = custom === null ? null : Object.fromEntries(Object.entries(custom).map(([k, v]) => [k, String(v)]));
    }
    meta.updated_time = now;
    await this.view.put(`metadata/${key}`, encodeJson(meta));
    return undefined;
  }

  async #writeConfig(body: Record<string, unknown>): Promise<undefined> {
    refuseUnknownFields(body, ['max_versions', 'cas_required', 'delete_version_after'], 'KV v2 config');
    const config = await this.#config();
    if (body.max_versions !== undefined) config.max_versions = nonNegativeInt(body.max_versions, 'max_versions');
    if (body.cas_required !== undefined) config.cas_required = body.cas_required === true || body.cas_required === 'true';
    if (body.delete_version_after !== undefined)
      config.delete_version_after = formatGoDuration(parseDurationSeconds(body.delete_version_after, 'delete_version_after'));
    await this.view.put('config', encodeJson(config));
    return undefined;
  }

  async #config(): Promise<Config> {
    const raw = await this.view.get('config');
    return raw ? decodeJson<Config>(raw) : { max_versions: 0, cas_required: false, delete_version_after: '0s' };
  }

  async #metadata(key: string): Promise<Metadata | undefined> {
    const raw = await this.view.get(`metadata/${key}`);
    return raw ? decodeJson<Metadata>(raw) : undefined;
  }
}

/** Deleted: a deletion time that has come (a future one is a `delete_version_after` schedule). */
function isDeleted(info: VersionInfo, now: string): boolean {
  return info.deletion_time !== '' && info.deletion_time <= now;
}

function seconds(goDuration: string | undefined): number {
  return goDuration ? parseDurationSeconds(goDuration, 'delete_version_after') : 0;
}

function emptyMetadata(now: string): Metadata {
  return {
    created_time: now,
    updated_time: now,
    current_version: 0,
    oldest_version: 0,
    max_versions: 0,
    cas_required: false,
    custom_metadata: null,
    delete_version_after: '0s',
    versions: {},
  };
}

function split(path: string): { kind: string; key: string } {
  const slash = path.indexOf('/');
  return slash < 0 ? { kind: path, key: '' } : { kind: path.slice(0, slash), key: path.slice(slash + 1) };
}

function requireKey(key: string): void {
  if (key === '' || key.endsWith('/')) throw new CofferError('invalid_request', 'missing secret path');
}

function versionPath(key: string, version: number): string {
  return `versions/${createHash('sha256').update(key).digest('hex')}/${version}`;
}

function versionsOf(body: Record<string, unknown>): number[] | undefined {
  const v = body.versions;
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : String(v).split(',');
  const out = list.map((x) => Number(x));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new CofferError('invalid_request', 'versions must be positive integers');
  return out;
}

function nonNegativeInt(value: unknown, field: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CofferError('invalid_request', `${field} must be a non-negative integer`);
  return n;
}

/** RFC 7386 JSON merge patch of `target` by `patch`. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function publicMetadata(meta: Metadata): Record<string, unknown> {
  return { ...meta, versions: { ...meta.versions } };
}
