import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EvaluationDocument } from '../../src/eval/document.ts';

/** The repository's docs/ and README.md, wherever the tests run from. */
export const DOCS_DIR = fileURLToPath(new URL('../../docs/', import.meta.url));
export const README_PATH = fileURLToPath(new URL('../../README.md', import.meta.url));

/** docs/evaluation.json as committed. */
export function committedDocument(): EvaluationDocument {
  return JSON.parse(readFileSync(`${DOCS_DIR}evaluation.json`, 'utf8')) as EvaluationDocument;
}
