/**
 * The KV side of building layer problems (problem.ts): group costs, the KV-cache cap and phase
 * mixes resolved per layer. See kv/groups.ts for the model.
 */
import { HplbError } from '../../errors.ts';
import type { ProblemSpec } from '../problem.ts';
import type { LayerPhase, LayerProblem } from '../types.ts';
import { contiguousStoredKvHeads, minStoredKvHeads } from './min-stored.ts';

/** How a model's KV groups appear in its layer problems. */
export interface KvLayout {
  /** Query heads per group. */
  readonly groupSize: number;
  /** KV groups per layer. */
  readonly groups: number;
  /** Units are whole groups (KV-group units, or MHA heads): group costs fold into unit costs. */
  readonly unitsAreGroups: boolean;
  /** Query-head units carry unit2group (GQA with a group limit, a cap or group costs). */
  readonly withUnit2group: boolean;
}

/**
 * Checks the KV fields of a spec (group costs, phases, the cap) and decides how groups appear:
 * unit2group for query-head units of GQA models whenever a KV-group limit, a KV-cache cap or a
 * non-zero group cost is given; KV-group units and MHA heads are their own groups.
 */
export function kvLayout(spec: ProblemSpec, heads: number): KvLayout {
  const layers = spec.headCosts.length;
  const groupSize = spec.kvGroupSize;
  const groups = heads / groupSize;
  checkMatrix(spec.groupCosts, layers, groups, '/groupCosts');
  if (spec.phases !== undefined) {
    if (spec.phases.length === 0) throw invalid('/workload/mix', 'minItems', 'a workload mix needs at least one phase');
    spec.phases.forEach((phase, p) => {
      if (!(Number.isFinite(phase.weight) && phase.weight > 0))
        throw invalid(
          `/workload/mix/${p}/weight`,
          'exclusiveMinimum',
          `phase ${p}'s weight must be a finite number > 0`,
        );
      checkMatrix(phase.headCosts, layers, heads, `/workload/mix/${p}/headCosts`);
      checkMatrix(phase.groupCosts, layers, groups, `/workload/mix/${p}/groupCosts`);
    });
  }
  const factor = spec.maxKvCacheFactor;
  if (factor !== undefined && !(Number.isFinite(factor) && factor > 0))
    throw invalid('/constraints/maxKvCacheFactor', 'exclusiveMinimum', 'maxKvCacheFactor must be a finite number > 0');
  const costly = [spec.groupCosts, ...(spec.phases ?? []).map((p) => p.groupCosts)].some((m) =>
    m?.some((row) => row.some((c) => c > 0)),
  );
  const unitsAreGroups = spec.granularity === 'kv-group' || groupSize === 1;
  const withUnit2group = !unitsAreGroups && (spec.maxKvGroupsPerGpu !== undefined || factor !== undefined || costly);
  return { groupSize, groups, unitsAreGroups, withUnit2group };
}

/**
 * A layer problem with its KV fields: with a mix, costs and group costs are the weighted sums of
 * the phases' (computed here, so the combined problem is exactly the phases' sum); where units are
 * groups, group costs are folded into unit costs; the contiguous placement's stored KV heads, and
 * the cap floor(maxKvCacheFactor x that + 1e-9) with unit2group. Throws INFEASIBLE_CONSTRAINTS when
 * no placement can meet the cap, naming the least factor that can.
 * @param base the layer's problem without KV fields (costs of its units)
 */
export function withKvFields(spec: ProblemSpec, layout: KvLayout, base: LayerProblem): LayerProblem {
  const { layer } = base;
  const units = base.costs.length;
  const unitCosts = (row: readonly number[]): number[] =>
    spec.granularity === 'kv-group'
      ? Array.from({ length: units }, (_, u) => sumRange(row, u * layout.groupSize, (u + 1) * layout.groupSize))
      : [...row];
  // Units that are groups pay their group's cost in their own cost.
  const folded = (costs: readonly number[], groupCosts: readonly number[] | undefined): number[] =>
    layout.unitsAreGroups && groupCosts ? costs.map((c, u) => c + groupCosts[u]) : [...costs];
  const phases: LayerPhase[] | null =
    spec.phases && spec.phases.length >= 2
      ? spec.phases.map((phase) => {
          const groupCosts = phase.groupCosts?.[layer];
          const costs = folded(unitCosts(phase.headCosts[layer]), groupCosts);
          return {
            weight: phase.weight,
            costs,
            ...(layout.withUnit2group && groupCosts ? { groupCosts: [...groupCosts] } : {}),
          };
        })
      : null;
  const single = spec.phases?.length === 1 ? spec.phases[0] : null;
  const groupCostsOf = (): number[] | undefined => {
    if (phases)
      return weighted(
        phases.map((p) => p.groupCosts ?? new Array<number>(layout.groups).fill(0)),
        phases,
      );
    if (single?.groupCosts) return single.groupCosts[layer].map((c) => c * single.weight);
    return spec.groupCosts ? [...spec.groupCosts[layer]] : undefined;
  };
  const groupCosts = groupCostsOf();
  const costs = phases
    ? weighted(
        phases.map((p) => p.costs),
        phases,
      )
    : folded(single ? unitCosts(single.headCosts[layer]).map((c) => c * single.weight) : base.costs, groupCosts);
  const unit2group = layout.withUnit2group
    ? Array.from({ length: units }, (_, u) => Math.floor(u / layout.groupSize))
    : undefined;
  const known = unit2group !== undefined || layout.unitsAreGroups;
  const contiguousKvHeads = known ? contiguousStoredKvHeads(unit2group ?? null, units, base.speeds.length) : undefined;
  const factor = spec.maxKvCacheFactor;
  const cap = factor !== undefined && contiguousKvHeads !== undefined ? capOf(factor, contiguousKvHeads) : undefined;
  const problem: LayerProblem = {
    ...base,
    costs,
    ...(unit2group ? { unit2group } : {}),
    ...(spec.maxKvGroupsPerGpu !== undefined && unit2group ? { maxGroupsPerGpu: spec.maxKvGroupsPerGpu } : {}),
    ...(unit2group && groupCosts?.some((c) => c > 0) ? { groupCosts } : {}),
    ...(unit2group && cap !== undefined ? { maxStoredGroups: cap } : {}),
    ...(contiguousKvHeads !== undefined ? { contiguousKvHeads } : {}),
    ...(phases ? { phases } : {}),
  };
  if (cap !== undefined) checkCap(problem, cap, contiguousKvHeads!, factor!);
  return problem;
}

/** The KV-cache cap: the most KV heads stored, floor(factor x contiguous + 1e-9). */
export function capOf(factor: number, contiguousKvHeads: number): number {
  return Math.floor(factor * contiguousKvHeads + 1e-9);
}

function checkCap(problem: LayerProblem, cap: number, contiguous: number, factor: number): void {
  const least = minStoredKvHeads(problem);
  if (least <= cap) return;
  // The least factor whose cap floor(f x contiguous + 1e-9) reaches `least`, rounded up.
  const leastFactor = Math.ceil((least / contiguous) * 1e4) / 1e4;
  throw new HplbError(
    'INFEASIBLE_CONSTRAINTS',
    `maxKvCacheFactor ${factor} allows ${cap} KV heads stored in layer ${problem.layer} (${contiguous} for the contiguous placement), but every placement that meets the unit counts and pins stores at least ${least} (every KV group once, one on every GPU that holds a unit): the least feasible maxKvCacheFactor is ${leastFactor}`,
    { pointer: '/constraints/maxKvCacheFactor', rule: 'feasible' },
  );
}

/** sum_p weight_p x rows[p], elementwise. */
function weighted(rows: readonly (readonly number[])[], phases: readonly LayerPhase[]): number[] {
  return rows[0].map((_, i) => {
    let total = 0;
    rows.forEach((row, p) => {
      total += phases[p].weight * row[i];
    });
    return total;
  });
}

function checkMatrix(
  matrix: readonly (readonly number[])[] | undefined,
  layers: number,
  width: number,
  pointer: string,
): void {
  if (matrix === undefined) return;
  if (matrix.length !== layers)
    throw invalid(pointer, 'length', `${pointer} has ${matrix.length} rows for ${layers} layers`);
  matrix.forEach((row, l) => {
    if (row.length !== width)
      throw invalid(`${pointer}/${l}`, 'length', `${pointer}/${l} has ${row.length} entries, expected ${width}`);
    row.forEach((c, i) => {
      if (!(Number.isFinite(c) && c >= 0))
        throw invalid(`${pointer}/${l}/${i}`, 'minimum', `${pointer}/${l}/${i} must be a finite number >= 0, got ${c}`);
    });
  });
}

function sumRange(row: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += row[i];
  return s;
}

function invalid(pointer: string, rule: string, message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer, rule });
}
