/**
 * What bench/run.ts and bench/target-runner.ts both need: a data-directory config, a JSON call helper, and an
 * unsealed server with a KV v2 mount, KEYS secrets and a policy token.
 */
import { parseConfig, type ServerConfig } from '../server/config/load-config.js';
import { createLogger } from '../server/log/logger.js';
import { startCoffer, type RunningCoffer } from '../server/start.js';

/** Secrets the load spreads over (`secret/data/app/k0` … `k99`). */
export const KEYS = 100;

/** A LevelDB server on a free loopback port, in the HCL a server's config file holds. */
export function leveldbConfigText(dir: string, disableCache = false): string {
  return `storage "leveldb" { path = "${dir}" }\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}\ndisable_cache = ${disableCache}\n`;
}

/** An HA PostgreSQL server on a free loopback port. */
export function postgresConfigText(connectionUrl: string): string {
  return `storage "postgresql" {\n connection_url = "${connectionUrl}"\n ha_enabled = "true"\n}\nlistener "tcp" {\n address = "127.0.0.1:0"\n tls_disable = true\n}`;
}

export function serverConfig(dir: string, disableCache = false): ServerConfig {
  return parseConfig(leveldbConfigText(dir, disableCache));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the bench reads fields straight out of JSON replies
export async function call(base: string, method: string, p: string, body?: unknown, token?: string): Promise<any> {
  const res = await fetch(`${base}/v1/${p}`, {
    method,
    headers: token ? { 'X-Vault-Token': token } : {},
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export interface KvServer {
  server: RunningCoffer;
  /** A token whose policy allows only `secret/data/app/*`. */
  token: string;
  root: string;
  keys: string[];
}

/** An unsealed server with a KV v2 mount, KEYS secrets, and a token whose policy allows only that mount. */
export async function kvServer(config: ServerConfig): Promise<KvServer> {
  const server = await startCoffer(config, { logger: createLogger('silent'), maintenanceIntervalMs: 0 });
  const init = await call(server.url, 'PUT', 'sys/init', { secret_shares: 5, secret_threshold: 3 });
  for (const key of init.keys.slice(0, 3)) await call(server.url, 'PUT', 'sys/unseal', { key });
  // An HA node serves once it holds the lock (sys/health answers 200 only on the active node).
  while ((await fetch(`${server.url}/v1/sys/health`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  const root = init.root_token as string;
  await call(server.url, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }, root);
  await call(server.url, 'PUT', 'sys/policies/acl/app', { policy: 'path "secret/data/app/*" { capabilities = ["create", "read", "update"] }' }, root);
  const token = (await call(server.url, 'POST', 'auth/token/create', { policies: ['app'] }, root)).auth.client_token as string;
  for (let i = 0; i < KEYS; i++)
    await call(server.url, 'PUT', `secret/data/app/k${i}`, { data: { user: `app-${i}`, password: 'x'.repeat(32) } }, token);
  return { server, token, root, keys: init.keys };
}
