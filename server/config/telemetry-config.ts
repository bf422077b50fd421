/** The top-level `telemetry` stanza: what shapes the Prometheus metrics at sys/metrics, and notes for the rest. */
import { boolValue, durationValue, lineOf, stringValue, type ConfigNote, type Fail } from './config-values.js';

/** The top-level `telemetry { ... }` stanza, as far as it means something for Coffer's Prometheus metrics. */
export interface TelemetryConfig {
  /** `prometheus_retention_time = 0` turns the Prometheus format of sys/metrics off, as in Vault. */
  prometheusEnabled: boolean;
  /** `metrics_prefix`: the first part of every metric name (`coffer` unless set). */
  metricsPrefix: string;
  /** `enable_hostname_label`: every series carries `host="<hostname>"`. */
  hostnameLabel: boolean;
}

/** Telemetry keys of Vault's push sinks: Coffer only serves Prometheus metrics at sys/metrics. */
const PUSH_SINK_KEY = /^(statsite_|statsd_|dogstatsd_|circonus_|stackdriver_)/;
const TELEMETRY_NO_EFFECT: Record<string, string> = {
  usage_gauge_period: "Coffer's gauges are computed at scrape time; it has no periodic usage-gauge collection",
  maximum_gauge_cardinality: 'Coffer has no high-cardinality usage gauges to cap',
  lease_metrics_epsilon: 'Coffer has no lease-expiry metrics (it issues no leases to revoke)',
  num_lease_metrics_buckets: 'Coffer has no lease-expiry metrics (it issues no leases to revoke)',
  add_lease_metrics_namespace_labels: 'Coffer has no lease-expiry metrics and no namespaces',
  add_mount_point_rollback_metrics: 'Coffer has no rollback manager metrics',
};

/**
 * The top-level `telemetry` stanza. `prometheus_retention_time`, `metrics_prefix` and `enable_hostname_label`
 * take effect; `disable_hostname = true` is what Coffer always does; keys about Vault-only metrics are noted.
 * @throws through `fail` on a bad value, a push-sink key or an unknown key.
 */
export function topTelemetryConfig(value: unknown, text: string, fail: Fail, notes: ConfigNote[]): TelemetryConfig {
  const out: TelemetryConfig = { prometheusEnabled: true, metricsPrefix: 'coffer', hostnameLabel: false };
  if (value === undefined) return out;
  const from = lineOf(text, 'telemetry') ?? 1;
  for (const body of (Array.isArray(value) ? value : [value]) as unknown[]) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('telemetry must be a block', 'telemetry');
    for (const [key, v] of Object.entries(body)) {
      if (key === 'prometheus_retention_time') {
        out.prometheusEnabled = durationValue(v, key, fail) > 0;
        if (out.prometheusEnabled) {
          notes.push({
            key: `telemetry.${key}`,
            reason: 'Coffer keeps every series for the life of the process; only 0 (Prometheus off) changes anything',
          });
        }
      } else if (key === 'metrics_prefix') {
        const prefix = stringValue(v, key, fail);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) fail('metrics_prefix must be a Prometheus name: letters, digits and _', key, from);
        out.metricsPrefix = prefix;
      } else if (key === 'enable_hostname_label') {
        out.hostnameLabel = boolValue(v, key, fail);
      } else if (key === 'disable_hostname') {
        if (!boolValue(v, key, fail)) {
          notes.push({
            key: `telemetry.${key}`,
            reason: 'Coffer never prefixes metric names with the hostname (use enable_hostname_label for a host label)',
          });
        }
      } else if (TELEMETRY_NO_EFFECT[key]) {
        notes.push({ key: `telemetry.${key}`, reason: TELEMETRY_NO_EFFECT[key] });
      } else if (PUSH_SINK_KEY.test(key)) {
        fail(`telemetry ${key}: Coffer does not push metrics; scrape sys/metrics?format=prometheus instead`, key, from);
      } else {
        fail(`unknown key "${key}" in telemetry`, key, from);
      }
    }
  }
  return out;
}
