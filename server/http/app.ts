import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { CofferCore } from '../core/coffer-core.js';
import type { CofferMetrics } from '../metrics/metrics.js';
import { Authorizer } from './authorizer.js';
import { helpFor } from './path-help.js';
import { createPipeline } from './pipeline.js';
import { RequestAuditor } from './request-audit.js';
import { BodyValidator } from './request-body.js';
import { WrapStep } from './response-wrapping-step.js';
import { authMethodHandler } from './routes/auth-methods.js';
import { authTokenRoutes } from './routes/auth-token.js';
import { cubbyholeHandler } from './routes/cubbyhole.js';
import { mountedHandler } from './routes/logical.js';
import type { RouteTable } from './routes/route-table.js';
import { sysGenerateRootRoutes } from './routes/sys-generate-root.js';
import { sysAuthRoutes } from './routes/sys-auth.js';
import { sysAuditRoutes } from './routes/sys-audit.js';
import { sysHealthRoutes } from './routes/sys-health.js';
import { sysInitRoutes } from './routes/sys-init.js';
import { sysKeyringRoutes } from './routes/sys-keyring.js';
import { sysKeyRoutes } from './routes/sys-keys.js';
import { sysMetricsRoutes } from './routes/sys-metrics.js';
import { sysMountRoutes } from './routes/sys-mounts.js';
import { sysPolicyRoutes } from './routes/sys-policy.js';
import { sysRekeyRoutes } from './routes/sys-rekey.js';
import { sysRewrapRoutes } from './routes/sys-rewrap.js';
import { keyringTermsView } from '../core/rotation/census.js';
import { parseYamlSpec } from '../core/rotation/rewrap-spec-yaml.js';
import { sysSealRoutes } from './routes/sys-seal.js';
import { sysWrappingRoutes } from './routes/sys-wrapping.js';
import type { HaView } from './standby.js';
import { uiHandler } from './ui-assets.js';

export interface AppOptions {
  logger: Logger;
  metrics: CofferMetrics;
  /** Config `disable_unauthed_rekey_endpoints`: rekey endpoints then need a token with update + sudo. */
  disableUnauthedRekeyEndpoints: boolean;
  /** Config `disable_unauthed_generate_root_endpoints`: generate-root endpoints then need a token with update + sudo. */
  disableUnauthedGenerateRootEndpoints: boolean;
  /** Listener `telemetry { unauthenticated_metrics_access = true }`: `sys/metrics` without a token. */
  unauthenticatedMetrics: boolean;
  /** HA on PostgreSQL: standby redirects, sys/leader, sys/ha-status, sys/step-down. */
  ha?: HaView;
  /** Config `ui`: serve the operator page at `/ui/`. */
  ui?: boolean;
}

/**
 * Builds the express application: each route group receives only the services it uses, taken from the core's
 * composition here, once.
 */
export function createApp(core: CofferCore, options: AppOptions): RequestListener {
  const {
    lifecycle,
    unsealer,
    rekey,
    rotation,
    rewrap,
    retirement,
    tokens,
    tokenRoles,
    policies,
    mounts,
    auth,
    cubbyhole,
    wrapping,
    clock,
    generateRoot,
    audit,
  } = core;
  const validator = new BodyValidator();
  const sealStatus = () => core.sealStatus();
  const routes: RouteTable = {
    ...sysInitRoutes({ validator, initialized: () => core.initialized(), initialize: (request) => core.initialize(request) }),
    ...sysSealRoutes({ validator, lifecycle, unsealer, sealStatus, seal: () => core.seal(), ...(options.ha ? { ha: options.ha } : {}) }),
    ...sysHealthRoutes({ sealStatus, clock, ...(options.ha ? { ha: options.ha } : {}) }),
    ...sysKeyRoutes({ rotation, rekey, validator, terms: () => keyringTermsView(core.barrier.activeKeyring, rewrap.census) }),
    ...sysGenerateRootRoutes({
      generateRoot,
      lifecycle,
      validator,
      disableUnauthedGenerateRootEndpoints: options.disableUnauthedGenerateRootEndpoints,
    }),
    ...sysRewrapRoutes({ rewrap, parseYaml: parseYamlSpec }),
    ...sysKeyringRoutes({ retirement }),
    ...sysPolicyRoutes({ policies, validator }),
    // Before sys/mounts: its `sys/mounts/auth/…` spelling of auth tune must match first.
    ...sysAuthRoutes({ auth, validator }),
    ...sysMountRoutes({ mounts, tokens, lifecycle, validator, policies, auth }),
    ...sysRekeyRoutes({ rekey, lifecycle, validator, disableUnauthedRekeyEndpoints: options.disableUnauthedRekeyEndpoints }),
    ...authTokenRoutes({ tokens, roles: tokenRoles, auth, policies, validator }),
    ...sysWrappingRoutes({ wrapping, lifecycle, validator }),
    ...sysAuditRoutes({ audit, lifecycle }),
    ...sysMetricsRoutes({ metrics: options.metrics, unauthenticatedMetrics: options.unauthenticatedMetrics }),
  };
  const mounted = mountedHandler({ mounts, lifecycle });
  const methods = authMethodHandler({ auth, tokens, lifecycle, validator, onLogin: (method, outcome) => options.metrics.authLogin(method, outcome) });
  const cubbyholes = cubbyholeHandler({ cubbyhole, lifecycle });
  return createPipeline({
    routes,
    // Paths no route matches: auth methods, the per-token cubbyhole, then mounted secret engines.
    fallback: (ctx) =>
      ctx.path.startsWith('auth/') ? methods(ctx) : ctx.path === 'cubbyhole' || ctx.path.startsWith('cubbyhole/') ? cubbyholes(ctx) : mounted(ctx),
    wrap: new WrapStep(wrapping),
    help: (path) => {
      const mount = mounts.find(path);
      return helpFor(path, mount ? { path: mount.entry.path, type: mount.entry.type } : undefined);
    },
    authorizer: new Authorizer({ lifecycle, tokens, policies, logger: options.logger }),
    logger: options.logger,
    metrics: options.metrics,
    auditor: new RequestAuditor({ broker: audit, tokens, mounts, clock }),
    ...(options.ha ? { ha: options.ha } : {}),
    ...(options.ui ? { ui: uiHandler() } : {}),
  });
}
