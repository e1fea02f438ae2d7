/**
 * From a plan to the head order a rewritten checkpoint must have so that a serving engine's own
 * contiguous tensor-parallel split yields the plan. vLLM's QKVParallelLinear (and SGLang's) gives
 * rank r the query heads [r * H/G, (r + 1) * H/G) and the KV heads [r * K/G, (r + 1) * K/G) when
 * K >= G, else KV head r // (G / K) (replicated); physical query head j always reads physical KV
 * head j // (H / K). So reordering the heads of every layer is enough, as long as the query heads
 * that land on one physical KV head share one logical KV head. (vLLM: QKVParallelLinear in
 * vllm/model_executor/layers/linear.py, `shard_rank = self.tp_rank // self.num_kv_head_replicas`,
 * `num_kv_head_replicas = divide(tp_size, total_num_kv_heads)` when tp_size >= total_num_kv_heads.)
 * Pure: plain data in and out.
 */
import { HplbError } from '../errors.ts';

/** What of a plan the rewrite reads (a Plan, openapi.yaml, has all of it). */
export interface PlanLike {
  readonly id: string;
  readonly model: { readonly id: string | null };
  readonly gpus: { readonly count: number };
  readonly granularity: 'query-head' | 'kv-group';
  readonly layers: readonly PlanLikeLayer[];
}

export interface PlanLikeLayer {
  readonly layer: number;
  readonly gpu2units: readonly (readonly number[])[];
  readonly permutation: readonly number[];
}

/** Head counts of the model a plan is applied to. */
export interface HeadCounts {
  readonly layers: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
}

/** One layer's physical order: the logical head at each physical slot. */
export interface LayerHeadOrder {
  readonly layer: number;
  /** [queryHeads] logical query head at each physical query slot. */
  readonly queryHeads: number[];
  /** [outputKvHeads] logical KV head at each physical KV slot (repeats when KV heads are duplicated). */
  readonly kvHeads: number[];
}

export interface HeadOrder {
  readonly gpus: number;
  readonly queryHeads: number;
  /** KV heads of the source model. */
  readonly kvHeads: number;
  /** KV heads the rewritten checkpoint has (more than kvHeads when duplicated). */
  readonly outputKvHeads: number;
  /** Per-GPU KV-cache memory of the rewritten model over the source's, under the engine's split. */
  readonly kvCacheFactor: number;
  /**
   * The plan's own KV-cache factor: KV heads it stores (distinct groups per GPU, summed over GPUs
   * and layers) over those the contiguous placement stores. kvCacheFactor equals it when every
   * rank's query heads fill whole blocks of one KV head each; otherwise the engine's fixed
   * query-to-KV mapping makes the checkpoint hold copies the plan does not need.
   */
  readonly planKvCacheFactor: number;
  readonly layers: LayerHeadOrder[];
}

/** One rank's share of a layer, in the form the manifest and GET /v1/plans/{id}/ranks share. */
export interface RankHeads {
  readonly rank: number;
  /** The plan's units on this rank (query heads or KV groups), in physical order. */
  readonly units: number[];
  /** Logical query heads of this rank's physical query slots. */
  readonly queryHeads: number[];
  /** Logical KV heads of this rank's physical KV slots. */
  readonly kvHeads: number[];
}

function mismatch(message: string, pointer?: string): never {
  throw new HplbError('PLAN_MISMATCH', message, pointer === undefined ? {} : { pointer });
}

/** KV heads one rank holds under the engine's split: K / G, or 1 replicated copy when K < G. */
function kvHeadsPerRank(kvHeads: number, gpus: number): number {
  return Math.max(1, kvHeads / gpus);
}

/** Checks one layer of the plan and returns its logical query head per physical slot. */
function layerQueryOrder(plan: PlanLike, index: number, counts: HeadCounts): number[] {
  const layer = plan.layers[index];
  const gpus = plan.gpus.count;
  const groupSize = counts.queryHeads / counts.kvHeads;
  const units = plan.granularity === 'kv-group' ? counts.kvHeads : counts.queryHeads;
  const at = `/layers/${index}`;
  if (layer.layer !== index) {
    const expected = `layers must be 0..${counts.layers - 1} in order`;
    mismatch(`plan layer at index ${index} is layer ${layer.layer}; ${expected}`, `${at}/layer`);
  }
  const perm = layer.permutation;
  if (perm.length !== units) {
    const what = plan.granularity === 'kv-group' ? 'KV heads' : 'query heads';
    mismatch(`layer ${index} places ${perm.length} units but the model has ${units} ${what}`, `${at}/permutation`);
  }
  const seen = new Set(perm);
  if (seen.size !== units || !perm.every((u) => Number.isInteger(u) && u >= 0 && u < units)) {
    mismatch(`layer ${index}: permutation is not a permutation of 0..${units - 1}`, `${at}/permutation`);
  }
  const perRank = units / gpus;
  if (layer.gpu2units.length !== gpus || layer.gpu2units.some((list) => list.length !== perRank)) {
    mismatch(
      `layer ${index} gives GPUs [${layer.gpu2units.map((l) => l.length).join(', ')}] units; ` +
        'contiguous tensor-parallel sharding needs ' +
        `exactly ${perRank} on each of ${gpus} (plan with unitsPerGpu=equal)`,
      `${at}/gpu2units`,
    );
  }
  layer.gpu2units.forEach((list, g) => {
    const slice = new Set(perm.slice(g * perRank, (g + 1) * perRank));
    if (!list.every((u) => slice.has(u))) {
      mismatch(`layer ${index}: permutation slots of GPU ${g} do not hold gpu2units[${g}]`, `${at}/gpu2units/${g}`);
    }
  });
  if (plan.granularity === 'query-head') return [...perm];
  return perm.flatMap((group) => Array.from({ length: groupSize }, (_, i) => group * groupSize + i));
}

/** Whether every block of `blockSize` physical slots holds query heads of a single logical KV head. */
function blocksShareKv(order: readonly number[], blockSize: number, groupSize: number): boolean {
  for (let j = 0; j < order.length; j++) {
    if (Math.floor(order[j] / groupSize) !== Math.floor(order[j - (j % blockSize)] / groupSize)) return false;
  }
  return true;
}

/**
 * The head order of every layer for `plan` on a model with `counts`. A kv-group plan always fits;
 * a query-head plan fits when the engine's fixed query-to-KV mapping sends every query head to its
 * own KV head. Otherwise, with `expandKv`, KV heads are duplicated: the fewest output KV heads
 * (each a copy of a source KV head) for which the mapping holds; without it, PLAN_MISMATCH.
 */
export function headOrder(plan: PlanLike, counts: HeadCounts, options: { expandKv?: boolean } = {}): HeadOrder {
  const { queryHeads, kvHeads } = counts;
  const gpus = plan.gpus.count;
  if (!Number.isInteger(kvHeads) || kvHeads < 1 || queryHeads % kvHeads !== 0) {
    mismatch(`the model's ${queryHeads} query heads do not split into ${kvHeads} KV groups`);
  }
  if (plan.layers.length !== counts.layers) {
    mismatch(`the plan has ${plan.layers.length} layers, the model has ${counts.layers}`, '/layers');
  }
  const groupSize = queryHeads / kvHeads;
  const orders = plan.layers.map((_, i) => layerQueryOrder(plan, i, counts));
  // The largest block (query heads per output KV head) that divides the group size, keeps every
  // block within one logical KV head in every layer, and gives a KV count the engine accepts.
  let blockSize = groupSize;
  for (; blockSize > 1; blockSize--) {
    if (groupSize % blockSize !== 0) continue;
    const outKv = queryHeads / blockSize;
    if (outKv % gpus !== 0 && gpus % outKv !== 0) continue;
    if (orders.every((order) => blocksShareKv(order, blockSize, groupSize))) break;
  }
  const outputKvHeads = queryHeads / blockSize;
  if (outputKvHeads !== kvHeads && !options.expandKv) {
    mismatch(
      `this ${plan.granularity} plan cannot be expressed with the model's ${kvHeads} KV heads: the engine maps ` +
        `physical query head j to KV head j / ${groupSize}, and the plan puts query heads of different KV heads in ` +
        `one such block (or ${kvHeads} KV heads do not split over ${gpus} GPUs). Plan with granularity=kv-group, ` +
        `or pass --expand-kv to write ${outputKvHeads} KV heads ` +
        `(duplicated; per-GPU KV cache x${kvHeadsPerRank(outputKvHeads, gpus) / kvHeadsPerRank(kvHeads, gpus)})`,
      '/granularity',
    );
  }
  if (queryHeads % gpus !== 0) mismatch(`${queryHeads} query heads do not split over ${gpus} GPUs`, '/gpus/count');
  return {
    gpus,
    queryHeads,
    kvHeads,
    outputKvHeads,
    kvCacheFactor: kvHeadsPerRank(outputKvHeads, gpus) / kvHeadsPerRank(kvHeads, gpus),
    planKvCacheFactor: planKvCacheFactor(orders, gpus, groupSize),
    layers: orders.map((order, layer) => ({
      layer,
      queryHeads: order,
      kvHeads: Array.from({ length: outputKvHeads }, (_, b) => Math.floor(order[b * blockSize] / groupSize)),
    })),
  };
}

/**
 * KV heads a placement stores over those the contiguous one stores: per layer and GPU, the distinct
 * KV groups of its query heads (orders: [layers] logical query head per physical slot, GPU-major,
 * queryHeads / gpus slots per GPU; the contiguous placement is the identity order).
 */
function planKvCacheFactor(orders: readonly (readonly number[])[], gpus: number, groupSize: number): number {
  const stored = (order: readonly number[]): number => {
    const perGpu = order.length / gpus;
    let count = 0;
    for (let g = 0; g < gpus; g++) {
      count += new Set(order.slice(g * perGpu, (g + 1) * perGpu).map((h) => Math.floor(h / groupSize))).size;
    }
    return count;
  };
  const contiguous = stored(Array.from({ length: orders[0]?.length ?? 0 }, (_, h) => h));
  const total = orders.reduce((sum, order) => sum + stored(order), 0);
  return contiguous > 0 ? total / (contiguous * orders.length) : 1;
}

/** Per layer, per rank: what the engine's contiguous split of the rewritten checkpoint gives each rank. */
export function rankHeads(plan: PlanLike, order: HeadOrder): { layer: number; ranks: RankHeads[] }[] {
  const { gpus, queryHeads, outputKvHeads } = order;
  const qPerRank = queryHeads / gpus;
  return order.layers.map((l, i) => {
    const perm = plan.layers[i].permutation;
    const unitsPerRank = perm.length / gpus;
    return {
      layer: l.layer,
      ranks: Array.from({ length: gpus }, (_, rank) => ({
        rank,
        units: perm.slice(rank * unitsPerRank, (rank + 1) * unitsPerRank),
        queryHeads: l.queryHeads.slice(rank * qPerRank, (rank + 1) * qPerRank),
        kvHeads:
          outputKvHeads >= gpus
            ? l.kvHeads.slice((rank * outputKvHeads) / gpus, ((rank + 1) * outputKvHeads) / gpus)
            : [l.kvHeads[Math.floor((rank * outputKvHeads) / gpus)]],
      })),
    };
  });
}
