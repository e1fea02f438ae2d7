import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestApp } from '../http/helpers.ts';
import { cli, listenOnLoopback } from './helpers.ts';

describe('hplb plan --previous (CLI re-plan)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hplb-replan-'));
  const costs = join(dir, 'costs.json');
  writeFileSync(
    costs,
    JSON.stringify({
      costs: [
        [9, 7, 5, 5, 3, 2],
        [8, 6, 6, 4, 2, 1],
      ],
    }),
  );
  const drifted = join(dir, 'drifted.json');
  writeFileSync(
    drifted,
    JSON.stringify({
      costs: [
        [9, 7, 6, 5, 3, 1],
        [8, 7, 6, 4, 2, 1],
      ],
    }),
  );

  it('re-plans from a saved plan: the moves turn it into the new placement, within the tolerance', async () => {
    const first = await cli('plan', '--costs', costs, '--gpus', '3', '--workers', '0', '--json');
    assert.equal(first.code, 0, first.err);
    const running = join(dir, 'running.json');
    writeFileSync(running, first.out);
    const { code, out, err } = await cli(
      'plan',
      '--costs',
      drifted,
      '--gpus',
      '3',
      '--workers',
      '0',
      '--previous',
      running,
      '--makespan-tolerance',
      '0.05',
      '--json',
    );
    assert.equal(code, 0, err);
    const plan = JSON.parse(out);
    const old = JSON.parse(first.out);
    assert.equal(plan.migration.makespanTolerance, 0.05);
    plan.layers.forEach(
      (
        layer: {
          unit2gpu: number[];
          makespan: number;
          migration: { moves: { unit: number; from: number; to: number }[]; optimalMakespan: number };
        },
        l: number,
      ) => {
        const placement = [...old.layers[l].unit2gpu];
        for (const m of layer.migration.moves) placement[m.unit] = m.to;
        assert.deepEqual(placement, layer.unit2gpu);
        assert.ok(layer.makespan <= layer.migration.optimalMakespan * 1.05 * (1 + 1e-9));
      },
    );
    const table = await cli(
      'plan',
      '--costs',
      drifted,
      '--gpus',
      '3',
      '--workers',
      '0',
      '--previous',
      running,
      '--max-moves',
      '1',
    );
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /re-plan: \d+ units moved .* in \d+ rounds/);
  });

  it('refuses migration flags without --previous, and a previous file that is not a plan', async () => {
    const lonely = await cli('plan', '--costs', costs, '--gpus', '3', '--workers', '0', '--max-moves', '2');
    assert.equal(lonely.code, 2);
    assert.match(lonely.err, /need --previous/);
    const notPlan = await cli('plan', '--costs', costs, '--gpus', '3', '--workers', '0', '--previous', costs);
    assert.equal(notPlan.code, 2);
    assert.match(notPlan.err, /not a plan/);
    const unreachable = await cli(
      'plan',
      '--costs',
      costs,
      '--gpus',
      '3',
      '--workers',
      '0',
      '--previous',
      '0'.repeat(32),
      '--service',
      'http://127.0.0.1:1',
    );
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.err, /cannot reach the plan service at http:\/\/127\.0\.0\.1:1\/v1\/plans\/0{32}/);
  });

  it('re-plans from a plan id that the service stores, fetched from --service', async () => {
    const t = await startTestApp();
    const { url, close } = await listenOnLoopback(t.app);
    try {
      const body = JSON.stringify({ ...JSON.parse(readFileSync(costs, 'utf8')), gpus: { count: 3 } });
      const created = await fetch(`${url}/v1/plans`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(created.status, 201);
      const stored = await created.json();
      const { code, out, err } = await cli(
        'plan',
        '--costs',
        drifted,
        '--gpus',
        '3',
        '--workers',
        '0',
        '--previous',
        stored.id,
        '--service',
        url,
        '--json',
      );
      assert.equal(code, 0, err);
      const plan = JSON.parse(out);
      plan.layers.forEach(
        (layer: { unit2gpu: number[]; migration: { moves: { unit: number; to: number }[] } }, l: number) => {
          const placement = [...stored.layers[l].unit2gpu];
          for (const m of layer.migration.moves) placement[m.unit] = m.to;
          assert.deepEqual(placement, layer.unit2gpu);
        },
      );
      const unknown = await cli(
        'plan',
        '--costs',
        drifted,
        '--gpus',
        '3',
        '--workers',
        '0',
        '--previous',
        'f'.repeat(32),
        '--service',
        url,
      );
      assert.equal(unknown.code, 2);
      assert.match(unknown.err, /PLAN_NOT_FOUND/);
    } finally {
      await close();
      await t.close();
    }
  });
});
