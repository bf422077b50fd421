import type { Clock } from '../../core/clock.js';
import type { SealStatus } from '../../core/coffer-core.js';
import type { HealthResponse, LeaderResponse } from '../../../shared/api-types.js';
import { COFFER_VERSION } from '../../../shared/version.js';
import { errors, json, type RouteTable } from './route-table.js';

const CODE_PARAMS = {
  activecode: 200,
  standbycode: 429,
  drsecondarycode: 472,
  performancestandbycode: 473,
  haunhealthycode: 474,
  sealedcode: 503,
  uninitcode: 501,
  removedcode: 530,
} as const;
type CodeParam = keyof typeof CODE_PARAMS;

const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Vault's query parameters, parsed as Go's Atoi and ParseBool would; undefined when one is malformed. */
function parseHealthQuery(query: Readonly<Record<string, string>>): { codes: Record<CodeParam, number>; standbyOk: boolean } | undefined {
  const codes = { ...CODE_PARAMS } as Record<CodeParam, number>;
  for (const name of Object.keys(CODE_PARAMS) as CodeParam[]) {
    const raw = query[name];
    if (raw === undefined) continue;
    if (!/^[+-]?\d{1,9}$/.test(raw)) return undefined;
    const code = Number(raw);
    if (code < 100 || code > 999) return undefined; // HTTP cannot carry other codes
    codes[name] = code;
  }
  let standbyOk = false;
  for (const name of ['standbyok', 'perfstandbyok']) {
    const raw = query[name];
    if (raw === undefined) continue;
    if (!(TRUE_VALUES.has(raw) || FALSE_VALUES.has(raw))) return undefined;
    if (name === 'standbyok') standbyOk = TRUE_VALUES.has(raw);
  }
  return { codes, standbyOk };
}

export function sysHealthRoutes({ sealStatus, clock }: { sealStatus: () => Promise<SealStatus>; clock: Clock }): RouteTable {
  return {
    'sys/health': {
      GET: async (ctx) => {
        const query = parseHealthQuery(ctx.query);
        if (!query) return errors(400, []);
        const status = await sealStatus();
        const code = !status.initialized ? query.codes.uninitcode : status.sealed ? query.codes.sealedcode : query.codes.activecode;
        const body: HealthResponse = {
          initialized: status.initialized,
          sealed: status.sealed,
          standby: status.sealed,
          performance_standby: false,
          replication_performance_mode: 'disabled',
          replication_dr_mode: 'disabled',
          server_time_utc: Math.floor(clock.now().getTime() / 1000),
          version: COFFER_VERSION,
          enterprise: false,
          ...(status.cluster ? { cluster_name: status.cluster.name, cluster_id: status.cluster.id } : {}),
          echo_duration_ms: 0,
          clock_skew_ms: 0,
          replication_primary_canary_age_ms: 0,
        };
        return json(code, body);
      },
    },
    'sys/leader': {
      GET: async () => {
        const body: LeaderResponse = {
          ha_enabled: false,
          is_self: false,
          active_time: '0001-01-01T00:00:00Z',
          leader_address: '',
          leader_cluster_address: '',
          performance_standby: false,
          performance_standby_last_remote_wal: 0,
        };
        return json(200, body);
      },
    },
  };
}
