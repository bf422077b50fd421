import type { Logger } from 'pino';
import { AuthTable } from './auth/auth-table.js';
import { AuditBroker, type DeclaredAuditDevice } from './audit/audit-broker.js';
import type { StdoutWriter } from './audit/file-device.js';
import { AesGcmBarrier } from './barrier/aes-gcm-barrier.js';
import type { Clock, Random } from './clock.js';
import { GenerateRoot } from './generate-root/generate-root.js';
import { ClusterIdentity } from './lifecycle/cluster-identity.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { MountTable } from './mounts/mount-table.js';
import { NO_OBSERVER, type CoreObserver } from './observer.js';
import { PolicyStore } from './policy/policy-store.js';
import { RekeyEngine } from './rekey/rekey-engine.js';
import { RewrapService, type JobNotifier, type RewrapObserver } from './rotation/job-runner.js';
import { DEFAULT_TRIM_GRACE_SECONDS, RetirementService } from './rotation/retirement.js';
import { RotationService } from './rotation/rotation-service.js';
import { webhookNotifier } from './rotation/webhook.js';
import { SHAMIR, type SealSetup } from './seal/auto-seal.js';
import { SealStore } from './seal/seal-store.js';
import { UnsealKeyHolder } from './seal/unseal-key-holder.js';
import { Unsealer } from './seal/unsealer.js';
import { Cubbyhole } from './secrets/cubbyhole.js';
import { CachedBackend } from './storage/cached-backend.js';
import type { StorageBackend } from './storage/storage-backend.js';
import { TokenRoles } from './token/token-roles.js';
import { TokenStore } from './token/token-store.js';
import { ResponseWrapping } from './wrapping/response-wrapping.js';

export interface CoreOptions {
  storage: StorageBackend;
  /** Reported as `storage_type` in seal-status. */
  storageType: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The configured seal(s); Shamir when absent. */
  seal?: SealSetup;
  /** Receives unseal, rekey and decryption events (metrics). */
  observer?: CoreObserver;
  /** Config `cluster_name`: the name given to the cluster at init. */
  clusterName?: string;
  /** Receives rewrap job and census events (metrics). */
  rewrapObserver?: RewrapObserver;
  /** Config `keyring_trim_grace`, in seconds (default 72h). */
  keyringTrimGraceSeconds?: number;
  /** Delivers rewrap job webhooks; built from the rewrap service when absent. */
  notifier?: (rewrap: RewrapService) => JobNotifier;
  /** Waits for rewrap rate limits and retry backoff (tests inject one). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Audit settings from the configuration: `audit` stanzas, `allow_audit_log_prefixing`, and where `stdout` is. */
  audit?: { declared?: readonly DeclaredAuditDevice[]; allowPrefixing?: boolean; stdout?: StdoutWriter };
}

/** Every service of the core, each built once over the one barrier and lifecycle. */
export interface CoreServices {
  readonly barrier: AesGcmBarrier;
  readonly lifecycle: Lifecycle;
  readonly sealStore: SealStore;
  readonly unsealer: Unsealer;
  readonly rotation: RotationService;
  readonly rekey: RekeyEngine;
  readonly generateRoot: GenerateRoot;
  readonly rewrap: RewrapService;
  readonly retirement: RetirementService;
  readonly tokens: TokenStore;
  readonly tokenRoles: TokenRoles;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;
  readonly auth: AuthTable;
  readonly cubbyhole: Cubbyhole;
  readonly wrapping: ResponseWrapping;
  readonly cluster: ClusterIdentity;
  readonly audit: AuditBroker;
  /** The configured seal(s), Shamir when none was given. */
  readonly seals: SealSetup;
}

/**
 * Builds each service of the core once and wires them: the barrier's events to the logger and observer, the rewrap
 * service to its webhook notifier, and the stores to the lifecycle's hooks (load at unseal; flush, close and clear
 * at seal, in an order that matters: see the comments). Touches no storage; everything loads at the first unseal.
 */
export function assembleCore(options: CoreOptions): CoreServices {
  const { storage, clock, random, logger } = options;
  const observer = options.observer ?? NO_OBSERVER;
  const seals = options.seal ?? { active: SHAMIR };
  const barrier = new AesGcmBarrier(storage, {
    decryptFailure: (reason) => observer.decryptFailure(reason),
    backgroundError: (err) => logger.error({ err: (err as Error).message }, 'could not persist encryption counts'),
    uncleanStop: (o) =>
      logger.warn(
        { term: o.term, encryptions: o.encryptions, margin: o.marginAdded },
        "the last stop was not clean (crash or kill): encryption counts since the last flush were lost, so the active term's count was raised by the safety margin",
      ),
    retiredRead: (term) => observer.retiredRead?.(term),
  });
  const lifecycle = new Lifecycle(barrier);
  // Built before the rewrap service, which resolves a job's API prefix to its storage prefix through it.
  const mounts = new MountTable(barrier, clock, random);
  // First subscriber: at a seal, a running job records `paused_sealed` before the encryption counts are flushed.
  // The webhook notifier needs the rewrap service it reports on; it is set right after the service is built.
  // eslint-disable-next-line prefer-const
  let notifier: JobNotifier | undefined;
  const rewrap = new RewrapService({
    barrier,
    storage,
    lifecycle,
    clock,
    random,
    logger,
    resolvePrefix: (apiPath) => {
      const found = mounts.find(apiPath);
      return found ? `logical/${found.entry.uuid}/${found.relative}` : apiPath;
    },
    ...(options.rewrapObserver ? { observer: options.rewrapObserver } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    notifier: (job, event) => notifier?.(job, event) ?? Promise.resolve(),
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref()));
  notifier = (
    options.notifier ??
    ((rewrap: RewrapService) => webhookNotifier(rewrap, { clock, logger, sleep: (ms) => sleep(ms, new AbortController().signal) }))
  )(rewrap);
  // Sealing hooks run in subscription order: the encryption counts are flushed first, while the keys still exist.
  const rotation = new RotationService({ barrier, lifecycle, clock, random, logger });
  const sealStore = new SealStore(storage);
  const unsealKey = new UnsealKeyHolder(lifecycle);
  const sealDeps = { storage, store: sealStore, barrier, lifecycle, random, logger, observer, unsealKey };
  const unsealer = new Unsealer({ ...sealDeps, seals });
  const rekey = new RekeyEngine({ ...sealDeps, seal: seals.active, clock, unsealer });
  const tokens = new TokenStore(barrier, clock);
  const tokenRoles = new TokenRoles(barrier);
  const policies = new PolicyStore(barrier);
  const auth = new AuthTable({ barrier, clock, random, tokens });
  const cubbyhole = new Cubbyhole(barrier);
  const wrapping = new ResponseWrapping(barrier, tokens);
  // A token's cubbyhole (and a wrapping token's wrapped response) is deleted in the token's revocation batch.
  tokens.onRevoke((hash) => cubbyhole.stageDestroy(hash));
  const cluster = new ClusterIdentity(barrier);
  const generateRoot = new GenerateRoot({ lifecycle, store: sealStore, unsealer, tokens, clock, random });
  const retirement = new RetirementService({
    barrier,
    lifecycle,
    clock,
    random,
    logger,
    lastCensus: () => rewrap.lastCompletedCensus(),
    trimGraceSeconds: options.keyringTrimGraceSeconds ?? DEFAULT_TRIM_GRACE_SECONDS,
  });
  const audit = new AuditBroker({
    barrier,
    clock,
    random,
    logger,
    observer,
    standby: () => lifecycle.standby,
    ...(options.audit?.declared ? { declared: options.audit.declared } : {}),
    ...(options.audit?.allowPrefixing ? { allowPrefixing: true } : {}),
    ...(options.audit?.stdout ? { stdout: options.audit.stdout } : {}),
  });
  lifecycle.onUnsealed(() => tokens.load());
  lifecycle.onUnsealed(() => mounts.load());
  lifecycle.onUnsealed(() => auth.load());
  lifecycle.onUnsealed(() => cluster.load());
  lifecycle.onUnsealed(() => audit.load());
  lifecycle.onSealing(() => audit.close());
  const clearCaches = () => {
    tokens.unload();
    policies.clear();
    mounts.clear();
    auth.clear();
    cluster.clear();
  };
  lifecycle.onSealing(clearCaches);
  // HA: a standby drops them when the active node changes storage, and reloads.
  lifecycle.onInvalidate(clearCaches);
  // Last, after the count flush wrote the keyring: a sealed server keeps no copy of storage in memory.
  if (storage instanceof CachedBackend) lifecycle.onSealing(() => storage.clear());
  return {
    barrier,
    lifecycle,
    sealStore,
    unsealer,
    rotation,
    rekey,
    generateRoot,
    rewrap,
    retirement,
    tokens,
    tokenRoles,
    policies,
    mounts,
    auth,
    cubbyhole,
    wrapping,
    cluster,
    audit,
    seals,
  };
}
