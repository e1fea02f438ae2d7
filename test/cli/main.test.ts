import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cli, writeJson } from './helpers.ts';

describe('hplb plan (CLI)', () => {
  it('prints exactly the Plan JSON with --json', async () => {
    const { code, out, err } = await cli(
      'plan',
      '--model',
      'llama-3-8b-instruct-262k-minference',
      '--gpus',
      '4',
      '--engine',
      'greedy',
      '--json',
    );
    assert.equal(code, 0, err);
    const plan = JSON.parse(out);
    assert.equal(plan.gpus.count, 4);
    assert.equal(plan.layers.length, 32);
    for (const key of [
      'unit2gpu',
      'gpu2units',
      'permutation',
      'gpuLoads',
      'makespan',
      'lowerBound',
      'gap',
      'status',
      'engine',
      'solveMs',
    ])
      assert.ok(key in plan.layers[0], key);
    for (const key of [
      'makespan',
      'lowerBound',
      'contiguousMakespan',
      'greedyMakespan',
      'speedupVsContiguous',
      'bubbleRatio',
      'layersProvenOptimal',
      'solveMs',
    ])
      assert.ok(key in plan.totals, key);
    assert.match(plan.id, /^[0-9a-f]{32}$/);
  });

  it('prints a per-layer table and a summary with the contiguous ratio and the KV cache of the flagship', async () => {
    const { code, out } = await cli('plan', '--gpus', '4', '--engine', 'greedy');
    assert.equal(code, 0);
    assert.equal(out.split('\n').filter((line) => /^\d+\s/.test(line)).length, 32, 'one row per layer');
    const ratio = Number(/contiguous \/ plan = ([\d.]+)x/.exec(out)?.[1]);
    assert.ok(ratio > 1.05 && ratio < 1.2, `contiguous / greedy ${ratio}`);
    assert.match(out, /KV cache: 256 KV heads stored \(contiguous 256\) -> factor 1\.000x \(cap 1\)/);
    assert.match(out, /largest per-GPU KV cache 4\.00 GiB per sequence, contiguous 4\.00 GiB/);
    assert.match(out, /bubble ratio/);
  });

  it('splits heads with --split-heads, --parts-per-head and --part-overhead, and says so in the summary', async () => {
    const file = writeJson(mkdtempSync(join(tmpdir(), 'hplb-cli-')), 'costs.json', {
      costs: [[90, 10, 10, 10, 10, 10]],
    });
    const args = [
      'plan',
      '--costs',
      file,
      '--gpus',
      '3',
      '--seq-len',
      '1000',
      '--split-heads',
      '1',
      '--parts-per-head',
      '3',
      '--part-overhead',
      '1',
      // Each head is its own KV group: its parts store it twice more, beyond the default cap of 1.0.
      '--max-kv-factor',
      'unlimited',
    ];
    const json = await cli(...args, '--json');
    assert.equal(json.code, 0, json.err);
    const plan = JSON.parse(json.out);
    assert.deepEqual(plan.splits, { maxSplitHeads: 1, maxPartsPerHead: 3, partOverhead: 1 });
    assert.deepEqual(
      plan.layers[0].parts.map((p: { unit: number }) => p.unit),
      [0, 0, 0],
      'the heavy head in three parts',
    );
    assert.ok(plan.totals.makespan < 90);
    const text = await cli(...args);
    assert.match(text.out, /split heads 1 \(at most 1 per layer, 3 parts each/);
  });

  it('reads an explicit cost matrix', async () => {
    const file = writeJson(mkdtempSync(join(tmpdir(), 'hplb-cli-')), 'costs.json', {
      costs: [
        [9, 7, 6, 5],
        [1, 1, 1, 1],
      ],
      kvGroupSize: 2,
    });
    const { code, out } = await cli('plan', '--costs', file, '--gpus', '2', '--granularity', 'kv-group', '--json');
    assert.equal(code, 0);
    const plan = JSON.parse(out);
    assert.equal(plan.model.id, null);
    assert.deepEqual(plan.layers[0].gpuLoads.sort(), [11, 16]);
  });

  it('takes a KV cap, a workload mix and a cost model by name', async () => {
    const mix = await cli(
      ...['plan', '--gpus', '8', '--engine', 'greedy', '--workers', '0', '--max-kv-factor', 'unlimited'],
      ...['--mix', 'prefill:4096:1,decode:4096:100', '--cost-model', 'roofline:h200', '--json'],
    );
    assert.equal(mix.code, 0, mix.err);
    const plan = JSON.parse(mix.out);
    assert.equal(plan.maxKvCacheFactor, null);
    assert.equal(plan.costModel.name, 'roofline:h200');
    assert.deepEqual(
      plan.workload.mix.map((p: { phase: string }) => p.phase),
      ['prefill', 'decode'],
    );
  });

  it('prints the KV-cache frontier with --frontier: one plan per cap, the default first', async () => {
    const { code, out, err } = await cli(
      'plan',
      '--gpus',
      '8',
      '--engine',
      'greedy',
      '--workers',
      '0',
      '--frontier',
      '--json',
    );
    assert.equal(code, 0, err);
    const frontier = JSON.parse(out);
    assert.deepEqual(
      frontier.points.map((p: { maxKvCacheFactor: number | null }) => p.maxKvCacheFactor),
      [1, 1.25, 1.5, 2, 3, null],
    );
    assert.equal(frontier.points[0].kvCacheFactor, 1);
    assert.ok(frontier.points.every((p: { pareto: boolean; planId: string }) => /^[0-9a-f]{32}$/.test(p.planId)));
    const table = await cli('plan', '--gpus', '8', '--engine', 'greedy', '--workers', '0', '--frontier');
    assert.match(table.out, /KV cap\s+KV factor\s+vs contiguous\s+proven\s+Pareto\s+plan id/);
  });

  it('lists the models', async () => {
    const { code, out } = await cli('plan', '--list');
    assert.equal(code, 0);
    assert.match(out, /qwen2\.5-14b-instruct-1m-minference/);
    assert.match(out, /llama-3-8b-instruct-gradient-1048k-duo/);
  });

  for (const [name, argv, pattern] of [
    ['units that do not divide', ['plan', '--gpus', '3'], /UNITS_NOT_DIVISIBLE.*max:11/],
    ['an unknown model', ['plan', '--model', 'nope'], /UNKNOWN_MODEL/],
    ['a bad flag value', ['plan', '--gpus', 'x'], /--gpus/],
    ['an unknown engine', ['plan', '--engine', 'magic'], /--engine/],
    ['an unknown calibration', ['plan', '--calibration', 'no-such-device'], /UNKNOWN_CALIBRATION/],
    ['a KV cap below 1', ['plan', '--max-kv-factor', '0.5'], /--max-kv-factor/],
    ['a malformed mix', ['plan', '--mix', 'decode:x:1'], /--mix/],
    ['a mix with a phase', ['plan', '--mix', 'decode:4096:1', '--phase', 'decode'], /--mix.*cannot be used with/],
    ['a frontier with a KV cap', ['plan', '--frontier', '--max-kv-factor', '2'], /--frontier.*cannot be used with/],
    [
      'decode with executed work',
      ['plan', '--phase', 'decode', '--cost-model', 'executed-work'],
      /timeUnit|not a time/,
    ],
  ] as const) {
    it(`exits 2 with a message on stderr for ${name}`, async () => {
      const { code, out, err } = await cli(...argv);
      assert.equal(code, 2);
      assert.equal(out, '');
      assert.match(err, pattern);
    });
  }

  it('runs as a process through npm run plan and sets the exit code', async () => {
    const run = promisify(execFile);
    const { stdout } = await run('npx', [
      'tsx',
      'src/cli/main.ts',
      'plan',
      '--gpus',
      '2',
      '--engine',
      'greedy',
      '--json',
    ]);
    assert.equal(JSON.parse(stdout).gpus.count, 2);
    await assert.rejects(
      run('npx', ['tsx', 'src/cli/main.ts', 'plan', '--gpus', '3']),
      (error: { code?: number; stderr?: string }) => error.code === 2 && /UNITS_NOT_DIVISIBLE/.test(error.stderr ?? ''),
    );
  });
});
