/**
 * The running plan a re-plan starts from (`plan --previous`) and the re-plan's summary line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fetchStoredPlan, isPlanId } from '../apply/plan-input.ts';
import { HplbError } from '../errors.ts';
import type { Plan } from '../planner/plan.ts';

/**
 * The running plan: a file (the --json output of an earlier run), else a plan id fetched from the
 * service that stores it (GET /v1/plans/{id}). Either way it must have the fields a re-plan reads.
 */
export async function loadPreviousPlan(
  source: string,
  serviceUrl: string,
  fetchImpl: typeof fetch = fetch,
): Promise<Plan> {
  const problem = (message: string) => new HplbError('INVALID_PROBLEM', message, { pointer: '/previous' });
  let parsed: unknown;
  let where = source;
  if (!existsSync(source) && isPlanId(source)) {
    const { body, href } = await fetchStoredPlan(source, serviceUrl, fetchImpl, problem);
    parsed = body;
    where = href;
  } else {
    try {
      parsed = JSON.parse(readFileSync(source, 'utf8'));
    } catch (error) {
      throw problem(`cannot read previous plan ${source}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const plan = parsed as Partial<Plan>;
  if (
    !Array.isArray(plan.layers) ||
    !plan.layers.every((l) => Array.isArray(l?.unit2gpu)) ||
    typeof plan.model !== 'object' ||
    plan.model === null ||
    typeof plan.granularity !== 'string'
  ) {
    throw problem(`${where}: not a plan (needs model, granularity and layers[].unit2gpu)`);
  }
  return plan as Plan;
}

/** The re-plan's summary under the plan table; empty for a fresh plan. */
export function formatMigration(plan: Plan): string {
  const m = plan.migration;
  if (!m) return '';
  const t = m.totals;
  return (
    `re-plan: ${t.movedUnits} units moved (move cost ${t.moveCost} ${m.moveCostUnit}) in ${t.rounds} rounds; ` +
    `${t.layersChanged} layers changed, ${t.layersKept} kept, ${t.layersMovesProven}/${plan.layers.length} with the move count proven minimal; ` +
    `makespan / fresh optimum = ${t.makespanVsOptimal.toFixed(4)} (tolerance ${m.makespanTolerance})\n`
  );
}
