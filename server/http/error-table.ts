import type { ErrorCode } from '../core/errors.js';

/**
 * The only map from core error codes to HTTP statuses. `message: 'own'` shows the error's own text (always
 * written to be safe to show); a fixed string replaces it; `null` sends `{"errors":[]}`.
 */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- 'own' is spelled out for the reader
const TABLE: Record<ErrorCode, { status: number; message: 'own' | string | null }> = {
  invalid_request: { status: 400, message: 'own' },
  invalid_seal_config: { status: 400, message: 'own' },
  invalid_key: { status: 400, message: 'own' },
  not_initialized: { status: 400, message: 'own' },
  already_initialized: { status: 400, message: 'own' },
  unsealed: { status: 400, message: 'own' },
  permission_denied: { status: 403, message: 'permission denied' },
  invalid_token: { status: 403, message: '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n' },
  forbidden: { status: 403, message: '1 error occurred:\n\t* permission denied\n\n' },
  denied: { status: 403, message: 'own' },
  unsupported_path: { status: 404, message: null },
  unsupported_operation: { status: 405, message: null },
  conflict: { status: 409, message: 'own' },
  sealed: { status: 503, message: 'Vault is sealed' },
  standby: { status: 503, message: 'own' },
  // Opaque on the wire (no seal address, key name or upstream error text); the detail is in the server log.
  seal_unavailable: { status: 500, message: "the seal's key service is unavailable; see the server log" },
  seal_failed: { status: 500, message: 'the seal refused the operation; see the server log' },
  integrity: { status: 500, message: 'internal error' },
  storage: { status: 500, message: 'internal error' },
  storage_locked: { status: 500, message: 'internal error' },
  config: { status: 500, message: 'internal error' },
  internal: { status: 500, message: 'internal error' },
};

export function httpErrorFor(code: ErrorCode, ownMessage: string): { status: number; errors: string[] } {
  const entry = TABLE[code];
  if (entry.message === null) return { status: entry.status, errors: [] };
  return { status: entry.status, errors: [entry.message === 'own' ? ownMessage : entry.message] };
}
