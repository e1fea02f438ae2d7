/**
 * Head-adaptive budgets: from per-head recovery curves and a target recovery tau, the smallest
 * budget per head that reaches tau, the heads' costs under a cost model, and the saving against
 * the uniform budget that meets tau for every head. Pure: the caller supplies the cost model.
 *
 * JSON shapes (src/budgets/budgets.schema.json holds their JSON Schema, for openapi.yaml):
 *
 * Request
 *   { "target": 0.95,                                  // tau, in (0, 1]
 *     "interpolation": "linear" | "step",              // optional, default "linear" (curve.ts)
 *     "workload": { "seqLen": 131072, "phase": "prefill" | "decode" },  // optional, default DEFAULT_WORKLOAD
 *     "unit": "keys-per-row" | "blocks" | "lines",     // optional, default keys-per-row (units.ts)
 *     "measuredAt": 4096,                              // optional: sequence length of the curves
 *     "rescale": "fixed" | "proportional",             // needed when measuredAt != workload.seqLen
 *     "curves": [ { "layer": 0, "head": 3,             // integers >= 0, each pair at most once
 *                   "points": [ { "budget": 256, "recovery": 0.81 }, ... ] } ] }
 *   budget: a count in `unit`; recovery: share of the full attention mass, [0, 1].
 *
 * Response
 *   { "target", "interpolation", "workload", "unit",
 *     "costModel": { "name", "unit", "device" },
 *     "heads": [ { "layer", "head",
 *                  "budget": 812,                       // smallest budget reaching the target, in unit
 *                  "recovery": 0.9503,                  // the curve read at that budget
 *                  "keysPerRow": 812,                   // the budget carried to workload.seqLen, as keys per row
 *                  "headBudget": { "kind": "streaming", "sink": 0, "recent": 812 } | { "kind": "full" },
 *                  "cost": 1.2e8 } ],                   // costModel.headCost(headBudget, workload)
 *     "uniform": { "budget": 4096, "cost": 3.1e9 },    // max of the heads' budgets; cost summed over heads
 *     "totals": { "adaptiveCost": 2.2e9, "uniformCost": 3.1e9,
 *                 "saving": 0.29 } }                   // 1 - adaptiveCost / uniformCost
 *
 * A budget b is first carried to workload.seqLen (units.ts rescaleBudget: refused without a rule
 * when measuredAt differs), then costed as a streaming window: b keys for keys-per-row, b x 64
 * keys for blocks (the same 64-key tiles per query block as MInference's picker, up to one), or
 * { kind: 'full' } once that reaches seqLen. Budgets in lines are refused: what lines cost depends
 * on how they split between columns and diagonals, which a curve does not say. Since every curve
 * is non-decreasing, the uniform budget max_h b_h reaches tau on every head and no smaller uniform
 * budget does.
 */
import { DEFAULT_WORKLOAD, type CostModel, type Workload } from '../cost/cost-model.ts';
import { HplbError } from '../errors.ts';
import type { HeadBudget } from '../profiles/profile.ts';
import { minimalBudget, recoveryAt, validateCurve, type CurvePoint, type Interpolation } from './curve.ts';
import { blocksToKeysPerRow, rescaleBudget, type BudgetUnit, type RescaleRule } from './units.ts';

export interface HeadCurve {
  readonly layer: number;
  readonly head: number;
  readonly points: readonly CurvePoint[];
}

export interface BudgetsRequest {
  readonly target: number;
  readonly interpolation?: Interpolation;
  readonly workload?: Workload;
  readonly unit?: BudgetUnit;
  readonly measuredAt?: number;
  readonly rescale?: RescaleRule;
  readonly curves: readonly HeadCurve[];
}

export interface HeadBudgetAnswer {
  readonly layer: number;
  readonly head: number;
  readonly budget: number;
  readonly recovery: number;
  readonly keysPerRow: number;
  readonly headBudget: HeadBudget;
  readonly cost: number;
}

export interface BudgetsResponse {
  readonly target: number;
  readonly interpolation: Interpolation;
  readonly workload: Workload;
  readonly unit: BudgetUnit;
  readonly costModel: { readonly name: string; readonly unit: string; readonly device: string | null };
  readonly heads: readonly HeadBudgetAnswer[];
  readonly uniform: { readonly budget: number; readonly cost: number };
  readonly totals: { readonly adaptiveCost: number; readonly uniformCost: number; readonly saving: number };
}

/** The HeadBudget whose cost stands for b keys per query row at sequence length seqLen. */
export function rowBudget(budget: number, seqLen: number): HeadBudget {
  return budget >= seqLen ? { kind: 'full' } : { kind: 'streaming', sink: 0, recent: budget };
}

function invalid(message: string, pointer: string): never {
  throw new HplbError('VALIDATION_FAILED', message, { pointer });
}

function checkRequest(request: BudgetsRequest): { interpolation: Interpolation; workload: Workload; unit: BudgetUnit } {
  const { target } = request;
  if (typeof target !== 'number' || !(target > 0 && target <= 1))
    invalid(`target must lie in (0, 1], got ${target}`, '/target');
  const interpolation = request.interpolation ?? 'linear';
  if (interpolation !== 'linear' && interpolation !== 'step')
    invalid(`interpolation must be "linear" or "step", got ${interpolation}`, '/interpolation');
  const workload = request.workload ?? DEFAULT_WORKLOAD;
  if (!Number.isInteger(workload.seqLen) || workload.seqLen < 1)
    invalid(`workload.seqLen must be a positive integer, got ${workload.seqLen}`, '/workload/seqLen');
  if (workload.phase !== 'prefill' && workload.phase !== 'decode')
    invalid(`workload.phase must be "prefill" or "decode", got ${workload.phase}`, '/workload/phase');
  const unit = request.unit ?? 'keys-per-row';
  if (unit === 'lines') {
    invalid(
      'budgets in lines cannot be costed: the keys per row they cost depend on how the lines split between columns and diagonals; ' +
        'give curves in keys-per-row or blocks, or a profile with vertical and slash sizes',
      '/unit',
    );
  }
  if (unit !== 'keys-per-row' && unit !== 'blocks')
    invalid(`unit must be "keys-per-row", "blocks" or "lines", got ${String(unit)}`, '/unit');
  if (request.measuredAt !== undefined && (!Number.isInteger(request.measuredAt) || request.measuredAt < 1)) {
    invalid(`measuredAt must be a positive integer, got ${request.measuredAt}`, '/measuredAt');
  }
  if (!Array.isArray(request.curves) || request.curves.length === 0)
    invalid('curves must hold at least one head curve', '/curves');
  const seen = new Set<string>();
  request.curves.forEach((curve, i) => {
    if (typeof curve !== 'object' || curve === null) invalid(`curves[${i}] must be an object`, `/curves/${i}`);
    for (const field of ['layer', 'head'] as const) {
      if (!Number.isInteger(curve[field]) || curve[field] < 0)
        invalid(`curves[${i}].${field} must be a non-negative integer`, `/curves/${i}/${field}`);
    }
    const key = `${curve.layer}/${curve.head}`;
    if (seen.has(key)) invalid(`layer ${curve.layer} head ${curve.head} has more than one curve`, `/curves/${i}`);
    seen.add(key);
    validateCurve(curve.points, `/curves/${i}`);
  });
  return { interpolation, workload, unit };
}

/**
 * Budgets, costs and saving for a request (shapes above). Throws VALIDATION_FAILED for a bad
 * request and INVALID_CURVE for a curve that is invalid or never reaches the target.
 */
export function computeBudgets(request: BudgetsRequest, costModel: CostModel): BudgetsResponse {
  const { interpolation, workload, unit } = checkRequest(request);
  const { target } = request;
  const n = workload.seqLen;
  // the budget in its unit at the workload's length, then the keys a row attends and the window costed
  const carried = (budget: number): number => rescaleBudget(budget, request.measuredAt ?? n, n, request.rescale);
  const windowOf = (budget: number): number => (unit === 'blocks' ? carried(budget) * 64 : carried(budget));
  const keysPerRow = (budget: number): number =>
    unit === 'blocks' ? blocksToKeysPerRow(carried(budget), n) : Math.min(n, carried(budget));
  const costOf = (budget: number): number => costModel.headCost(rowBudget(windowOf(budget), n), workload);
  const heads = request.curves.map((curve, i): HeadBudgetAnswer => {
    const budget = minimalBudget(curve.points, target, interpolation, `/curves/${i}`);
    return {
      layer: curve.layer,
      head: curve.head,
      budget,
      recovery: recoveryAt(curve.points, budget, interpolation),
      keysPerRow: keysPerRow(budget),
      headBudget: rowBudget(windowOf(budget), n),
      cost: costOf(budget),
    };
  });
  const uniformBudget = Math.max(...heads.map((head) => head.budget));
  const adaptiveCost = heads.reduce((sum, head) => sum + head.cost, 0);
  const uniformCost = costOf(uniformBudget) * heads.length;
  return {
    target,
    interpolation,
    workload: { seqLen: workload.seqLen, phase: workload.phase },
    unit,
    costModel: { name: costModel.name, unit: costModel.unit, device: costModel.device },
    heads,
    uniform: { budget: uniformBudget, cost: uniformCost },
    totals: { adaptiveCost, uniformCost, saving: uniformCost > 0 ? 1 - adaptiveCost / uniformCost : 0 },
  };
}
