import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { parseRewrapSpec, SpecError, type RewrapSpec } from './rewrap-spec.js';

/** Specs are small; a larger body is a mistake (or an attack on the parser). */
export const MAX_SPEC_BYTES = 64 * 1024;

/**
 * Parses a YAML rewrap spec (`rewrap:` / `apiVersion: v1` …). Syntax errors, aliases, duplicate keys, unknown fields
 * and bad values are refused with the field's dotted name and its line.
 * @throws SpecError.
 */
export function parseYamlSpec(text: string): RewrapSpec {
  if (text.length > MAX_SPEC_BYTES) throw new SpecError('spec', `must be at most ${MAX_SPEC_BYTES} bytes`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, merge: false });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line;
    throw new SpecError('spec', `invalid YAML: ${first.code}`, line);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch {
    throw new SpecError('spec', 'aliases are not allowed');
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    // The deepest node that exists along `path` (an unknown key exists; a missing one points at its parent).
    let node: unknown = doc.contents;
    let found: Node | undefined = doc.contents ?? undefined;
    for (const [i, part] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === part);
        if (!pair) break;
        found = (last ? pair.key : (pair.value ?? pair.key)) as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
        node = node.items[part];
        found = node as Node;
      } else break;
    }
    const offset = found?.range?.[0];
    return offset === undefined ? undefined : lines.linePos(offset).line;
  };
  return parseRewrapSpec(value, lineOf);
}
