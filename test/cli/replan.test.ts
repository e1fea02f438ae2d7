import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestApp } from '../http/helpers.ts';
import { cli, listenOnLoopback, writeJson } from './helpers.ts';

/** `hplb plan` on 3 GPUs, solved in this process, with `args` added. */
const plan3 = (...args: string[]) => cli('plan', '--gpus', '3', '--workers', '0', ...args);

interface MovedLayer {
  unit2gpu: number[];
  makespan: number;
  migration: { moves: { unit: number; to: number }[]; optimalMakespan: number };
}

/** Each layer's moves turn the previous plan's placement into the new one. */
function assertMovesLead(previous: { layers: { unit2gpu: number[] }[] }, layers: MovedLayer[]): void {
  layers.forEach((layer, l) => {
    const placement = [...previous.layers[l].unit2gpu];
    for (const m of layer.migration.moves) placement[m.unit] = m.to;
    assert.deepEqual(placement, layer.unit2gpu);
  });
}

describe('hplb plan --previous (CLI re-plan)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hplb-replan-'));
  const costs = writeJson(dir, 'costs.json', {
    costs: [
      [9, 7, 5, 5, 3, 2],
      [8, 6, 6, 4, 2, 1],
    ],
  });
  const drifted = writeJson(dir, 'drifted.json', {
    costs: [
      [9, 7, 6, 5, 3, 1],
      [8, 7, 6, 4, 2, 1],
    ],
  });

  it('re-plans from a saved plan: the moves turn it into the new placement, within the tolerance', async () => {
    const first = await plan3('--costs', costs, '--json');
    assert.equal(first.code, 0, first.err);
    const running = join(dir, 'running.json');
    writeFileSync(running, first.out);
    const { code, out, err } = await plan3(
      '--costs',
      drifted,
      '--previous',
      running,
      '--makespan-tolerance',
      '0.05',
      '--json',
    );
    assert.equal(code, 0, err);
    const plan = JSON.parse(out);
    assert.equal(plan.migration.makespanTolerance, 0.05);
    assertMovesLead(JSON.parse(first.out), plan.layers);
    for (const layer of plan.layers as MovedLayer[])
      assert.ok(layer.makespan <= layer.migration.optimalMakespan * 1.05 * (1 + 1e-9));
    const table = await plan3('--costs', drifted, '--previous', running, '--max-moves', '1');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /re-plan: \d+ units moved .* in \d+ rounds/);
  });

  it('refuses migration flags without --previous, and a previous file that is not a plan', async () => {
    const lonely = await plan3('--costs', costs, '--max-moves', '2');
    assert.equal(lonely.code, 2);
    assert.match(lonely.err, /need --previous/);
    const notPlan = await plan3('--costs', costs, '--previous', costs);
    assert.equal(notPlan.code, 2);
    assert.match(notPlan.err, /not a plan/);
    const unreachable = await plan3('--costs', costs, '--previous', '0'.repeat(32), '--service', 'http://127.0.0.1:1');
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
      const { code, out, err } = await plan3('--costs', drifted, '--previous', stored.id, '--service', url, '--json');
      assert.equal(code, 0, err);
      assertMovesLead(stored, JSON.parse(out).layers);
      const unknown = await plan3('--costs', drifted, '--previous', 'f'.repeat(32), '--service', url);
      assert.equal(unknown.code, 2);
      assert.match(unknown.err, /PLAN_NOT_FOUND/);
    } finally {
      await close();
      await t.close();
    }
  });
});
