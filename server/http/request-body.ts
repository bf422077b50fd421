import { Ajv, type ValidateFunction } from 'ajv';
import { CofferError } from '../core/errors.js';
import type { BodySchema } from '../../shared/schemas.js';
import { parseDurationSeconds } from './go-duration.js';

const GO_TYPES: Record<string, string> = { integer: 'int', boolean: 'bool', string: 'string', array: '[]string', number: 'float64' };

/**
 * Validates request bodies against the shared schemas and reports type errors with the text Vault's Go decoder
 * produces (`failed to parse JSON input: json: cannot unmarshal string into Go struct field InitRequest.secret_shares
 * of type int`), which scripts and tests match on.
 */
export class BodyValidator {
  readonly #ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, coerceTypes: false });
  readonly #compiled = new Map<BodySchema, ValidateFunction>();

  /**
   * The request body as a prototype-less object with lower-cased keys (Vault matches these keys case-insensitively) and without
   * `null` values (which mean "unset").
   * @throws CofferError `invalid_request` for a body that is not an object or has a field of the wrong type.
   */
  parse<T>(raw: unknown, schema: BodySchema): T {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new CofferError(
        'invalid_request',
        `failed to parse JSON input: json: cannot unmarshal ${jsonKind(raw)} into Go value of type http.${schema.goStruct}`,
      );
    }
    const body = Object.create(null) as Record<string, unknown>;
    for (const [key, value] of Object.entries(raw)) {
      if (value !== null) body[key.toLowerCase()] = value;
    }
    let validate = this.#compiled.get(schema);
    if (!validate) {
      validate = this.#ajv.compile(schema.schema);
      this.#compiled.set(schema, validate);
    }
    if (!validate(body)) {
      const error = validate.errors![0]!;
      if (error.keyword === 'additionalProperties') {
        const field = String((error.params as { additionalProperty?: string }).additionalProperty);
        throw new CofferError('invalid_request', `unknown field "${field}": Coffer does not support this parameter here`);
      }
      const segments = error.instancePath.split('/').filter(Boolean);
      const field = segments[0] ?? '';
      const value = segments.reduce<unknown>((v, s) => (v as Record<string, unknown>)[s], body);
      const property = schema.schema.properties[field];
      const mainType: unknown = Array.isArray(property?.type) ? (property.type as unknown[])[0] : property?.type;
      const goType = segments.length > 1 ? GO_TYPES[property?.items?.type ?? 'string'] : GO_TYPES[(mainType as string | undefined) ?? 'string'];
      const what = typeof value === 'number' ? `number ${value}` : jsonKind(value);
      throw new CofferError(
        'invalid_request',
        `failed to parse JSON input: json: cannot unmarshal ${what} into Go struct field ${schema.goStruct}.${field} of type ${goType}`,
      );
    }
    return body as T;
  }
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** A framework boolean: `true`/`false` or their strings. @throws CofferError `invalid_request` naming `field`. */
export function boolField(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  const parsed = parseGoBool(String(value));
  if (parsed === undefined) throw new CofferError('invalid_request', `invalid value for "${field}": expected a boolean`);
  return parsed;
}

/** Go's strconv.ParseBool: the values Vault accepts for a boolean (`1`, `t`, `T`, `TRUE`, `true`, `True`, and falses). */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** A framework list: an array of strings or one comma-separated string, trimmed, empties dropped. */
export function listField(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** A framework duration in seconds, or `fallback` when absent. */
export function durationField(value: unknown, field: string, fallback = 0): number {
  return value === undefined ? fallback : parseDurationSeconds(value, field);
}

/** A framework integer (a number or a numeric string), at least 0. */
export function intField(value: unknown, field: string, fallback = 0): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : /^-?\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new CofferError('invalid_request', `invalid value for "${field}": expected a non-negative integer`);
  return n;
}
