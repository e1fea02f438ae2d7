/**
 * Property-based requests generated from openapi.yaml's own schemas, with nasty values mixed in,
 * against the real app and solver pool: every answer is a status the operation documents, every
 * 4xx is problem+json with a code, every 2xx body validates against its response schema, and no
 * 5xx but a documented 503. A fixed seed keeps runs identical; the solver limits are small.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import request from 'supertest';
import { loadSpec } from '../../src/contract/openapi.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { assertSchema, startTestApp, type TestApp } from './helpers.ts';
import { NASTY_VALUES, schemaArbitrary } from './schema-arbitrary.ts';

const SEED = 20_260_310;
const spec = loadSpec();
const document = spec.document;
const schemas = (document.components as { schemas: Record<string, Record<string, unknown>> }).schemas;
const modelIds = loadRegistry()
  .list()
  .map((p) => p.id);
const options = { maxItems: 6, nastiness: 0.04, overrides: { ModelId: fc.constantFrom(...modelIds, 'no-such-model') } };

interface Operation {
  readonly responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; $ref?: string }>;
  readonly parameters?: unknown[];
}
const operation = (path: string, method: string): Operation =>
  (document.paths as unknown as Record<string, Record<string, Operation>>)[path][method];

/** Fields that are numbers in every answer: JSON turns a non-finite number into null. */
const NUMBERS = new Set([
  'makespan',
  'lowerBound',
  'gap',
  'bubbleRatio',
  'solveMs',
  'cost',
  'adaptiveCost',
  'uniformCost',
  'saving',
  'gpuLoads',
]);

function nullNumbers(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => nullNumbers(v, `${path}/${i}`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const here = `${path}/${key}`;
    if (NUMBERS.has(key) && (v === null || (Array.isArray(v) && v.some((x) => x === null)))) return [here];
    return nullNumbers(v, here);
  });
}

/** Sends any JSON value as the body (supertest would refuse a bare number). */
const post = (app: TestApp['app'], path: string, body: unknown) =>
  request(app).post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));

/** Checks one answer against what the operation documents. */
function checkAnswer(op: Operation, res: request.Response, sent: unknown): void {
  const where = `${res.status} for ${JSON.stringify(sent).slice(0, 300)}: ${res.text.slice(0, 300)}`;
  assert.ok(String(res.status) in op.responses, `undocumented status ${where}`);
  assert.ok(res.status < 500 || res.status === 503, `server error ${where}`);
  if (res.status >= 400) {
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, where);
    assertSchema('Problem', res.body);
    assert.equal(typeof res.body.code, 'string', where);
    return;
  }
  const ref = op.responses[String(res.status)]?.content?.['application/json']?.schema?.$ref;
  if (ref) assertSchema(ref.replace('#/components/schemas/', ''), res.body);
  assert.deepEqual(nullNumbers(res.body), [], `a number came back as null: ${where}`);
}

/** PlanRequest bodies: the schema's shape, usually with exactly one small source so that many reach the solver. */
const planBodies = schemaArbitrary(document, schemas.PlanRequest, options).chain((generated) => {
  if (typeof generated !== 'object' || generated === null || Array.isArray(generated)) return fc.constant(generated);
  const { model: _m, profile: _p, costs: _c, ...rest } = generated as Record<string, unknown>;
  const costs = fc.array(
    fc.array(fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1e300, noNaN: true })), {
      minLength: 4,
      maxLength: 4,
    }),
    { minLength: 1, maxLength: 3 },
  );
  return fc.oneof(
    fc.constant(generated),
    costs.map((c) => ({ ...rest, costs: c })),
    fc.constantFrom(...modelIds).map((m) => ({ ...rest, model: m })),
  );
});

describe('requests generated from the OpenAPI schemas', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_TIME_LIMIT_MS: '150', DEFAULT_TIME_LIMIT_MS: '150' });
  });
  after(() => t.close());

  it('POST /v1/plans: documented statuses, problem+json errors, plans that match the schema', async () => {
    const op = operation('/v1/plans', 'post');
    await fc.assert(
      fc.asyncProperty(planBodies, async (body) => {
        checkAnswer(op, await post(t.app, '/v1/plans', body), body);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('POST /v1/budgets: documented statuses, problem+json errors, answers that match the schema', async () => {
    const op = operation('/v1/budgets', 'post');
    const bodies = schemaArbitrary(document, schemas.BudgetsRequest, options);
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        checkAnswer(op, await post(t.app, '/v1/budgets', body), body);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('GET /v1/models/{modelId}/plan: documented statuses for generated and nasty query values', async () => {
    const op = operation('/v1/models/{modelId}/plan', 'get');
    const value = fc.oneof(
      fc.constantFrom('8', '4', '3', 'greedy', 'kv-group', 'free', 'max:9', 'decode', '4096'),
      fc.constantFrom(...NASTY_VALUES).map((v) => JSON.stringify(v)?.slice(0, 500) ?? ''),
    );
    const query = fc.dictionary(
      fc.constantFrom('gpus', 'granularity', 'unitsPerGpu', 'seqLen', 'phase', 'engine', 'costModel', 'other'),
      value,
      { maxKeys: 4 },
    );
    const model = fc.oneof(
      fc.constantFrom(...modelIds),
      fc.constantFrom('no-such-model', '..%2F..%2Fetc', '%F0%9F%92%A5', 'A'.repeat(200)),
    );
    await fc.assert(
      fc.asyncProperty(model, query, async (modelId, q) => {
        const search = new URLSearchParams({ engine: 'greedy', gpus: '8', ...q }).toString();
        const url = `/v1/models/${modelId}/plan?${search}`;
        checkAnswer(op, await request(t.app).get(url), url);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('hand-picked bodies: extremes, wrong types, deep nesting and huge arrays', async () => {
    const op = operation('/v1/plans', 'post');
    const bodies: unknown[] = [
      { costs: [[1e308, 1e308, 1e308, 1e308]], gpus: { count: 2 }, solver: { engine: 'ilp' } },
      { costs: [[5e-324, 5e-324]], gpus: { count: 2 } },
      { costs: [[-0, 0, 1, 2]], gpus: { count: 2, speeds: [1e-6, 1e6] } },
      { costs: [[1, 2]], gpus: { count: 2, speeds: [5e-324, 1] } },
      { costs: [new Array(5000).fill(1)], gpus: { count: 1 } },
      { costs: Array.from({ length: 2000 }, () => [1]), gpus: { count: 1 } },
      { costs: [[1, 2]], gpus: { count: 4096 } },
      { costs: [[1, 2]], gpus: { count: 1 }, constraints: { pins: new Array(70_000).fill({ unit: 0, gpu: 0 }) } },
      { costs: deepArray(100), gpus: { count: 1 } },
      { model: '\u{1F4A5}', gpus: { count: 8 } },
      { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 }, workload: { seqLen: 1e308 } },
      { model: 'llama-3-8b-instruct-262k-minference', gpus: { count: 8 }, costModel: 'x'.repeat(128) },
      JSON.parse('{"__proto__": {"gpus": {"count": 2}}, "costs": [[1]]}'),
      JSON.parse('{"constructor": {"prototype": {"x": 1}}, "costs": [[1]], "gpus": {"count": 1}}'),
    ];
    for (const body of bodies) checkAnswer(op, await post(t.app, '/v1/plans', body), body);
  });
});

function deepArray(levels: number): unknown {
  let value: unknown = [1];
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}
