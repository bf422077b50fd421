/**
 * An audit record before a device hashes it: Vault's field names, raw values. Each device hashes its own deep copy
 * (see AuditBroker), so one device's `log_raw` can never leak into another's output.
 */
export interface AuditAuth {
  client_token?: string;
  accessor?: string;
  display_name?: string;
  policies?: string[];
  token_policies?: string[];
  metadata?: Record<string, string>;
  entity_id?: string;
  num_uses?: number;
  remaining_uses?: number;
  token_type?: string;
  /** Seconds. */
  token_ttl?: number;
  token_issue_time?: string;
}

export interface AuditRequest {
  id: string;
  operation: string;
  path: string;
  mount_point?: string;
  mount_type?: string;
  mount_accessor?: string;
  client_token?: string;
  client_token_accessor?: string;
  data?: unknown;
  remote_address?: string;
  remote_port?: number;
}

export interface AuditWrapInfo {
  ttl?: number;
  token?: string;
  accessor?: string;
  creation_time?: string;
  creation_path?: string;
  wrapped_accessor?: string;
}

export interface AuditResponse {
  mount_point?: string;
  mount_type?: string;
  auth?: AuditAuth;
  data?: unknown;
  warnings?: string[];
  wrap_info?: AuditWrapInfo;
  /** HTTP status Coffer answered with (not in Vault's record; helps join errors to their cause). */
  status_code?: number;
}

export interface AuditEntry {
  type: 'request' | 'response';
  /** RFC3339 with fractional seconds, UTC. */
  time: string;
  auth?: AuditAuth;
  request: AuditRequest;
  response?: AuditResponse;
  error?: string;
}
