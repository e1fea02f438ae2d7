/**
 * What some suites need from outside the repository. Without it a suite is skipped through the
 * runner's own skip, so the summary counts it ("skipped N"); when the CI variable is set the suite
 * fails instead, saying what to install, so a CI machine never passes by testing less.
 */
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';

export interface Requirement {
  /** Whether it is here. */
  readonly present: boolean;
  /** What is missing, e.g. "/usr/bin/chromium is not installed". */
  readonly missing: string;
  /** How to get it. */
  readonly install: string;
}

/** CI=true (or any value but "", "0" or "false"), as CI services set it. */
export const IN_CI = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM: Requirement = {
  present: existsSync(CHROMIUM_PATH),
  missing: `${CHROMIUM_PATH} is not installed`,
  install: "install Debian's chromium: apt-get install -y --no-install-recommends chromium",
};

export const REDIS_SERVER_PATH = '/usr/bin/redis-server';

export const REDIS_SERVER: Requirement = {
  present: existsSync(REDIS_SERVER_PATH),
  missing: `${REDIS_SERVER_PATH} is not installed`,
  install:
    "install Debian's redis-server (the tests start their own): apt-get install -y --no-install-recommends redis-server",
};

/** The published per-head data the profiles are converted from, next to the checkout. */
export function sourceData(dir: string): Requirement {
  return {
    present: existsSync(dir),
    missing: `the source data is not at ${dir}`,
    install: 'put the published MInference and DuoAttention files there (sources and commits: models/README.md)',
  };
}

/**
 * describe(name, options, fn) when the requirement is present; otherwise one test of that name,
 * skipped (outside CI) or failing with what to install (in CI). Hooks inside `fn` never run then.
 */
export function describeRequiring(
  requirement: Requirement,
  name: string,
  options: { timeout?: number },
  fn: () => void,
): void {
  if (requirement.present) {
    describe(name, options, fn);
    return;
  }
  const reason = `${requirement.missing}; ${requirement.install}`;
  if (IN_CI)
    it(name, () => {
      throw new Error(`CI is set and ${reason}`);
    });
  else it(name, { skip: reason }, () => undefined);
}
