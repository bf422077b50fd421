/** The declarative `audit` stanzas, turned into the devices the audit broker enables at every unseal. */
import type { DeclaredAuditDevice } from '../core/audit/audit-broker.js';
import { boolValue, type Fail } from './config-values.js';

/**
 * `audit "<type>" "<path>" { description = "…", options { k = "v" } }` (OpenBao's declarative form). The HCL parser
 * gives nested labels as `{type: {path: [body]}}`; option values must be strings (or numbers/booleans, turned into
 * text as the API does). Checking the options themselves is the audit broker's job, at unseal.
 * @throws through `fail` on a malformed stanza, an unknown key, a `local` device or two stanzas for one path.
 */
export function auditStanzas(value: unknown, fail: Fail): DeclaredAuditDevice[] {
  if (value === undefined) return [];
  const out: DeclaredAuditDevice[] = [];
  const shape = 'audit stanzas look like audit "file" "to-file" { options { file_path = "/var/log/coffer-audit.log" } }';
  for (const item of (Array.isArray(value) ? value : [value]) as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(shape, 'audit');
    for (const [type, byPath] of Object.entries(item as Record<string, unknown>)) {
      for (const inner of (Array.isArray(byPath) ? byPath : [byPath]) as unknown[]) {
        if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) fail(shape, 'audit');
        for (const [devicePath, bodies] of Object.entries(inner as Record<string, unknown>)) {
          for (const body of (Array.isArray(bodies) ? bodies : [bodies]) as unknown[]) {
            if (typeof body !== 'object' || body === null || Array.isArray(body)) fail(shape, 'audit');
            const b = body as Record<string, unknown>;
            const unknown = Object.keys(b).filter((k) => k !== 'description' && k !== 'options' && k !== 'local');
            if (unknown.length > 0) fail(`unknown key "${unknown[0]}" in audit "${type}" "${devicePath}"`, unknown[0]);
            if (b.local !== undefined && boolValue(b.local, 'local', fail))
              fail('local audit devices are not supported: Coffer runs one node', 'local');
            const description =
              b.description === undefined
                ? ''
                : typeof b.description === 'string'
                  ? b.description
                  : fail('description must be a string', 'description');
            const options: Record<string, string> = {};
            for (const block of (b.options === undefined ? [] : Array.isArray(b.options) ? b.options : [b.options]) as unknown[]) {
              if (typeof block !== 'object' || block === null || Array.isArray(block)) fail('options must be a block', 'options');
              for (const [k, v] of Object.entries(block as Record<string, unknown>)) {
                if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`audit option ${k} must be a string`, k);
                options[k] = String(v);
              }
            }
            if (out.some((d) => d.path.replace(/\/+$/, '') === devicePath.replace(/\/+$/, '')))
              fail(`two audit stanzas for the path "${devicePath}"`, 'audit');
            out.push({ type, path: devicePath, description, options });
          }
        }
      }
    }
  }
  return out;
}
