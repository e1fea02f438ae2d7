/**
 * Converts the published per-head data in ../shared/data into models/<id>.json.
 *
 *   npm run import-profiles                 # write changed profiles
 *   npm run import-profiles -- --check      # exit 1 and list the profiles that would change
 *   npm run import-profiles -- --data DIR --out DIR
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { HplbError } from '../src/errors.ts';
import { formatProfileJson } from '../src/profiles/convert.ts';
import { convertDataDir } from '../src/profiles/source-data.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function main(): number {
  const values = new Command('import-profiles')
    .description('convert the published per-head data (MInference, DuoAttention) into models/<id>.json')
    .option(
      '--data <dir>',
      'the published data, laid out as minference/ and duo-attention/',
      join(REPO_ROOT, '..', 'shared', 'data'),
    )
    .option('--out <dir>', 'where the profiles go', join(REPO_ROOT, 'models'))
    .option('--check', 'write nothing; exit 1 and list the profiles that would change', false)
    .parse()
    .opts<{ data: string; out: string; check: boolean }>();
  const dataDir = resolve(values.data);
  const outDir = resolve(values.out);
  // Headers name the data folder relative to the repository, so they read the same on every machine.
  const dataLabel = relative(REPO_ROOT, dataDir).split(sep).join('/');

  const profiles = convertDataDir(dataDir, dataLabel);
  const changed = profiles
    .map((profile) => ({ path: join(outDir, `${profile.id}.json`), text: formatProfileJson(profile) }))
    .filter(({ path, text }) => !existsSync(path) || readFileSync(path, 'utf8') !== text);

  if (values.check) {
    if (changed.length === 0) {
      console.log(`${profiles.length} profiles up to date in ${relative(process.cwd(), outDir) || '.'}`);
      return 0;
    }
    console.error(
      `stale profiles (run npm run import-profiles):\n${changed.map(({ path }) => `  ${relative(process.cwd(), path)}`).join('\n')}`,
    );
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  for (const { path, text } of changed) writeFileSync(path, text);
  console.log(
    `${profiles.length} profiles converted, ${changed.length} written to ${relative(process.cwd(), outDir) || '.'}`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  if (!(err instanceof HplbError)) throw err;
  console.error(`import-profiles: ${err.message}`);
  process.exitCode = 2;
}
