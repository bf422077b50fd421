import { readFileSync } from 'node:fs';
import type { SealStanza } from './config/load-config.js';
import { SHAMIR, type SealChoice, type SealSetup } from './core/seal/auto-seal.js';
import { CofferError } from './core/errors.js';
import { loadStaticSeal } from './core/seal/static-seal.js';
import { TransitSeal } from './core/seal/transit-seal.js';

/**
 * The seals a configuration names: the enabled one (Shamir when none) and the disabled one of a migration.
 * `env` is the process environment (main passes `process.env`): a static seal's `key_env` is read from it and then
 * deleted from it.
 * @throws CofferError `config` when a seal's key or TLS file cannot be read.
 */
export function sealSetupFrom(stanzas: readonly SealStanza[], env: NodeJS.ProcessEnv): SealSetup {
  const enabled = stanzas.find((s) => !s.disabled);
  const disabled = stanzas.find((s) => s.disabled);
  return { active: enabled ? buildSeal(enabled, env) : SHAMIR, ...(disabled ? { disabled: buildSeal(disabled, env) } : {}) };
}

function buildSeal(stanza: SealStanza, env: NodeJS.ProcessEnv): SealChoice {
  switch (stanza.type) {
    case 'shamir':
      return SHAMIR;
    case 'static':
      return loadStaticSeal({ ...(stanza.keyFile ? { keyFile: stanza.keyFile } : {}), ...(stanza.keyEnv ? { keyEnv: stanza.keyEnv } : {}) }, env);
    case 'transit': {
      const { caCert, clientCert, clientKey, serverName, skipVerify } = stanza.tls;
      return new TransitSeal({
        address: stanza.address,
        token: stanza.token,
        keyName: stanza.keyName,
        mountPath: stanza.mountPath,
        tls: {
          ...(caCert ? { ca: readTlsFile(caCert) } : {}),
          ...(clientCert ? { cert: readTlsFile(clientCert) } : {}),
          ...(clientKey ? { key: readTlsFile(clientKey) } : {}),
          ...(serverName ? { serverName } : {}),
          skipVerify,
        },
      });
    }
  }
}

function readTlsFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CofferError('config', `seal "transit": cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
