import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ERRORS } from '../../src/errors.ts';
import { loadSpec, openApiPath } from '../../src/contract/openapi.ts';
import { createValidators } from '../../src/contract/validation.ts';

const { document, text } = loadSpec();
const schemas = document.components.schemas as Record<string, Record<string, unknown>>;

/** A JSON Schema file's root and $defs as openapi.yaml components: $defs refs renamed. */
function asComponents(file: URL, names: Record<string, string>): Record<string, unknown> {
  const { $schema: _s, $id: _i, $defs, ...root } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const rename = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rename);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          k === '$ref' ? `#/components/schemas/${names[String(v).replace('#/$defs/', '')]}` : rename(v),
        ]),
      );
    }
    return value;
  };
  const out: Record<string, unknown> = {};
  if (names['']) out[names['']] = rename(root);
  for (const [name, schema] of Object.entries($defs as Record<string, unknown>)) out[names[name]] = rename(schema);
  return out;
}

describe('openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const validator = new Validator();
    const result = await validator.validate(openApiPath());
    assert.deepEqual(result, { valid: true });
    assert.equal(validator.version, '3.1');
    assert.doesNotThrow(() => validator.resolveRefs());
    assert.match(document.openapi, /^3\.1\./);
  });

  it('compiles, with every component schema, under strict Ajv', () => {
    const validators = createValidators(document);
    for (const name of Object.keys(schemas)) assert.equal(typeof validators.schema(name), 'function', name);
  });

  it('documents every error code, and no other', () => {
    const codes = (schemas.Problem.properties as Record<string, { enum?: string[] }>).code.enum;
    assert.deepEqual([...(codes ?? [])].sort(), Object.keys(ERRORS).sort());
    for (const code of Object.keys(ERRORS)) assert.ok(text.includes(code), code);
  });

  it("gives every operation's error statuses one of the shared Problem responses", () => {
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(
        item as Record<string, { responses?: Record<string, unknown> }>,
      )) {
        for (const status of Object.keys(operation.responses ?? {})) {
          if (Number(status) < 400 || path === '/readyz') continue;
          const response = operation.responses![status] as { $ref?: string };
          assert.ok(response.$ref?.startsWith('#/components/responses/'), `${method} ${path} ${status}`);
        }
      }
    }
  });

  it('holds the profile schema of models/profile.schema.json, unchanged', () => {
    const expected = asComponents(new URL('../../models/profile.schema.json', import.meta.url), {
      '': 'Profile',
      architecture: 'Architecture',
      provenance: 'Provenance',
      headBudget: 'HeadBudget',
    });
    for (const [name, schema] of Object.entries(expected)) assert.deepEqual(schemas[name], schema, name);
  });

  it('holds the budgets schemas of src/budgets/budgets.schema.json, unchanged', () => {
    const file = new URL('../../src/budgets/budgets.schema.json', import.meta.url);
    const defs = Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { $defs: object }).$defs);
    const expected = asComponents(file, Object.fromEntries(defs.map((d) => [d, d])));
    for (const [name, schema] of Object.entries(expected)) assert.deepEqual(schemas[name], schema, name);
  });
});
