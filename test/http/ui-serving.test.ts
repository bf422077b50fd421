import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { UI_CSP } from '../../server/http/ui-assets.js';
import { startTestServer } from '../helpers/test-server.js';

// These read the built page (dist/server/http/ui/): `npm test` builds first.
describe('serving the operator page', () => {
  test('ui = true serves /ui/ with a strict CSP, no framing, nosniff, no-store and no referrer', async (t) => {
    const server = await startTestServer(t, { extraConfig: 'ui = true' });
    const res = await fetch(`${server.url}/ui/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-security-policy'), UI_CSP);
    assert.match(UI_CSP, /default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    for (const [file, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['api.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8'],
    ] as const) {
      const asset = await fetch(`${server.url}/ui/${file}`);
      assert.equal(asset.status, 200, file);
      assert.equal(asset.headers.get('content-type'), type, file);
      assert.equal(asset.headers.get('content-security-policy'), UI_CSP, file);
    }
    const api = await server.api('GET', 'sys/seal-status');
    assert.equal(api.headers.get('cache-control'), 'no-store', 'API answers are never cached');
    assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
  });

  test('the page holds no inline script, inline style, event-handler attribute or resource from another origin', async (t) => {
    const server = await startTestServer(t, { extraConfig: 'ui = true' });
    const html = await (await fetch(`${server.url}/ui/`)).text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="[a-z-]+\.js"/, 'every script is a file of this origin');
      assert.equal(body!.trim(), '', 'no inline script');
    }
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle=/i);
    assert.doesNotMatch(html, /\son[a-z]+=/i);
    assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//i, 'no CDN, font or script from elsewhere');
  });

  test('the page is ES modules: every module app.js imports, directly or not, is served as JavaScript under the CSP, one per source file', async (t) => {
    const server = await startTestServer(t, { extraConfig: 'ui = true' });
    const html = await (await fetch(`${server.url}/ui/`)).text();
    assert.match(html, /<script type="module" src="app\.js"><\/script>/);
    const seen = new Set<string>();
    const queue = ['app.js'];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const res = await fetch(`${server.url}/ui/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', file);
      assert.equal(res.headers.get('content-security-policy'), UI_CSP, file);
      const code = await res.text();
      for (const [, spec] of code.matchAll(/\b(?:from|import)\s*['"]([^'"]+)['"]/g)) {
        assert.match(spec!, /^\.\/[a-z-]+\.js$/, `${file} imports only sibling modules of this origin: ${spec}`);
        queue.push(spec!.slice(2));
      }
    }
    const sources = readdirSync(new URL('../../server/http/ui/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, '.js'));
    assert.deepEqual([...seen].sort(), sources.sort(), 'every source module is built and loaded, and nothing else');
  });

  test('/ and /ui send to /ui/; only the built files are served: no source, no traversal, no writes', async (t) => {
    const server = await startTestServer(t, { extraConfig: 'ui = true' });
    for (const p of ['/', '/ui']) {
      const res = await fetch(`${server.url}${p}`, { redirect: 'manual' });
      assert.equal(res.status, 307, p);
      assert.equal(res.headers.get('location'), '/ui/');
    }
    for (const p of [
      '/ui/app.ts',
      '/ui/dom.ts',
      '/ui/session.ts',
      '/ui/tsconfig.json',
      '/ui/app.js.map',
      '/ui/..%2F..%2Fpackage.json',
      '/ui/../../package.json',
      '/ui/nothing.js',
      '/ui/.hidden',
    ]) {
      assert.equal((await fetch(`${server.url}${p}`)).status, 404, p);
    }
    const post = await fetch(`${server.url}/ui/`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 404);
  });

  test("ui = false (and the default) answers 404 under /ui/ in Vault's error shape", async (t) => {
    for (const extraConfig of ['ui = false', '']) {
      const server = await startTestServer(t, { extraConfig });
      for (const p of ['/ui/', '/ui/app.js', '/ui/index.html', '/ui']) {
        const res = await fetch(`${server.url}${p}`, { redirect: 'manual' });
        assert.equal(res.status, 404, `${extraConfig || 'default'} ${p}`);
        assert.deepEqual(await res.json(), { errors: [] });
      }
    }
  });
});
