/**
 * The dependency rules of src/ (docs/architecture.md), checked on the real import graph by
 * dependency-cruiser, type-only imports included, so that a cycle or an impure solver import fails
 * `npm test` the moment it is written.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The folders that hold the rest of the service, the tooling and the I/O: none of them is the solver's business. */
const NOT_SOLVER =
  '^src/(apply|budgets|cli|contract|eval|http|kernel|planner|pool|safetensors|store)/|^src/(server|config)\\.ts$';

const RULES: IForbiddenRuleType[] = [
  {
    name: 'no-folder-cycle',
    comment: 'The folders under src/ depend on each other one way (kernel -> cost, never back).',
    severity: 'error',
    scope: 'folder',
    from: { path: '^src/[^/]+/?$' },
    to: { path: '^src/[^/]+/?$', circular: true },
  },
  {
    name: 'no-runtime-cycle',
    comment: 'No module reaches itself through value imports: ESM evaluation order would decide what it sees.',
    severity: 'error',
    from: { path: '^src/' },
    to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
  },
  {
    name: 'no-http-cycle',
    comment: 'The HTTP layer has no module cycle at all, type-only ones included (RouteContext has its own module).',
    severity: 'error',
    from: { path: '^src/http/' },
    to: { path: '^src/http/', circular: true },
  },
  {
    name: 'solver-is-pure',
    comment: 'The solver core does no I/O and knows nothing of HTTP, caching or threads.',
    severity: 'error',
    from: { path: '^src/solver/' },
    to: { path: '^(fs|fs/promises|worker_threads)$|(^|/)node_modules/(express|lru-cache)/' },
  },
  {
    name: 'solver-is-a-core',
    comment: 'The solver depends only on the cost model, the profiles and the leaf modules.',
    severity: 'error',
    from: { path: '^src/solver/' },
    to: { path: NOT_SOLVER },
  },
];

async function cruiseSource(): Promise<ICruiseResult> {
  const previous = process.cwd();
  // dependency-cruiser names modules relative to the working directory, which the rules' paths assume
  process.chdir(ROOT);
  try {
    const { output } = await cruise(['src'], {
      validate: true,
      ruleSet: { forbidden: RULES },
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
    });
    return output as ICruiseResult;
  } finally {
    process.chdir(previous);
  }
}

function sourceFiles(): string[] {
  return (readdirSync(resolve(ROOT, 'src'), { recursive: true }) as string[])
    .filter((path) => path.endsWith('.ts'))
    .map((path) => `src/${path.replaceAll('\\', '/')}`);
}

describe('architecture', () => {
  it('src/ keeps its dependency rules: no folder cycle, no runtime cycle, no HTTP cycle, a pure solver core', async () => {
    const result = await cruiseSource();
    // a cruise that could not parse TypeScript would see no modules and report no violation
    const seen = new Set(result.modules.map((module) => module.source));
    assert.deepEqual(
      sourceFiles().filter((path) => !seen.has(path)),
      [],
      'every source file is in the graph',
    );
    const violations = result.summary.violations.map((violation) => {
      const cycle = violation.cycle?.map((step) => step.name).join(' -> ');
      return `${violation.rule.name}: ${violation.from} -> ${violation.to}${cycle ? ` (cycle ${cycle})` : ''}`;
    });
    assert.deepEqual(violations, []);
  });
});
