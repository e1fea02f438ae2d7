import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCostModelResolver } from '../../src/cost/registry.ts';
import { DEFAULT_HEAD_SHAPE } from '../../src/cost/head-shape.ts';
import { HplbError } from '../../src/errors.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { createInlineRunner } from '../../src/planner/layer-task.ts';
import { resolveRequest, type PlanRequest } from '../../src/planner/request.ts';
import { solvePlan } from '../../src/planner/solve-plan.ts';
import type { HeadBudget, Profile } from '../../src/profiles/profile.ts';
import { inlineProfile, TINY_ARCHITECTURE } from '../profiles/inline-profile.ts';

const resolveCostModel = createCostModelResolver();
const runner = createInlineRunner(await loadGlpk());
const vs = (vertical: number, slash: number): HeadBudget => ({ kind: 'vertical_slash', vertical, slash });

/** 2 layers x 4 query heads in 2 KV groups, published for contexts up to 8192 tokens. */
function tiny(): Profile {
  return inlineProfile(
    [
      [vs(0, 4000), vs(0, 4000), vs(0, 500), vs(0, 500)],
      [{ kind: 'full' }, vs(100, 900), { kind: 'streaming', sink: 4, recent: 60 }, vs(30, 50)],
    ],
    { id: 'tiny-kv', architecture: { ...TINY_ARCHITECTURE, contextLength: 8192 } },
  );
}

const context = (profile: Profile = tiny()) => ({ resolveProfile: () => profile, resolveCostModel });
const plan = async (request: PlanRequest, profile?: Profile) =>
  solvePlan(resolveRequest(request, context(profile)), runner);
const refusal = (pointer: string, rule: string) => (error: unknown) =>
  error instanceof HplbError && error.code === 'INVALID_PROBLEM' && error.pointer === pointer && error.rule === rule;

describe('the KV-cache cap', () => {
  // Group 0's heads cost 10, group 1's cost 1: on 2 GPUs the contiguous placement stores one group each.
  const costs = { costs: [[10, 10, 10, 10, 1, 1, 1, 1]], kvGroupSize: 4, gpus: { count: 2 } };

  it('defaults to 1: a plan stores no more KV heads than the contiguous placement', async () => {
    const capped = await plan(costs);
    assert.equal(capped.maxKvCacheFactor, 1);
    assert.deepEqual(capped.layers[0].kvHeadsPerGpu, [1, 1]);
    assert.equal(capped.layers[0].kvHeadsStored, 2);
    assert.deepEqual(
      [capped.totals.kvHeadsStored, capped.totals.contiguousKvHeadsStored, capped.totals.kvCacheFactor],
      [2, 2, 1],
    );
    assert.equal(capped.layers[0].makespan, 40);
    assert.equal(capped.totals.kvBytesPerGpuMax, null, 'explicit costs have no architecture');
  });

  it('null lifts the cap: heads of both groups on each GPU, twice the KV cache, a different plan id', async () => {
    const free = await plan({ ...costs, constraints: { maxKvCacheFactor: null } });
    assert.equal(free.maxKvCacheFactor, null);
    assert.equal(free.layers[0].makespan, 22);
    assert.deepEqual(free.layers[0].kvHeadsPerGpu, [2, 2]);
    assert.equal(free.totals.kvCacheFactor, 2);
    assert.notEqual(free.id, (await plan(costs)).id);
    assert.equal(
      resolveRequest({ ...costs, constraints: { maxKvCacheFactor: 1 } }, context()).id,
      (await plan(costs)).id,
    );
  });

  it('is refused below 1', () => {
    assert.throws(
      () => resolveRequest({ ...costs, constraints: { maxKvCacheFactor: 0.5 } }, context()),
      refusal('/constraints/maxKvCacheFactor', 'minimum'),
    );
  });
});

describe('what a plan says it costs in memory', () => {
  it('KV bytes per GPU and layer, and the largest per-GPU sum over layers, beside contiguous', async () => {
    const p = await plan({ model: 'tiny-kv', gpus: { count: 2 }, workload: { seqLen: 4096 } });
    const perHead = 2 * 4096 * 128 * 2;
    for (const layer of p.layers) {
      assert.deepEqual(
        layer.kvBytesPerGpu,
        layer.kvHeadsPerGpu!.map((heads) => heads * perHead),
      );
    }
    const perGpu = [0, 1].map((g) => p.layers.reduce((s, l) => s + l.kvBytesPerGpu![g], 0));
    assert.equal(p.totals.kvBytesPerGpuMax, Math.max(...perGpu));
    assert.equal(p.totals.contiguousKvBytesPerGpuMax, 2 * perHead);
    assert.ok(p.totals.kvBytesPerGpuMaxLowerBound! <= p.totals.kvBytesPerGpuMax!);
    assert.deepEqual(p.warnings, []);
  });

  it('warns when the workload is longer than the model is published for', async () => {
    const p = await plan({ model: 'tiny-kv', gpus: { count: 2 }, workload: { seqLen: 16384 } });
    assert.deepEqual(
      p.warnings.map((w) => [w.code, w.pointer]),
      [['SEQ_LEN_BEYOND_CONTEXT', '/workload/seqLen']],
    );
    assert.match(p.warnings[0].message, /16384 is beyond tiny-kv's context length 8192/);
  });
});

describe('decode and workload mixes', () => {
  it('price decode with the default roofline, in microseconds, and say so', async () => {
    const p = await plan({ model: 'tiny-kv', gpus: { count: 2 }, workload: { seqLen: 4096, phase: 'decode' } });
    assert.deepEqual(p.costModel, {
      name: 'roofline:h100-sxm',
      unit: 'us',
      device: 'NVIDIA H100 SXM (roofline: 989.5 TFLOP/s dense BF16, 3.35 TB/s)',
    });
    // Each GPU reads at least one group's K/V: 2 x 4096 x 128 x 2 bytes at 3.35 TB/s.
    const read = ((2 * 4096 * 128 * 2) / 3.35e12) * 1e6;
    assert.ok(p.layers.every((l) => l.makespan >= read));
  });

  it('refuse a cost model that is not a time for decode and mixes, and one that cannot price groups', () => {
    const base = { model: 'tiny-kv', gpus: { count: 2 } } as const;
    const cases: [PlanRequest, string, string][] = [
      [{ ...base, workload: { phase: 'decode' }, costModel: 'executed-work' }, '/costModel', 'timeUnit'],
      [
        { ...base, workload: { mix: [{ phase: 'prefill', seqLen: 4096, weight: 1 }] }, costModel: 'executed-work' },
        '/costModel',
        'timeUnit',
      ],
      [{ ...base, costModel: 'analytic' }, '/costModel', 'groupCost'],
      [{ ...base, costModel: 'node20-x64-2core-webasm' }, '/costModel', 'groupCost'],
      [
        { costs: [[1, 2]], gpus: { count: 2 }, workload: { mix: [{ phase: 'decode', seqLen: 8, weight: 1 }] } },
        '/workload/mix',
        'costs',
      ],
      [
        { ...base, workload: { mix: [{ phase: 'decode', seqLen: 8, weight: 0 }] } },
        '/workload/mix/0/weight',
        'exclusiveMinimum',
      ],
      [
        {
          ...base,
          workload: { seqLen: 8, mix: [{ phase: 'decode', seqLen: 8, weight: 1 }] } as PlanRequest['workload'],
        },
        '/workload/mix',
        'oneOf',
      ],
    ];
    for (const [request, pointer, rule] of cases)
      assert.throws(() => resolveRequest(request, context()), refusal(pointer, rule), `${pointer} ${rule}`);
  });

  it('a mix: costs are the weighted sums of its phases, the objective the weighted sum of their makespans', async () => {
    const mix = [
      { phase: 'prefill' as const, seqLen: 4096, weight: 1 },
      { phase: 'decode' as const, seqLen: 4096, weight: 100 },
    ];
    const request: PlanRequest = { model: 'tiny-kv', gpus: { count: 2 }, workload: { mix } };
    const resolved = resolveRequest(request, context());
    const roofline = resolveCostModel('roofline:h100-sxm');
    const head = (phase: 'prefill' | 'decode') =>
      roofline.headCost(tiny().budgets[0][0], { seqLen: 4096, phase }, DEFAULT_HEAD_SHAPE);
    const combined = resolved.layers[0].costs[0];
    assert.ok(Math.abs(combined - (head('prefill') + 100 * head('decode'))) <= 1e-9 * combined);
    assert.deepEqual(
      resolved.layers[0].phases?.map((p) => p.weight),
      [1, 100],
    );
    const p = await solvePlan(resolved, runner);
    assert.deepEqual(p.workload, { mix });
    assert.equal(p.costModel.name, 'roofline:h100-sxm');
    for (const layer of p.layers) {
      const [prefill, decode] = layer.phaseMakespans!;
      assert.ok(Math.abs(layer.makespan - (prefill + 100 * decode)) <= 1e-9 * layer.makespan);
      assert.equal(layer.contiguousPhaseMakespans!.length, 2);
    }
    assert.deepEqual(
      p.totals.phases!.map((t) => [t.phase, t.seqLen, t.weight]),
      mix.map((m) => [m.phase, m.seqLen, m.weight]),
    );
    for (const [i, t] of p.totals.phases!.entries()) {
      const sum = p.layers.reduce((s, l) => s + l.phaseMakespans![i], 0);
      assert.ok(Math.abs(t.makespan - sum) <= 1e-9 * sum);
      assert.equal(t.speedupVsContiguous, t.contiguousMakespan! / t.makespan);
    }
    assert.notEqual(p.id, resolveRequest({ ...request, workload: { mix: [mix[1], mix[0]] } }, context()).id);
  });
});
