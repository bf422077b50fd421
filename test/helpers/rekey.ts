import assert from 'node:assert/strict';
import type { TestServer } from './test-server.js';

/** Runs a whole rekey with `current` shares; returns the new shares (hex) or, with verification, the result. */
export async function rekey(
  server: TestServer,
  current: readonly string[],
  config: { shares: number; threshold: number; extra?: Record<string, unknown> },
) {
  const init = await server.api('PUT', 'sys/rekey/init', {
    body: { secret_shares: config.shares, secret_threshold: config.threshold, ...config.extra },
  });
  assert.equal(init.status, 200, init.text);
  let last = init;
  for (const key of current) {
    last = await server.api('PUT', 'sys/rekey/update', { body: { key, nonce: init.body.nonce } });
    assert.equal(last.status, 200, last.text);
    if (last.body.complete) break;
  }
  assert.equal(last.body.complete, true, 'the rekey completed');
  return last.body as { keys: string[]; keys_base64: string[]; nonce: string; verification_nonce?: string; pgp_fingerprints: string[] | null };
}

/** Whether `keys` unseal the (sealed) server; leaves it unsealed when they do. */
export async function unsealsWith(server: TestServer, keys: readonly string[]): Promise<boolean> {
  await server.api('PUT', 'sys/unseal', { body: { reset: true } });
  let res;
  for (const key of keys) {
    res = await server.api('PUT', 'sys/unseal', { body: { key } });
    if (res.status !== 200) return false;
    if (res.body.sealed === false) return true;
  }
  return false;
}
