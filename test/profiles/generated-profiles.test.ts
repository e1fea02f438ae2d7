import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { describeRequiring } from '../requirements.ts';
import { formatProfileJson } from '../../src/profiles/convert.ts';
import { modelsDir } from '../../src/profiles/registry.ts';
import { convertDataDir } from '../../src/profiles/source-data.ts';
import { DATA_DIR, SOURCE_DATA } from './data-dir.ts';

describeRequiring(SOURCE_DATA, 'committed models/*.json', {}, () => {
  it('match what scripts/import-profiles.ts makes from the source data now (else run npm run import-profiles)', () => {
    const profiles = convertDataDir(DATA_DIR);
    assert.equal(profiles.length, 9);
    const stale = profiles
      .map((p) => join(modelsDir(), `${p.id}.json`))
      .filter((path, i) => !existsSync(path) || readFileSync(path, 'utf8') !== formatProfileJson(profiles[i]));
    assert.deepEqual(stale, []);
  });
});
