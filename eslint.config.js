// @ts-check
// `npm run lint`: typescript-eslint with type information over server/, cli/, shared/, test/ and bench/, plus the
// import boundaries of docs/architecture.md ("Dependency rules"), enforced by tools/import-boundaries.js.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import coffer from './tools/import-boundaries.js';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * Who may import whom. Places are repository-relative: `dir/` is a folder, anything else one file.
 * @type {import('./tools/import-boundaries.js').Options}
 */
const boundaries = {
  root,
  layers: [
    {
      from: ['server/core/'],
      disallow: ['server/http/', 'server/config/', 'server/metrics/', 'server/log/', 'server/main.ts', 'server/start.ts', 'express'],
      because: 'the core knows nothing of HTTP, configuration files, metrics, logging set-up or process start-up; pass what it needs in',
    },
    {
      from: ['server/config/'],
      disallow: ['server/http/'],
      because: 'configuration is parsed before, and independently of, the HTTP layer',
    },
    {
      from: ['lib/'],
      disallow: ['server/', 'cli/', 'shared/'],
      because: 'lib/ holds small protocol helpers that the server and the CLI both use; it depends on nothing of theirs',
    },
    {
      from: ['shared/'],
      disallow: ['server/', 'cli/'],
      npm: true,
      builtins: true,
      because: 'shared/ holds only types and constants that the server and the CLI both compile against',
    },
    {
      from: ['cli/'],
      // `coffer server` runs the server in-process (a dynamic import, so the other commands never load it).
      except: ['cli/commands/server.ts'],
      disallow: ['server/'],
      because: 'the CLI talks to the server over HTTP only',
    },
  ],
  // Each runtime dependency has one owning module; tests and bench may use anything.
  scope: ['server/', 'cli/', 'shared/', 'lib/'],
  owners: [
    { name: 'level', onlyIn: ['server/core/storage/leveldb-backend.ts'] },
    { name: 'lru-cache', onlyIn: ['server/core/storage/cached-backend.ts'] },
    { name: 'pg', onlyIn: ['server/core/storage/postgresql/'] },
    { name: 'openpgp', onlyIn: ['server/core/pgp/'] },
    { name: 'shamir-secret-sharing', onlyIn: ['server/core/seal/shamir.ts'] },
    { name: 'async-mutex', onlyIn: ['server/core/'] },
    { name: 'js-hcl-parser', onlyIn: ['server/config/load-config.ts', 'server/core/policy/policy.ts', 'cli/commands/policy.ts'] },
    { name: 'yaml', onlyIn: ['cli/', 'server/core/rotation/'] },
    { name: 'express', onlyIn: ['server/http/'] },
    { name: 'ajv', onlyIn: ['server/http/'] },
    { name: 'prom-client', onlyIn: ['server/metrics/'] },
    // The `Logger` type travels everywhere; only server/log creates loggers.
    { name: 'pino', onlyIn: ['server/log/'], typesAnywhere: true },
    { name: 'commander', onlyIn: ['cli/'] },
  ],
};

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/results/', 'types/**/*.d.ts'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { coffer },
    rules: {
      'coffer/import-boundaries': ['error', boundaries],

      // Bugs the type checker alone does not catch.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/test return promises the runner itself tracks.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      eqeqeq: ['error', 'always'],

      // Off: an `async` implementation of a Promise-returning interface (in-memory backend, static seal) is the
      // idiomatic way to turn a throw into a rejection; requiring an `await` in it would only add noise.
      '@typescript-eslint/require-await': 'off',
      // Off: with noUncheckedIndexedAccess, `parts[1]!` after a length check or a regex match is the normal idiom.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Off: `(v) => void set.add(v)`-style arrow shorthands are deliberate and harmless here.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Off: decoded and persisted data is typed as what it must be, and the `?? default` / type guards on it are
      // deliberate defence against bad input; this rule would flag every one of them.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Off: typed-parse helpers like `decodeJson<T>(raw): T` use their type parameter once on purpose.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // Off: version-keyed records (KV v2 metadata) are plain JSON objects; deleting a computed key is the operation.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Off: `String(value)` on untrusted JSON values is how error texts and version numbers are built on purpose;
      // objects inside template strings are still caught by restrict-template-expressions.
      '@typescript-eslint/no-base-to-string': 'off',
      // Off: same reason as no-unnecessary-condition, and its autofix (`x !== false` → `x`) would change how a
      // persisted record missing the field is read.
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Off in tests and bench: they read JSON response bodies typed `any` on purpose (ApiResult.body) and the
      // assertions are what check the shapes; the no-unsafe-* family would flag every `res.body.data.x`.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
    },
  },
  {
    // Config and lint tooling are plain JS outside tsconfig.json: syntax rules only.
    files: ['**/*.js'],
    extends: [tseslint.configs.recommended],
  },
);
