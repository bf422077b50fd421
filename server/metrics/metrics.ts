import { hostname } from 'node:os';
import client from 'prom-client';
import { CofferError } from '../core/errors.js';
import type { CoreObserver, DecryptFailureReason } from '../core/observer.js';
import type { CensusRecord } from '../core/rotation/census.js';
import type { RewrapObserver } from '../core/rotation/job-runner.js';
import type { JobState } from '../core/rotation/rewrap-job.js';

const JOB_STATES: readonly JobState[] = [
  'pending',
  'counting',
  'running',
  'paused',
  'paused_sealed',
  'completed',
  'completed_with_failures',
  'failed',
  'canceled',
];

/** Live values read at scrape time. */
export interface MetricsSource {
  sealed(): boolean;
  /** Undefined while sealed. */
  keyStatus(): { term: number; encryptions: number } | undefined;
}

/** The top-level `telemetry` stanza's settings that shape the metrics (ServerConfig['telemetry']). */
export interface MetricsOptions {
  /** False (`prometheus_retention_time = 0`): `text()` refuses, as Vault's sys/metrics does. */
  prometheusEnabled?: boolean;
  /** First part of every metric name; `coffer` by default. */
  metricsPrefix?: string;
  /** Every series carries `host="<hostname>"`. */
  hostnameLabel?: boolean;
}

/**
 * Coffer's Prometheus metrics (prom-client), one registry per server. Every metric and what to alert on is listed
 * in docs/metrics.md. Labels are low-cardinality by construction: routes are patterns or mount paths, never the
 * request path itself.
 */
export class CofferMetrics implements CoreObserver, RewrapObserver {
  readonly registry = new client.Registry();
  readonly #requests: client.Counter<'route' | 'method' | 'code'>;
  readonly #duration: client.Histogram<'route' | 'method'>;
  readonly #unsealAttempts: client.Counter<'method'>;
  readonly #unsealFailures: client.Counter<'method' | 'reason'>;
  readonly #rekeyAttempts: client.Counter<'target'>;
  readonly #rekeyFailures: client.Counter<'target' | 'reason'>;
  readonly #decryptFailures: client.Counter<'reason'>;
  readonly #unconfirmedRekey: client.Gauge<'target'>;
  readonly #rekeyRollbacks: client.Counter<'target'>;
  readonly #logins: client.Counter<'method' | 'outcome'>;
  readonly #rewrapEntries: client.Counter<'result'>;
  readonly #rewrapBytes: client.Counter<'result'>;
  readonly #jobProgress: client.Gauge;
  readonly #jobState: client.Gauge<'state'>;
  readonly #termEntries: client.Gauge<'term'>;
  readonly #termBytes: client.Gauge<'term'>;
  readonly #censusTime: client.Gauge;
  readonly #deniedReads: client.Counter<'term'>;
  /** The running job's last checkpoint, for the checkpoint-age gauge (undefined when no job runs). */
  #checkpointAt: Date | undefined;
  readonly #auditRequestFailures: client.Counter;
  readonly #auditResponseFailures: client.Counter;
  readonly #auditDeviceFailures: client.Counter<'path'>;
  readonly #haActive: client.Gauge;
  readonly #haLeadershipLost: client.Counter;
  readonly #haStepDowns: client.Counter;

  readonly #prometheusEnabled: boolean;
  /** Until `watch` names the server's barrier, the server counts as sealed. */
  #source: MetricsSource = { sealed: () => true, keyStatus: () => undefined };

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const current = () => this.#source;
    const p = `${options.metricsPrefix ?? 'coffer'}_`;
    this.#prometheusEnabled = options.prometheusEnabled ?? true;
    if (options.hostnameLabel) this.registry.setDefaultLabels({ host: hostname() });
    client.collectDefaultMetrics({ register: this.registry, prefix: p });
    this.#requests = new client.Counter({
      name: `${p}http_requests_total`,
      help: 'HTTP requests by route pattern (or mount), method and status code',
      labelNames: ['route', 'method', 'code'],
      registers,
    });
    this.#duration = new client.Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'HTTP request latency by route pattern (or mount) and method',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new client.Gauge({
      name: `${p}sealed`,
      help: '1 while the server is sealed, 0 while unsealed',
      registers,
      collect() {
        this.set(current().sealed() ? 1 : 0);
      },
    });
    new client.Gauge({
      name: `${p}barrier_keyring_term`,
      help: 'The active keyring term (0 while sealed)',
      registers,
      collect() {
        this.set(current().keyStatus()?.term ?? 0);
      },
    });
    new client.Gauge({
      name: `${p}barrier_active_term_encryptions`,
      help: 'Encryptions made under the active term, including those not yet persisted (0 while sealed)',
      registers,
      collect() {
        this.set(current().keyStatus()?.encryptions ?? 0);
      },
    });
    this.#unsealAttempts = new client.Counter({
      name: `${p}unseal_attempts_total`,
      help: 'Unseal attempts: shares combined at the threshold, or unwraps through the auto seal',
      labelNames: ['method'],
      registers,
    });
    this.#unsealFailures = new client.Counter({
      name: `${p}unseal_failures_total`,
      help: 'Failed unseal attempts by method and reason',
      labelNames: ['method', 'reason'],
      registers,
    });
    this.#rekeyAttempts = new client.Counter({
      name: `${p}rekey_attempts_total`,
      help: 'Rekey authorisations: current shares combined at the threshold',
      labelNames: ['target'],
      registers,
    });
    this.#rekeyFailures = new client.Counter({
      name: `${p}rekey_failures_total`,
      help: 'Failed rekey authorisations and commits by target and reason',
      labelNames: ['target', 'reason'],
      registers,
    });
    this.#decryptFailures = new client.Counter({
      name: `${p}barrier_decrypt_failures_total`,
      help: 'Stored entries that failed to decrypt: unknown_term, auth_failure (tampered or moved), malformed',
      labelNames: ['reason'],
      registers,
    });
    this.#unconfirmedRekey = new client.Gauge({
      name: `${p}rekey_unconfirmed`,
      help: '1 while a committed rekey waits for its new shares to be confirmed delivered: both share sets unseal until one is used',
      labelNames: ['target'],
      registers,
    });
    this.#rekeyRollbacks = new client.Counter({
      name: `${p}rekey_rollbacks_total`,
      help: 'Unconfirmed rekeys rolled back because the OLD shares were used to unseal or authorise',
      labelNames: ['target'],
      registers,
    });
    this.#logins = new client.Counter({
      name: `${p}auth_login_attempts_total`,
      help: 'Logins through auth methods by method type and outcome (failure: bad credentials or refused)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    for (const method of ['approle', 'userpass']) for (const outcome of ['success', 'failure']) this.#logins.inc({ method, outcome }, 0);
    this.#rewrapEntries = new client.Counter({
      name: `${p}rewrap_entries_total`,
      help: 'Entries handled by rewrap jobs, by result: rewrapped, skipped_concurrent (a client wrote first), failed, retried',
      labelNames: ['result'],
      registers,
    });
    this.#rewrapBytes = new client.Counter({
      name: `${p}rewrap_bytes_total`,
      help: 'Bytes rewritten by rewrap jobs, by result',
      labelNames: ['result'],
      registers,
    });
    this.#jobProgress = new client.Gauge({
      name: `${p}rewrap_job_progress_ratio`,
      help: 'Progress of the current (or last) rewrap job, 0 to 1',
      registers,
    });
    this.#jobState = new client.Gauge({
      name: `${p}rewrap_job_state`,
      help: '1 for the state of the current (or last) rewrap job',
      labelNames: ['state'],
      registers,
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client's collect() gets the gauge as `this`
    const self = this;
    new client.Gauge({
      name: `${p}rewrap_checkpoint_age_seconds`,
      help: 'Seconds since the running rewrap job last persisted its checkpoint (0 when no job runs): alert when it grows',
      registers,
      collect() {
        this.set(self.#checkpointAt ? Math.max(0, (Date.now() - self.#checkpointAt.getTime()) / 1000) : 0);
      },
    });
    this.#termEntries = new client.Gauge({
      name: `${p}keyring_term_entries`,
      help: 'Entries per key term in the last completed census',
      labelNames: ['term'],
      registers,
    });
    this.#termBytes = new client.Gauge({
      name: `${p}keyring_term_bytes`,
      help: 'Bytes per key term in the last completed census',
      labelNames: ['term'],
      registers,
    });
    this.#censusTime = new client.Gauge({
      name: `${p}keyring_census_timestamp_seconds`,
      help: 'When the last census completed (Unix seconds; 0: none yet)',
      registers,
    });
    this.#deniedReads = new client.Counter({
      name: `${p}barrier_retired_reads_denied_total`,
      help: 'Reads refused because the entry is under a retired term: the canary of a soft retire (and a trim blocker)',
      labelNames: ['term'],
      registers,
    });
    for (const result of ['rewrapped', 'skipped_concurrent', 'failed', 'retried']) this.#rewrapEntries.inc({ result }, 0);
    this.#auditRequestFailures = new client.Counter({
      name: `${p}audit_log_request_failures_total`,
      help: 'Requests refused because no audit device could record the request',
      registers,
    });
    this.#auditResponseFailures = new client.Counter({
      name: `${p}audit_log_response_failures_total`,
      help: 'Requests answered 500 because no audit device could record the response (the operation had happened)',
      registers,
    });
    this.#auditDeviceFailures = new client.Counter({
      name: `${p}audit_device_failures_total`,
      help: 'Records one audit device failed to write (the request still succeeds while another device wrote it)',
      labelNames: ['path'],
      registers,
    });
    this.#haActive = new client.Gauge({ name: `${p}ha_active`, help: 'HA: 1 while this node holds the lock and serves, else 0', registers });
    this.#haLeadershipLost = new client.Counter({
      name: `${p}ha_leadership_lost_total`,
      help: 'HA: times this node lost the lock while active (renewal refused or local deadline passed)',
      registers,
    });
    this.#haStepDowns = new client.Counter({ name: `${p}ha_step_down_total`, help: 'HA: manual step-downs (sys/step-down) of this node', registers });
    // Zero-valued series exist from the start, so alerts on increase() work from the first scrape.
    for (const method of ['shares', 'seal']) this.#unsealAttempts.inc({ method }, 0);
    for (const target of ['barrier', 'recovery']) {
      this.#rekeyAttempts.inc({ target }, 0);
      this.#unconfirmedRekey.set({ target }, 0);
      this.#rekeyRollbacks.inc({ target }, 0);
    }
    for (const reason of ['unknown_term', 'auth_failure', 'malformed']) this.#decryptFailures.inc({ reason }, 0);
  }

  /**
   * Names what the gauges read at scrape time. Called once by the composition root: the observer must exist
   * before the core it observes, and the gauges read that core.
   */
  watch(source: MetricsSource): void {
    this.#source = source;
  }

  /** A login through an auth method (a burst of failures is a credential-guessing signal). */
  authLogin(method: string, outcome: 'success' | 'failure'): void {
    this.#logins.inc({ method, outcome });
  }

  request(route: string, method: string, code: number, seconds: number): void {
    this.#requests.inc({ route, method, code: String(code) });
    this.#duration.observe({ route, method }, seconds);
  }

  unsealAttempt(method: 'shares' | 'seal', outcome: 'success' | 'failure', reason = 'unknown'): void {
    this.#unsealAttempts.inc({ method });
    if (outcome === 'failure') this.#unsealFailures.inc({ method, reason });
  }

  rekeyAttempt(target: 'barrier' | 'recovery', outcome: 'success' | 'failure', reason = 'unknown'): void {
    this.#rekeyAttempts.inc({ target });
    if (outcome === 'failure') this.#rekeyFailures.inc({ target, reason });
  }

  decryptFailure(reason: DecryptFailureReason): void {
    this.#decryptFailures.inc({ reason });
  }

  unconfirmedRekey(target: 'barrier' | 'recovery', pending: boolean): void {
    this.#unconfirmedRekey.set({ target }, pending ? 1 : 0);
  }

  rekeyRollback(target: 'barrier' | 'recovery'): void {
    this.#rekeyRollbacks.inc({ target });
  }

  rewrapEntries(result: string, n: number, bytes: number): void {
    this.#rewrapEntries.inc({ result }, n);
    if (bytes > 0) this.#rewrapBytes.inc({ result }, bytes);
  }

  rewrapJob(job: { job_id: string; state: JobState; percent: number; checkpointAt: Date | undefined }): void {
    this.#jobProgress.set(job.percent / 100);
    for (const state of JOB_STATES) this.#jobState.set({ state }, state === job.state ? 1 : 0);
    this.#checkpointAt = job.state === 'running' || job.state === 'counting' ? job.checkpointAt : undefined;
  }

  census(record: CensusRecord): void {
    if (record.state !== 'completed') return;
    this.#termEntries.reset();
    this.#termBytes.reset();
    for (const [term, c] of Object.entries(record.terms)) {
      this.#termEntries.set({ term }, c.entries);
      this.#termBytes.set({ term }, c.bytes);
    }
    this.#censusTime.set(record.completed_at ? Date.parse(record.completed_at) / 1000 : 0);
  }

  retiredRead(term: number): void {
    this.#deniedReads.inc({ term: String(term) });
  }

  auditDeviceFailure(path: string): void {
    this.#auditDeviceFailures.inc({ path });
  }

  auditLogFailure(kind: 'request' | 'response'): void {
    (kind === 'request' ? this.#auditRequestFailures : this.#auditResponseFailures).inc();
  }

  /** HA: this node became active (true) or standby/sealed (false). */
  haActive(active: boolean): void {
    this.#haActive.set(active ? 1 : 0);
  }

  haLeadershipLost(): void {
    this.#haLeadershipLost.inc();
  }

  haStepDown(): void {
    this.#haStepDowns.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text format. @throws CofferError `invalid_request` when `prometheus_retention_time = 0` turned it off. */
  text(): Promise<string> {
    if (!this.#prometheusEnabled) throw new CofferError('invalid_request', 'prometheus is not enabled');
    return this.registry.metrics();
  }

  json(): Promise<unknown> {
    return this.registry.getMetricsAsJSON();
  }
}
