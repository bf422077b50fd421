// Part of `npm run build`, after `tsc -p server/http/ui/tsconfig.json`: copies the operator page's static files
// (HTML, CSS, images) next to its compiled ES modules in dist/server/http/ui/, where the server reads them at start,
// and removes compiled modules whose source is gone (a renamed or deleted module must not stay servable).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'server/http/ui');
const to = path.join(root, 'dist/server/http/ui');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (/\.(html|css|svg|png)$/.test(name)) copyFileSync(path.join(from, name), path.join(to, name));
}
for (const name of readdirSync(to)) {
  const stale = name.endsWith('.js') && !existsSync(path.join(from, name.replace(/\.js$/, '.ts')));
  const orphan = /\.(html|css|svg|png)$/.test(name) && !existsSync(path.join(from, name));
  if (stale || orphan) rmSync(path.join(to, name));
}
