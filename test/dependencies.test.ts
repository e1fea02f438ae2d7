/**
 * The service image installs only package.json's dependencies (npm ci --omit=dev): they must be
 * exactly the packages the service loads, from src/server.ts and the solver worker it starts, so
 * nothing it needs is missing and nothing it never loads (GPU.js, the script helpers) ships.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The server, and the worker file solver-pool.ts starts by URL (which an import scan cannot follow). */
const ENTRIES = ['src/server.ts', 'src/pool/solver-worker.ts'].map((path) => resolve(ROOT, path));
/** Value imports and re-exports (`import type` is erased), and dynamic imports. */
const IMPORT =
  /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Package names of every bare import reachable from the entries through relative imports. */
function loadedPackages(): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const pending = [...ENTRIES];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        assert.ok(existsSync(target), `${file} imports ${specifier}, which does not exist`);
        pending.push(target);
      } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
      }
    }
  }
  return packages;
}

describe('package.json dependencies', () => {
  it('are exactly the packages the service loads', () => {
    const declared = Object.keys(
      (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
        .dependencies,
    );
    assert.deepEqual([...loadedPackages()].sort(), declared.sort());
  });
});
