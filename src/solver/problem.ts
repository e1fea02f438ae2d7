import { HplbError } from '../errors.ts';
import { kvLayout, withKvFields } from './kv/layer-kv.ts';
import type { Granularity, LayerProblem, UnitsPerGpu } from './types.ts';

/** A placement problem for a whole model, before it is split into layers. */
export interface ProblemSpec {
  /** [layers][queryHeads] cost of each query head, in the cost unit. */
  readonly headCosts: readonly (readonly number[])[];
  /** Query heads per KV group (1 = MHA). Query head h belongs to group floor(h / kvGroupSize). */
  readonly kvGroupSize: number;
  readonly granularity: Granularity;
  /** [gpus] relative speeds; all 1 when omitted. */
  readonly speeds: readonly number[];
  readonly unitsPerGpu: UnitsPerGpu;
  /** Most distinct KV groups per GPU; only with query-head units. */
  readonly maxKvGroupsPerGpu?: number;
  /** Units that must stay on a GPU; `layer` omitted = every layer. Unit ids follow granularity. */
  readonly pins?: readonly { readonly layer?: number; readonly unit: number; readonly gpu: number }[];
  /**
   * [layers][kvGroups] cost a GPU pays for each KV group it stores, in the cost unit (prefill: the
   * group's K/V projection; decode: one read of its K/V cache). For a mix: the weighted sum over
   * phases. Absent: 0.
   */
  readonly groupCosts?: readonly (readonly number[])[];
  /**
   * Most KV heads stored per layer, as a multiple of what the contiguous placement stores at this
   * GPU count (1 = vLLM's own placement). Absent: no cap.
   */
  readonly maxKvCacheFactor?: number;
  /**
   * A workload mix: per phase its weight and costs (headCosts/groupCosts above are then the
   * weighted sums). Absent: one phase.
   */
  readonly phases?: readonly {
    readonly weight: number;
    readonly headCosts: readonly (readonly number[])[];
    readonly groupCosts?: readonly (readonly number[])[];
  }[];
}

/**
 * Splits a model-wide spec into one LayerProblem per layer, checking everything that can be
 * checked without solving. Throws HplbError (422 family) naming the field and the rule.
 */
export function buildLayerProblems(spec: ProblemSpec): LayerProblem[] {
  const layers = spec.headCosts.length;
  const gpus = spec.speeds.length;
  const heads = checkCosts(spec);
  const groupSize = spec.kvGroupSize;
  const units = unitCount(heads, groupSize, spec.granularity);
  const { minUnits, maxUnits } = cardinality(spec.unitsPerGpu, units, gpus);
  const layout = kvLayout(spec, heads);
  if (spec.maxKvGroupsPerGpu !== undefined) checkGroupLimit(spec, spec.maxKvGroupsPerGpu, units, minUnits);
  const pinsByLayer = pinsOf(spec, layers, units, gpus);
  return spec.headCosts.map((row, layer) => {
    const costs =
      spec.granularity === 'kv-group'
        ? Array.from({ length: units }, (_, g) => sum(row.slice(g * groupSize, (g + 1) * groupSize)))
        : [...row];
    const unit2pin = pinsByLayer[layer].length > 0 ? pinsByLayer[layer] : undefined;
    if (unit2pin) {
      const groupOf = layout.withUnit2group ? (u: number) => Math.floor(u / groupSize) : null;
      checkPinCounts(unit2pin, gpus, maxUnits, groupOf, spec.maxKvGroupsPerGpu, layer);
    }
    const base: LayerProblem = {
      layer,
      costs,
      speeds: [...spec.speeds],
      minUnitsPerGpu: minUnits,
      maxUnitsPerGpu: maxUnits,
      ...(unit2pin ? { unit2pin } : {}),
    };
    return withKvFields(spec, layout, base);
  });
}

/** Checks the layers, speeds and head costs; returns the heads per layer. */
function checkCosts(spec: ProblemSpec): number {
  if (spec.headCosts.length === 0) throw invalid('/costs', 'minItems', 'the model has no layers');
  if (spec.speeds.length < 1) throw invalid('/gpus/count', 'minimum', 'at least one GPU is needed');
  spec.speeds.forEach((s, g) => {
    if (!(Number.isFinite(s) && s > 0))
      throw invalid(`/gpus/speeds/${g}`, 'exclusiveMinimum', `speed of GPU ${g} must be a finite number > 0, got ${s}`);
  });
  const heads = spec.headCosts[0].length;
  if (heads === 0) throw invalid('/costs/0', 'minItems', 'layer 0 has no heads');
  spec.headCosts.forEach((row, l) => {
    if (row.length !== heads)
      throw invalid(`/costs/${l}`, 'ragged', `layer ${l} has ${row.length} heads, layer 0 has ${heads}`);
    row.forEach((c, h) => {
      if (!(Number.isFinite(c) && c >= 0))
        throw invalid(
          `/costs/${l}/${h}`,
          'minimum',
          `cost of layer ${l} head ${h} must be a finite number >= 0, got ${c}`,
        );
    });
  });
  return heads;
}

/**
 * A KV-group limit: query-head units only, an integer >= 1; each GPU must hold minUnits heads
 * from at most `limit` groups of kvGroupSize heads each, and together the GPUs must be able to
 * host every group.
 */
function checkGroupLimit(spec: ProblemSpec, limit: number, units: number, minUnits: number): void {
  const groupSize = spec.kvGroupSize;
  const gpus = spec.speeds.length;
  if (spec.granularity !== 'query-head')
    throw invalid(
      '/constraints/maxKvGroupsPerGpu',
      'granularity',
      'a KV-group limit only applies to query-head units (KV-group units are whole groups already)',
    );
  if (!(Number.isInteger(limit) && limit >= 1))
    throw invalid('/constraints/maxKvGroupsPerGpu', 'minimum', 'maxKvGroupsPerGpu must be an integer >= 1');
  const groups = units / groupSize;
  if (limit * groupSize < minUnits) {
    throw new HplbError(
      'INFEASIBLE_CONSTRAINTS',
      `maxKvGroupsPerGpu ${limit} is too tight: each GPU must hold ${minUnits} query heads but ${limit} KV groups of ${groupSize} heads give at most ${limit * groupSize}`,
      { pointer: '/constraints/maxKvGroupsPerGpu', rule: 'feasible' },
    );
  }
  if (limit * gpus < groups) {
    throw new HplbError(
      'INFEASIBLE_CONSTRAINTS',
      `maxKvGroupsPerGpu ${limit} is too tight: ${gpus} GPUs x ${limit} groups cannot host all ${groups} KV groups`,
      { pointer: '/constraints/maxKvGroupsPerGpu', rule: 'feasible' },
    );
  }
}

/** [layers][units] the GPU each unit is pinned to (-1: free); [] for a layer without pins. */
function pinsOf(spec: ProblemSpec, layers: number, units: number, gpus: number): number[][] {
  const pinsByLayer: number[][] = Array.from({ length: layers }, () => []);
  (spec.pins ?? []).forEach((pin, i) => {
    const at = `/constraints/pins/${i}`;
    if (pin.layer !== undefined && !(Number.isInteger(pin.layer) && pin.layer >= 0 && pin.layer < layers))
      throw invalid(`${at}/layer`, 'range', `pinned layer ${pin.layer} is not in 0..${layers - 1}`);
    if (!(Number.isInteger(pin.unit) && pin.unit >= 0 && pin.unit < units))
      throw invalid(`${at}/unit`, 'range', `pinned unit ${pin.unit} is not in 0..${units - 1}`);
    if (!(Number.isInteger(pin.gpu) && pin.gpu >= 0 && pin.gpu < gpus))
      throw invalid(`${at}/gpu`, 'range', `pinned GPU ${pin.gpu} is not in 0..${gpus - 1}`);
    const targets = pin.layer === undefined ? pinsByLayer.map((_, l) => l) : [pin.layer];
    for (const l of targets) {
      const row = pinsByLayer[l];
      if (row.length === 0) row.push(...new Array<number>(units).fill(-1));
      if (row[pin.unit] !== -1 && row[pin.unit] !== pin.gpu)
        throw invalid(
          `${at}/gpu`,
          'conflict',
          `unit ${pin.unit} of layer ${l} is pinned to both GPU ${row[pin.unit]} and GPU ${pin.gpu}`,
        );
      row[pin.unit] = pin.gpu;
    }
  });
  return pinsByLayer;
}

/**
 * Units per layer: query heads, or KV groups of kvGroupSize heads. The one place units are
 * counted; throws INVALID_PROBLEM unless kvGroupSize is a positive integer dividing the heads.
 */
export function unitCount(heads: number, kvGroupSize: number, granularity: Granularity): number {
  if (!(Number.isInteger(kvGroupSize) && kvGroupSize >= 1 && heads % kvGroupSize === 0)) {
    throw invalid(
      '/kvGroupSize',
      'divides',
      `kvGroupSize ${kvGroupSize} must be a positive integer dividing the ${heads} query heads`,
    );
  }
  return granularity === 'kv-group' ? heads / kvGroupSize : heads;
}

/** Least and most units per GPU for a units-per-GPU rule. */
export function cardinality(rule: UnitsPerGpu, units: number, gpus: number): { minUnits: number; maxUnits: number } {
  switch (rule.kind) {
    case 'equal':
      if (units % gpus !== 0) {
        throw new HplbError(
          'UNITS_NOT_DIVISIBLE',
          `${units} units cannot be split equally across ${gpus} GPUs (${units} % ${gpus} = ${units % gpus}); use unitsPerGpu "max:${Math.ceil(units / gpus)}" or "free"`,
          { pointer: '/constraints/unitsPerGpu', rule: 'divisible' },
        );
      }
      return { minUnits: units / gpus, maxUnits: units / gpus };
    case 'max':
      if (!(Number.isInteger(rule.max) && rule.max >= 1))
        throw invalid(
          '/constraints/unitsPerGpu',
          'minimum',
          `max units per GPU must be an integer >= 1, got ${rule.max}`,
        );
      if (rule.max * gpus < units) {
        throw new HplbError(
          'INFEASIBLE_CONSTRAINTS',
          `at most ${rule.max} units on each of ${gpus} GPUs holds ${rule.max * gpus} units, fewer than the ${units} to place`,
          { pointer: '/constraints/unitsPerGpu', rule: 'feasible' },
        );
      }
      return { minUnits: 0, maxUnits: Math.min(rule.max, units) };
    case 'free':
      return { minUnits: 0, maxUnits: units };
  }
}

/** Parses "equal", "free" or "max:N" (the CLI and query-string form). */
export function parseUnitsPerGpu(text: string): UnitsPerGpu {
  if (text === 'equal' || text === 'free') return { kind: text };
  const m = /^max:(\d+)$/.exec(text);
  if (m) return { kind: 'max', max: Number(m[1]) };
  throw invalid('/constraints/unitsPerGpu', 'pattern', `unitsPerGpu must be "equal", "free" or "max:N", got "${text}"`);
}

export function formatUnitsPerGpu(rule: UnitsPerGpu): string {
  return rule.kind === 'max' ? `max:${rule.max}` : rule.kind;
}

function checkPinCounts(
  unit2pin: readonly number[],
  gpus: number,
  maxUnits: number,
  groupOf: ((u: number) => number) | null,
  maxGroups: number | undefined,
  layer: number,
): void {
  const counts = new Array<number>(gpus).fill(0);
  const groups = Array.from({ length: gpus }, () => new Set<number>());
  unit2pin.forEach((g, u) => {
    if (g < 0) return;
    counts[g] += 1;
    if (groupOf) groups[g].add(groupOf(u));
  });
  counts.forEach((n, g) => {
    if (n > maxUnits)
      throw new HplbError(
        'INFEASIBLE_CONSTRAINTS',
        `layer ${layer}: ${n} units are pinned to GPU ${g}, which may hold at most ${maxUnits}`,
        { pointer: '/constraints/pins', rule: 'feasible' },
      );
    if (maxGroups !== undefined && groups[g].size > maxGroups)
      throw new HplbError(
        'INFEASIBLE_CONSTRAINTS',
        `layer ${layer}: pins put ${groups[g].size} KV groups on GPU ${g}, more than maxKvGroupsPerGpu ${maxGroups}`,
        { pointer: '/constraints/pins', rule: 'feasible' },
      );
  });
}

function invalid(pointer: string, rule: string, message: string): HplbError {
  return new HplbError('INVALID_PROBLEM', message, { pointer, rule });
}

export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
