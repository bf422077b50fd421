import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Clock } from '../../server/core/clock.js';
import { initServer, startTestServer, unsealServer, type TestServer } from './test-server.js';

export const b64 = (data: string | Uint8Array) => Buffer.from(data).toString('base64');
export const unb64 = (text: string) => Buffer.from(text, 'base64');

export interface TransitServer {
  server: TestServer;
  root: string;
  keys: string[];
  /** POST/PUT to `transit/<path>` as root; asserts the status (200 unless given). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's answers are checked field by field in tests
  write(path: string, body?: unknown, status?: number): Promise<any>;
  /** GET `transit/<path>` as root; asserts 200. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  read(path: string): Promise<any>;
}

/** A real server (port 0, LevelDB in a temp dir), initialised 1-of-1, unsealed, with transit mounted at `transit/`. */
export async function transitServer(t: TestContext, options: { clock?: Clock; dataDir?: string } = {}): Promise<TransitServer> {
  const server = await startTestServer(t, options);
  const init = await initServer(server, 1, 1);
  await unsealServer(server, init.keys);
  const mounted = await server.api('POST', 'sys/mounts/transit', { token: init.rootToken, body: { type: 'transit' } });
  assert.equal(mounted.status, 204, mounted.text);
  return withHelpers(server, init.rootToken, init.keys);
}

export function withHelpers(server: TestServer, root: string, keys: string[]): TransitServer {
  return {
    server,
    root,
    keys,
    async write(path, body = {}, status = 200) {
      const res = await server.api('POST', `transit/${path}`, { token: root, body });
      assert.equal(res.status, status, `POST transit/${path} ${JSON.stringify(body).slice(0, 200)} → ${res.text}`);
      return res.body;
    },
    async read(path) {
      const res = await server.api('GET', `transit/${path}`, { token: root });
      assert.equal(res.status, 200, `GET transit/${path} → ${res.text}`);
      return res.body;
    },
  };
}

/** The error list of a 400 answer from `transit/<path>`. */
export async function refused(ts: TransitServer, path: string, body: unknown): Promise<string[]> {
  return (await ts.write(path, body, 400)).errors;
}
