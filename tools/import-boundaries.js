// @ts-check
/**
 * ESLint rule `coffer/import-boundaries`: enforces which part of the tree may import which, and which module owns
 * each third-party package. The table itself lives in eslint.config.js; this file only resolves specifiers and
 * matches them against it.
 *
 * A "place" in the table is a path relative to the repository root: a folder ends with `/` (`server/http/`), anything
 * else is one file (`server/main.ts`). Relative specifiers are resolved against the importing file, with `.js`
 * mapped back to `.ts` as NodeNext writes them.
 */
import path from 'node:path';

/**
 * @typedef {{ from: string[]; except?: string[]; disallow: string[]; npm?: boolean; builtins?: boolean; because: string }} Layer
 *   `npm: true` forbids every npm package, `builtins: true` every `node:` module, for files in `from`.
 * @typedef {{ name: string; onlyIn: string[]; typesAnywhere?: boolean }} Owner
 *   `typesAnywhere`: `import type` of the package is allowed everywhere in `scope`, the runtime only in `onlyIn`.
 * @typedef {{ root: string; layers: Layer[]; owners: Owner[]; scope: string[] }} Options
 *   `scope`: where package ownership applies (and where a package missing from `owners` is an error).
 */

/** @param {string} file @param {string} place */
function isIn(file, place) {
  return place.endsWith('/') ? file.startsWith(place) : file === place;
}

/** @param {string} file @param {string[] | undefined} places */
function inAny(file, places) {
  return (places ?? []).some((place) => isIn(file, place));
}

/** The npm package name of a bare specifier (`@scope/name/sub` → `@scope/name`). @param {string} specifier */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : /** @type {string} */ (parts[0]);
}

/** @type {import('eslint').Rule.RuleModule} */
export const importBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Keeps imports flowing the right way between server/core, server/http, cli and shared' },
    schema: [{ type: 'object', additionalProperties: true }],
    messages: {
      layer: '{{from}} must not import {{target}} ({{because}}).',
      npm: '{{from}} must not import the npm package "{{target}}" ({{because}}).',
      builtin: '{{from}} must not import the Node built-in "{{target}}" ({{because}}).',
      owner: '"{{target}}" may only be imported by {{owners}}; move this use there or pass it in.',
      unowned: '"{{target}}" has no owning module in the import-boundaries table in eslint.config.js; add it there.',
      computed: 'A dynamic import with a computed specifier cannot be checked against the import boundaries.',
    },
  },
  create(context) {
    const options = /** @type {Options} */ (context.options[0]);
    const file = path.relative(options.root, context.filename).split(path.sep).join('/');

    /**
     * @param {import('estree').Node} node
     * @param {string} specifier
     * @param {boolean} typeOnly
     */
    function check(node, specifier, typeOnly) {
      const isBuiltin = specifier.startsWith('node:');
      const isRelative = specifier.startsWith('.');
      const isPackage = !isBuiltin && !isRelative;
      const target = isRelative
        ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts')
        : isPackage
          ? packageName(specifier)
          : specifier;

      for (const layer of options.layers) {
        if (!inAny(file, layer.from) || inAny(file, layer.except)) continue;
        const data = { from: layer.from.join(', '), target, because: layer.because };
        if (isRelative && inAny(target, layer.disallow)) return context.report({ node, messageId: 'layer', data });
        if (isPackage && (layer.npm || layer.disallow.includes(target))) return context.report({ node, messageId: 'npm', data });
        if (isBuiltin && layer.builtins) return context.report({ node, messageId: 'builtin', data });
      }

      if (!isPackage || !inAny(file, options.scope)) return;
      const owner = options.owners.find((o) => o.name === target);
      if (!owner) return context.report({ node, messageId: 'unowned', data: { target } });
      if (inAny(file, owner.onlyIn) || (typeOnly && owner.typesAnywhere)) return;
      context.report({ node, messageId: 'owner', data: { target, owners: owner.onlyIn.join(', ') } });
    }

    /** @param {any} node */
    const fromSource = (node) => {
      // Only `import type` / `export type` is erased: under verbatimModuleSyntax `import { type A } from 'x'` still loads x.
      if (node.source) check(node, String(node.source.value), node.importKind === 'type' || node.exportKind === 'type');
    };

    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression(node) {
        const source = node.source;
        if (source.type === 'Literal' && typeof source.value === 'string') check(node, source.value, false);
        else if (source.type === 'TemplateLiteral' && source.expressions.length === 0) check(node, source.quasis[0]?.value.cooked ?? '', false);
        else context.report({ node, messageId: 'computed' });
      },
      // `import('pkg').Type` in a type position.
      /** @param {any} node */
      TSImportType(node) {
        const literal = node.argument?.literal;
        if (literal?.type === 'Literal' && typeof literal.value === 'string') check(node, literal.value, true);
      },
    };
  },
};

export default { rules: { 'import-boundaries': importBoundaries } };
