import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { computeBudgets, type BudgetsRequest } from '../../src/budgets/budgets.ts';
import { blocksToKeysPerRow } from '../../src/budgets/units.ts';
import { ANALYTIC_COST_MODEL, attendedPairs, type CostModel } from '../../src/cost/cost-model.ts';
import { HplbError } from '../../src/errors.ts';
import { recoveryCurve } from '../../src/kernel/recovery.ts';
import { syntheticHead } from '../../src/kernel/synthetic.ts';

const REQUEST: BudgetsRequest = {
  target: 0.9,
  workload: { seqLen: 1000, phase: 'prefill' },
  curves: [
    {
      layer: 0,
      head: 0,
      points: [
        { budget: 100, recovery: 0.95 },
        { budget: 200, recovery: 0.99 },
      ],
    },
    {
      layer: 0,
      head: 1,
      points: [
        { budget: 100, recovery: 0.5 },
        { budget: 500, recovery: 0.9 },
        { budget: 1000, recovery: 1 },
      ],
    },
    {
      layer: 1,
      head: 0,
      points: [
        { budget: 100, recovery: 0.7 },
        { budget: 300, recovery: 0.95 },
      ],
    },
  ],
};

describe('computeBudgets', () => {
  it('gives each head its smallest budget, costs it, and compares with the uniform budget', () => {
    const response = computeBudgets(REQUEST, ANALYTIC_COST_MODEL);
    assert.deepEqual(
      response.heads.map((h) => h.budget),
      [100, 500, 260],
    );
    assert.deepEqual(
      response.heads.map((h) => [h.layer, h.head]),
      [
        [0, 0],
        [0, 1],
        [1, 0],
      ],
    );
    const workload = { seqLen: 1000, phase: 'prefill' } as const;
    assert.deepEqual(
      response.heads.map((h) => h.cost),
      [100, 500, 260].map((b) => attendedPairs(b, workload)),
    );
    assert.deepEqual(response.heads[1].headBudget, { kind: 'streaming', sink: 0, recent: 500 });
    assert.equal(response.uniform.budget, 500);
    assert.equal(response.uniform.cost, 3 * attendedPairs(500, workload));
    const adaptive = [100, 500, 260].reduce((sum, b) => sum + attendedPairs(b, workload), 0);
    assert.equal(response.totals.adaptiveCost, adaptive);
    assert.ok(Math.abs(response.totals.saving - (1 - adaptive / response.uniform.cost)) < 1e-12);
    assert.deepEqual(response.costModel, { name: 'analytic', unit: 'token-pairs', device: null });
    assert.equal(response.unit, 'keys-per-row');
    assert.deepEqual(
      response.heads.map((h) => h.keysPerRow),
      [100, 500, 260],
    );
    assert.equal(response.interpolation, 'linear');
    for (const head of response.heads) assert.ok(head.recovery >= 0.9 - 1e-12);
  });

  it('step interpolation answers measured budgets only', () => {
    const response = computeBudgets({ ...REQUEST, interpolation: 'step' }, ANALYTIC_COST_MODEL);
    assert.deepEqual(
      response.heads.map((h) => h.budget),
      [100, 500, 300],
    );
  });

  it('costs a budget of seqLen or more as full attention, under any cost model', () => {
    const seen: string[] = [];
    const model: CostModel = {
      name: 'probe',
      unit: 'x',
      device: null,
      time: false,
      headCost: (budget) => {
        seen.push(budget.kind);
        return 1;
      },
      groupCost: () => 0,
    };
    const response = computeBudgets(
      { target: 1, workload: { seqLen: 1000, phase: 'decode' }, curves: [REQUEST.curves[1]] },
      model,
    );
    assert.deepEqual(response.heads[0].headBudget, { kind: 'full' });
    assert.deepEqual(seen, ['full', 'full']);
    assert.equal(response.totals.saving, 0);
  });

  it('costs budgets in blocks as windows of 64 keys per block and reports their mean keys per row', () => {
    const response = computeBudgets(
      { ...REQUEST, unit: 'blocks', workload: { seqLen: 131072, phase: 'prefill' } },
      ANALYTIC_COST_MODEL,
    );
    assert.equal(response.unit, 'blocks');
    const head = response.heads[0];
    assert.deepEqual(head.headBudget, { kind: 'streaming', sink: 0, recent: head.budget * 64 });
    assert.equal(head.keysPerRow, blocksToKeysPerRow(head.budget, 131072));
  });

  it('refuses budgets in lines, and curves measured at another length without a rescale rule', () => {
    const codeAt = (request: BudgetsRequest, pointer: string) =>
      assert.throws(
        () => computeBudgets(request, ANALYTIC_COST_MODEL),
        (error: unknown) => {
          assert.ok(error instanceof HplbError);
          assert.equal(error.code, 'VALIDATION_FAILED');
          assert.equal(error.pointer, pointer);
          return true;
        },
      );
    codeAt({ ...REQUEST, unit: 'lines' }, '/unit');
    codeAt({ ...REQUEST, measuredAt: 500 }, '/rescale');
  });

  it('carries budgets measured at another length by the stated rule', () => {
    const fixed = computeBudgets({ ...REQUEST, measuredAt: 500, rescale: 'fixed' }, ANALYTIC_COST_MODEL);
    assert.deepEqual(
      fixed.heads.map((h) => h.keysPerRow),
      [100, 500, 260],
    );
    const proportional = computeBudgets({ ...REQUEST, measuredAt: 500, rescale: 'proportional' }, ANALYTIC_COST_MODEL);
    assert.deepEqual(
      proportional.heads.map((h) => h.keysPerRow),
      [200, 1000, 520].map((b) => Math.min(b, 1000)),
    );
    assert.deepEqual(proportional.heads[1].headBudget, { kind: 'full' });
  });

  it('uses the default workload when none is given', () => {
    const response = computeBudgets({ target: 0.9, curves: [REQUEST.curves[0]] }, ANALYTIC_COST_MODEL);
    assert.deepEqual(response.workload, { seqLen: 131072, phase: 'prefill' });
  });

  const ERRORS: { name: string; request: unknown; code: string; pointer: string }[] = [
    { name: 'target above 1', request: { ...REQUEST, target: 1.5 }, code: 'VALIDATION_FAILED', pointer: '/target' },
    { name: 'target 0', request: { ...REQUEST, target: 0 }, code: 'VALIDATION_FAILED', pointer: '/target' },
    { name: 'no curves', request: { ...REQUEST, curves: [] }, code: 'VALIDATION_FAILED', pointer: '/curves' },
    {
      name: 'unknown interpolation',
      request: { ...REQUEST, interpolation: 'cubic' },
      code: 'VALIDATION_FAILED',
      pointer: '/interpolation',
    },
    {
      name: 'bad workload',
      request: { ...REQUEST, workload: { seqLen: 0, phase: 'prefill' } },
      code: 'VALIDATION_FAILED',
      pointer: '/workload/seqLen',
    },
    {
      name: 'duplicate head',
      request: { ...REQUEST, curves: [REQUEST.curves[0], REQUEST.curves[0]] },
      code: 'VALIDATION_FAILED',
      pointer: '/curves/1',
    },
    {
      name: 'negative layer',
      request: { ...REQUEST, curves: [{ ...REQUEST.curves[0], layer: -1 }] },
      code: 'VALIDATION_FAILED',
      pointer: '/curves/0/layer',
    },
    {
      name: 'non-monotone curve',
      code: 'INVALID_CURVE',
      pointer: '/curves/1/points/1/recovery',
      request: {
        ...REQUEST,
        curves: [
          REQUEST.curves[0],
          {
            layer: 2,
            head: 0,
            points: [
              { budget: 1, recovery: 0.9 },
              { budget: 2, recovery: 0.8 },
            ],
          },
        ],
      },
    },
    {
      name: 'curve below the target',
      code: 'INVALID_CURVE',
      pointer: '/curves/0/points',
      request: { ...REQUEST, curves: [{ layer: 0, head: 0, points: [{ budget: 10, recovery: 0.3 }] }] },
    },
  ];
  for (const { name, request, code, pointer } of ERRORS) {
    it(`${name} is a ${code} error at ${pointer}`, () => {
      assert.throws(
        () => computeBudgets(request as BudgetsRequest, ANALYTIC_COST_MODEL),
        (error: unknown) => {
          assert.ok(error instanceof HplbError);
          assert.equal(error.code, code);
          assert.equal(error.pointer, pointer);
          return true;
        },
      );
    });
  }

  it('works end to end from curves measured on synthetic heads', () => {
    const budgets = [8, 16, 32, 64, 128, 256, 512];
    const curves = (['sink', 'local', 'vertical', 'diffuse'] as const).map((kind, head) => ({
      layer: 0,
      head,
      points: recoveryCurve(syntheticHead({ kind, n: 256, seed: head + 1 }), budgets).points.map(
        ({ budget, recovery }) => ({ budget, recovery }),
      ),
    }));
    const response = computeBudgets(
      { target: 0.9, workload: { seqLen: 256, phase: 'prefill' }, curves },
      ANALYTIC_COST_MODEL,
    );
    const [sink, local, , diffuse] = response.heads;
    assert.ok(sink.budget < diffuse.budget && local.budget < diffuse.budget);
    assert.equal(response.uniform.budget, Math.max(...response.heads.map((h) => h.budget)));
    assert.ok(response.totals.saving > 0);
  });
});

describe('budgets JSON Schema', () => {
  const schema = JSON.parse(readFileSync(new URL('../../src/budgets/budgets.schema.json', import.meta.url), 'utf8'));
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addSchema(schema);
  const validateRequest = ajv.getSchema(`${schema.$id}#/$defs/BudgetsRequest`);
  const validateResponse = ajv.getSchema(`${schema.$id}#/$defs/BudgetsResponse`);

  it('accepts the documented request and the response computeBudgets gives for it', () => {
    assert.ok(validateRequest && validateResponse);
    assert.ok(validateRequest(REQUEST), JSON.stringify(validateRequest.errors));
    const response = computeBudgets(REQUEST, ANALYTIC_COST_MODEL);
    assert.ok(validateResponse(JSON.parse(JSON.stringify(response))), JSON.stringify(validateResponse.errors));
    const full = computeBudgets(
      { target: 1, workload: { seqLen: 1000, phase: 'decode' }, curves: [REQUEST.curves[1]] },
      ANALYTIC_COST_MODEL,
    );
    assert.ok(validateResponse(JSON.parse(JSON.stringify(full))), JSON.stringify(validateResponse.errors));
  });

  it('rejects requests the contract excludes', () => {
    assert.ok(validateRequest);
    for (const bad of [
      { ...REQUEST, target: 2 },
      { ...REQUEST, extra: 1 },
      { target: 0.9 },
      { ...REQUEST, curves: [{ layer: 0, head: 0, points: [{ budget: 1.5, recovery: 0.5 }] }] },
    ]) {
      assert.equal(validateRequest(bad), false);
    }
  });
});
