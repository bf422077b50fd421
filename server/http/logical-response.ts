import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { sendJson } from './json-response.js';

/**
 * Vault's envelope for logical paths. For a fixed set of legacy sys routes (key-status, rotate, rekey backups,
 * policies, mounts…) Vault also copies `data` to the top level ("injected"); `inject` does the same.
 */
export function sendLogical(res: Response, data: Record<string, unknown>, options: { inject?: boolean; mountType?: string } = {}): void {
  const envelope = {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: options.mountType ?? 'system',
  };
  sendJson(res, 200, options.inject ? { ...data, ...envelope } : envelope);
}
