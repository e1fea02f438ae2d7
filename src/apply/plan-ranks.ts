/**
 * A stored plan as tensor-parallel ranks see it once `apply` has rewritten the checkpoint (GET
 * /v1/plans/{planId}/ranks), in the form of the manifest's layers: the head order apply writes,
 * with KV duplication when needed.
 */
import type { components } from '../api-types.ts';
import { HplbError } from '../errors.ts';
import type { Plan } from '../planner/plan.ts';
import { headOrder, rankHeads, type HeadCounts } from './head-order.ts';

/** The rank view of `plan` on a model with `counts`; PLAN_MISMATCH (no request pointer) when it has none. */
export function planRanks(plan: Plan, counts: HeadCounts): components['schemas']['PlanRanks'] {
  const order = rankOrder(plan, counts);
  const ranks = rankHeads(plan, order);
  return {
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
  };
}

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
