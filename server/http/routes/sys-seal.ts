import type { SealStatusResponse, UnsealRequestBody } from '../../../shared/api-types.js';
import { UNSEAL_REQUEST } from '../../../shared/schemas.js';
import { COFFER_BUILD_DATE, COFFER_VERSION } from '../../../shared/version.js';
import type { SealStatus } from '../../core/coffer-core.js';
import { CofferError } from '../../core/errors.js';
import type { Lifecycle } from '../../core/lifecycle/lifecycle.js';
import type { Unsealer } from '../../core/seal/unsealer.js';
import type { BodyValidator } from '../request-body.js';
import { json, noContent, type RouteTable } from './route-table.js';

export function sealStatusBody(status: SealStatus): SealStatusResponse {
  return {
    type: status.type,
    initialized: status.initialized,
    sealed: status.sealed,
    t: status.threshold,
    n: status.shares,
    progress: status.progress,
    nonce: status.nonce,
    version: COFFER_VERSION,
    build_date: COFFER_BUILD_DATE,
    migration: status.migration,
    ...(status.cluster ? { cluster_name: status.cluster.name, cluster_id: status.cluster.id } : {}),
    recovery_seal: status.recoverySeal,
    ...(status.recoverySeal ? { recovery_seal_type: 'shamir' } : {}),
    storage_type: status.storageType,
  };
}

/**
 * A share as hex (either case) or standard base64, with Vault's rule: hex only when it decodes to 16–33 bytes.
 * The result is an owned array; the decoding buffer is zeroed.
 * @throws CofferError `invalid_request` when neither encoding fits.
 */
export function decodeKeyShare(text: string): Uint8Array {
  let decoded: Buffer | undefined;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text) && text.length >= 32 && text.length <= 66) decoded = Buffer.from(text, 'hex');
  else {
    const compact = text.replace(/[\r\n]/g, '');
    if (compact.length > 0 && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact))
      decoded = Buffer.from(compact, 'base64');
  }
  if (!decoded) throw new CofferError('invalid_request', "'key' must be a valid hex or base64 string");
  const owned = new Uint8Array(decoded);
  decoded.fill(0);
  return owned;
}

export interface SysSealDeps {
  validator: BodyValidator;
  lifecycle: Lifecycle;
  unsealer: Unsealer;
  sealStatus: () => Promise<SealStatus>;
  seal: () => Promise<void>;
}

export function sysSealRoutes({ validator, lifecycle, unsealer, sealStatus, seal }: SysSealDeps): RouteTable {
  return {
    'sys/seal-status': {
      GET: async () => json(200, sealStatusBody(await sealStatus())),
    },
    'sys/unseal': {
      PUT: async (ctx) => {
        const body = validator.parse<UnsealRequestBody>(ctx.rawBody, UNSEAL_REQUEST);
        if (body.reset) {
          await unsealer.reset();
          return json(200, sealStatusBody(await sealStatus()));
        }
        if (!body.key) throw new CofferError('invalid_request', "'key' must be specified in request body as JSON, or 'reset' set to true");
        const share = decodeKeyShare(body.key);
        try {
          await unsealer.submit(share, body.migrate ?? false);
        } finally {
          share.fill(0);
        }
        return json(200, sealStatusBody(await sealStatus()));
      },
    },
    'sys/seal': {
      PUT: async (ctx) => {
        if (!lifecycle.sealed) {
          await ctx.authorize('sys/seal', 'update', true);
          await seal();
        }
        return noContent();
      },
    },
    'sys/step-down': {
      // Coffer has no HA yet: stepping down is a no-op for an authorised caller, as on a non-HA Vault.
      PUT: async (ctx) => {
        if (!lifecycle.sealed) await ctx.authorize('sys/step-down', 'update', true);
        return noContent();
      },
    },
  };
}
