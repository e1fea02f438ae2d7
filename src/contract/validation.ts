/**
 * Request validation at the edge, compiled once at start-up from openapi.yaml: for every
 * operation, a validator of its JSON body and of its query and path parameters (each an object
 * schema built from the operation's parameters, unknown names rejected, strings coerced to the
 * declared types). Failures are RequestValidationError: VALIDATION_FAILED with a JSON pointer,
 * the failing rule and where the value was.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { HplbError } from '../errors.ts';
import type { OpenApiDocument, OpenApiParameter } from './openapi.ts';

/** The $id the document's components are registered under. */
const DOCUMENT_ID = 'openapi.json';

export type RequestPart = 'body' | 'query' | 'path';

export class RequestValidationError extends HplbError {
  readonly in: RequestPart;

  constructor(part: RequestPart, message: string, details: { pointer: string; rule: string }) {
    super('VALIDATION_FAILED', message, details);
    this.in = part;
  }
}

export interface OperationValidator {
  /** Returns the path parameters, typed by the schema; throws RequestValidationError. */
  path(value: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** Returns a coerced copy of the query; throws RequestValidationError. */
  query(value: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** Checks a parsed JSON body (not modified); throws RequestValidationError. */
  body(value: unknown): unknown;
}

export interface Validators {
  /** The validator of an operation by operationId; throws for an unknown id (a programming error). */
  operation(operationId: string): OperationValidator;
  /** A validator of one component schema, e.g. 'Plan' (tests check responses with it). */
  schema(name: string): ValidateFunction;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation's validators, compiled now. */
export function createValidators(document: OpenApiDocument): Validators {
  // Bodies: strict types, no coercion. Parameters arrive as strings: a second instance coerces.
  const bodyAjv = createAjv(document, false);
  const paramAjv = createAjv(document, true);
  const byOperation = new Map<string, OperationValidator>();
  for (const pathItem of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(pathItem)) {
      if (!METHODS.includes(method)) continue;
      const parameters = (operation.parameters ?? []).map((p) => resolveParameter(document, p));
      const query = paramAjv.compile(parameterSchema(parameters, 'query'));
      const path = paramAjv.compile(parameterSchema(parameters, 'path'));
      const bodySchema = operation.requestBody?.content['application/json']?.schema;
      const body = bodySchema ? bodyAjv.compile(withDocumentRefs(bodySchema)) : undefined;
      byOperation.set(operation.operationId, {
        path: (value) => check(path, { ...value }, 'path'),
        query: (value) => check(query, { ...value }, 'query'),
        body: (value) => {
          if (!body)
            throw new RequestValidationError('body', 'this operation takes no body', {
              pointer: '',
              rule: 'requestBody',
            });
          return check(body, value, 'body');
        },
      });
    }
  }
  return {
    operation(operationId) {
      const validator = byOperation.get(operationId);
      if (!validator) throw new Error(`no operation "${operationId}" in openapi.yaml`);
      return validator;
    },
    schema: (name) => bodyAjv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`) ?? failMissing(name),
  };
}

function failMissing(name: string): never {
  throw new Error(`no schema "${name}" in openapi.yaml`);
}

function createAjv(document: OpenApiDocument, coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    // PlanRequest's oneOf branches only name required properties, declared next to them.
    strictRequired: false,
    allowUnionTypes: true,
    discriminator: true,
    coerceTypes: coerce,
    allErrors: false,
    // Errors then carry their schema: a oneOf of required properties is reported by name.
    verbose: true,
  });
  // The document is not a schema; only its components are. "components" is declared so that
  // strict mode accepts the wrapper, and the fragments are compiled when referenced.
  ajv.addKeyword({ keyword: 'components' });
  ajv.addSchema({ $id: DOCUMENT_ID, components: document.components });
  return ajv;
}

function resolveParameter(
  document: OpenApiDocument,
  parameter: OpenApiParameter | { readonly $ref: string },
): OpenApiParameter {
  if (!('$ref' in parameter)) return parameter;
  const name = parameter.$ref.replace('#/components/parameters/', '');
  const resolved = document.components.parameters?.[name];
  if (!resolved) throw new Error(`openapi.yaml: unresolved parameter ${parameter.$ref}`);
  return resolved;
}

/** An object schema of an operation's parameters in one place; unknown names are rejected. */
function parameterSchema(parameters: readonly OpenApiParameter[], where: 'query' | 'path'): object {
  const own = parameters.filter((p) => p.in === where);
  return {
    type: 'object',
    additionalProperties: false,
    required: own.filter((p) => p.required).map((p) => p.name),
    properties: Object.fromEntries(own.map((p) => [p.name, withDocumentRefs(p.schema ?? {})])),
  };
}

/** A copy of a schema taken out of the document, its local refs pointed back into it. */
function withDocumentRefs(schema: unknown): object {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${DOCUMENT_ID}${value}` : value,
  ) as object;
}

function check<T>(validate: ValidateFunction, value: T, part: RequestPart): T {
  if (!validate(value)) throw toValidationError(validate.errors ?? [], part);
  return value;
}

const escapeToken = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * The error to report among ajv's: it stops at the first failing keyword, after any errors of
 * the branches a failing oneOf/anyOf tried; the last error is the keyword that actually failed.
 */
function toValidationError(errors: readonly ErrorObject[], part: RequestPart): RequestValidationError {
  const error = errors[errors.length - 1];
  if (!error) return new RequestValidationError(part, `${part}: is not valid`, { pointer: '', rule: 'schema' });
  let pointer = error.instancePath;
  let message = error.message ?? 'is not valid';
  switch (error.keyword) {
    case 'additionalProperties':
      pointer = `${pointer}/${escapeToken(String(error.params.additionalProperty))}`;
      message = part === 'body' ? 'is not an allowed property' : `is not a known ${part} parameter`;
      break;
    case 'required':
      pointer = `${pointer}/${escapeToken(String(error.params.missingProperty))}`;
      message = 'is required';
      break;
    case 'dependentRequired':
      pointer = `${pointer}/${escapeToken(String(error.params.property))}`;
      message = `applies only together with ${String(error.params.missingProperty)}`;
      break;
    case 'enum':
      message += `: ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'oneOf': {
      const alternatives = requiredAlternatives(error.schema);
      if (alternatives) message = `give exactly one of ${alternatives.join(', ')}`;
      break;
    }
  }
  const where = pointer === '' ? part : `${part} at ${pointer}`;
  return new RequestValidationError(part, `${where}: ${message}`, { pointer, rule: error.keyword });
}

/** For a oneOf whose branches each only require one property: those property names. */
function requiredAlternatives(branches: unknown): string[] | null {
  if (!Array.isArray(branches)) return null;
  const names = branches.map((b: { required?: unknown }) =>
    Array.isArray(b?.required) && b.required.length === 1 && Object.keys(b).length === 1 ? String(b.required[0]) : null,
  );
  return names.every((n) => n !== null) ? (names as string[]) : null;
}
