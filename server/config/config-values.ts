/**
 * The value checks every stanza of the configuration file shares: the parser's block shape, unknown-key refusal,
 * strings, booleans and durations in Vault's spellings, and the line of a key for error messages. Each check reports
 * through the `Fail` callback `parseConfig` builds, so every error names the file and line.
 */
import { parseDurationSeconds } from '../core/duration.js';
import { parseGoDurationMs } from '../core/go-duration.js';

/** A key Coffer accepts for Vault compatibility but that has no effect here; logged once at start with the reason. */
export interface ConfigNote {
  key: string;
  reason: string;
}

/** Throws the configuration error for `message`, naming the file and the line of `key` (searched from `fromLine`). */
export type Fail = (message: string, key?: string, fromLine?: number) => never;

/** One labelled block of the file, such as `storage "leveldb" { ... }`: `kind` `storage`, `label` `leveldb`. */
export interface Block {
  kind: string;
  label: string;
  body: Record<string, unknown>;
}

/** Normalises the parser's `[{label: [body]}]` shape. @throws through `fail` when a block has no type label. */
export function blocks(raw: Record<string, unknown>, kind: string, fail: Fail): Block[] {
  const value = raw[kind];
  if (value === undefined) return [];
  const out: Block[] = [];
  for (const item of (Array.isArray(value) ? value : [value]) as unknown[]) {
    const entries = typeof item === 'object' && item !== null ? Object.entries(item) : [];
    for (const [label, bodies] of entries) {
      const list = Array.isArray(bodies) ? bodies : [bodies];
      if (list.length === 0 || list.some((b) => typeof b !== 'object' || b === null || Array.isArray(b))) {
        fail(`${kind} block needs a type label, as in ${kind} "${kind === 'listener' ? 'tcp' : 'leveldb'}" { ... }`, kind);
      }
      for (const body of list) out.push({ kind, label, body: body as Record<string, unknown> });
    }
    if (entries.length === 0) fail(`${kind} block needs a type label`, kind);
  }
  return out;
}

/** Refuses, through `fail`, any key of `block` not in `allowed`, naming the key and its line inside the block. */
export function checkKeys(block: Block, allowed: string[], text: string, fail: Fail): void {
  const from = lineOf(text, block.kind) ?? 1;
  for (const key of Object.keys(block.body)) {
    if (!allowed.includes(key)) fail(`unknown key "${key}" in ${block.kind} "${block.label}"`, key, from);
  }
}

/** A non-empty string. @throws through `fail` otherwise. */
export function stringValue(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${key} must be a non-empty string`, key);
  return value;
}

/** A Vault duration: seconds as a number, or a string such as "768h", "30m", "90s", "1h30m". */
export function durationValue(value: unknown, key: string, fail: Fail): number {
  try {
    return parseDurationSeconds(value, key);
  } catch {
    return fail(`${key} must be a duration such as "768h" or a number of seconds`, key);
  }
}

/** A Go duration (`10s`, `500ms`, `5m`) or a whole number of seconds, as Vault's listener takes it; 0 means none. */
export function durationMs(value: unknown, key: string, fail: Fail): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value * 1000;
  const ms = typeof value === 'string' ? parseGoDurationMs(value) : undefined;
  return ms ?? fail(`${key} must be a duration such as "10s" or "5m"`, key);
}

/** Vault accepts true/false, "true"/"false" and 1/0 for booleans. */
export function boolValue(value: unknown, key: string, fail: Fail): boolean {
  if (value === true || value === 1 || value === 'true' || value === '1') return true;
  if (value === false || value === 0 || value === 'false' || value === '0') return false;
  return fail(`${key} must be a boolean`, key);
}

/** 1-based line of the first `key` used as an attribute or block name at or after `fromLine`. */
export function lineOf(text: string, key: string, fromLine = 1): number | undefined {
  const pattern = new RegExp(`(^|[\\s{,])"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*[={"]`);
  const lines = text.split('\n');
  for (let i = fromLine - 1; i < lines.length; i++) {
    if (pattern.test(lines[i]!)) return i + 1;
  }
  return undefined;
}
