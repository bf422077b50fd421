import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initServer, ManualClock, startTestServer, unsealServer } from '../helpers/test-server.js';

const NO_TOKEN = { status: 403, body: { errors: ['permission denied'] } };
const INVALID = { status: 403, body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] } };
const DENIED = { status: 403, body: { errors: ['1 error occurred:\n\t* permission denied\n\n'] } };

/** Every capability except sudo, on every path. */
const NO_SUDO_POLICY = 'path "*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }';

type Kind = 'none' | 'invalid' | 'expired' | 'lacking' | 'no-sudo' | 'root';

interface Endpoint {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  sudo: boolean;
  /** Status for a token that holds the capability (root, and no-sudo on non-sudo paths). */
  ok: number;
  /** The default policy grants this one. */
  inDefault?: boolean;
}

const ENDPOINTS: Endpoint[] = [
  { name: 'rotate', method: 'PUT', path: 'sys/rotate', sudo: true, ok: 204 },
  { name: 'step-down', method: 'PUT', path: 'sys/step-down', sudo: true, ok: 204 },
  { name: 'key-status', method: 'GET', path: 'sys/key-status', sudo: false, ok: 200 },
  { name: 'rotate config read', method: 'GET', path: 'sys/rotate/config', sudo: false, ok: 200 },
  { name: 'rotate config write', method: 'PUT', path: 'sys/rotate/config', body: { enabled: true }, sudo: false, ok: 204 },
  { name: 'policy list', method: 'LIST', path: 'sys/policies/acl', sudo: false, ok: 200 },
  { name: 'policy read', method: 'GET', path: 'sys/policies/acl/default', sudo: false, ok: 200 },
  {
    name: 'policy write',
    method: 'PUT',
    path: 'sys/policies/acl/matrix',
    body: { policy: 'path "x" { capabilities = ["read"] }' },
    sudo: false,
    ok: 204,
  },
  { name: 'legacy policy list', method: 'GET', path: 'sys/policy', sudo: false, ok: 200 },
  { name: 'mount list', method: 'GET', path: 'sys/mounts', sudo: false, ok: 200 },
  { name: 'mount enable', method: 'POST', path: 'sys/mounts/m', body: { type: 'kv' }, sudo: false, ok: 204 },
  { name: 'token create', method: 'POST', path: 'auth/token/create', body: { policies: ['default'] }, sudo: false, ok: 200 },
  { name: 'token lookup-self', method: 'GET', path: 'auth/token/lookup-self', sudo: false, ok: 200, inDefault: true },
  {
    name: 'capabilities-self',
    method: 'POST',
    path: 'sys/capabilities-self',
    body: { paths: ['secret/data/x'] },
    sudo: false,
    ok: 200,
    inDefault: true,
  },
  { name: 'kv write', method: 'POST', path: 'secret/data/x', body: { data: { a: 'b' } }, sudo: false, ok: 200 },
  { name: 'kv read', method: 'GET', path: 'secret/data/x', sudo: false, ok: 200 },
  { name: 'kv list', method: 'LIST', path: 'secret/metadata/', sudo: false, ok: 200 },
  { name: 'kv delete', method: 'DELETE', path: 'secret/metadata/x', sudo: false, ok: 204 },
  { name: 'seal', method: 'PUT', path: 'sys/seal', sudo: true, ok: 204 },
];

function expected(endpoint: Endpoint, kind: Kind): { status: number; body?: unknown } {
  switch (kind) {
    case 'none':
      return NO_TOKEN;
    case 'invalid':
    case 'expired':
      return INVALID;
    case 'lacking':
      return endpoint.inDefault ? { status: endpoint.ok } : DENIED;
    case 'no-sudo':
      return endpoint.sudo ? DENIED : { status: endpoint.ok };
    case 'root':
      return { status: endpoint.ok };
  }
}

test('permission matrix: every endpoint group × {no token, invalid, expired, lacking capability, lacking sudo, root}', async (t) => {
  const clock = new ManualClock();
  const server = await startTestServer(t, { clock });
  const { keys, rootToken } = await initServer(server, 1, 1);
  await unsealServer(server, keys);
  await server.api('POST', 'sys/mounts/secret', { token: rootToken, body: { type: 'kv-v2' } });
  await server.api('PUT', 'sys/policies/acl/no-sudo', { token: rootToken, body: { policy: NO_SUDO_POLICY } });
  const lacking = (await server.core.tokens.create({ policies: ['default'] })).token;
  const noSudo = (await server.core.tokens.create({ policies: ['default', 'no-sudo'] })).token;
  const expiring = (await server.core.tokens.create({ policies: ['root'], ttl: 30 })).token;
  clock.advance(31_000);

  const tokens: Record<Kind, string | undefined> = {
    none: undefined,
    invalid: 'hvs.NotARealTokenAtAll00000',
    expired: expiring,
    lacking,
    'no-sudo': noSudo,
    root: rootToken,
  };
  const order: Kind[] = ['none', 'invalid', 'expired', 'lacking', 'no-sudo', 'root'];
  const results: string[] = [];
  for (const endpoint of ENDPOINTS) {
    for (const kind of order) {
      // Resources a successful call consumes are recreated so every cell starts from the same state.
      if (endpoint.name === 'mount enable') await server.api('DELETE', 'sys/mounts/m', { token: rootToken });
      if (endpoint.name === 'kv delete' || endpoint.name === 'kv read')
        await server.api('POST', 'secret/data/x', { token: rootToken, body: { data: { a: 'b' } } });
      const token = tokens[kind];
      const res = await server.api(endpoint.method, endpoint.path, {
        ...(token ? { token } : {}),
        ...(endpoint.body ? { body: endpoint.body } : {}),
      });
      const want = expected(endpoint, kind);
      const okStatus = res.status === want.status;
      const okBody = want.body === undefined || JSON.stringify(res.body) === JSON.stringify(want.body);
      if (!okStatus || !okBody)
        results.push(`${endpoint.name} as ${kind}: got ${res.status} ${res.text.trim()}, want ${want.status} ${JSON.stringify(want.body ?? '')}`);
    }
  }
  assert.deepEqual(results, []);
  assert.equal((await server.api('GET', 'sys/seal-status')).body.sealed, true, 'the last cell (root seals) took effect');
});
