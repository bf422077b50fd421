/** The `seal` stanzas: Shamir, static key, or a transit key service. */
import { checkTransitAddress } from '../core/seal/transit-seal.js';
import { boolValue, checkKeys, stringValue, type Block, type Fail } from './config-values.js';

/** A `seal` stanza. `disabled` marks the old seal of a migration. */
export type SealStanza =
  | { type: 'shamir'; disabled: boolean }
  | { type: 'static'; disabled: boolean; keyFile?: string; keyEnv?: string }
  | {
      type: 'transit';
      disabled: boolean;
      address: string;
      token: string;
      keyName: string;
      mountPath: string;
      /** Sent as `X-Vault-Namespace` on every request to the key service. */
      namespace?: string;
      /** Never renew the token (something else does). */
      disableRenewal: boolean;
      tls: { caCert?: string; clientCert?: string; clientKey?: string; serverName?: string; skipVerify: boolean };
    };

/**
 * A seal stanza. Transit settings fall back to Vault's environment variables (VAULT_ADDR, VAULT_TOKEN,
 * VAULT_TRANSIT_SEAL_KEY_NAME, VAULT_TRANSIT_SEAL_MOUNT_PATH, VAULT_NAMESPACE, VAULT_TRANSIT_SEAL_DISABLE_RENEWAL),
 * as Vault's transit seal does. A plain-HTTP address must be loopback: the root key travels in the body.
 * @throws through `fail` on an unknown type or key, or a missing or contradictory setting.
 */
export function sealStanza(block: Block, text: string, fail: Fail, env: NodeJS.ProcessEnv): SealStanza {
  const str = (key: string): string | undefined => (block.body[key] === undefined ? undefined : stringValue(block.body[key], key, fail));
  const disabled = block.body.disabled === undefined ? false : boolValue(block.body.disabled, 'disabled', fail);
  if (block.label === 'shamir') {
    checkKeys(block, ['disabled'], text, fail);
    return { type: 'shamir', disabled };
  }
  if (block.label === 'static') {
    checkKeys(block, ['disabled', 'key_file', 'key_env', 'current_key', 'current_key_id'], text, fail);
    let keyFile = str('key_file');
    let keyEnv = str('key_env');
    // Vault's static seal names its key as file://PATH or env://NAME.
    const current = str('current_key');
    if (current?.startsWith('file://')) keyFile = current.slice('file://'.length);
    else if (current?.startsWith('env://')) keyEnv = current.slice('env://'.length);
    else if (current !== undefined) fail('current_key must be file://PATH or env://NAME', 'current_key');
    if ((keyFile === undefined) === (keyEnv === undefined)) fail('seal "static" needs exactly one of key_file or key_env', 'seal');
    return { type: 'static', disabled, ...(keyFile ? { keyFile } : {}), ...(keyEnv ? { keyEnv } : {}) };
  }
  if (block.label === 'transit') {
    checkKeys(
      block,
      [
        'disabled',
        'address',
        'token',
        'key_name',
        'mount_path',
        'tls_ca_cert',
        'tls_client_cert',
        'tls_client_key',
        'tls_server_name',
        'tls_skip_verify',
        'disable_renewal',
        'namespace',
      ],
      text,
      fail,
    );
    const address = str('address') ?? env.VAULT_ADDR ?? fail('seal "transit" needs an address (or VAULT_ADDR)', 'seal');
    const token = str('token') ?? env.VAULT_TOKEN ?? fail('seal "transit" needs a token (or VAULT_TOKEN)', 'seal');
    const keyName = str('key_name') ?? env.VAULT_TRANSIT_SEAL_KEY_NAME ?? fail('seal "transit" needs a key_name', 'seal');
    const mountPath = str('mount_path') ?? env.VAULT_TRANSIT_SEAL_MOUNT_PATH ?? fail('seal "transit" needs a mount_path', 'seal');
    if (!/^https?:\/\//.test(address)) fail('address must start with http:// or https://', 'address');
    try {
      checkTransitAddress(address);
    } catch (err) {
      fail((err as Error).message, 'address');
    }
    const namespace = str('namespace') ?? (env.VAULT_NAMESPACE || undefined);
    const disableRenewalRaw = block.body.disable_renewal ?? (env.VAULT_TRANSIT_SEAL_DISABLE_RENEWAL || undefined);
    const disableRenewal = disableRenewalRaw === undefined ? false : boolValue(disableRenewalRaw, 'disable_renewal', fail);
    const tls = {
      ...(str('tls_ca_cert') ? { caCert: str('tls_ca_cert')! } : {}),
      ...(str('tls_client_cert') ? { clientCert: str('tls_client_cert')! } : {}),
      ...(str('tls_client_key') ? { clientKey: str('tls_client_key')! } : {}),
      ...(str('tls_server_name') ? { serverName: str('tls_server_name')! } : {}),
      skipVerify: block.body.tls_skip_verify === undefined ? false : boolValue(block.body.tls_skip_verify, 'tls_skip_verify', fail),
    };
    return { type: 'transit', disabled, address, token, keyName, mountPath, ...(namespace ? { namespace } : {}), disableRenewal, tls };
  }
  return fail(`unknown seal type "${block.label}" (supported: shamir, static, transit)`, 'seal');
}
