import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, RequestHandler, Response } from 'express';

/**
 * The operator page's Content-Security-Policy: only this origin's own files, no inline script or style, no
 * framing, no `<base>` rewriting, forms posting only back here.
 */
export const UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * Where the built page is: `dist/server/http/ui/` next to the compiled server, or, when the server runs from source
 * (tests under tsx), the same folder of the build in the repository's `dist/`. The first that holds a built
 * `app.js` wins; undefined when the page was never built.
 */
export function uiAssetDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'ui'), path.resolve(here, '../../dist/server/http/ui')];
  return candidates.find((dir) => existsSync(path.join(dir, 'app.js')) && existsSync(path.join(dir, 'index.html')));
}

/** Reads every servable file of `dir` (flat, by extension) once: the set of answers is fixed at start. */
function loadAssets(dir: string | undefined): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!dir) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type && /^[a-z0-9][a-z0-9.-]*$/.test(name)) assets.set(name, { type, body: readFileSync(path.join(dir, name)) });
  }
  return assets;
}

/**
 * Serves the operator page at `/ui/` (and sends `/` and `/ui` there). Only GET and HEAD, only the files found in
 * `dir` at start (no path is ever joined from the request); every answer carries the CSP, `nosniff`, no framing,
 * no referrer and `Cache-Control: no-store`. Anything else under `/ui/` is left to the pipeline's 404.
 */
export function uiHandler(dir: string | undefined = uiAssetDir()): RequestHandler {
  const assets = loadAssets(dir);
  return (req: Request, res: Response, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/' || req.path === '/ui') return res.redirect(307, '/ui/');
    if (!req.path.startsWith('/ui/')) return next();
    const name = req.path === '/ui/' ? 'index.html' : req.path.slice('/ui/'.length);
    const asset = assets.get(name);
    if (!asset) return next();
    res.setHeader('Content-Security-Policy', UI_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', asset.type);
    res.status(200).end(req.method === 'HEAD' ? undefined : asset.body);
  };
}
