/**
 * Split heads on the kernel: the whole head's time against the summed times of its row-range
 * parts (cut at equal causal work), and the ratio of the measured sum to what the cost model
 * charges for the parts: whole + (parts - 1) x the per-part overhead (the fixed cost of a head
 * under the committed calibration: its intercept, in microseconds of its own device and clock).
 * Without a committed calibration the ratio is not reported.
 */
import { listCalibrations, resolveCostModel } from '../src/cost/registry.ts';
import { fixedHeadCost, headRowWork } from '../src/cost/row-range.ts';
import { buildRowIndex } from '../src/kernel/pattern.ts';
import { sliceRows } from '../src/kernel/row-range.ts';
import type { AttentionRunner } from '../src/kernel/sparse-attention.ts';
import { randomInput, streamingForBudget, timeRuns, type TimingOptions } from '../src/kernel/timing.ts';

export interface PartsRow {
  readonly parts: number;
  /** Rows [start, end) of each part. */
  readonly rows: [number, number][];
  readonly wholeUs: number;
  /** Sum over parts of each part's median time. */
  readonly partsUs: number;
  /** Modelled extra of the parts: (parts - 1) x overhead, us; null when the cost model is not in us. */
  readonly modelledOverheadUs: number | null;
  /** partsUs / (wholeUs + modelledOverheadUs). */
  readonly ratio: number | null;
}

/** Times a streaming head of `budget` at seqLen whole and as 2 and 4 parts, on the given clock. */
export async function benchParts(
  runner: AttentionRunner,
  point: { seqLen: number; budget: number; headDim: number },
  options: TimingOptions,
  clock: 'cpu' | 'wall',
): Promise<PartsRow[]> {
  const input = randomInput(point.seqLen, point.headDim, 'prefill');
  const pattern = streamingForBudget(Math.min(point.budget, point.seqLen));
  const index = buildRowIndex(pattern, input);
  // A calibration's microseconds compare with these timings; the hardware-neutral default does not.
  const calibration = listCalibrations()[0];
  const model = resolveCostModel(calibration);
  const workload = { seqLen: point.seqLen, phase: 'prefill' as const };
  const overhead = model.unit === 'us' ? fixedHeadCost(model, workload) : null;
  const whole = (await timeRuns(() => runner.sparseIndexed(input, index), options))[clock].medianUs;
  const total = headRowWork(pattern, point.seqLen, 0, point.seqLen);
  const rows: PartsRow[] = [];
  for (const parts of [2, 4]) {
    // Cut at equal causal work, as the planner's shares do.
    const cuts = [0];
    for (let row = 1, i = 1; i < parts; row++) {
      if (headRowWork(pattern, point.seqLen, 0, row) >= (i * total) / parts) {
        cuts.push(row);
        i++;
      }
    }
    cuts.push(point.seqLen);
    let partsUs = 0;
    for (let i = 0; i < parts; i++) {
      const part = sliceRows(input, index, cuts[i], cuts[i + 1]);
      partsUs += (await timeRuns(() => runner.sparseIndexed(part.input, part.index), options))[clock].medianUs;
    }
    const modelledOverheadUs = overhead === null ? null : (parts - 1) * overhead;
    rows.push({
      parts,
      rows: cuts.slice(0, -1).map((c, i) => [c, cuts[i + 1]]),
      wholeUs: whole,
      partsUs,
      modelledOverheadUs,
      ratio: modelledOverheadUs === null ? null : partsUs / (whole + modelledOverheadUs),
    });
  }
  return rows;
}
