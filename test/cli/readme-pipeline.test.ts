/**
 * The README's commands as a new user types them, through npm and a shell: `npm run -s plan --
 * ... --json > plan.json` writes nothing but the plan (npm's banner would precede it without -s),
 * and `npm run -s apply -- --plan plan.json` reads that file. Run in a child process, as typed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MANIFEST_FILE } from '../../src/apply/apply.ts';
import { writeTinyCheckpoint } from '../apply/tiny-model.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

it('npm run -s plan -- ... --json > plan.json, then npm run -s apply -- --plan plan.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hplb-readme-'));
  const costs = [
    [1, 1, 1, 1, 9, 9, 9, 9],
    [5, 1, 5, 1, 5, 1, 5, 1],
    [2, 3, 2, 3, 2, 3, 2, 3],
  ];
  writeFileSync(join(dir, 'costs.json'), JSON.stringify({ costs, kvGroupSize: 4 }));
  writeTinyCheckpoint(join(dir, 'ckpt'), { dtype: 'BF16', shards: 1 });
  const sh = (command: string) =>
    execFileSync('sh', ['-c', command], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  sh(
    `npm run -s plan -- --costs ${dir}/costs.json --granularity kv-group --gpus 2 --workers 0 --json > ${dir}/plan.json`,
  );
  const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { id: string };
  sh(`npm run -s apply -- --plan ${dir}/plan.json --checkpoint ${dir}/ckpt --out ${dir}/out`);
  assert.ok(existsSync(join(dir, 'out', MANIFEST_FILE)));
  assert.equal(JSON.parse(readFileSync(join(dir, 'out', MANIFEST_FILE), 'utf8')).planId, plan.id);
});
