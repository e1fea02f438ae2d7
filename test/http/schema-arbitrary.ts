/**
 * fast-check arbitraries built from openapi.yaml's JSON Schemas (the subset the document uses:
 * $ref, allOf, oneOf, anyOf, const, enum, object, array, number, integer, string with pattern,
 * boolean), with sizes capped so a generated request stays cheap to solve, and hand-picked nasty
 * values mixed in at any depth.
 */
import fc from 'fast-check';
import type { OpenApiDocument } from '../../src/contract/openapi.ts';

type Schema = Record<string, unknown>;

/** JSON extremes and shapes that have broken services before (NaN and Infinity are not JSON). */
export const NASTY_VALUES: readonly unknown[] = [
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  -0,
  0,
  -1,
  0.5,
  2 ** 53 + 2,
  1e21,
  4096,
  4097,
  1073741825,
  '',
  ' ',
  'x'.repeat(5000),
  '\u{1F4A5}\u0000\uFFFF',
  '../../etc/passwd',
  '__proto__',
  'max:0',
  'max:999999999',
  null,
  true,
  false,
  [],
  {},
  [[]],
  { __proto__: { polluted: true } },
  { constructor: { prototype: {} } },
  new Array(300).fill(0),
  deep(40),
];

function deep(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

export interface ArbitraryOptions {
  /** Most items generated for any array (the schema's minItems still holds when smaller). */
  readonly maxItems: number;
  /** Chance that any one value is replaced by a nasty one. */
  readonly nastiness: number;
  /** Values to use for a named component schema instead of generating it (e.g. ModelId: registry ids). */
  readonly overrides?: Readonly<Record<string, fc.Arbitrary<unknown>>>;
}

export function schemaArbitrary(
  document: OpenApiDocument,
  schema: Schema,
  options: ArbitraryOptions,
): fc.Arbitrary<unknown> {
  const components = (document.components as { schemas: Record<string, Schema> }).schemas;
  const nasty = fc.constantFrom(...NASTY_VALUES);

  function build(s: Schema, depth: number): fc.Arbitrary<unknown> {
    const plain = buildPlain(s, depth);
    return fc.oneof(
      { weight: Math.round(1 / options.nastiness) - 1, arbitrary: plain },
      { weight: 1, arbitrary: nasty },
    );
  }

  function buildPlain(s: Schema, depth: number): fc.Arbitrary<unknown> {
    if (typeof s.$ref === 'string') {
      const name = s.$ref.replace('#/components/schemas/', '');
      return options.overrides?.[name] ?? fc.constant(null).chain(() => build(components[name], depth + 1));
    }
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
    if (Array.isArray(s.allOf)) {
      return fc
        .tuple(...(s.allOf as Schema[]).map((part) => buildPlain(part, depth)))
        .map((parts) =>
          Object.assign({}, ...parts.filter((p) => typeof p === 'object' && p !== null && !Array.isArray(p))),
        );
    }
    const branches = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
    if (branches) {
      // A oneOf of `required` only (PlanRequest's sources) picks which properties must exist.
      if (branches.every((b) => Object.keys(b).length === 1 && Array.isArray(b.required))) return fc.constant({});
      return fc.oneof(...branches.map((b) => buildPlain({ ...s, oneOf: undefined, anyOf: undefined, ...b }, depth)));
    }
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    switch (type) {
      case 'object':
        return objectOf(s, depth);
      case 'array': {
        const min = Number(s.minItems ?? 0);
        const max = Math.max(min, Math.min(Number(s.maxItems ?? options.maxItems), depth > 4 ? min : options.maxItems));
        return fc.array(build((s.items ?? {}) as Schema, depth + 1), { minLength: min, maxLength: max });
      }
      case 'integer': {
        const min = Number(s.minimum ?? -1000);
        const max = Number(s.maximum ?? min + 10_000);
        return fc.integer({ min, max: Math.min(max, Number.MAX_SAFE_INTEGER) });
      }
      case 'number': {
        const min = Number(s.minimum ?? s.exclusiveMinimum ?? -1e6);
        const max = Number(s.maximum ?? s.exclusiveMaximum ?? min + 1e6);
        return fc.double({
          min,
          max,
          noNaN: true,
          noDefaultInfinity: true,
          minExcluded: 'exclusiveMinimum' in s,
          maxExcluded: 'exclusiveMaximum' in s,
        });
      }
      case 'string':
        return typeof s.pattern === 'string'
          ? fc.stringMatching(new RegExp(s.pattern))
          : fc.string({ minLength: Number(s.minLength ?? 0), maxLength: 40 });
      case 'boolean':
        return fc.boolean();
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  function objectOf(s: Schema, depth: number): fc.Arbitrary<unknown> {
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set((s.required ?? []) as string[]);
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, property] of Object.entries(properties)) record[name] = build(property, depth + 1);
    const requiredKeys = Object.keys(properties).filter((name) => required.has(name));
    const base = fc.record(record, { requiredKeys });
    if (s.additionalProperties !== false) return base;
    // Sometimes a field the schema does not allow.
    return fc
      .tuple(base, fc.option(fc.constantFrom('extra', 'gpus_', 'Model'), { freq: 8 }))
      .map(([value, extra]) => (extra === null ? value : { ...(value as object), [extra]: 1 }));
  }

  return build(schema, 0);
}
