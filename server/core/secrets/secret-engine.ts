import { CofferError } from '../errors.js';
import type { Barrier } from '../barrier/barrier.js';

/** A logical request as an engine sees it: the path is relative to the mount. */
export interface LogicalRequest {
  operation: 'read' | 'list' | 'create' | 'update' | 'delete' | 'patch';
  path: string;
  data: Record<string, unknown>;
  query: Record<string, string>;
}

/** `undefined` from `handle` means "nothing here" (404 on a read, 204 on a write). */
export interface LogicalResponse {
  data: Record<string, unknown> | null;
  /** Set for reads that found nothing but still answer with data (KV v2 deleted versions). */
  notFound?: boolean;
  /** Lease duration reported in the envelope (KV v1 reports 768h). */
  leaseDuration?: number;
  /** Shown in the envelope's `warnings`. */
  warnings?: string[];
}

export interface SecretEngine {
  /** Whether a write to `path` updates something that exists (`update`) or makes something new (`create`). */
  exists(path: string): Promise<boolean>;
  /** @throws CofferError `invalid_request` / `unsupported_path` / `unsupported_operation`. */
  handle(request: LogicalRequest): Promise<LogicalResponse | undefined>;
  /** Periodic work (e.g. transit's automatic key rotation), run by the server's maintenance timer. */
  maintenance?(): Promise<unknown>;
}

/** A barrier confined to one prefix: each mount's data lives under `logical/<uuid>/`. */
export class BarrierView {
  constructor(
    private readonly barrier: Barrier,
    readonly prefix: string,
  ) {}

  get(path: string) {
    return this.barrier.get(this.prefix + path);
  }
  has(path: string) {
    return this.barrier.has(this.prefix + path);
  }
  list(path: string) {
    return this.barrier.list(this.prefix + path);
  }
  batch(ops: Array<{ type: 'put'; path: string; value: Uint8Array } | { type: 'delete'; path: string }>) {
    return this.barrier.batch(ops.map((op) => ({ ...op, path: this.prefix + op.path })));
  }
  put(path: string, value: Uint8Array) {
    return this.batch([{ type: 'put', path, value }]);
  }
  delete(path: string) {
    return this.batch([{ type: 'delete', path }]);
  }
}

/**
 * Refuses a body field the endpoint does not apply (Coffer never accepts a parameter silently).
 * @throws CofferError `invalid_request` naming the first unknown field.
 */
export function refuseUnknownFields(body: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key.toLowerCase())) throw new CofferError('invalid_request', `unknown field "${key}": not supported on ${where}`);
  }
}

// One coder each for the module: building a TextDecoder costs more than decoding a small entry with it.
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
export const encodeJson = (value: unknown) => utf8Encoder.encode(JSON.stringify(value));
export const decodeJson = <T>(raw: Uint8Array): T => JSON.parse(utf8Decoder.decode(raw)) as T;
