import { hostname } from 'node:os';
import client from 'prom-client';
import { CofferError } from '../core/errors.js';
import type { CoreObserver, DecryptFailureReason } from '../core/observer.js';

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
export class CofferMetrics implements CoreObserver {
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
