import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

// The real eslint.config.js, but only its import-boundaries rule and without type information (which would load the
// whole TypeScript program): the snippets below are linted as if they were the named files.
const eslint = new ESLint({
  cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'),
  overrideConfig: { files: ['**/*.ts'], languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === 'coffer/import-boundaries',
});

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId ?? 'parser'}: ${m.message}`);
}

test('a core module importing from server/http fails the boundary rule', async () => {
  const errors = await boundaryErrors(
    'server/core/barrier/keyring.ts',
    "import { httpErrorFor } from '../../http/error-table.js';\nexport { httpErrorFor };\n",
  );
  assert.deepEqual(errors, [
    'coffer/import-boundaries: server/core/ must not import server/http/error-table.ts (the core knows nothing of HTTP, configuration files, ' +
      'metrics, logging set-up or process start-up; pass what it needs in).',
  ]);
});

test('a core module importing express, the config loader, metrics, the logger or the process start-up fails the boundary rule', async () => {
  for (const specifier of ['express', '../config/load-config.js', '../metrics/metrics.js', '../log/logger.js', '../start.js', '../main.js']) {
    const errors = await boundaryErrors('server/core/clock.ts', `import * as m from '${specifier}';\nexport { m };\n`);
    assert.equal(errors.length, 1, specifier);
    assert.match(errors[0]!, /^coffer\/import-boundaries: server\/core\/ must not import /, specifier);
  }
});

test('a type-only or dynamic wrong-way import fails the boundary rule too', async () => {
  const typeOnly = await boundaryErrors(
    'server/core/errors.ts',
    "import type { ListenOptions } from '../http/http-server.js';\nexport type L = ListenOptions;\n",
  );
  assert.equal(typeOnly.length, 1);
  const dynamic = await boundaryErrors('server/core/errors.ts', "export const load = () => import('../http/http-server.js');\n");
  assert.equal(dynamic.length, 1);
  const computed = await boundaryErrors(
    'server/core/errors.ts',
    "const where = '../http/http-server.js';\nexport const load = () => import(where);\n",
  );
  assert.deepEqual(computed, [
    'coffer/import-boundaries: A dynamic import with a computed specifier cannot be checked against the import boundaries.',
  ]);
});

test('server/config importing server/http fails the boundary rule', async () => {
  const errors = await boundaryErrors('server/config/load-config.ts', "import { listen } from '../http/http-server.js';\nexport { listen };\n");
  assert.match(errors.join('\n'), /server\/config\/ must not import server\/http\/http-server\.ts/);
});

test('shared/ importing from server/, cli/, an npm package or a Node built-in fails the boundary rule', async () => {
  const imports = ["'../server/core/errors.js'", "'../cli/io/output.js'", "'pino'", "'node:http'"];
  for (const specifier of imports) {
    const errors = await boundaryErrors('shared/api-types.ts', `import type * as m from ${specifier};\nexport type M = typeof m;\n`);
    assert.equal(errors.length, 1, specifier);
    assert.match(errors[0]!, /^coffer\/import-boundaries: shared\/ must not import /, specifier);
  }
});

test('the CLI importing the server fails the boundary rule, except the `coffer server` command', async () => {
  const code = "export const run = async () => (await import('../../server/main.js')).runServer;\n";
  assert.match((await boundaryErrors('cli/commands/status.ts', code)).join('\n'), /cli\/ must not import server\/main\.ts/);
  assert.deepEqual(await boundaryErrors('cli/commands/server.ts', code), []);
});

test('a third-party package used outside its owning module fails the boundary rule', async () => {
  const outside = await boundaryErrors('server/core/token/token-store.ts', "import { Level } from 'level';\nexport { Level };\n");
  assert.deepEqual(outside, [
    'coffer/import-boundaries: "level" may only be imported by server/core/storage/leveldb-backend.ts; move this use there or pass it in.',
  ]);
  assert.deepEqual(await boundaryErrors('server/core/storage/leveldb-backend.ts', "import { Level } from 'level';\nexport { Level };\n"), []);
  const unowned = await boundaryErrors('cli/io/output.ts', "import fc from 'fast-check';\nexport { fc };\n");
  assert.match(unowned.join('\n'), /"fast-check" has no owning module/);
});

test("pino's Logger type may travel anywhere in the server, but only server/log creates loggers", async () => {
  assert.deepEqual(await boundaryErrors('server/core/clock.ts', "import type { Logger } from 'pino';\nexport type L = Logger;\n"), []);
  // `import { type X }` is not erased under verbatimModuleSyntax: it still loads the package.
  assert.equal((await boundaryErrors('server/core/clock.ts', "import { type Logger } from 'pino';\nexport type L = Logger;\n")).length, 1);
  assert.equal((await boundaryErrors('server/core/clock.ts', "import { pino } from 'pino';\nexport { pino };\n")).length, 1);
});

test('right-way imports and tests pass the boundary rule', async () => {
  assert.deepEqual(
    await boundaryErrors('server/http/error-table.ts', "import type { ErrorCode } from '../core/errors.js';\nexport type E = ErrorCode;\n"),
    [],
  );
  assert.deepEqual(
    await boundaryErrors('cli/io/output.ts', "import { COFFER_VERSION } from '../../shared/version.js';\nexport { COFFER_VERSION };\n"),
    [],
  );
  assert.deepEqual(
    await boundaryErrors('test/unit/x.test.ts', "import express from 'express';\nimport { Level } from 'level';\nexport { express, Level };\n"),
    [],
  );
});
