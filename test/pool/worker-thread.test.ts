import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { solveLayerTask } from '../../src/planner/layer-task.ts';
import {
  answerOf,
  deserializeHplbError,
  serializeHplbError,
  type SerializedHplbError,
} from '../../src/pool/worker-thread.ts';
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

test('answerOf: the value, an HplbError as plain data, anything else as its text (solving a layer on a thread)', async () => {
  const glpk = await loadGlpk();
  const solver = { glpk, engines: createEngines(glpk) };
  const ask = (task: ReturnType<typeof taskFor>, engines = solver.engines) =>
    answerOf(() => solveLayerTask(task, { glpk, engines }, () => undefined));
  const task = taskFor(LLAMA_LAYERS[0], 'auto');
  const done = await ask(task);
  assert.ok('value' in done);
  assert.deepEqual(
    (done.value as ReturnType<typeof solveLayerTask>).result.unit2gpu,
    solveLayerTask(task, solver).result.unit2gpu,
  );

  assert.deepEqual(await ask(taskFor(LLAMA_LAYERS[0], 'nope' as never)), {
    error: { code: 'INVALID_PROBLEM', message: 'unknown engine "nope"', pointer: '/solver/engine', rule: 'enum' },
  });

  const broken: LayerEngine = {
    name: 'search',
    solveLayer: () => {
      throw new TypeError('boom');
    },
  };
  const failed = await ask(taskFor(LLAMA_LAYERS[0], 'search'), { ...solver.engines, search: broken });
  assert.ok('threw' in failed);
  assert.equal(failed.threw, 'TypeError: boom');
  assert.match(failed.stack ?? '', /TypeError: boom\n\s+at /);
});
