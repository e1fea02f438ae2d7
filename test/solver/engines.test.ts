import { before, describe } from 'node:test';
import type { GLPK } from 'glpk.js/node';
import { loadGlpk } from '../../src/planner/glpk.ts';
import { constraintViolation } from '../../src/solver/layer-result.ts';
import { contiguousEngine } from '../../src/solver/engines/contiguous.ts';
import { configSearchEngine } from '../../src/solver/engines/config-search.ts';
import { greedyEngine } from '../../src/solver/engines/greedy.ts';
import { createAutoEngine } from '../../src/solver/engines/auto.ts';
import { createIlpEngine } from '../../src/solver/engines/ilp.ts';
import { differencingEngine } from '../../src/solver/engines/differencing.ts';
import { partitionSearchEngine } from '../../src/solver/engines/partition-search.ts';
import { describeEngineCases } from './engine-cases.ts';

const glpk: GLPK = await loadGlpk();

describeEngineCases(contiguousEngine, {
  exact: false,
  mayRefuse: (problem) => {
    const perGpu = Math.ceil(problem.costs.length / problem.speeds.length);
    return constraintViolation(problem, problem.costs.map((_, u) => Math.floor(u / perGpu))) !== null;
  },
});
describeEngineCases(greedyEngine, { exact: false });
describeEngineCases(differencingEngine, { exact: false });
describeEngineCases(configSearchEngine, { exact: true });
describeEngineCases(partitionSearchEngine, { exact: false });
describeEngineCases(createIlpEngine(glpk), { exact: true });
describeEngineCases(createIlpEngine(glpk, 'textbook'), { exact: true });
describeEngineCases(createAutoEngine(glpk), { exact: true });
