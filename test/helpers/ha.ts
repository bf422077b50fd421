import net from 'node:net';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../server/config/load-config.js';
import { createLogger } from '../../server/log/logger.js';
import { startCoffer } from '../../server/start.js';
import { apiCall, type TestServer } from './test-server.js';

/** A free loopback port (the HA tests need each node's api_addr before it listens). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The storage stanza of an HA node on `url` with short timings (TTL 2 s, renewal every 500 ms). */
export function haStorageStanza(url: string, table: string): string {
  return `storage "postgresql" {
  connection_url    = "${url}"
  table             = "${table}"
  ha_table          = "${table}_ha"
  ha_enabled        = "true"
  ha_lock_ttl       = "2s"
  ha_renew_interval = "500ms"
}`;
}

/** An in-process HA node on its own port, closed when the test ends. */
export async function startHaNode(t: TestContext, url: string, table: string): Promise<TestServer> {
  const port = await freePort();
  const config = parseConfig(`${haStorageStanza(url, table)}
listener "tcp" {
  address     = "127.0.0.1:${port}"
  tls_disable = true
}
api_addr = "http://127.0.0.1:${port}"
`);
  const running = await startCoffer(config, {
    logger: createLogger('silent'),
    maintenanceIntervalMs: 0,
    haTimings: { retryMs: 100, pollMs: 500, stepDownWaitMs: 1500, upgradeGraceMs: 60_000 },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await running.close();
  };
  t.after(close);
  return { ...running, close, dataDir: '', port, api: (m, p, o) => apiCall(running.url, m, p, o) };
}

/** Resolves once `check` returns true (checked every 50 ms; the test's own timeout bounds it). */
export async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}
