import { Mutex } from 'async-mutex';
import { rfc3339Nano } from '../clock.js';
import { CofferError } from '../errors.js';
import { cubbyholePrefix } from '../secrets/cubbyhole.js';
import { decodeJson, encodeJson } from '../secrets/secret-engine.js';
import type { TokenStore } from '../token/token-store.js';
import type { Barrier } from '../barrier/barrier.js';

/** What a wrapped reply carries instead of its data. */
export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

export const WRAPPING_POLICY = 'response-wrapping';
const INVALID = 'wrapping token is not valid or does not exist';
const RESPONSE_KEY = 'response';

/**
 * Response wrapping: a response is stored in the cubbyhole of a new single-use token (policy `response-wrapping`,
 * orphan, not renewable) created in the same batch; unwrapping reads it and revokes the token (which destroys the
 * cubbyhole) under one lock, so a wrapped response is delivered at most once.
 */
export class ResponseWrapping {
  readonly #lock = new Mutex();

  constructor(
    private readonly barrier: Barrier,
    private readonly tokens: TokenStore,
  ) {}

  /** Wraps `response` (the JSON envelope without its request id) for `ttl` seconds. */
  async wrap(response: Record<string, unknown>, ttl: number, creationPath: string, wrappedAccessor?: string): Promise<WrapInfo> {
    const { token, record } = await this.tokens.create(
      { policies: [WRAPPING_POLICY], ttl, explicitMaxTtl: ttl, renewable: false, numUses: 1, displayName: 'response-wrapping', path: creationPath },
      (hash) => [{ type: 'put', path: cubbyholePrefix(hash) + RESPONSE_KEY, value: encodeJson(response) }],
    );
    return {
      token,
      accessor: record.accessor,
      ttl,
      creation_time: rfc3339Nano(new Date(record.creationTime * 1000)),
      creation_path: creationPath,
      ...(wrappedAccessor ? { wrapped_accessor: wrappedAccessor } : {}),
    };
  }

  /**
   * The wrapped response, once: the wrapping token is revoked (and its cubbyhole deleted) before this returns.
   * @throws CofferError `invalid_request` for anything but a live wrapping token.
   */
  async unwrap(token: string): Promise<Record<string, unknown>> {
    return this.#lock.runExclusive(async () => {
      const { record, response } = await this.#read(token);
      await this.tokens.revoke(record);
      return response;
    });
  }

  /** The wrapping token's creation facts, without using it. @throws CofferError `invalid_request`. */
  async lookup(token: string): Promise<Record<string, unknown>> {
    const { record } = await this.#read(token);
    return {
      creation_path: record.path,
      creation_time: rfc3339Nano(new Date(record.creationTime * 1000)),
      creation_ttl: record.ttl,
    };
  }

  /** Moves a wrapped response to a new wrapping token with the same TTL and path; the old token stops working. */
  async rewrap(token: string): Promise<WrapInfo> {
    return this.#lock.runExclusive(async () => {
      const { record, response } = await this.#read(token);
      await this.tokens.revoke(record);
      return this.wrap(response, record.ttl, record.path);
    });
  }

  async #read(token: string) {
    const record = await this.tokens.lookup(token);
    if (!record || !record.policies.includes(WRAPPING_POLICY) || record.policies.length !== 1) throw new CofferError('invalid_request', INVALID);
    const raw = await this.barrier.get(cubbyholePrefix(record.hash) + RESPONSE_KEY);
    if (!raw) throw new CofferError('invalid_request', INVALID);
    return { record, response: decodeJson<Record<string, unknown>>(raw) };
  }
}
