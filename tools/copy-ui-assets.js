// Part of `npm run build`: copies the operator page's static files (HTML, CSS, images) next to its compiled
// scripts in dist/server/http/ui/, where the server reads them at start.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'server/http/ui');
const to = path.join(root, 'dist/server/http/ui');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (/\.(html|css|svg|png)$/.test(name)) copyFileSync(path.join(from, name), path.join(to, name));
}
