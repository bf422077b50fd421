import type { Logger } from 'pino';
import { encryptKeyring, encryptOpWith, type AesGcmBarrier } from '../barrier/aes-gcm-barrier.js';
import type { BarrierOp } from '../barrier/barrier.js';
import { Keyring } from '../barrier/keyring.js';
import type { Clock, Random } from '../clock.js';
import { CofferError } from '../errors.js';
import { encryptShares, encryptTo, parsePgpKeys } from '../pgp/pgp-keys.js';
import { isAutoSeal, type SealChoice } from '../seal/auto-seal.js';
import { assertValidSealConfig, shareConfigProblem, type SealConfig } from '../seal/seal-config.js';
import type { SealStore } from '../seal/seal-store.js';
import { splitKey } from '../seal/shamir.js';
import { wipe } from '../secret-bytes.js';
import type { StorageBackend, StorageOp } from '../storage/storage-backend.js';
import { TokenStore } from '../token/token-store.js';
import { ClusterIdentity } from './cluster-identity.js';
import type { Lifecycle } from './lifecycle.js';

export interface InitRequest {
  secretShares: number;
  secretThreshold: number;
  pgpKeys: readonly string[];
  rootTokenPgpKey: string;
  recoveryShares: number;
  recoveryThreshold: number;
  recoveryPgpKeys: readonly string[];
}

export interface InitResult {
  /** Unseal shares, or PGP messages when `pgpKeys` were given, in request order. Empty with an auto seal. */
  keys: Uint8Array[];
  /** Recovery shares (or PGP messages) with an auto seal; undefined when none were made. */
  recoveryKeys?: Uint8Array[];
  /** The root token, or base64 of its PGP message when `rootTokenPgpKey` was given. */
  rootToken: string;
}

export interface InitializerDeps {
  storage: StorageBackend;
  store: SealStore;
  barrier: AesGcmBarrier;
  lifecycle: Lifecycle;
  seal: SealChoice;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Config `cluster_name`; a random name when absent. */
  clusterName?: string;
}

/**
 * Creates the root key, the unseal key (Shamir) or the recovery key (auto seal) and its shares, keyring term 1 and
 * the root token, and persists them in ONE atomic batch. Everything that can fail (validation, PGP encryption, the
 * key service wrapping the root key) happens before that batch, so a failed init writes nothing and a crash leaves
 * the server either uninitialised or fully initialised. With Shamir the server stays sealed; with an auto seal it
 * is unsealed before answering, as Vault does.
 * @throws CofferError `invalid_request`, `invalid_seal_config`, `already_initialized`, `seal_unavailable`.
 */
export async function initialize(d: InitializerDeps, request: InitRequest): Promise<InitResult> {
  const auto = isAutoSeal(d.seal) ? d.seal : undefined;
  const notApplicable = auto
    ? ([
        ['secret_shares', request.secretShares !== 0],
        ['secret_threshold', request.secretThreshold !== 0],
        ['pgp_keys', request.pgpKeys.length > 0],
      ] as const)
    : ([
        ['recovery_shares', request.recoveryShares !== 0],
        ['recovery_threshold', request.recoveryThreshold !== 0],
        ['recovery_pgp_keys', request.recoveryPgpKeys.length > 0],
      ] as const);
  const offending = notApplicable.filter(([, set]) => set).map(([name]) => name);
  if (offending.length > 0) throw new CofferError('invalid_request', `parameters ${offending.join(',')} not applicable to seal type ${d.seal.type}`);
  const shareCount = auto ? request.recoveryShares : request.secretShares;
  const threshold = auto ? request.recoveryThreshold : request.secretThreshold;
  const pgpKeys = auto ? request.recoveryPgpKeys : request.pgpKeys;
  if (!auto) assertValidSealConfig(shareCount, threshold, pgpKeys.length);
  else if (shareCount !== 0 || threshold !== 0 || pgpKeys.length > 0) {
    // Vault's recovery rules: 0 of 0 (no recovery key) is allowed, anything else follows the Shamir rules.
    const problem = shareConfigProblem(shareCount, threshold, pgpKeys.length);
    if (problem) throw new CofferError('invalid_seal_config', `invalid recovery configuration: ${problem}`);
  }
  const recipients = await parsePgpKeys(pgpKeys);
  const rootTokenRecipient = request.rootTokenPgpKey ? (await parsePgpKeys([request.rootTokenPgpKey]))[0] : undefined;

  return d.lifecycle.exclusive(async () => {
    if ((await d.store.config()) !== undefined) throw new CofferError('already_initialized', 'Vault is already initialized');
    const rootKey = d.random.bytes(32);
    // The key people hold shares of: the unseal key (Shamir) or the recovery key (auto seal).
    const humanKey = d.random.bytes(32);
    const termKey = d.random.bytes(32);
    const now = d.clock.now();
    let shares: Uint8Array[] = [];
    let keyring: Keyring | undefined;
    const barrierOps: BarrierOp[] = [];
    try {
      if (shareCount > 0) shares = await splitKey(humanKey, shareCount, threshold);
      const { token, ops: tokenOps } = TokenStore.initialEntries(d.random, now);
      barrierOps.push(ClusterIdentity.initialEntry(d.random, d.clusterName), ...tokenOps);
      keyring = Keyring.create(termKey, now).withEncryptions(1, barrierOps.length);

      // Encrypt for the key holders before anything is written: a PGP failure must leave the server uninitialised.
      const keys = recipients.length > 0 ? await encryptShares(shares, recipients) : shares.map((s) => s.slice());
      const rootToken = rootTokenRecipient
        ? Buffer.from(await encryptTo(rootTokenRecipient, new TextEncoder().encode(token))).toString('base64')
        : token;

      const config: SealConfig = auto
        ? { type: auto.type, secretShares: 1, secretThreshold: 1 }
        : { type: 'shamir', secretShares: shareCount, secretThreshold: threshold };
      const sealOps: StorageOp[] = d.store.stageConfig(config);
      if (auto) {
        // The key service is asked before the batch: if it is unreachable, nothing is written.
        sealOps.push(
          ...d.store.stageAutoWrapping(auto.type, await auto.encrypt(rootKey)),
          ...d.store.stageRecovery({ secretShares: shareCount, secretThreshold: threshold }, shareCount > 0 ? humanKey : undefined),
        );
      } else {
        sealOps.push(...d.store.stageShamirWrapping(humanKey, rootKey));
      }
      const ring = keyring;
      await d.storage.batch([...sealOps, encryptKeyring(rootKey, ring), ...barrierOps.map((op) => encryptOpWith(ring, op))]);
      d.store.invalidate();
      d.logger.info({ seal: config.type, shares: shareCount, threshold, pgp: recipients.length > 0 }, 'initialized');
      if (auto) {
        await d.barrier.unseal(rootKey);
        await d.lifecycle.completeUnseal();
        d.logger.info({ seal: auto.type }, 'unsealed');
        return { keys: [], ...(shareCount > 0 ? { recoveryKeys: keys } : {}), rootToken };
      }
      return { keys, rootToken };
    } finally {
      for (const op of barrierOps) if (op.type === 'put') wipe(op.value);
      wipe(rootKey, humanKey, termKey, ...shares);
      keyring?.destroy();
    }
  });
}
