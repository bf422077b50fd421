/** Why a barrier entry failed to decrypt. */
export type DecryptFailureReason = 'unknown_term' | 'auth_failure' | 'malformed';

/** What the core reports as it works; server/metrics implements it with Prometheus counters. */
export interface CoreObserver {
  /** A combination of shares at the threshold (`shares`) or an unwrap through the auto seal (`seal`). */
  unsealAttempt(method: 'shares' | 'seal', outcome: 'success' | 'failure', reason?: string): void;
  /** Current shares combined at the threshold during a rekey. */
  rekeyAttempt(target: 'barrier' | 'recovery', outcome: 'success' | 'failure', reason?: string): void;
  decryptFailure(reason: DecryptFailureReason): void;
  /** Whether a committed rekey of `target` still waits for its new shares to be confirmed delivered. */
  unconfirmedRekey(target: 'barrier' | 'recovery', pending: boolean): void;
  /** The OLD shares of an unconfirmed rekey were used: the rekey was rolled back. */
  rekeyRollback(target: 'barrier' | 'recovery'): void;
  /** A read of an entry under a retired term was refused. */
  retiredRead?(term: number): void;
  /** One audit device failed to write a record (others may have succeeded). */
  auditDeviceFailure(path: string): void;
  /** No audit device could write a record: the request was refused. */
  auditLogFailure(kind: 'request' | 'response'): void;
}

/** An observer that records nothing (cores built without a server, e.g. in unit tests). */
export const NO_OBSERVER: CoreObserver = {
  unsealAttempt: () => {},
  rekeyAttempt: () => {},
  decryptFailure: () => {},
  unconfirmedRekey: () => {},
  rekeyRollback: () => {},
  auditDeviceFailure: () => {},
  auditLogFailure: () => {},
};
