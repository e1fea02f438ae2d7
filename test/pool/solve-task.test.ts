import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { solveLayerTask } from '../../src/planner/layer-task.ts';
import {
  answerTask,
  deserializeHplbError,
  serializeHplbError,
  type SerializedHplbError,
} from '../../src/pool/solve-task.ts';
import { createEngines } from '../../src/solver/engines/index.ts';
import type { LayerEngine } from '../../src/solver/types.ts';
import { LLAMA_LAYERS, taskFor } from './problems.ts';

test('an HplbError survives the trip through structured clone with code, message, pointer and rule', () => {
  const cases = [
    new HplbError('INVALID_PROBLEM', 'unknown engine "x"', { pointer: '/solver/engine', rule: 'enum' }),
    new HplbError('INFEASIBLE_CONSTRAINTS', 'nothing fits'),
  ];
  for (const original of cases) {
    const back = deserializeHplbError(structuredClone(serializeHplbError(original)));
    assert.ok(back instanceof HplbError);
    assert.deepEqual(
      [back.code, back.message, back.pointer, back.rule, back.status],
      [original.code, original.message, original.pointer, original.rule, original.status],
    );
  }
});

test('an error code this version does not know becomes INTERNAL, keeping the message', () => {
  const back = deserializeHplbError({ code: 'FROM_THE_FUTURE', message: 'm' } as unknown as SerializedHplbError);
  assert.deepEqual([back.code, back.message], ['INTERNAL', 'm']);
});

test('answerTask: done with the outcome, rejected for an HplbError, failed for anything else', async () => {
  const glpk = await loadGlpk();
  const solver = { glpk, engines: createEngines(glpk) };
  const ask = (task: ReturnType<typeof taskFor>, engines = solver.engines) =>
    answerTask(task, { glpk, engines }, () => undefined);
  const task = taskFor(LLAMA_LAYERS[0], 'auto');
  const done = ask(task);
  assert.ok(done.type === 'done');
  assert.deepEqual(done.outcome.result.unit2gpu, solveLayerTask(task, solver).result.unit2gpu);

  assert.deepEqual(ask(taskFor(LLAMA_LAYERS[0], 'nope' as never)), {
    type: 'rejected',
    error: { code: 'INVALID_PROBLEM', message: 'unknown engine "nope"', pointer: '/solver/engine', rule: 'enum' },
  });

  const broken: LayerEngine = {
    name: 'search',
    solveLayer: () => {
      throw new TypeError('boom');
    },
  };
  const failed = ask(taskFor(LLAMA_LAYERS[0], 'search'), { ...solver.engines, search: broken });
  assert.deepEqual(failed, { type: 'failed', message: 'TypeError: boom' });
});

test('answerTask passes the engine progress to its report function', async () => {
  const glpk = await loadGlpk();
  const reports: { engine: string }[] = [];
  const answer = answerTask(taskFor(LLAMA_LAYERS[2], 'ilp'), { glpk, engines: createEngines(glpk) }, (report) =>
    reports.push(report),
  );
  assert.equal(answer.type, 'done');
  assert.ok(reports.length >= 1);
  assert.equal(reports[0].engine, 'greedy');
});
