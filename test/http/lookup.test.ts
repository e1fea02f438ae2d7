import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupKey, lookupRequest, normaliseLookup, queryPointerOf, type LookupParams } from '../../src/http/lookup.ts';

const DEFAULTS = { costModel: 'executed-work' };
const known = (params: Partial<LookupParams>, modelId = 'm', version = 'v1') =>
  normaliseLookup(modelId, version, { gpus: 8, ...params } as LookupParams, DEFAULTS);

describe('lookup queries', () => {
  it('give equal keys for equal queries (defaults spelled out or not) and differ when any field differs', () => {
    assert.equal(known({}).key, known({ granularity: 'query-head', unitsPerGpu: 'equal', engine: 'auto' }).key);
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

  it('stand for the plan request with every default filled in, leaving out what is absent', () => {
    assert.deepEqual(lookupRequest(known({ seqLen: 4096 }).query), {
      model: 'm',
      gpus: { count: 8 },
      granularity: 'query-head',
      constraints: { unitsPerGpu: 'equal' },
      workload: { seqLen: 4096, phase: 'prefill' },
      solver: { engine: 'auto' },
      costModel: 'executed-work',
    });
    const replan = lookupRequest(known({ previous: 'p', splitHeads: 2 }).query);
    assert.deepEqual(replan.previous, { planId: 'p' });
    assert.deepEqual(replan.migration, { makespanTolerance: 0.01 });
    assert.deepEqual(replan.constraints, { unitsPerGpu: 'equal', splits: { maxSplitHeads: 2 } });
  });

  it('map a problem in the implied body back to its query parameter', () => {
    assert.equal(queryPointerOf('/gpus/count'), '/gpus');
    assert.equal(queryPointerOf('/constraints/splits/maxSplitHeads'), '/splitHeads');
    assert.equal(queryPointerOf('/previous/planId'), '/previous');
    assert.equal(queryPointerOf('/layers/0'), undefined);
  });
});
