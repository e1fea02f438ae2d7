import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HplbError } from '../errors.ts';
import { DEFAULT_DATA_LABEL } from './convert.ts';
import { convertDuoAttention, DUO_SOURCES } from './convert-duo-attention.ts';
import { convertMInference, MINFERENCE_SOURCES } from './convert-minference.ts';
import type { Profile } from './profile.ts';

const DUO_TABLE_SUFFIX = '.full_attention_heads.tsv';

/**
 * Converts every source file under `dataDir` (laid out like ../shared/data: minference/*.json and
 * duo-attention/<model>.full_attention_heads.tsv + <model>.config.json) into profiles, in a stable
 * order (MInference files, then DuoAttention models, each sorted by name). `dataLabel` is how
 * generatedBy headers name the data folder. An unknown source file, or a known source that is
 * absent, is an HplbError('INVALID_PROFILE'): the set of generated profiles never changes silently.
 */
export function convertDataDir(dataDir: string, dataLabel = DEFAULT_DATA_LABEL): Profile[] {
  const minferenceDir = join(dataDir, 'minference');
  const duoDir = join(dataDir, 'duo-attention');
  const minferenceFiles = listFiles(minferenceDir).filter((name) => name.endsWith('.json'));
  const duoModels = listFiles(duoDir)
    .filter((name) => name.endsWith(DUO_TABLE_SUFFIX))
    .map((name) => name.slice(0, -DUO_TABLE_SUFFIX.length));

  requireAll(Object.keys(MINFERENCE_SOURCES), minferenceFiles, minferenceDir);
  requireAll(Object.keys(DUO_SOURCES), duoModels, duoDir);

  return [
    ...minferenceFiles.map((name) =>
      convertMInference(name, readFileSync(join(minferenceDir, name), 'utf8'), dataLabel),
    ),
    ...duoModels.map((model) =>
      convertDuoAttention(
        model,
        readFileSync(join(duoDir, `${model}${DUO_TABLE_SUFFIX}`), 'utf8'),
        readConfig(duoDir, model),
        dataLabel,
      ),
    ),
  ];
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new HplbError('INVALID_PROFILE', `${dir}: source data folder not found`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
}

function requireAll(expected: readonly string[], found: readonly string[], dir: string): void {
  const missing = expected.filter((name) => !found.includes(name));
  if (missing.length > 0)
    throw new HplbError('INVALID_PROFILE', `${dir}: missing source data for ${missing.join(', ')}`);
}

function readConfig(duoDir: string, model: string): string {
  const path = join(duoDir, `${model}.config.json`);
  if (!existsSync(path))
    throw new HplbError('INVALID_PROFILE', `${path}: config missing for ${model}${DUO_TABLE_SUFFIX}`);
  return readFileSync(path, 'utf8');
}
