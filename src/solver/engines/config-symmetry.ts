/**
 * The configuration search's memo and its symmetries (config-decide.ts): failed states, and
 * groups alike in every respect (their units' costs, their copy's cost, no pins), which a state
 * may permute.
 */
import type { Context } from './config-context.ts';

/**
 * The memo key of a state: the position and the units left of each class. Where groups are alike
 * (groupTypes), their units left are sorted within each type, so states that differ only by a
 * permutation of alike groups share one key: what one cannot complete, the other cannot either.
 */
export function stateKey(ctx: Context, i: number): string {
  const codes = ctx.groupCodes;
  if (!codes) return `${i}:${ctx.rem.join(',')}`;
  // One character per group: its units left of each class in mixed radix (groupCodes), sorted
  // within each type; types have fixed sizes, so the characters need no separator.
  const chars = [i];
  for (const type of codes) {
    const start = chars.length;
    for (const group of type) {
      let code = 0;
      for (const [c, radix] of group) code += ctx.rem[c] * radix;
      chars.push(code);
    }
    const sorted = chars.slice(start).sort((a, b) => a - b);
    chars.splice(start, sorted.length, ...sorted);
  }
  return String.fromCharCode(...chars);
}

/** Whether the memo proves the state at `key` (with the copies made so far) has no completion. */
export function knownToFail(ctx: Context, key: string): boolean {
  if (!Number.isFinite(ctx.storedLimit)) return (ctx.limits.failedAt.get(key) ?? -Infinity) >= ctx.target;
  return ctx.failedWith.get(key)?.some((f) => f.target >= ctx.target && f.stored <= ctx.stored) ?? false;
}

/** Records that the state at `key` has no completion at this target with the copies made so far. */
export function recordFailure(ctx: Context, key: string): void {
  if (!Number.isFinite(ctx.storedLimit)) {
    ctx.limits.failedAt.set(key, Math.max(ctx.target, ctx.limits.failedAt.get(key) ?? -Infinity));
    return;
  }
  const kept = (ctx.failedWith.get(key) ?? []).filter((f) => f.target > ctx.target || f.stored < ctx.stored);
  kept.push({ target: ctx.target, stored: ctx.stored });
  ctx.failedWith.set(key, kept);
}

/**
 * Finds, for the node at position i, each alike group's twin: the group before it in its type when
 * both have the same units left of every cost. Swapping a group and its twin maps every completion
 * to another (their future copies cost alike and count alike), so the GPU at i may take from the
 * later group no more, in the order of costs, than from the earlier one (twinClass[i] links each
 * class to its twin's class of the same cost).
 */
export function findTwins(ctx: Context, i: number): void {
  const twinClass = ctx.twinClass[i];
  twinClass.fill(-1);
  if (!ctx.groupTypes) return;
  for (const type of ctx.groupTypes) {
    for (let j = 1; j < type.length; j++) {
      const [before, after] = [type[j - 1], type[j]];
      if (!after.every((c, x) => ctx.rem[c] === ctx.rem[before[x]])) continue;
      after.forEach((c, x) => {
        twinClass[c] = before[x];
      });
    }
  }
}
