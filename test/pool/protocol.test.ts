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
} from '../../src/pool/protocol.ts';
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
  const engines = createEngines(await loadGlpk());
  const task = taskFor(LLAMA_LAYERS[0], 'auto');
  const done = answerTask({ id: 1, task }, engines);
  assert.ok(done.type === 'done');
  assert.equal(done.id, 1);
  assert.deepEqual(done.outcome.result.unit2gpu, solveLayerTask(task, engines).result.unit2gpu);

  const bad = answerTask({ id: 2, task: taskFor(LLAMA_LAYERS[0], 'nope' as never) }, engines);
  assert.deepEqual(bad, {
    type: 'rejected',
    id: 2,
    error: { code: 'INVALID_PROBLEM', message: 'unknown engine "nope"', pointer: '/solver/engine', rule: 'enum' },
  });

  const broken: LayerEngine = {
    name: 'search',
    solveLayer: () => {
      throw new TypeError('boom');
    },
  };
  const failed = answerTask({ id: 3, task: taskFor(LLAMA_LAYERS[0], 'search') }, { ...engines, search: broken });
  assert.deepEqual(failed, { type: 'failed', id: 3, message: 'TypeError: boom' });
});
