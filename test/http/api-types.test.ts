import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/gen-api-types.ts';
import type { components } from '../../src/http/api-types.ts';
import type { Plan, PlanLayer, PlanTotals } from '../../src/planner/plan.ts';

type Api = components['schemas'];

/** Compile-time: the two types have the same property names (checked by `npm run typecheck`). */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : { onlyLeft: Exclude<keyof A, keyof B>; onlyRight: Exclude<keyof B, keyof A> };
const planKeys: SameKeys<Plan, Api['Plan']> = true;
const layerKeys: SameKeys<PlanLayer, Api['PlanLayer']> = true;
const totalsKeys: SameKeys<PlanTotals, Api['PlanTotals']> = true;

describe('src/http/api-types.ts', () => {
  it('is what openapi.yaml generates now (run npm run gen:types when this fails)', async () => {
    const expected = await generateApiTypes();
    assert.equal(readFileSync(API_TYPES_FILE, 'utf8'), expected);
  });

  it('describes the Plan the planner builds, field for field', () => {
    assert.deepEqual([planKeys, layerKeys, totalsKeys], [true, true, true]);
  });
});
