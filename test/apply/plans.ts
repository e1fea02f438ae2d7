/** Plan-shaped inputs for apply tests, and the sparse configs of the tiny model. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlanLike } from '../../src/apply/head-order.ts';
import { TINY, seeded, type PatternEntry } from './tiny-model.ts';

/** A plan with the given per-layer permutations (physical slot -> logical unit, GPU-major). */
export function planOf(granularity: PlanLike['granularity'], gpus: number, perms: number[][]): PlanLike {
  return {
    id: '0123456789abcdef0123456789abcdef',
    model: { id: null },
    gpus: { count: gpus },
    granularity,
    layers: perms.map((permutation, layer) => {
      const per = permutation.length / gpus;
      const slice = (g: number): number[] => permutation.slice(g * per, (g + 1) * per).sort((a, b) => a - b);
      const gpu2units = Array.from({ length: gpus }, (_, g) => slice(g));
      return { layer, permutation, gpu2units };
    }),
  };
}

/** KV groups swapped in layers 0 and 2, kept in layer 1, on 2 GPUs. */
export const KV_GROUP_PLAN = planOf('kv-group', 2, [
  [1, 0],
  [0, 1],
  [1, 0],
]);

/** Query heads of both KV groups on every one of 4 GPUs: needs KV duplication. */
export const SPLIT_QUERY_PLAN = planOf('query-head', 4, [
  [0, 5, 1, 4, 2, 7, 3, 6],
  [7, 6, 5, 4, 3, 2, 1, 0],
  [4, 0, 5, 1, 6, 2, 7, 3],
]);

/** A query-head plan that keeps each KV group's heads together: expressible as it is. */
export const ALIGNED_QUERY_PLAN = planOf('query-head', 2, [
  [6, 7, 4, 5, 2, 3, 0, 1],
  [0, 1, 2, 3, 4, 5, 6, 7],
  [4, 5, 6, 7, 0, 1, 2, 3],
]);

/** Writes a MInference-format config (streaming heads of different sizes) and a DuoAttention folder. */
export function writeSparseConfigs(dir: string): {
  minference: string;
  duo: string;
  patterns: Record<string, PatternEntry>[];
} {
  const random = seeded(11);
  const patterns = Array.from({ length: TINY.layers }, () =>
    Object.fromEntries(
      Array.from({ length: TINY.queryHeads }, (_, h) => {
        const [sink, recent] = [Math.floor((random() + 1) * 2), 1 + Math.floor((random() + 1) * 3)];
        const entry: PatternEntry = ['stream_llm', sink, recent, random()];
        return [String(h), entry];
      }),
    ),
  );
  mkdirSync(join(dir, 'duo'), { recursive: true });
  const minference = join(dir, 'Tiny_minference.json');
  writeFileSync(minference, JSON.stringify(patterns));
  const row = (l: number): string => `${(0.1 * l).toExponential(18)}\t${(1 - 0.1 * l).toExponential(18)}`;
  const gates = Array.from({ length: TINY.layers }, (_, l) => row(l)).join('\n');
  writeFileSync(join(dir, 'duo', 'Tiny.full_attention_heads.tsv'), `${gates}\n`);
  writeFileSync(join(dir, 'duo', 'Tiny.config.json'), '{"threshold": 0.5, "sink_size": 128, "recent_size": 256}');
  return { minference, duo: join(dir, 'duo'), patterns };
}
