import type { Request } from 'express';
import type { HealthResponse, LeaderResponse } from '../../../shared/api-types.js';
import { COFFER_VERSION } from '../../../shared/version.js';
import { sendErrors, sendJson } from '../json-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

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
function parseHealthQuery(req: Request): { codes: Record<CodeParam, number>; standbyOk: boolean } | undefined {
  const codes = { ...CODE_PARAMS } as Record<CodeParam, number>;
  for (const name of Object.keys(CODE_PARAMS) as CodeParam[]) {
    const raw = req.query[name];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || !/^[+-]?\d{1,9}$/.test(raw)) return undefined;
    const code = Number(raw);
    if (code < 100 || code > 999) return undefined; // HTTP cannot carry other codes
    codes[name] = code;
  }
  let standbyOk = false;
  for (const name of ['standbyok', 'perfstandbyok']) {
    const raw = req.query[name];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || !(TRUE_VALUES.has(raw) || FALSE_VALUES.has(raw))) return undefined;
    if (name === 'standbyok') standbyOk = TRUE_VALUES.has(raw);
  }
  return { codes, standbyOk };
}

export function sysHealthRoutes({ core }: HttpDeps): RouteTable {
  return {
    'sys/health': {
      GET: async (req, res) => {
        const query = parseHealthQuery(req);
        if (!query) return sendErrors(res, 400, []);
        const status = await core.sealStatus();
        const code = !status.initialized
          ? query.codes.uninitcode
          : status.sealed
            ? query.codes.sealedcode
            : query.codes.activecode;
        const body: HealthResponse = {
          initialized: status.initialized,
          sealed: status.sealed,
          standby: status.sealed,
          performance_standby: false,
          replication_performance_mode: 'disabled',
          replication_dr_mode: 'disabled',
          server_time_utc: Math.floor(core.clock.now().getTime() / 1000),
          version: COFFER_VERSION,
          enterprise: false,
          ...(status.cluster ? { cluster_name: status.cluster.name, cluster_id: status.cluster.id } : {}),
          echo_duration_ms: 0,
          clock_skew_ms: 0,
          replication_primary_canary_age_ms: 0,
        };
        sendJson(res, code, body);
      },
    },
    'sys/leader': {
      GET: async (_req, res) => {
        const body: LeaderResponse = {
          ha_enabled: false,
          is_self: false,
          active_time: '0001-01-01T00:00:00Z',
          leader_address: '',
          leader_cluster_address: '',
          performance_standby: false,
          performance_standby_last_remote_wal: 0,
        };
        sendJson(res, 200, body);
      },
    },
  };
}
