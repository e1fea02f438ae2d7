import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { describeRequiring } from '../requirements.ts';
import { HplbError } from '../../src/errors.ts';
import { convertDataDir } from '../../src/profiles/source-data.ts';
import { DATA_DIR, REPO_ROOT, SOURCE_DATA } from './data-dir.ts';

const work = mkdtempSync(join(tmpdir(), 'hplb-import-'));
after(() => rmSync(work, { recursive: true, force: true }));

function importProfiles(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'import-profiles.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
}

describeRequiring(SOURCE_DATA, 'scripts/import-profiles.ts', {}, () => {
  it('writes nine profiles, then --check passes, and flags a hand-edited one without rewriting it', () => {
    const out = join(work, 'models');
    const written = importProfiles('--out', out);
    assert.equal(written.status, 0, written.stderr);
    assert.deepEqual(readdirSync(out).length, 9);

    assert.equal(importProfiles('--out', out, '--check').status, 0);

    const edited = join(out, 'mistral-7b-instruct-v0.2-duo.json');
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('"sink":128', '"sink":64'));
    const check = importProfiles('--out', out, '--check');
    assert.equal(check.status, 1);
    assert.match(check.stderr, /mistral-7b-instruct-v0\.2-duo\.json/);
    assert.doesNotMatch(check.stderr, /llama-3-8b-instruct-262k-minference/);
    assert.match(readFileSync(edited, 'utf8'), /"sink":64/);
  });
});

describeRequiring(SOURCE_DATA, 'convertDataDir', {}, () => {
  // File by file rather than cpSync: the source data is read-only and a copy must be editable.
  const copy = (name: string): string => {
    const dir = join(work, name);
    for (const sub of ['minference', 'duo-attention']) {
      mkdirSync(join(dir, sub), { recursive: true });
      for (const file of readdirSync(join(DATA_DIR, sub)))
        writeFileSync(join(dir, sub, file), readFileSync(join(DATA_DIR, sub, file)));
    }
    return dir;
  };
  const cases = [
    {
      name: 'a known source file is absent',
      edit: (dir: string) => rmSync(join(dir, 'minference', 'Qwen2.5_14B_Instruct_1M.json'), { force: true }),
      message: /missing source data for Qwen2\.5_14B_Instruct_1M\.json/,
    },
    {
      name: 'a DuoAttention config is absent',
      edit: (dir: string) => rmSync(join(dir, 'duo-attention', 'Llama-2-7B-32K-Instruct.config.json'), { force: true }),
      message: /config missing for Llama-2-7B-32K-Instruct/,
    },
    {
      name: 'an unknown MInference file appears',
      edit: (dir: string) => writeFileSync(join(dir, 'minference', 'Yi_9B_200k.json'), '[]'),
      message: /minference\/Yi_9B_200k\.json: unknown MInference file/,
    },
  ];
  for (const c of cases) {
    it(`fails when ${c.name}`, () => {
      const dir = copy(c.name.replaceAll(' ', '-'));
      c.edit(dir);
      assert.throws(
        () => convertDataDir(dir),
        (err: unknown) => err instanceof HplbError && err.code === 'INVALID_PROFILE' && c.message.test(err.message),
      );
    });
  }
});
