import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SMALL_MODEL, assertProblem, assertSchema, startTestApp, type TestApp } from './helpers.ts';

/** Four layers of eight heads with a few distinct costs, like real layers. */
const COSTS = [
  [9, 9, 7, 5, 5, 3, 2, 2],
  [8, 6, 6, 6, 4, 4, 2, 1],
  [5, 5, 5, 5, 5, 5, 5, 5],
  [12, 3, 3, 3, 3, 3, 3, 1],
];

describe('re-plans over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_TIME_LIMIT_MS: '5000' }, 2);
  });
  after(() => t.close());

  it('re-plans from a stored plan after the costs drift: moves turn the old placement into the new one', async () => {
    const old = await request(t.app)
      .post('/v1/plans')
      .send({ costs: COSTS, gpus: { count: 4 } });
    assert.equal(old.status, 201);
    const drifted = COSTS.map((row, l) => row.map((c, u) => c + ((l + u) % 3)));
    const res = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: drifted,
        gpus: { count: 4 },
        previous: { planId: old.body.id },
        migration: { makespanTolerance: 0.02 },
      });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertSchema('Plan', res.body);
    assert.equal(res.body.migration.previousPlanId, old.body.id);
    assert.equal(res.body.migration.moveCostUnit, 'units');
    let moved = 0;
    res.body.layers.forEach(
      (
        layer: {
          unit2gpu: number[];
          makespan: number;
          migration: {
            moves: { unit: number; from: number; to: number; round: number }[];
            optimalMakespan: number;
            targetMakespan: number;
            movedUnits: number;
          };
        },
        l: number,
      ) => {
        const placement = [...old.body.layers[l].unit2gpu];
        for (const m of layer.migration.moves) {
          assert.equal(placement[m.unit], m.from);
          placement[m.unit] = m.to;
        }
        assert.deepEqual(placement, layer.unit2gpu, `layer ${l}: the moves give the new placement`);
        assert.ok(layer.makespan <= layer.migration.targetMakespan * (1 + 1e-9));
        assert.ok(layer.migration.targetMakespan <= layer.migration.optimalMakespan * 1.02 * (1 + 1e-9));
        moved += layer.migration.movedUnits;
      },
    );
    assert.equal(res.body.migration.totals.movedUnits, moved);
    // Rounds: no GPU sends twice or receives twice in one round, over the whole plan.
    const seen = new Set<string>();
    for (const layer of res.body.layers) {
      for (const m of layer.migration.moves) {
        for (const key of [`s${m.from}@${m.round}`, `r${m.to}@${m.round}`]) {
          assert.ok(!seen.has(key), key);
          seen.add(key);
        }
      }
    }
    const again = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: drifted,
        gpus: { count: 4 },
        previous: { planId: old.body.id },
        migration: { makespanTolerance: 0.02 },
      });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, res.body.id);
  });

  it('keeps a placement that is still good enough, moving nothing', async () => {
    const old = await request(t.app)
      .post('/v1/plans')
      .send({ costs: COSTS, gpus: { count: 4 } });
    const res = await request(t.app)
      .post('/v1/plans')
      .send({
        costs: COSTS,
        gpus: { count: 4 },
        previous: { unit2gpu: old.body.layers.map((l: { unit2gpu: number[] }) => l.unit2gpu) },
      });
    assert.equal(res.status, 201);
    assert.equal(res.body.migration.totals.movedUnits, 0);
    assert.equal(res.body.migration.previousPlanId, null);
    for (const layer of res.body.layers) assert.equal(layer.migration.moveStatus, 'optimal');
  });

  it('maxLayers changes only the layers with the largest improvement; the others keep their placement', async () => {
    const contiguous = COSTS.map((row) => row.map((_, u) => Math.floor(u / 2)));
    const res = await request(t.app)
      .post('/v1/plans')
      .send({ costs: COSTS, gpus: { count: 4 }, previous: { unit2gpu: contiguous }, migration: { maxLayers: 1 } });
    assert.equal(res.status, 201);
    const changed = res.body.layers.filter((l: { migration: { movedUnits: number } }) => l.migration.movedUnits > 0);
    assert.equal(changed.length, 1);
    assert.equal(res.body.migration.totals.layersChanged, 1);
    for (const layer of res.body.layers) {
      if (layer.migration.keep) assert.deepEqual(layer.unit2gpu, contiguous[layer.layer]);
    }
  });

  it('the per-model lookup re-plans from a stored plan id', async () => {
    const old = await request(t.app).get(`/v1/models/${SMALL_MODEL}/plan?gpus=4&seqLen=131072&granularity=kv-group`);
    assert.equal(old.status, 200);
    const res = await request(t.app).get(
      `/v1/models/${SMALL_MODEL}/plan?gpus=4&seqLen=32768&granularity=kv-group&previous=${old.body.id}&makespanTolerance=0.01`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assertSchema('Plan', res.body);
    assert.equal(res.body.migration.moveCostUnit, 'bytes');
    assert.equal(res.body.migration.makespanTolerance, 0.01);
    for (const layer of res.body.layers) assert.ok(layer.makespan <= layer.migration.targetMakespan * (1 + 1e-9));
  });

  it('refuses migration options without a previous placement, naming the field and the rule (the schema says so)', async () => {
    const res = await request(t.app)
      .post('/v1/plans')
      .send({ costs: COSTS, gpus: { count: 4 }, migration: { makespanTolerance: 0.02 } });
    const problem = assertProblem(res, 400, 'VALIDATION_FAILED');
    assert.deepEqual([problem.pointer, problem.rule, problem.in], ['/migration', 'dependentRequired', 'body']);
    assert.match(String(problem.detail), /applies only together with previous/);
  });

  it('the lookup refuses makespanTolerance without previous, and an unknown previous plan', async () => {
    const lonely = await request(t.app).get(`/v1/models/${SMALL_MODEL}/plan?gpus=4&makespanTolerance=0.01`);
    const problem = assertProblem(lonely, 422, 'INVALID_PROBLEM');
    assert.deepEqual([problem.pointer, problem.in], ['/makespanTolerance', 'query']);
    const unknown = await request(t.app).get(`/v1/models/${SMALL_MODEL}/plan?gpus=4&previous=${'0'.repeat(32)}`);
    const missing = assertProblem(unknown, 404, 'PLAN_NOT_FOUND');
    assert.deepEqual([missing.pointer, missing.in], ['/previous', 'query']);
  });

  const cases = [
    {
      name: 'a previous plan of another model',
      body: async () => ({
        model: SMALL_MODEL,
        gpus: { count: 4 },
        previous: {
          planId: (
            await request(t.app)
              .post('/v1/plans')
              .send({ costs: COSTS, gpus: { count: 4 } })
          ).body.id,
        },
      }),
      status: 422,
      code: 'PREVIOUS_MISMATCH',
      pointer: '/previous/planId',
    },
    {
      name: 'a previous placement with another layer count',
      body: async () => ({ costs: COSTS, gpus: { count: 4 }, previous: { unit2gpu: [[0, 0, 1, 1, 2, 2, 3, 3]] } }),
      status: 422,
      code: 'PREVIOUS_MISMATCH',
      pointer: '/previous/unit2gpu',
    },
    {
      name: 'a previous placement with another unit count',
      body: async () => ({ costs: COSTS, gpus: { count: 4 }, previous: { unit2gpu: COSTS.map(() => [0, 1, 2, 3]) } }),
      status: 422,
      code: 'PREVIOUS_MISMATCH',
      pointer: '/previous/unit2gpu/0',
    },
    {
      name: 'a previous plan id that is not stored',
      body: async () => ({ costs: COSTS, gpus: { count: 4 }, previous: { planId: '0'.repeat(32) } }),
      status: 404,
      code: 'PLAN_NOT_FOUND',
      pointer: '/previous/planId',
    },
    {
      name: 'a move cost per unit of the wrong length',
      body: async () => ({
        costs: COSTS,
        gpus: { count: 4 },
        previous: { unit2gpu: COSTS.map(() => [0, 0, 1, 1, 2, 2, 3, 3]) },
        migration: { moveCost: [1, 2] },
      }),
      status: 422,
      code: 'INVALID_PROBLEM',
      pointer: '/migration/moveCost',
    },
    {
      name: 'a GPU distance matrix too small',
      body: async () => ({
        costs: COSTS,
        gpus: { count: 4 },
        previous: { unit2gpu: COSTS.map(() => [0, 0, 1, 1, 2, 2, 3, 3]) },
        migration: {
          gpuDistance: [
            [0, 1],
            [1, 0],
          ],
        },
      }),
      status: 422,
      code: 'INVALID_PROBLEM',
      pointer: '/migration/gpuDistance',
    },
    {
      name: 'a negative makespan tolerance',
      body: async () => ({
        costs: COSTS,
        gpus: { count: 4 },
        previous: { unit2gpu: COSTS.map(() => [0, 0, 1, 1, 2, 2, 3, 3]) },
        migration: { makespanTolerance: -0.1 },
      }),
      status: 400,
      code: 'VALIDATION_FAILED',
      pointer: '/migration/makespanTolerance',
    },
    {
      name: 'previous with neither planId nor unit2gpu',
      body: async () => ({ costs: COSTS, gpus: { count: 4 }, previous: {} }),
      status: 400,
      code: 'VALIDATION_FAILED',
      pointer: '/previous',
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with ${c.code}`, async () => {
      const res = await request(t.app)
        .post('/v1/plans')
        .send(await c.body());
      const problem = assertProblem(res, c.status, c.code);
      assert.equal(problem.pointer, c.pointer);
    });
  }
});
