import type { SealStatusResponse, UnsealRequestBody } from '../../../shared/api-types.js';
import { UNSEAL_REQUEST } from '../../../shared/schemas.js';
import { COFFER_BUILD_DATE, COFFER_VERSION } from '../../../shared/version.js';
import type { SealStatus } from '../../core/coffer-core.js';
import { CofferError } from '../../core/errors.js';
import { authorize } from '../auth.js';
import { sendJson, sendNoContent } from '../json-response.js';
import type { HttpDeps, RouteTable } from './route-table.js';

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
 * @throws CofferError `invalid_request` when neither encoding fits.
 */
export function decodeKeyShare(text: string): Uint8Array {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text) && text.length >= 32 && text.length <= 66) {
    return new Uint8Array(Buffer.from(text, 'hex'));
  }
  const compact = text.replace(/[\r\n]/g, '');
  if (compact.length > 0 && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) {
    return new Uint8Array(Buffer.from(compact, 'base64'));
  }
  throw new CofferError('invalid_request', "'key' must be a valid hex or base64 string");
}

export function sysSealRoutes({ core, validator }: HttpDeps): RouteTable {
  return {
    'sys/seal-status': {
      GET: async (_req, res) => sendJson(res, 200, sealStatusBody(await core.sealStatus())),
    },
    'sys/unseal': {
      PUT: async (req, res) => {
        const body = validator.parse<UnsealRequestBody>(req, UNSEAL_REQUEST);
        if (body.reset) {
          sendJson(res, 200, sealStatusBody(await core.resetUnseal()));
          return;
        }
        if (!body.key) {
          throw new CofferError('invalid_request', "'key' must be specified in request body as JSON, or 'reset' set to true");
        }
        const share = decodeKeyShare(body.key);
        try {
          sendJson(res, 200, sealStatusBody(await core.submitUnsealKey(share, body.migrate ?? false)));
        } finally {
          share.fill(0);
        }
      },
    },
    'sys/seal': {
      PUT: async (req, res) => {
        if (!core.barrier.sealed) {
          await authorize(core, req, 'sys/seal', 'update', true);
          await core.seal();
        }
        sendNoContent(res);
      },
    },
    'sys/step-down': {
      // Coffer has no HA yet: stepping down is a no-op for an authorised caller, as on a non-HA Vault.
      PUT: async (req, res) => {
        if (!core.barrier.sealed) await authorize(core, req, 'sys/step-down', 'update', true);
        sendNoContent(res);
      },
    },
  };
}
