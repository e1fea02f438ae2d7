import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINE_VERSION } from '../../src/planner/plan.ts';
import { lookupKey, lookupRequest, normaliseLookup, queryPointerOf, type LookupParams } from '../../src/http/lookup.ts';

const DEFAULTS = { costModel: 'executed-work' };
const known = (params: Partial<LookupParams>, modelId = 'm', version = 'v1') =>
  normaliseLookup(modelId, version, { gpus: 8, ...params } as LookupParams, DEFAULTS);

describe('lookup queries', () => {
  it('give equal keys for equal queries (defaults spelled out or not) and differ when any field differs', () => {
    assert.equal(known({}).key, known({ granularity: 'query-head', unitsPerGpu: 'equal', engine: 'auto' }).key);
    assert.equal(known({}).key, known({ maxKvCacheFactor: '1' }).key);
    assert.equal(known({ mix: 'decode:8:1' }).key, known({ mix: 'decode:8:1.0' }).key);
    const variants: Partial<LookupParams>[] = [
      { gpus: 4 },
      { granularity: 'kv-group' },
      { unitsPerGpu: 'free' },
      { seqLen: 4096 },
      { phase: 'decode' },
      { engine: 'ilp' },
      { costModel: 'calibrated:x' },
      { splitHeads: 3 },
      { previous: '0123456789abcdef0123456789abcdef' },
      { maxKvCacheFactor: '1.5' },
      { maxKvCacheFactor: 'unlimited' },
      { maxKvGroupsPerGpu: 2 },
      { mix: 'decode:131072:1' },
      { mix: 'decode:131072:2' },
    ];
    const keys = new Set(variants.map((v) => known(v).key));
    assert.equal(keys.size, variants.length);
    assert.ok(!keys.has(known({}).key));
    assert.notEqual(known({}, 'n').key, known({}).key);
    assert.notEqual(known({}, 'm', 'v2').key, known({}).key);
  });

  it('cannot be forged by separators inside a value', () => {
    const forged = lookupKey({ modelId: 'a","v1', modelVersion: '', values: {} });
    assert.notEqual(forged, lookupKey({ modelId: 'a', modelVersion: 'v1', values: {} }));
  });

  it('names the engine version, as plan ids do (replicas of two versions share no lookup)', () => {
    const key = lookupKey({ modelId: 'a', modelVersion: 'v1', values: {} });
    assert.equal(JSON.parse(key)[0], ENGINE_VERSION);
  });

  it('stand for the plan request with every default filled in, leaving out what is absent', () => {
    assert.deepEqual(lookupRequest(known({ seqLen: 4096 }).query), {
      model: 'm',
      gpus: { count: 8 },
      granularity: 'query-head',
      constraints: { unitsPerGpu: 'equal', maxKvCacheFactor: 1 },
      workload: { seqLen: 4096, phase: 'prefill' },
      solver: { engine: 'auto' },
      costModel: 'executed-work',
    });
    // No cap is a value of its own (null), not the default; decode and mixes are priced in time.
    const uncapped = lookupRequest(known({ maxKvCacheFactor: 'unlimited', phase: 'decode' }).query);
    assert.equal(uncapped.constraints?.maxKvCacheFactor, null);
    assert.equal(uncapped.costModel, 'roofline:h100-sxm');
    const mixed = lookupRequest(known({ mix: 'prefill:4096:1,decode:4096:500', maxKvGroupsPerGpu: 2 }).query);
    assert.deepEqual(mixed.workload, {
      mix: [
        { phase: 'prefill', seqLen: 4096, weight: 1 },
        { phase: 'decode', seqLen: 4096, weight: 500 },
      ],
    });
    assert.equal(mixed.constraints?.maxKvGroupsPerGpu, 2);
    const replan = lookupRequest(known({ previous: 'p', splitHeads: 2 }).query);
    assert.deepEqual(replan.previous, { planId: 'p' });
    assert.deepEqual(replan.migration, { makespanTolerance: 0.01 });
    assert.deepEqual(replan.constraints, { unitsPerGpu: 'equal', splits: { maxSplitHeads: 2 }, maxKvCacheFactor: 1 });
  });

  it('refuse a mix beside seqLen or phase, and a cap or mix that does not parse, naming the parameter', () => {
    const pointerOf = (params: Partial<LookupParams>): string | undefined => {
      try {
        known(params);
      } catch (e) {
        return (e as { pointer?: string }).pointer;
      }
      assert.fail('expected a problem');
    };
    assert.equal(pointerOf({ mix: 'decode:8:1', seqLen: 8 }), '/mix');
    assert.equal(pointerOf({ mix: 'decode:8:1', phase: 'decode' }), '/mix');
    assert.equal(pointerOf({ maxKvCacheFactor: '0.5' }), '/maxKvCacheFactor');
    assert.equal(pointerOf({ mix: 'decode:0:1' }), '/mix');
  });

  it('map a problem in the implied body back to its query parameter', () => {
    assert.equal(queryPointerOf('/gpus/count'), '/gpus');
    assert.equal(queryPointerOf('/constraints/splits/maxSplitHeads'), '/splitHeads');
    assert.equal(queryPointerOf('/previous/planId'), '/previous');
    assert.equal(queryPointerOf('/constraints/maxKvCacheFactor'), '/maxKvCacheFactor');
    assert.equal(queryPointerOf('/workload/mix/1'), '/mix');
    assert.equal(queryPointerOf('/layers/0'), undefined);
  });
});
