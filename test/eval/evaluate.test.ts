import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { evaluateDefaultCap, evaluateProfile, type EvaluationRun } from '../../src/eval/evaluate.ts';
import { attentionTime, dividingGpuCounts, fluidBound, meanLayerBubble } from '../../src/eval/loads.ts';
import { largestBudget, uniformProfile } from '../../src/eval/uniform.ts';
import { createEvalPlanner, type EvalContext } from '../../src/eval/plans.ts';
import { SPLIT_SOLVER } from '../../src/eval/settings.ts';
import { evaluateSplitCurve } from '../../src/eval/split.ts';
import type { HeadBudget } from '../../src/profiles/profile.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { tinyEvalProfile } from './tiny-profile.ts';
import { inlineEvalContext } from './eval-context.ts';

const vs = (vertical: number, slash: number): HeadBudget => ({ kind: 'vertical_slash', vertical, slash });

let context: EvalContext;
before(async () => {
  context = await inlineEvalContext();
});

describe('uniform budgets', () => {
  it('picks the head that attends the most tokens, a full head counting the whole sequence', () => {
    const [layer0, layer1] = tinyEvalProfile().budgets;
    assert.deepEqual(largestBudget(layer0, 131072), vs(0, 4000));
    assert.deepEqual(largestBudget(layer1, 131072), { kind: 'full' });
  });

  it("gives every head of a layer its layer's largest budget, under an id of its own", () => {
    const uniform = uniformProfile(tinyEvalProfile(), 131072);
    assert.deepEqual(uniform.budgets, [new Array(4).fill(vs(0, 4000)), new Array(4).fill({ kind: 'full' })]);
    assert.notEqual(uniform.id, tinyEvalProfile().id);
  });
});

describe('load summaries', () => {
  const loads = [
    [4, 2],
    [3, 3],
    [0, 0],
  ];
  it('sums layer makespans and averages layer bubbles', () => {
    assert.equal(attentionTime(loads), 7);
    assert.equal(meanLayerBubble(loads), (1 - 3 / 4) / 3);
  });

  it('counts every head and one copy of every KV group in the fluid bound', () => {
    const problem = { costs: [4, 2, 3, 3], groupCosts: [1, 2], speeds: [1, 1] };
    assert.equal(fluidBound([problem, { costs: [2, 2], speeds: [1, 1] }] as never), (12 + 3) / 2 + 2);
  });

  it('keeps only the GPU counts that divide the query heads', () => {
    const qwen7b = loadRegistry().resolve('qwen2.5-7b-instruct-128k-minference');
    assert.deepEqual(dividingGpuCounts(qwen7b, [2, 4, 8]), [2, 4]);
  });
});

describe('evaluateProfile', () => {
  let run: EvaluationRun;
  before(async () => {
    run = await evaluateProfile(createEvalPlanner(context), tinyEvalProfile(), 2);
  });

  it('keeps every KV group whole at the default cap: layer 0 can only be placed as contiguously', () => {
    const { evaluation: e, loads } = run;
    assert.equal(e.maxKvCacheFactor, 1);
    assert.equal(e.kvCacheFactor.adaptiveAuto, 1);
    assert.deepEqual(
      [...loads.adaptiveAuto[0]].sort((a, b) => a - b),
      [...loads.adaptiveContiguous[0]].sort((a, b) => a - b),
    );
  });

  it('with no cap, stores both groups on both GPUs to balance layer 0, and says so', () => {
    const { evaluation: e, loads } = run;
    assert.ok(e.unconstrained.kvCacheFactor > 1, 'more KV heads than contiguous placement');
    assert.equal(e.unconstrained.maxKvCacheFactor, null);
    assert.ok(e.unconstrained.attentionTime < e.attentionTime.adaptiveAuto);
    const [a, b] = loads.unconstrained[0];
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(a, b), 'a big and a small head on each GPU');
  });

  it('orders the settings: uniform >= contiguous >= S-HPLB, greedy >= S-HPLB >= fluid bound', () => {
    const { evaluation: e } = run;
    const t = e.attentionTime;
    assert.ok(t.uniformContiguous >= t.adaptiveContiguous, 'uniform budgets never cost less');
    assert.ok(t.adaptiveContiguous >= t.adaptiveAuto);
    assert.ok(t.adaptiveGreedy >= t.adaptiveAuto);
    assert.ok(t.adaptiveAuto >= t.fluidBound);
    assert.ok(e.unconstrained.attentionTime >= t.fluidBound, 'the fluid bound holds at any cap');
    assert.equal(e.meanBubbleRatio.uniformContiguous, 0, 'equal heads, one group per GPU: never waits');
    assert.equal(e.layersProvenOptimal, 2);
  });

  it('prices the placements in decode: replicated groups are read twice, so the no-cap placement slows decode', () => {
    const { evaluation: e } = run;
    assert.equal(e.decode.prefillPlacements.adaptiveAuto, 1, 'whole groups, one per GPU, as contiguous');
    assert.ok(e.decode.prefillPlacements.unconstrained < 1);
    assert.ok(e.decode.plan.kvCacheFactor <= 1);
    assert.equal(e.decode.plan.maxKvCacheFactor, 1);
  });

  it('gives each phase of the mix its own speedup, and the mix the weighted sum', () => {
    const { mix } = run.evaluation;
    assert.deepEqual(
      mix.phases.map((p) => [p.phase, p.weight]),
      [
        ['prefill', 1],
        ['decode', 500],
      ],
    );
    assert.equal(mix.plan.kvCacheFactor <= 1, true);
    assert.ok(mix.plan.speedupVsContiguous! >= 1 - 1e-12, 'contiguous is a feasible mix placement');
  });

  it('(f) splits with no cap, lies between the fluid bound and the no-cap plan, and the split curve starts there', async () => {
    const { evaluation: e } = run;
    assert.equal(e.split.maxSplitHeads, 1);
    assert.ok(e.split.attentionTime <= e.unconstrained.attentionTime * (1 + 1e-12));
    assert.ok(e.split.attentionTime >= e.attentionTime.fluidBound * (1 - 1e-12));
    assert.equal(e.split.overFluid, e.split.attentionTime / e.attentionTime.fluidBound);
    const planner = createEvalPlanner(context);
    const curve = await evaluateSplitCurve(planner, tinyEvalProfile(), [2], SPLIT_SOLVER);
    assert.deepEqual(
      curve.map((p) => [p.gpus, p.maxSplitHeads]),
      [
        [2, 0],
        [2, 1],
      ],
    );
    assert.equal(curve[0].attentionTime, e.unconstrained.attentionTime);
    assert.equal(curve[0].splitHeads, 0);
    assert.equal(curve[1].attentionTime, e.split.attentionTime);
  });
});

describe('the default cap on a real profile', () => {
  it("agrees with the plan's own contiguous and greedy totals", async () => {
    const flagship = loadRegistry().resolve('llama-3-8b-instruct-262k-minference');
    const planner = createEvalPlanner(context);
    const { evaluation: e, auto } = await evaluateDefaultCap(planner, flagship, 8);
    assert.equal(e.attentionTime.adaptiveContiguous, auto.totals.contiguousMakespan);
    assert.equal(e.attentionTime.adaptiveAuto, auto.totals.makespan);
    assert.equal(e.speedup.contiguousOverAuto, auto.totals.speedupVsContiguous);
    assert.equal(e.kvCacheFactor.adaptiveAuto, 1);
    assert.equal(auto.maxKvCacheFactor, 1);
    const again = await planner.plan(flagship, { gpus: 8, engine: 'auto' });
    assert.equal(again, auto, 'an equal request is answered with the plan solved before');
    assert.deepEqual([planner.counts.solved, planner.counts.reused], [2, 1]);
  });
});
