/**
 * Wire shapes of Coffer's HTTP API (Vault's field names). Shared by the server's HTTP layer and the CLI client.
 * Types only: no behaviour, no imports from server/ or cli/.
 */

export interface SealStatusResponse {
  type: string;
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  nonce: string;
  version: string;
  build_date: string;
  migration: boolean;
  cluster_name?: string;
  cluster_id?: string;
  recovery_seal: boolean;
  recovery_seal_type?: string;
  storage_type?: string;
}

export interface InitRequestBody {
  secret_shares?: number;
  secret_threshold?: number;
  pgp_keys?: string[] | null;
  root_token_pgp_key?: string | null;
  stored_shares?: number;
  recovery_shares?: number;
  recovery_threshold?: number;
  recovery_pgp_keys?: string[] | null;
}

export interface InitResponse {
  keys: string[];
  keys_base64: string[];
  root_token: string;
  recovery_keys?: string[];
  recovery_keys_base64?: string[];
}

export interface UnsealRequestBody {
  key?: string;
  reset?: boolean;
  migrate?: boolean;
}

export interface HealthResponse {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  performance_standby: boolean;
  replication_performance_mode: string;
  replication_dr_mode: string;
  server_time_utc: number;
  version: string;
  enterprise: boolean;
  cluster_name?: string;
  cluster_id?: string;
  echo_duration_ms: number;
  clock_skew_ms: number;
  replication_primary_canary_age_ms: number;
}

export interface LeaderResponse {
  ha_enabled: boolean;
  is_self: boolean;
  active_time: string;
  leader_address: string;
  leader_cluster_address: string;
  performance_standby: boolean;
  performance_standby_last_remote_wal: number;
}

export interface ErrorResponse {
  errors: string[];
}

/** `GET/PUT sys/rekey/init` (and the recovery variant). */
export interface RekeyStatusResponse {
  nonce: string;
  started: boolean;
  t: number;
  n: number;
  progress: number;
  required: number;
  pgp_fingerprints: string[] | null;
  backup: boolean;
  verification_required: boolean;
  verification_nonce?: string;
}

/** The `sys/rekey/update` answer that completes a rekey. */
export interface RekeyResultResponse {
  nonce: string;
  complete: true;
  keys: string[];
  keys_base64: string[];
  pgp_fingerprints: string[] | null;
  backup: boolean;
  verification_required: boolean;
  verification_nonce?: string;
}

/** `GET/DELETE sys/rekey/verify` and verify progress. */
export interface RekeyVerifyStatusResponse {
  nonce: string;
  started: boolean;
  t: number;
  n: number;
  progress: number;
}
