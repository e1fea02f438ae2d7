import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_WORKLOAD } from '../../src/cost/cost-model.ts';
import { summarizeProfile } from '../../src/profiles/summary.ts';
import { loadRegistry } from '../../src/profiles/registry.ts';
import { tinyProfile } from './inline-profile.ts';

const registry = loadRegistry();
const profile = tinyProfile();

describe('summarizeProfile', () => {
  it('reports per layer the distinct budgets and the spread of attended tokens', () => {
    const [first, second] = summarizeProfile(profile, 1000);
    // Attended tokens of layer 0: 1000, 1000 (full at seqLen 1000), 64, 1000; mean 766, std 405.3.
    assert.deepEqual(
      { ...first, cv: undefined },
      { layer: 0, distinctBudgets: 3, minAttended: 64, maxAttended: 1000, maxOverMin: 1000 / 64, cv: undefined },
    );
    assert.ok(Math.abs(first.cv - Math.sqrt(3 * 234 ** 2 + 702 ** 2) / 2 / 766) < 1e-12);
    assert.deepEqual(second, {
      layer: 1,
      distinctBudgets: 1,
      minAttended: 1000,
      maxAttended: 1000,
      maxOverMin: 1,
      cv: 0,
    });
  });

  it('shows the published spread of Llama-3-8B (830 to 7096 tokens in one layer) at the default 131072 tokens', () => {
    const summary = summarizeProfile(registry.resolve('llama-3-8b-instruct-262k-minference'), DEFAULT_WORKLOAD.seqLen);
    assert.equal(summary.length, 32);
    assert.deepEqual([summary[0].minAttended, summary[0].maxAttended], [830, 7096]);
    assert.ok(summary.every((s) => s.distinctBudgets >= 3 && s.distinctBudgets <= 5));
  });

  it('counts a DuoAttention full head as the whole sequence', () => {
    const summary = summarizeProfile(registry.resolve('mistral-7b-instruct-v0.2-duo'), 131072);
    assert.deepEqual([summary[0].minAttended, summary[0].maxAttended], [384, 131072]);
  });
});
