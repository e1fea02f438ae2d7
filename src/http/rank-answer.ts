/**
 * The answer of GET /v1/plans/{planId}/ranks, from a stored plan's bytes to the bytes sent:
 * parsing, ordering and serialising all grow with the plan, so a body worker runs this for a
 * large plan (body-work.ts) and the event loop only for a small one (routes/ranks.ts).
 */
import { headOrder, rankHeads, type HeadCounts } from '../apply/head-order.ts';
import { HplbError } from '../errors.ts';
import type { Plan } from '../planner/plan.ts';
import type { components } from '../api-types.ts';
import { jsonAnswer, type JsonAnswer } from './json-answer.ts';

/** The rank view of the plan in `planBytes` (JSON) on a model with `counts`; PLAN_MISMATCH when it has none. */
export function rankAnswer(planBytes: Uint8Array, counts: HeadCounts): JsonAnswer {
  const plan = JSON.parse(new TextDecoder().decode(planBytes)) as Plan;
  const order = rankOrder(plan, counts);
  const ranks = rankHeads(plan, order);
  return jsonAnswer({
    planId: plan.id,
    model: plan.model.id,
    granularity: plan.granularity,
    tensorParallelSize: order.gpus,
    queryHeads: order.queryHeads,
    kvHeads: order.kvHeads,
    outputKvHeads: order.outputKvHeads,
    kvCacheFactor: order.kvCacheFactor,
    planKvCacheFactor: order.planKvCacheFactor,
    expandKvNeeded: order.outputKvHeads !== order.kvHeads,
    layers: order.layers.map((l, i) => ({ ...l, ranks: ranks[i].ranks })),
  } satisfies components['schemas']['PlanRanks']);
}

/** The head order apply writes (with KV duplication when needed); the plan's own faults carry no request pointer. */
function rankOrder(plan: Plan, counts: HeadCounts): ReturnType<typeof headOrder> {
  try {
    return headOrder(plan, counts, { expandKv: true });
  } catch (error) {
    if (error instanceof HplbError && error.code === 'PLAN_MISMATCH') {
      throw new HplbError(error.code, `plan ${plan.id}: ${error.message}`);
    }
    throw error;
  }
}
