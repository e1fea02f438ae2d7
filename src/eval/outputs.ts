/**
 * The files rendered from the evaluation document beside docs/evaluation.json: the report and the
 * plots, one frontier plot per model with a frontier. scripts/eval.ts writes them; the staleness
 * test renders each and compares it with the committed file. Pure.
 */
import type { EvaluationDocument } from './document.ts';
import { BUBBLE_SVG, frontierModels, frontierSvg, renderReport, SPEEDUP_SVG } from './report.ts';
import { renderFrontierSvg } from './svg-frontier.ts';
import { flagshipBubbleChart, renderBubbleSvg, renderSpeedupSvg } from './svg.ts';

/** [file name under docs/, its renderer] for every file rendered from `doc`. */
export function renderedFiles(doc: EvaluationDocument): [name: string, render: () => string][] {
  return [
    ['evaluation.md', () => renderReport(doc)],
    [BUBBLE_SVG, () => renderBubbleSvg(flagshipBubbleChart(doc))],
    [SPEEDUP_SVG, () => renderSpeedupSvg(doc)],
    ...frontierModels(doc).map(({ model }): [string, () => string] => [
      frontierSvg(model.id),
      () => renderFrontierSvg(doc, model.id),
    ]),
  ];
}
