import { Ajv, type ValidateFunction } from 'ajv';
import { CofferError } from '../core/errors.js';
import type { BodySchema } from '../../shared/schemas.js';

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
      const segments = error.instancePath.split('/').filter(Boolean);
      const field = segments[0] ?? '';
      const value = segments.reduce<unknown>((v, s) => (v as Record<string, unknown>)[s], body);
      const property = schema.schema.properties[field];
      const declared = property?.type ?? 'string';
      const goType = segments.length > 1 ? GO_TYPES[property?.items?.type ?? 'string'] : GO_TYPES[typeof declared === 'string' ? declared : 'string'];
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
