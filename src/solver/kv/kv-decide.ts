/**
 * "Is there a placement with every load <= T (and the copies within the limits)?" for a KV layer,
 * by two complete methods in turns of doubling length: on identical GPUs without pins, the
 * configuration integer program (kv/config-ip.ts), and the depth-first configuration search
 * (engines/config-decide.ts; its memo of failed states carries over from turn to turn). Measured
 * on the flagship, each settles quickly most targets that are slow for the other.
 */
import type { GLPK } from 'glpk.js/node';
import type { AggregatedLayer } from '../aggregate.ts';
import { configsByClass } from '../engines/config-context.ts';
import { type Failure, decideConfigs } from '../engines/config-decide.ts';
import type { Decision } from '../engines/target-search.ts';
import type { LayerProblem } from '../types.ts';
import { configIpApplies, listConfigs, solveConfigs } from './config-ip.ts';

/**
 * The turns, ms: GLPK's first turn is short (its relaxation refutes most targets in tens of ms) and
 * grows by half each round, since GLPK starts over each time; the search keeps its memo from turn
 * to turn, so its turns start longer and double. Tuned on the flagship's hardest decisions (the
 * refutations just under the optimum: caps 1.25-2.0, KV-group limits 2-4, G = 8): within 1.6x of
 * the faster method alone, in total.
 */
const IP_TURN_MS = 30;
const IP_GROWTH = 1.5;
const SEARCH_TURN_MS = 160;
const SEARCH_GROWTH = 2;

/** The memo a series of decisions on one layer shares (targets only fall, limits only tighten). */
export interface DecideMemo {
  readonly failedAt: Map<string, number>;
  readonly failedWith: Map<string, Failure[]>;
  /** Set once a target's configurations were too many to list: lower targets are not listed either. */
  tooMany: boolean;
}

export function createDecideMemo(): DecideMemo {
  return { failedAt: new Map(), failedWith: new Map(), tooMany: false };
}

/** A decision and the method that settled it. */
export interface KvDecision {
  readonly decision: Decision;
  /** 'search' (depth-first), 'configs' (the integer program), or '' when undecided. */
  readonly by: 'search' | 'configs' | '';
}

/**
 * Decides `target` until `deadline`.
 * @param storedLimit most KV heads stored, besides the cap (the second objective's questions)
 */
export function kvDecide(
  glpk: GLPK | null,
  problem: LayerProblem,
  layer: AggregatedLayer,
  target: number,
  limits: {
    readonly deadline: number;
    readonly now: () => number;
    readonly memo: DecideMemo;
    readonly storedLimit?: number;
  },
): KvDecision {
  const { deadline, now, memo } = limits;
  const stored = limits.storedLimit !== undefined ? { storedLimit: limits.storedLimit } : {};
  // Listed once per target, for both methods; null: not applicable, or too many to list.
  const configs = configIpApplies(problem) && !memo.tooMany ? listConfigs(problem, layer, target) : null;
  if (configs === null && configIpApplies(problem)) memo.tooMany = true;
  // Too many: the search builds its configurations as it goes rather than list them again.
  const listed = configs ? { listed: configsByClass(layer, configs) } : memo.tooMany ? { listed: null } : {};
  for (let round = 0; now() < deadline; round++) {
    if (glpk && configs) {
      const timeLimitMs = Math.min(IP_TURN_MS * IP_GROWTH ** round, deadline - now());
      const solved = solveConfigs(glpk, problem, layer, configs, { timeLimitMs, ...stored });
      if (solved.decision !== 'timeout') return { decision: solved.decision, by: 'configs' };
    }
    const until = Math.min(deadline, now() + SEARCH_TURN_MS * SEARCH_GROWTH ** round);
    const { failedAt, failedWith } = memo;
    const searched = decideConfigs(problem, layer, target, {
      deadline: until,
      now,
      failedAt,
      failedWith,
      ...stored,
      ...listed,
    });
    if (searched !== 'timeout') return { decision: searched, by: 'search' };
  }
  return { decision: 'timeout', by: '' };
}
