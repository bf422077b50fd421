import type express from 'express';
import type { Logger } from 'pino';
import type { CofferCore } from '../core/coffer-core.js';
import type { CofferMetrics } from '../metrics/metrics.js';
import { Authorizer } from './authorizer.js';
import { createPipeline } from './pipeline.js';
import { BodyValidator } from './request-body.js';
import { authTokenRoutes } from './routes/auth-token.js';
import { mountedHandler } from './routes/logical.js';
import type { RouteTable } from './routes/route-table.js';
import { sysHealthRoutes } from './routes/sys-health.js';
import { sysInitRoutes } from './routes/sys-init.js';
import { sysKeyRoutes } from './routes/sys-keys.js';
import { sysMetricsRoutes } from './routes/sys-metrics.js';
import { sysMountRoutes } from './routes/sys-mounts.js';
import { sysPolicyRoutes } from './routes/sys-policy.js';
import { sysRekeyRoutes } from './routes/sys-rekey.js';
import { sysSealRoutes } from './routes/sys-seal.js';
import { uiHandler } from './ui-assets.js';

export interface AppOptions {
  logger: Logger;
  metrics: CofferMetrics;
  /** Config `disable_unauthed_rekey_endpoints`: rekey endpoints then need a token with update + sudo. */
  disableUnauthedRekeyEndpoints: boolean;
  /** Listener `telemetry { unauthenticated_metrics_access = true }`: `sys/metrics` without a token. */
  unauthenticatedMetrics: boolean;
  /** Config `ui`: serve the operator page at `/ui/`. */
  ui?: boolean;
}

/**
 * Builds the express application: each route group receives only the services it uses, taken from the core's
 * composition here, once.
 */
export function createApp(core: CofferCore, options: AppOptions): express.Express {
  const { lifecycle, unsealer, rekey, rotation, tokens, policies, mounts, clock } = core;
  const validator = new BodyValidator();
  const sealStatus = () => core.sealStatus();
  const routes: RouteTable = {
    ...sysInitRoutes({ validator, initialized: () => core.initialized(), initialize: (request) => core.initialize(request) }),
    ...sysSealRoutes({ validator, lifecycle, unsealer, sealStatus, seal: () => core.seal() }),
    ...sysHealthRoutes({ sealStatus, clock }),
    ...sysKeyRoutes({ rotation, validator }),
    ...sysPolicyRoutes({ policies, validator }),
    ...sysMountRoutes({ mounts, tokens, lifecycle }),
    ...sysRekeyRoutes({ rekey, lifecycle, validator, disableUnauthedRekeyEndpoints: options.disableUnauthedRekeyEndpoints }),
    ...authTokenRoutes({ tokens }),
    ...sysMetricsRoutes({ metrics: options.metrics, unauthenticatedMetrics: options.unauthenticatedMetrics }),
  };
  return createPipeline({
    routes,
    fallback: mountedHandler({ mounts, lifecycle }),
    authorizer: new Authorizer({ lifecycle, tokens, policies, logger: options.logger }),
    logger: options.logger,
    metrics: options.metrics,
    ...(options.ui ? { ui: uiHandler() } : {}),
  });
}
