import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatProfileJson } from '../../src/profiles/convert.ts';
import { modelsDir } from '../../src/profiles/registry.ts';
import { convertDataDir } from '../../src/profiles/source-data.ts';
import { DATA_DIR, SKIP_WITHOUT_DATA } from './data-dir.ts';

describe('committed models/*.json', { skip: SKIP_WITHOUT_DATA }, () => {
  it('match what scripts/import-profiles.ts makes from the source data now (else run npm run import-profiles)', () => {
    const profiles = convertDataDir(DATA_DIR);
    assert.equal(profiles.length, 9);
    const stale = profiles
      .map((p) => join(modelsDir(), `${p.id}.json`))
      .filter((path, i) => !existsSync(path) || readFileSync(path, 'utf8') !== formatProfileJson(profiles[i]));
    assert.deepEqual(stale, []);
  });
});
