import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { bestWithin, evaluateFrontier, type Frontier, type FrontierPoint } from '../../src/eval/frontier.ts';
import { createEvalPlanner, type EvalPlanner } from '../../src/eval/plans.ts';
import { constraintViolation, makespanOf } from '../../src/solver/layer-result.ts';
import type { LayerProblem } from '../../src/solver/types.ts';
import { tinyEvalProfile } from './tiny-profile.ts';
import { inlineEvalContext } from './eval-context.ts';

/** Every placement of `units` units on `gpus` GPUs with equally many on each (unit2gpu). */
function equalPlacements(units: number, gpus: number): number[][] {
  const per = units / gpus;
  const out: number[][] = [];
  const walk = (prefix: number[], counts: number[]): void => {
    if (prefix.length === units) {
      out.push([...prefix]);
      return;
    }
    for (let g = 0; g < gpus; g++) {
      if (counts[g] === per) continue;
      counts[g]++;
      walk([...prefix, g], counts);
      counts[g]--;
    }
  };
  walk([], new Array(gpus).fill(0));
  return out;
}

/** The least makespan of a layer by trying every placement the problem admits. */
function bruteForce(problem: LayerProblem): number {
  let best = Number.POSITIVE_INFINITY;
  for (const unit2gpu of equalPlacements(problem.costs.length, problem.speeds.length)) {
    if (constraintViolation(problem, unit2gpu) === null) best = Math.min(best, makespanOf(problem, unit2gpu));
  }
  return best;
}

const point = (maxKvCacheFactor: number | null, attentionTime: number): FrontierPoint => ({
  maxKvCacheFactor,
  attentionTime,
  speedupVsContiguous: 10 / attentionTime,
  kvCacheFactor: maxKvCacheFactor ?? 2,
  layersProven: 1,
  gap: 0,
  kvBytesPerGpuMax: null,
  pareto: true,
});

describe('the best plan a cap allows', () => {
  it('is the fastest point solved at that cap or a smaller one, any point for no cap', () => {
    const frontier: Frontier = {
      model: 'm',
      gpus: 2,
      points: [point(1, 10), point(1.25, 10.5), point(1.5, 8), point(null, 9)],
    };
    assert.equal(bestWithin(frontier, 1.25)?.attentionTime, 10);
    assert.equal(bestWithin(frontier, 1.5)?.attentionTime, 8);
    assert.equal(bestWithin(frontier, null)?.attentionTime, 8, 'a capped plan that is faster counts for no cap');
    assert.equal(bestWithin(frontier, 0.5), undefined);
  });
});

describe('the KV-cache frontier of a profile', () => {
  let planner: EvalPlanner;
  let frontier: Frontier;
  before(async () => {
    planner = createEvalPlanner(await inlineEvalContext());
    frontier = await evaluateFrontier(planner, tinyEvalProfile(), 2);
  });

  it("tries the planner's caps that can bind, from the default to none", () => {
    // 4 heads in 2 groups on 2 GPUs: contiguous placement stores 2 KV heads, a placement at most 4.
    assert.deepEqual(
      frontier.points.map((p) => p.maxKvCacheFactor),
      [1, 1.25, 1.5, null],
    );
  });

  it('reaches at most each cap, and each point is the brute-force optimum at its cap', () => {
    const profile = tinyEvalProfile();
    for (const p of frontier.points) {
      if (p.maxKvCacheFactor !== null) assert.ok(p.kvCacheFactor <= p.maxKvCacheFactor + 1e-12);
      const layers = planner.resolve(profile, { gpus: 2, engine: 'auto', maxKvCacheFactor: p.maxKvCacheFactor }).layers;
      const optimum = layers.reduce((s, problem) => s + bruteForce(problem), 0);
      assert.ok(Math.abs(p.attentionTime - optimum) <= 1e-9 * optimum, `cap ${p.maxKvCacheFactor}`);
      assert.equal(p.layersProven, 2);
    }
  });

  it('gains speed with KV cache, and marks as Pareto exactly the points no other point dominates', () => {
    const [first, last] = [frontier.points[0], frontier.points.at(-1)!];
    assert.ok(last.speedupVsContiguous! > first.speedupVsContiguous!);
    assert.ok(last.kvCacheFactor > 1);
    for (const p of frontier.points) {
      const dominated = frontier.points.some(
        (q) =>
          q.kvCacheFactor <= p.kvCacheFactor &&
          q.attentionTime <= p.attentionTime &&
          (q.kvCacheFactor < p.kvCacheFactor || q.attentionTime < p.attentionTime),
      );
      assert.equal(p.pareto, !dominated, `cap ${p.maxKvCacheFactor}`);
    }
  });

  it('reuses the plans it shares with the default and no-cap columns', async () => {
    const before = planner.counts.reused;
    await planner.plan(tinyEvalProfile(), { gpus: 2, engine: 'auto' });
    await planner.plan(tinyEvalProfile(), { gpus: 2, engine: 'auto', maxKvCacheFactor: null });
    assert.equal(planner.counts.reused, before + 2);
  });
});
