/**
 * "Is there a placement with every load <= T (and the copies within the limits)?" for a KV layer,
 * by two complete methods in turns of doubling length: the depth-first configuration search
 * (engines/config-decide.ts; its memo of failed states carries over from turn to turn) and, on
 * identical GPUs without pins, the configuration integer program (kv/config-ip.ts). Measured on
 * the flagship, each settles quickly most targets that are slow for the other.
 */
import type { GLPK } from 'glpk.js/node';
import type { AggregatedLayer } from '../aggregate.ts';
import { type Failure, decideConfigs } from '../engines/config-decide.ts';
import type { Decision } from '../engines/target-search.ts';
import type { LayerProblem } from '../types.ts';
import { type Config, configIpApplies, listConfigs, solveConfigs } from './config-ip.ts';

/** First turn of each method, ms (GLPK's own overhead is about 25 ms). */
const FIRST_TURN_MS = 30;

/** The memo a series of decisions on one layer shares (targets only fall, limits only tighten). */
export interface DecideMemo {
  readonly failedAt: Map<string, number>;
  readonly failedWith: Map<string, Failure[]>;
}

export function createDecideMemo(): DecideMemo {
  return { failedAt: new Map(), failedWith: new Map() };
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
  let configs: readonly Config[] | null | undefined = glpk && configIpApplies(problem) ? undefined : null;
  for (let turn = FIRST_TURN_MS; now() < deadline; turn *= 2) {
    const until = Math.min(deadline, now() + turn);
    const searched = decideConfigs(problem, layer, target, { deadline: until, now, ...memo, ...stored });
    if (searched !== 'timeout') return { decision: searched, by: 'search' };
    // Listed once per target; null: not applicable, or too many to list.
    if (configs === undefined) configs = listConfigs(problem, layer, target);
    if (configs === null || !glpk || now() >= deadline) continue;
    const timeLimitMs = Math.min(turn, deadline - now());
    const solved = solveConfigs(glpk, problem, layer, configs, { timeLimitMs, ...stored });
    if (solved.decision !== 'timeout') return { decision: solved.decision, by: 'configs' };
  }
  return { decision: 'timeout', by: '' };
}
