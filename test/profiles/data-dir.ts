import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceData } from '../requirements.ts';

/** The repository root, two levels above this helper (test/profiles/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The published source data the profiles are converted from; only present next to the checkout. */
export const DATA_DIR = resolve(REPO_ROOT, '..', 'shared', 'data');

/** Suites that read DATA_DIR run under describeRequiring(SOURCE_DATA, ...). */
export const SOURCE_DATA = sourceData(DATA_DIR);

/** Text of a file under DATA_DIR, e.g. readData('minference', 'Qwen2.5_14B_Instruct_1M.json'). */
export function readData(...parts: string[]): string {
  return readFileSync(join(DATA_DIR, ...parts), 'utf8');
}
