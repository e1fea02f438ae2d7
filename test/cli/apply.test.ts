import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MANIFEST_FILE } from '../../src/apply/apply.ts';
import { startTestApp, type TestApp } from '../http/helpers.ts';
import { writeTinyCheckpoint } from '../apply/tiny-model.ts';
import { cli, listenOnLoopback } from './helpers.ts';

/** --checkpoint <dir>/src --out <dir>/out */
function paths(dir: string): string[] {
  return ['--checkpoint', join(dir, 'src'), '--out', join(dir, 'out')];
}

/** Costs of the tiny model's 3 layers x 8 query heads: KV group 1 is the expensive one in layer 0. */
const COSTS = {
  costs: [
    [1, 1, 1, 1, 9, 9, 9, 9],
    [5, 1, 5, 1, 5, 1, 5, 1],
    [2, 3, 2, 3, 2, 3, 2, 3],
  ],
  kvGroupSize: 4,
};

describe('hplb apply (CLI)', () => {
  let t: TestApp;
  let listening: Awaited<ReturnType<typeof listenOnLoopback>>;
  let url: string;
  before(async () => {
    t = await startTestApp();
    listening = await listenOnLoopback(t.app);
    url = listening.url;
  });
  after(async () => {
    await listening.close();
    await t.close();
  });

  it('applies a plan file from `plan --json` and prints sizes, throughput and peak memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-cli-apply-'));
    writeFileSync(join(dir, 'costs.json'), JSON.stringify(COSTS));
    const costs = join(dir, 'costs.json');
    const planned = await cli(
      'plan',
      '--costs',
      costs,
      '--granularity',
      'kv-group',
      '--gpus',
      '2',
      '--workers',
      '0',
      '--json',
    );
    assert.equal(planned.code, 0, planned.err);
    writeFileSync(join(dir, 'plan.json'), planned.out);
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'BF16', shards: 2 });
    const { code, out, err } = await cli('apply', '--plan', join(dir, 'plan.json'), ...paths(dir));
    assert.equal(code, 0, err);
    assert.match(out, /run it with tensor-parallel size 2/);
    assert.match(out, /MB\/s\), peak RSS [\d.]+ MB/);
    const manifest = JSON.parse(readFileSync(join(dir, 'out', MANIFEST_FILE), 'utf8'));
    assert.equal(manifest.planId, JSON.parse(planned.out).id);
  });

  it('fetches a plan by id from the service, and its manifest matches GET /v1/plans/{id}/ranks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-cli-apply-'));
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F32', shards: 1 });
    const body = JSON.stringify({ ...COSTS, granularity: 'kv-group', gpus: { count: 2 } });
    const headers = { 'content-type': 'application/json' };
    const created = await fetch(`${url}/v1/plans`, { method: 'POST', headers, body });
    const plan = await created.json();
    const { code, out, err } = await cli('apply', '--plan', plan.id, '--service', url, ...paths(dir), '--json');
    assert.equal(code, 0, err);
    const manifest = JSON.parse(out);
    const ranks = await (await fetch(`${url}/v1/plans/${plan.id}/ranks?kvGroupSize=4`)).json();
    assert.deepEqual(manifest.layers, ranks.layers);
    assert.deepEqual(
      [ranks.kvCacheFactor, ranks.planKvCacheFactor],
      [manifest.output.kvCacheFactor, manifest.output.planKvCacheFactor],
    );
    assert.equal(ranks.planKvCacheFactor, plan.totals.kvCacheFactor);
    assert.deepEqual(manifest, JSON.parse(readFileSync(join(dir, 'out', MANIFEST_FILE), 'utf8')));
  });

  it('exits 2 with the reason for an unknown plan id or a plan that needs --expand-kv', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hplb-cli-apply-'));
    writeTinyCheckpoint(join(dir, 'src'), { dtype: 'F32', shards: 1 });
    const unknown = await cli('apply', '--plan', 'f'.repeat(32), '--service', url, ...paths(dir));
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /error \[PLAN_NOT_FOUND\]/);

    // KV group 0's heads cost 10, group 1's cost 1: without a KV cap the best query-head plan on 4
    // GPUs pairs one head of each group on every GPU, which the engine's fixed query-to-KV mapping
    // cannot express.
    const mixed = Array.from({ length: 3 }, () => [10, 10, 10, 10, 1, 1, 1, 1]);
    writeFileSync(join(dir, 'costs.json'), JSON.stringify({ costs: mixed, kvGroupSize: 4 }));
    const planned = await cli(
      'plan',
      ...[
        '--costs',
        join(dir, 'costs.json'),
        '--gpus',
        '4',
        '--max-kv-factor',
        'unlimited',
        '--workers',
        '0',
        '--json',
      ],
    );
    writeFileSync(join(dir, 'plan.json'), planned.out);
    const refused = await cli('apply', '--plan', join(dir, 'plan.json'), ...paths(dir));
    assert.equal(refused.code, 2);
    assert.match(refused.err, /error \[PLAN_MISMATCH\].*granularity=kv-group.*--expand-kv/s);
    assert.equal(existsSync(join(dir, 'out')), false);
    const expanded = await cli('apply', '--plan', join(dir, 'plan.json'), ...paths(dir), '--expand-kv', '--json');
    assert.equal(expanded.code, 0, expanded.err);
    // One head of each group per GPU: the checkpoint holds exactly the plan's groups.
    const manifest = JSON.parse(expanded.out);
    const plan = JSON.parse(planned.out);
    assert.deepEqual(
      [manifest.output.kvHeads, manifest.output.kvCacheFactor, manifest.output.planKvCacheFactor],
      [8, 2, 2],
    );
    assert.equal(plan.totals.kvCacheFactor, 2, "the plan's factor is the manifest's");
    assert.ok(plan.layers.every((l: { kvHeadsPerGpu: number[] }) => l.kvHeadsPerGpu.every((k) => k === 2)));
  });
});
