import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Logger } from 'pino';
import { parseConfig, type ServerConfig } from '../../server/config/load-config.js';
import type { Clock } from '../../server/core/clock.js';
import type { StorageBackend } from '../../server/core/storage/storage-backend.js';
import { createLogger } from '../../server/log/logger.js';
import { startCoffer, type RunningCoffer, type Scheduler } from '../../server/start.js';

export interface TestServer extends RunningCoffer {
  dataDir: string;
  port: number;
  /** Sends a request to `/v1/<path>` and returns status, headers and the parsed body. */
  api(
    method: string,
    apiPath: string,
    options?: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> },
  ): Promise<ApiResult>;
}

export interface ApiResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read and assert on arbitrary JSON bodies
  body: any;
}

export async function tempDir(t: TestContext, prefix = 'coffer-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Config for a loopback listener on port 0 with LevelDB in `dataDir`, plus `extra` stanzas (seals). */
export function testConfig(dataDir: string, extra = '', listenerExtra = ''): ServerConfig {
  return parseConfig(`
storage "leveldb" { path = "${dataDir}" }
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
  ${listenerExtra}
}
${extra}
`);
}

/** A real server on port 0 over real LevelDB in a temp dir (or `dataDir`), closed when the test ends. */
export async function startTestServer(
  t: TestContext,
  options: {
    dataDir?: string;
    clock?: Clock;
    storage?: StorageBackend;
    extraConfig?: string;
    listenerExtra?: string;
    logger?: Logger;
    schedule?: Scheduler;
    sealTokenSchedule?: Scheduler;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await tempDir(t));
  const running = await startCoffer(testConfig(dataDir, options.extraConfig, options.listenerExtra), {
    logger: options.logger ?? createLogger('silent'),
    ...(options.schedule ? { schedule: options.schedule } : {}),
    ...(options.sealTokenSchedule ? { sealTokenSchedule: options.sealTokenSchedule } : {}),
    maintenanceIntervalMs: 0,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await running.close();
  };
  t.after(close);
  return { ...running, close, dataDir, port: running.listeners[0]!.port, api: (m, p, o) => apiCall(running.url, m, p, o) };
}

export async function apiCall(
  baseUrl: string,
  method: string,
  apiPath: string,
  options: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['X-Vault-Token'] = options.token;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const res = await fetch(`${baseUrl}/v1/${apiPath}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export interface Initialised {
  keys: string[];
  keysBase64: string[];
  rootToken: string;
}

export async function initServer(server: TestServer, shares = 5, threshold = 3): Promise<Initialised> {
  const res = await server.api('PUT', 'sys/init', { body: { secret_shares: shares, secret_threshold: threshold } });
  if (res.status !== 200) throw new Error(`init failed: ${res.status} ${res.text}`);
  return { keys: res.body.keys, keysBase64: res.body.keys_base64, rootToken: res.body.root_token };
}

export async function unsealServer(server: TestServer, keys: readonly string[]): Promise<ApiResult> {
  let last: ApiResult | undefined;
  for (const key of keys) last = await server.api('PUT', 'sys/unseal', { body: { key } });
  return last!;
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start;
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
