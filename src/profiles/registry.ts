/**
 * Loading and validating model profiles: against models/profile.schema.json (ajv, compiled once per
 * process) plus the checks a schema cannot express, and a registry of the profiles in models/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { HplbError } from '../errors.ts';
import type { Profile } from './profile.ts';
import { profileVersion } from './version.ts';

const SCHEMA_FILE = 'profile.schema.json';

/**
 * The repository's models/ folder. Found relative to this module, which sits two levels below the
 * repository root both as src/profiles/registry.ts (tsx) and as dist/profiles/registry.js (tsc).
 */
export function modelsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
}

let compiledSchema: ValidateFunction | undefined;

/** The schema validator, compiled on first use and kept: compiling costs far more than validating. */
function schemaValidator(): ValidateFunction {
  if (compiledSchema === undefined) {
    const schema = JSON.parse(readFileSync(join(modelsDir(), SCHEMA_FILE), 'utf8')) as object;
    // discriminator: budget errors then come from the branch the "kind" names, not from all three.
    compiledSchema = new Ajv2020({ discriminator: true, strict: true }).compile(schema);
  }
  return compiledSchema;
}

/** "where at /pointer" for messages; "" is the JSON pointer of the whole document. */
const located = (where: string, pointer: string): string => (pointer === '' ? where : `${where} at ${pointer}`);

const escapePointerToken = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

function schemaError(error: ErrorObject, where: string): HplbError {
  // An unexpected property is best pointed at itself rather than at the object holding it.
  const pointer =
    error.keyword === 'additionalProperties'
      ? `${error.instancePath}/${escapePointerToken(String(error.params.additionalProperty))}`
      : error.instancePath;
  let message = error.message ?? 'is not valid';
  if (error.keyword === 'additionalProperties') message = 'is not an allowed property';
  if (error.keyword === 'enum')
    message += `: ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return new HplbError('INVALID_PROFILE', `${located(where, pointer)}: ${message}`, { pointer, rule: error.keyword });
}

/**
 * Checks an in-memory value (e.g. an inline profile sent over HTTP) against the profile schema and
 * the semantic rules: budgets and sourceScores are [architecture.layers][architecture.queryHeads],
 * queryHeads is a multiple of kvHeads, and version equals profileVersion(architecture, budgets)
 * (a wrong version would let two different profiles share plan ids). Returns the value typed as a
 * Profile; throws HplbError('INVALID_PROFILE') with the JSON pointer of the first problem.
 * `where` names the profile in messages, e.g. its file path.
 */
export function validateProfile(value: unknown, where = 'profile'): Profile {
  const validate = schemaValidator();
  if (!validate(value)) throw schemaError(validate.errors![0], where);
  return checkProfileRules(value as Profile, where);
}

/**
 * The semantic rules of validateProfile alone, for a value already checked against the schema
 * (an HTTP body validated against openapi.yaml's copy of it).
 */
export function checkProfileRules(profile: Profile, where = 'profile'): Profile {
  const fail = (pointer: string, message: string): never => {
    throw new HplbError('INVALID_PROFILE', `${located(where, pointer)}: ${message}`, { pointer });
  };
  const { layers, queryHeads, kvHeads } = profile.architecture;
  if (queryHeads % kvHeads !== 0)
    fail('/architecture/kvHeads', `queryHeads ${queryHeads} is not a multiple of kvHeads ${kvHeads}`);
  const checkShape = (name: 'budgets' | 'sourceScores', rows: readonly (readonly unknown[])[]): void => {
    if (rows.length !== layers) fail(`/${name}`, `has ${rows.length} layers, architecture.layers is ${layers}`);
    rows.forEach((row, layer) => {
      if (row.length !== queryHeads)
        fail(`/${name}/${layer}`, `has ${row.length} heads, architecture.queryHeads is ${queryHeads}`);
    });
  };
  checkShape('budgets', profile.budgets);
  if (profile.sourceScores !== undefined) checkShape('sourceScores', profile.sourceScores);
  const version = profileVersion(profile.architecture, profile.budgets);
  if (profile.version !== version)
    fail('/version', `is ${profile.version}, but the content hash of {architecture, budgets} is ${version}`);
  return profile;
}

/** Reads and validates one profile file; errors name the file and carry a JSON pointer. */
export function loadProfile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HplbError('INVALID_PROFILE', `${path}: cannot read: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HplbError('INVALID_PROFILE', `${path}: not valid JSON: ${(err as Error).message}`, { pointer: '' });
  }
  return validateProfile(value, path);
}

export interface ModelRegistry {
  /** Every profile, sorted by id. */
  list(): Profile[];
  get(id: string): Profile | undefined;
  /** A profile by id, or by path to a profile file; HplbError('UNKNOWN_MODEL') listing known ids otherwise. */
  resolve(idOrPath: string): Profile;
}

/**
 * Loads every <dir>/*.json except the schema (subfolders such as calibrations/ are not profiles).
 * Any invalid file, or two files with the same id, is an HplbError('INVALID_PROFILE').
 */
export function loadRegistry(dir: string = modelsDir()): ModelRegistry {
  const byId = new Map<string, { profile: Profile; path: string }>();
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json') && entry.name !== SCHEMA_FILE)
    .map((entry) => join(dir, entry.name))
    .sort();
  for (const path of files) {
    const profile = loadProfile(path);
    const seen = byId.get(profile.id);
    if (seen !== undefined) {
      throw new HplbError('INVALID_PROFILE', `${path}: id "${profile.id}" is already used by ${seen.path}`, {
        pointer: '/id',
      });
    }
    byId.set(profile.id, { profile, path });
  }
  const sorted = [...byId.values()]
    .map(({ profile }) => profile)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    list: () => [...sorted],
    get: (id) => byId.get(id)?.profile,
    resolve(idOrPath) {
      const known = byId.get(idOrPath)?.profile;
      if (known !== undefined) return known;
      if (idOrPath.endsWith('.json') && existsSync(idOrPath)) return loadProfile(idOrPath);
      throw new HplbError(
        'UNKNOWN_MODEL',
        `no model with id "${idOrPath}" and no profile file at that path; known ids: ${sorted.map((p) => p.id).join(', ')}`,
      );
    },
  };
}
