import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, two levels above this helper (test/profiles/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The published source data the profiles are converted from; only present next to the checkout. */
export const DATA_DIR = resolve(REPO_ROOT, '..', 'shared', 'data');

/** node:test `skip` option: false when the source data is here, else the reason to skip. */
export const SKIP_WITHOUT_DATA: false | string = existsSync(DATA_DIR)
  ? false
  : `source data not found at ${DATA_DIR} (it lives outside the repository)`;

/** Text of a file under DATA_DIR, e.g. readData('minference', 'Qwen2.5_14B_Instruct_1M.json'). */
export function readData(...parts: string[]): string {
  return readFileSync(join(DATA_DIR, ...parts), 'utf8');
}
