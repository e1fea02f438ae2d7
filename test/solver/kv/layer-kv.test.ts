import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HplbError } from '../../../src/errors.ts';
import { buildLayerProblems, type ProblemSpec } from '../../../src/solver/problem.ts';

const gqa = (gpus: number, extra: Partial<ProblemSpec> = {}): ProblemSpec => ({
  headCosts: [Array.from({ length: 32 }, (_, h) => 10 + h)],
  kvGroupSize: 4,
  granularity: 'query-head',
  speeds: new Array<number>(gpus).fill(1),
  unitsPerGpu: { kind: 'equal' },
  ...extra,
});

describe('KV fields of layer problems', () => {
  const cases = [
    { name: 'G=8 stores one group per GPU', gpus: 8, factor: 1.25, contiguous: 8, cap: 10 },
    { name: 'G=4 stores two groups per GPU', gpus: 4, factor: 1.5, contiguous: 8, cap: 12 },
    { name: 'G=16 replicates each group twice, as vLLM does', gpus: 16, factor: 1, contiguous: 16, cap: 16 },
    { name: 'factor 2 at G=8', gpus: 8, factor: 2, contiguous: 8, cap: 16 },
  ];
  for (const c of cases) {
    it(`${c.name}: contiguous ${c.contiguous} KV heads, cap ${c.cap}`, () => {
      const [problem] = buildLayerProblems(gqa(c.gpus, { maxKvCacheFactor: c.factor }));
      assert.equal(problem.contiguousKvHeads, c.contiguous);
      assert.equal(problem.maxStoredGroups, c.cap);
      assert.deepEqual(
        problem.unit2group,
        Array.from({ length: 32 }, (_, h) => Math.floor(h / 4)),
      );
    });
  }

  it('a max:N rule counts the groups of the contiguous blocks (3 GPUs, 11 heads each: 3 + 4 + 3)', () => {
    const [problem] = buildLayerProblems(gqa(3, { unitsPerGpu: { kind: 'max', max: 11 }, maxKvCacheFactor: 1 }));
    assert.equal(problem.contiguousKvHeads, 10);
    assert.equal(problem.maxStoredGroups, 10);
  });

  it('unit2group appears with group costs, a cap or a limit, and not without them', () => {
    assert.equal(buildLayerProblems(gqa(8))[0].unit2group, undefined);
    assert.equal(buildLayerProblems(gqa(8))[0].contiguousKvHeads, undefined);
    const zero = buildLayerProblems(gqa(8, { groupCosts: [new Array<number>(8).fill(0)] }))[0];
    assert.equal(zero.unit2group, undefined, 'zero group costs change nothing');
    const costly = buildLayerProblems(gqa(8, { groupCosts: [new Array<number>(8).fill(5)] }))[0];
    assert.deepEqual(costly.groupCosts, new Array<number>(8).fill(5));
    assert.equal(costly.maxStoredGroups, undefined);
    assert.ok(buildLayerProblems(gqa(8, { maxKvGroupsPerGpu: 2 }))[0].unit2group);
  });

  it('KV-group units and MHA heads fold their group costs into their costs and store one KV head each', () => {
    const groupCosts = [Array.from({ length: 8 }, (_, k) => 100 * k)];
    const [groups] = buildLayerProblems(gqa(4, { granularity: 'kv-group', groupCosts, maxKvCacheFactor: 1 }));
    assert.equal(groups.unit2group, undefined);
    assert.equal(groups.groupCosts, undefined);
    assert.equal(groups.costs[3], 22 + 23 + 24 + 25 + 300);
    assert.equal(groups.contiguousKvHeads, 8);
    const mha: ProblemSpec = { ...gqa(4), kvGroupSize: 1, groupCosts: [new Array<number>(32).fill(1)] };
    const [heads] = buildLayerProblems(mha);
    assert.equal(heads.costs[0], 11);
    assert.equal(heads.contiguousKvHeads, 32);
  });

  it('a mix: costs and group costs are the weighted sums of the phases', () => {
    const spec = gqa(8, {
      groupCosts: [new Array<number>(8).fill(0)],
      phases: [
        { weight: 1, headCosts: [new Array<number>(32).fill(3)], groupCosts: [new Array<number>(8).fill(1)] },
        { weight: 500, headCosts: [new Array<number>(32).fill(0.5)], groupCosts: [new Array<number>(8).fill(2)] },
      ],
    });
    const [problem] = buildLayerProblems(spec);
    assert.equal(problem.costs[0], 3 + 250);
    assert.deepEqual(problem.groupCosts, new Array<number>(8).fill(1001));
    assert.equal(problem.phases?.length, 2);
    assert.deepEqual(problem.phases?.[1].groupCosts, new Array<number>(8).fill(2));
  });
});

describe('KV fields that no placement can meet, or that are malformed', () => {
  const refusals = [
    {
      name: 'a cap below one copy per group',
      spec: gqa(8, { maxKvCacheFactor: 0.5 }),
      least: '1',
    },
    {
      name: 'a cap below one group per GPU at G=16',
      spec: gqa(16, { maxKvCacheFactor: 0.9 }),
      least: '1',
    },
    {
      name: 'pins that split a group under the least cap',
      spec: gqa(8, {
        maxKvCacheFactor: 1,
        pins: [
          { unit: 0, gpu: 0 },
          { unit: 1, gpu: 1 },
        ],
      }),
      least: '1.125',
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name} with the least feasible factor`, () => {
      assert.throws(
        () => buildLayerProblems(r.spec),
        (error: unknown) =>
          error instanceof HplbError &&
          error.code === 'INFEASIBLE_CONSTRAINTS' &&
          error.pointer === '/constraints/maxKvCacheFactor' &&
          error.message.includes(`least feasible maxKvCacheFactor is ${r.least}`),
      );
    });
  }

  it('refuses malformed group costs and mixes, naming the field', () => {
    const bad: [Partial<ProblemSpec>, string][] = [
      [{ groupCosts: [[1, 2]] }, '/groupCosts/0'],
      [{ groupCosts: [new Array<number>(8).fill(-1)] }, '/groupCosts/0/0'],
      [{ maxKvCacheFactor: 0 }, '/constraints/maxKvCacheFactor'],
      [{ phases: [{ weight: 0, headCosts: [new Array<number>(32).fill(1)] }] }, '/workload/mix/0/weight'],
    ];
    for (const [extra, pointer] of bad) {
      assert.throws(
        () => buildLayerProblems(gqa(8, extra)),
        (error: unknown) => error instanceof HplbError && error.pointer === pointer,
        pointer,
      );
    }
  });
});
