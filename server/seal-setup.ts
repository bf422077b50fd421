import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SealStanza } from './config/load-config.js';
import { SHAMIR, type SealChoice, type SealSetup } from './core/seal/auto-seal.js';
import { CofferError } from './core/errors.js';
import { loadStaticSeal } from './core/seal/static-seal.js';
import { SealTokenRenewal, type RenewalScheduler } from './core/seal/seal-token-renewal.js';
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

/** The transit seals of a setup (the enabled one and the old one of a migration). */
function transitSeals(setup: SealSetup): TransitSeal[] {
  return [setup.active, setup.disabled].filter((s): s is TransitSeal => s instanceof TransitSeal);
}

/** Warnings about seal settings that weaken the server, logged once at start. */
export function warnAboutSeals(setup: SealSetup, logger: Logger): void {
  for (const seal of transitSeals(setup)) {
    if (seal.skipsTlsVerify) {
      logger.warn(
        { seal: seal.description },
        'SECURITY WARNING: seal "transit" has tls_skip_verify = true: the key service\'s certificate is not checked, so anyone who can intercept the connection can read the root key or feed the server a key of their choosing; set tls_ca_cert instead',
      );
    }
  }
}

/**
 * Starts the token renewal of every transit seal that has not `disable_renewal` set; `stop` cancels them.
 * Nothing is awaited: the renewals log their own failures.
 */
export function startSealTokenRenewals(setup: SealSetup, logger: Logger, schedule: RenewalScheduler): { stop(): Promise<void> } {
  const renewals = transitSeals(setup)
    .filter((seal) => seal.renewsToken)
    .map((seal) => new SealTokenRenewal(seal, logger, schedule));
  for (const renewal of renewals) renewal.start();
  return {
    stop: async () => {
      await Promise.all(renewals.map((r) => r.stop()));
    },
  };
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
        ...(stanza.namespace ? { namespace: stanza.namespace } : {}),
        disableRenewal: stanza.disableRenewal,
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
