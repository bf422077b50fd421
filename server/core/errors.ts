/**
 * Every failure the core reports is a CofferError with a stable `code`. Callers branch on `code`, never on the
 * message; `server/http/error-table.ts` is the only place that turns a code into an HTTP status.
 *
 * Messages of client-facing codes are shown to API callers, so they must never contain key material, shares,
 * tokens or plaintext. Messages of internal codes are logged, never sent.
 */
export type ErrorCode =
  // client errors (4xx)
  | 'invalid_request' // malformed or semantically invalid input; message is Vault's text
  | 'invalid_seal_config' // bad shares/threshold/PGP configuration
  | 'invalid_key' // a key share or combined key was rejected
  | 'not_initialized'
  | 'already_initialized'
  | 'unsealed' // an operation that needs a sealed server
  | 'permission_denied' // no token
  | 'invalid_token' // unknown, expired or revoked token
  | 'forbidden' // valid token, ACL denies
  | 'denied' // 403 with Vault's own text (`bad token`)
  | 'unsupported_path'
  | 'unsupported_operation'
  | 'conflict' // the request clashes with the current state (a job already runs, a gate is closed)
  // server state (503)
  | 'sealed'
  | 'standby' // this node does not hold the HA lock: the active node serves the request (message: Vault's text)
  // the auto seal's key service (500; the message names the service and the cause, never key material)
  | 'seal_unavailable' // unreachable, sealed or failing: trying again later may work
  | 'seal_failed' // refused (wrong key, permission denied): needs a configuration change
  // internal errors (5xx): never shown to clients
  | 'integrity' // stored data failed authentication, was truncated, or names an unknown term
  | 'storage' // the storage backend failed
  | 'storage_locked' // the data directory is held by another process
  | 'config' // the server configuration is invalid
  | 'internal';

export class CofferError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CofferError';
    this.code = code;
  }
}

export function isCofferError(err: unknown, code?: ErrorCode): err is CofferError {
  return err instanceof CofferError && (code === undefined || err.code === code);
}
