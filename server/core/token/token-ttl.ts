import { CofferError } from '../errors.js';
import type { TokenEntry } from './token-entry.js';

/** Vault's default and maximum lease TTL (768h): what a token gets when it asks for no TTL. */
export const DEFAULT_TOKEN_TTL = 768 * 3600;

/** The server's `default_lease_ttl` and `max_lease_ttl`, seconds. */
export interface LeaseLimits {
  defaultTtl: number;
  maxTtl: number;
}

/** What a new token asks for (seconds; 0 or absent = not set). */
export interface LeaseRequest {
  ttl?: number | undefined;
  explicitMaxTtl?: number | undefined;
  period?: number | undefined;
  maxTtl?: number | undefined;
  isRoot: boolean;
}

/** The lease a new token gets: its TTL and the caps later renewals honour (seconds, 0 = none). */
export interface Lease {
  ttl: number;
  explicitMaxTtl: number;
  period: number;
  maxTtl: number;
}

/** @throws CofferError `invalid_request` unless 0 < default <= max. */
export function checkLeaseLimits(defaultTtlSeconds: number, maxTtlSeconds: number): LeaseLimits {
  if (!(defaultTtlSeconds > 0 && maxTtlSeconds > 0 && defaultTtlSeconds <= maxTtlSeconds)) {
    throw new CofferError('invalid_request', 'the default lease TTL must be more than 0 and at most the maximum');
  }
  return { defaultTtl: defaultTtlSeconds, maxTtl: maxTtlSeconds };
}

/**
 * The lease of a new token: a periodic token's TTL is its period (and it has no max TTL); otherwise the asked TTL or
 * the server default, capped by the max TTL, the explicit max TTL and — root tokens, which never expire, excepted —
 * the server's maximum, as Vault does.
 */
export function creationLease(request: LeaseRequest, limits: LeaseLimits): Lease {
  const explicitMaxTtl = request.explicitMaxTtl ?? 0;
  const period = request.period ?? 0;
  const maxTtl = period > 0 ? 0 : (request.maxTtl ?? 0);
  let ttl = period > 0 ? period : (request.ttl ?? 0);
  if (ttl === 0 && !request.isRoot) ttl = limits.defaultTtl;
  if (maxTtl > 0 && ttl > maxTtl) ttl = maxTtl;
  if (explicitMaxTtl > 0 && (ttl === 0 || ttl > explicitMaxTtl)) ttl = explicitMaxTtl;
  if (!request.isRoot && ttl > limits.maxTtl) ttl = limits.maxTtl;
  return { ttl, explicitMaxTtl, period, maxTtl };
}

/**
 * The TTL a renewal at `now` (Unix seconds) gives: the period for a periodic token, else `increment` (default: the
 * token's TTL), never past creation + max TTL, creation + explicit max TTL, or creation + the server's maximum.
 * May be 0 or less when a cap is already reached.
 */
export function renewalTtl(entry: TokenEntry, increment: number | undefined, now: number, systemMaxTtl: number): number {
  let ttl = entry.period > 0 ? entry.period : increment && increment > 0 ? increment : entry.ttl;
  if (entry.period === 0 && entry.maxTtl > 0) ttl = Math.min(ttl, entry.creationTime + entry.maxTtl - now);
  if (entry.explicitMaxTtl > 0) ttl = Math.min(ttl, entry.creationTime + entry.explicitMaxTtl - now);
  return Math.min(ttl, entry.creationTime + systemMaxTtl - now);
}

/** Whether the token has expired at `now` (Unix seconds); tokens with no expiry never do. */
export function isExpired(entry: TokenEntry, now: number): boolean {
  return entry.expireTime > 0 && now >= entry.expireTime;
}

/** Remaining seconds of a token at `now` (Unix seconds); 0 for tokens that never expire. */
export function remainingSeconds(entry: TokenEntry, now: number): number {
  return entry.expireTime === 0 ? 0 : Math.max(0, entry.expireTime - now);
}
