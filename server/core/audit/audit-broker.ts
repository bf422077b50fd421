import { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Clock, Random } from '../clock.js';
import { rfc3339Nano } from '../clock.js';
import { CofferError } from '../errors.js';
import type { CoreObserver } from '../observer.js';
import { wipe } from '../secret-bytes.js';
import { decodeJson, encodeJson } from '../secrets/secret-engine.js';
import { hashStructure, identifiedHmac } from './audit-hash.js';
import { deviceSettings, normaliseOptions, type DeviceSettings } from './audit-options.js';
import type { AuditAuth, AuditEntry, AuditWrapInfo } from './audit-record.js';
import { fileSinkFor, type AuditSink, type StdoutWriter } from './file-device.js';
import { socketSinkFor } from './socket-device.js';

/** One enabled device, as persisted in `core/audit`. */
export interface AuditTableEntry {
  /** With a trailing slash: `file/`. */
  readonly path: string;
  readonly type: string;
  readonly description: string;
  readonly options: Readonly<Record<string, string>>;
  readonly uuid: string;
  readonly accessor: string;
  /** Declared by an `audit` stanza of the server configuration: the API may not change or disable it. */
  readonly declared?: boolean;
}

/** An `audit "<type>" "<path>" { … }` stanza of the server configuration. */
export interface DeclaredAuditDevice {
  type: string;
  path: string;
  description: string;
  options: Record<string, string>;
}

export const AUDIT_TABLE_PATH = 'core/audit';
const SALT_PREFIX = 'audit/';
const saltPath = (uuid: string) => `${SALT_PREFIX}${uuid}/salt`;

/** Resolves after `ms`, for the per-device write bound (injected: tests drive it by hand). */
export type Delay = (ms: number) => { promise: Promise<void>; cancel: () => void };

export interface AuditBrokerDeps {
  barrier: Barrier;
  clock: Clock;
  random: Random;
  logger: Logger;
  observer: CoreObserver;
  /** Config `allow_audit_log_prefixing`. */
  allowPrefixing?: boolean;
  /** Devices declared in the server configuration, applied at every unseal (by the active node only, under HA). */
  declared?: readonly DeclaredAuditDevice[];
  /** HA: whether this node is a standby, which only follows the table the active node writes. */
  standby?: () => boolean;
  /** Where `file_path = "stdout"` writes. */
  stdout?: StdoutWriter;
  delay?: Delay;
  /** Builds a device's sink (tests substitute failing or hanging sinks). */
  sinkFor?: (entry: AuditTableEntry, stdout: StdoutWriter) => AuditSink;
}

interface Device {
  readonly entry: AuditTableEntry;
  readonly settings: DeviceSettings;
  readonly salt: Uint8Array;
  readonly sink: AuditSink;
}

const timerDelay: Delay = (ms) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
};

const defaultSinkFor = (entry: AuditTableEntry, stdout: StdoutWriter): AuditSink => {
  if (entry.type === 'file') return fileSinkFor(entry.options, stdout);
  if (entry.type === 'socket') return socketSinkFor(entry.options);
  throw new CofferError('invalid_request', `unknown backend type: "${entry.type}"`);
};

/**
 * The audit devices and the broker that logs to them. The table (`core/audit`) and each device's HMAC salt
 * (`audit/<uuid>/salt`, 32 random bytes) live behind the barrier; both are loaded at unseal and dropped at seal.
 *
 * Logging (`logRequest` / `logResponse`) writes to every device at once, each from its own hashed copy of the
 * record, each bounded by its write timeout. It succeeds when at least one device wrote the line; with devices
 * enabled and none succeeding it throws, and the request must fail (fail closed).
 */
export class AuditBroker {
  readonly #deps: AuditBrokerDeps;
  readonly #lock = new Mutex();
  readonly #stdout: StdoutWriter;
  readonly #delay: Delay;
  readonly #sinkFor: (entry: AuditTableEntry, stdout: StdoutWriter) => AuditSink;
  #devices: Device[] = [];

  constructor(deps: AuditBrokerDeps) {
    this.#deps = deps;
    this.#stdout = deps.stdout ?? (() => Promise.reject(new CofferError('internal', 'no standard output was given to the audit broker')));
    this.#delay = deps.delay ?? timerDelay;
    this.#sinkFor = deps.sinkFor ?? defaultSinkFor;
  }

  /** Whether requests must be audited now. */
  get enabled(): boolean {
    return this.#devices.length > 0;
  }

  list(): readonly AuditTableEntry[] {
    return this.#devices.map((d) => d.entry);
  }

  /**
   * After unseal: loads the table and the salts, then applies the configuration's `audit` stanzas (creating
   * missing devices, updating changed declared ones, disabling declared ones no longer in the file).
   * @throws CofferError `config` when a stanza names a path an API-enabled device already uses; `integrity` for a
   * missing salt.
   */
  async load(): Promise<void> {
    await this.#lock.runExclusive(async () => {
      const raw = await this.#deps.barrier.get(AUDIT_TABLE_PATH);
      const table = raw ? decodeJson<AuditTableEntry[]>(raw) : [];
      const devices: Device[] = [];
      for (const entry of table) {
        const salt = await this.#deps.barrier.get(saltPath(entry.uuid));
        if (!salt || salt.length !== 32) throw new CofferError('integrity', `the HMAC salt of audit device ${entry.path} is missing`);
        devices.push(this.#device(entry, salt));
      }
      // A reload (HA: a standby following the active node) replaces the open devices: close the old sinks.
      const previous = this.#devices;
      this.#devices = devices;
      for (const d of previous) wipe(d.salt);
      await Promise.all(previous.map((d) => d.sink.close().catch(() => undefined)));
      if (!this.#deps.standby?.()) await this.#applyDeclared();
    });
  }

  /** At seal: closes every device and wipes the salts. */
  async close(): Promise<void> {
    const devices = this.#devices;
    this.#devices = [];
    for (const d of devices) wipe(d.salt);
    await Promise.all(devices.map((d) => d.sink.close().catch(() => undefined)));
  }

  /**
   * Enables a device: checks its options, opens it, logs a test record to it (unless `skip_test`), then persists
   * the table entry and a new salt in one batch.
   * @throws CofferError `invalid_request`: `path already in use`, `unknown backend type: "<t>"`, bad options, or
   * `audit backend failed test message: …`.
   */
  async enable(path: string, type: string, description: string, rawOptions: unknown, declared = false): Promise<AuditTableEntry> {
    const devicePath = normalisePath(path);
    const options = normaliseOptions(type, rawOptions, this.#deps.allowPrefixing === true);
    return this.#lock.runExclusive(async () => {
      for (const d of this.#devices) {
        if (d.entry.path.startsWith(devicePath) || devicePath.startsWith(d.entry.path))
          throw new CofferError('invalid_request', 'path already in use');
      }
      const entry: AuditTableEntry = {
        path: devicePath,
        type,
        description,
        options,
        uuid: this.#deps.random.uuid(),
        accessor: `audit_${type}_${Buffer.from(this.#deps.random.bytes(4)).toString('hex')}`,
        ...(declared ? { declared: true } : {}),
      };
      const salt = this.#deps.random.bytes(32);
      const device = this.#device(entry, salt);
      if (!device.settings.skipTest) {
        const probe: AuditEntry = {
          type: 'request',
          time: rfc3339Nano(this.#deps.clock.now()),
          request: { id: this.#deps.random.uuid(), operation: 'update', path: 'sys/audit/test' },
        };
        try {
          await this.#logTo(device, probe);
        } catch (err) {
          await device.sink.close();
          wipe(salt);
          throw new CofferError('invalid_request', `audit backend failed test message: ${reasonOf(err)}`);
        }
      }
      const ops: BarrierOp[] = [{ type: 'put', path: saltPath(entry.uuid), value: salt.slice() }];
      await this.#persist([...this.#devices, device], ops);
      return entry;
    });
  }

  /**
   * Disables a device and deletes its salt (re-enabling makes a new one: old hashes cannot be recomputed).
   * @throws CofferError `invalid_request`: `no matching backend`, or a device declared in the configuration.
   */
  async disable(path: string): Promise<void> {
    const devicePath = normalisePath(path);
    await this.#lock.runExclusive(async () => {
      const device = this.#devices.find((d) => d.entry.path === devicePath);
      if (!device) throw new CofferError('invalid_request', 'no matching backend');
      if (device.entry.declared) {
        throw new CofferError(
          'invalid_request',
          `audit device ${devicePath} is declared in the server configuration: remove its stanza there instead`,
        );
      }
      await this.#remove(device);
    });
  }

  /** `sys/audit-hash`: `input` hashed under the device's salt. @throws CofferError `invalid_request` for an unknown device. */
  hash(path: string, input: string): string {
    const devicePath = normalisePath(path);
    const device = this.#devices.find((d) => d.entry.path === devicePath);
    if (!device) throw new CofferError('invalid_request', 'unknown audit backend');
    return identifiedHmac(device.salt, input);
  }

  /** @throws CofferError `internal` when devices are enabled and none logged the request. */
  logRequest(entry: AuditEntry): Promise<void> {
    return this.#log(entry);
  }

  /** @throws CofferError `internal` when devices are enabled and none logged the response. */
  logResponse(entry: AuditEntry): Promise<void> {
    return this.#log(entry);
  }

  async #log(entry: AuditEntry): Promise<void> {
    const devices = this.#devices;
    if (devices.length === 0) return;
    const results = await Promise.allSettled(devices.map((d) => this.#logTo(d, entry)));
    let succeeded = 0;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        succeeded++;
        return;
      }
      const device = devices[i]!;
      this.#deps.observer.auditDeviceFailure(device.entry.path);
      // The reason only (an errno code or our own message): never the record.
      this.#deps.logger.error({ device: device.entry.path, err: reasonOf(r.reason), kind: entry.type }, 'audit device failed to log');
    });
    if (succeeded > 0) return;
    this.#deps.observer.auditLogFailure(entry.type);
    this.#deps.logger.error(
      { kind: entry.type, path: entry.request.path, devices: devices.length },
      `no audit backend succeeded in logging the ${entry.type}`,
    );
    throw new CofferError('internal', `no audit backend succeeded in logging the ${entry.type}`);
  }

  /** Hashes a private copy of `entry` for `device`, formats it and writes it within the device's timeout. */
  async #logTo(device: Device, entry: AuditEntry): Promise<void> {
    const line = device.settings.prefix + JSON.stringify(hashEntry(entry, device.salt, device.settings)) + '\n';
    const write = device.sink.write(line);
    if (device.settings.writeTimeoutMs === 0) return write;
    const timer = this.#delay(device.settings.writeTimeoutMs);
    try {
      await Promise.race([write, timer.promise.then(() => Promise.reject(new CofferError('internal', 'write timed out')))]);
    } finally {
      timer.cancel();
    }
  }

  #device(entry: AuditTableEntry, salt: Uint8Array): Device {
    return { entry, settings: deviceSettings(entry.options), salt, sink: this.#sinkFor(entry, this.#stdout) };
  }

  async #persist(devices: Device[], extra: BarrierOp[]): Promise<void> {
    await this.#deps.barrier.batch([...extra, { type: 'put', path: AUDIT_TABLE_PATH, value: encodeJson(devices.map((d) => d.entry)) }]);
    this.#devices = devices;
  }

  async #remove(device: Device): Promise<void> {
    await this.#persist(
      this.#devices.filter((d) => d !== device),
      [{ type: 'delete', path: saltPath(device.entry.uuid) }],
    );
    wipe(device.salt);
    await device.sink.close().catch(() => undefined);
  }

  /** Makes the table match the configuration's stanzas. Runs under the lock. */
  async #applyDeclared(): Promise<void> {
    const declared = this.#deps.declared ?? [];
    const wanted = new Set(declared.map((d) => normalisePath(d.path)));
    for (const device of [...this.#devices]) {
      if (device.entry.declared && !wanted.has(device.entry.path)) {
        await this.#remove(device);
        this.#deps.logger.info({ device: device.entry.path }, 'audit device disabled: its stanza is no longer in the configuration');
      }
    }
    for (const stanza of declared) {
      const devicePath = normalisePath(stanza.path);
      const options = normaliseOptions(stanza.type, stanza.options, this.#deps.allowPrefixing === true);
      const existing = this.#devices.find((d) => d.entry.path === devicePath);
      if (existing && !existing.entry.declared) {
        throw new CofferError(
          'config',
          `audit device in configuration (path: ${devicePath}) was already enabled through the API: disable it there first`,
        );
      }
      if (existing) {
        const same =
          existing.entry.type === stanza.type && existing.entry.description === stanza.description && sameOptions(existing.entry.options, options);
        if (same) continue;
        // A changed stanza keeps its salt (hashes stay comparable) and gets a new sink.
        const entry: AuditTableEntry = { ...existing.entry, type: stanza.type, description: stanza.description, options };
        const device = this.#device(entry, existing.salt);
        await existing.sink.close().catch(() => undefined);
        await this.#persist(
          this.#devices.map((d) => (d === existing ? device : d)),
          [],
        );
        continue;
      }
      const entry: AuditTableEntry = {
        path: devicePath,
        type: stanza.type,
        description: stanza.description,
        options,
        uuid: this.#deps.random.uuid(),
        accessor: `audit_${stanza.type}_${Buffer.from(this.#deps.random.bytes(4)).toString('hex')}`,
        declared: true,
      };
      const salt = this.#deps.random.bytes(32);
      await this.#persist([...this.#devices, this.#device(entry, salt)], [{ type: 'put', path: saltPath(entry.uuid), value: salt.slice() }]);
      this.#deps.logger.info({ device: devicePath, type: stanza.type }, 'audit device enabled from the configuration');
    }
  }
}

/** `file`, `/file/` and `file/` all name the device `file/`. @throws CofferError `invalid_request` for an empty path. */
export function normalisePath(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new CofferError('invalid_request', 'backend path must be specified');
  }
  return `${trimmed}/`;
}

function sameOptions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code && typeof e.code === 'string' && e.syscall) return `${e.syscall}: ${e.code}`;
  return err instanceof Error ? err.message : 'unknown error';
}

/**
 * The record as `device` writes it: a deep copy with tokens, accessors (per `hmac_accessor`), request and response
 * data (every string) and wrapping tokens replaced by their HMACs, unless `log_raw`. List responses are reduced
 * to counts with `elide_list_responses`.
 */
export function hashEntry(entry: AuditEntry, salt: Uint8Array, settings: DeviceSettings): AuditEntry {
  const copy = JSON.parse(JSON.stringify(entry)) as AuditEntry;
  if (settings.elideListResponses && copy.type === 'response' && copy.request.operation === 'list') elideList(copy.response?.data);
  if (settings.logRaw) return copy;
  const h = (s: string | undefined) => (s === undefined || s === '' ? s : identifiedHmac(salt, s));
  const hAccessor = (s: string | undefined) => (settings.hmacAccessor ? h(s) : s);
  const auth = (a: AuditAuth | undefined): AuditAuth | undefined =>
    a && stripUndefined({ ...a, client_token: h(a.client_token), accessor: hAccessor(a.accessor) });
  const wrap = (w: AuditWrapInfo | undefined): AuditWrapInfo | undefined =>
    w && stripUndefined({ ...w, token: h(w.token), accessor: hAccessor(w.accessor), wrapped_accessor: hAccessor(w.wrapped_accessor) });
  const out: AuditEntry = {
    ...copy,
    ...(copy.auth ? { auth: auth(copy.auth)! } : {}),
    request: stripUndefined({
      ...copy.request,
      client_token: h(copy.request.client_token),
      client_token_accessor: hAccessor(copy.request.client_token_accessor),
      data: hashStructure(copy.request.data, salt),
    }),
  };
  if (copy.response) {
    out.response = stripUndefined({
      ...copy.response,
      auth: auth(copy.response.auth),
      data: hashStructure(copy.response.data, salt),
      wrap_info: wrap(copy.response.wrap_info),
    });
  }
  return out;
}

function elideList(data: unknown): void {
  if (typeof data !== 'object' || data === null) return;
  const d = data as Record<string, unknown>;
  if (Array.isArray(d.keys)) d.keys = d.keys.length;
  if (typeof d.key_info === 'object' && d.key_info !== null) d.key_info = Object.keys(d.key_info).length;
}

function stripUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key];
  return value;
}
