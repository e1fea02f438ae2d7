/**
 * Which cost model a name means: "analytic", a calibration in models/calibrations/<name>.json, or
 * (no name) the default: the committed calibration when there is one, else the analytic model.
 * The one place that resolves cost models.
 *
 * The default does not depend on the machine that runs the service: a calibration describes the
 * device it was measured on, and the same request must give the same plan (and plan id)
 * everywhere. With several calibrations, backends are preferred in the order webgpu, webasm, cpu,
 * then names in order. Loaded calibrations are kept, so resolving is cheap on every request.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANALYTIC_COST_MODEL, type CostModel } from './cost-model.ts';
import { CALIBRATION_NAME, createCalibratedCostModel, validateCalibration, type Calibration } from './calibrated.ts';
import { HplbError } from '../errors.ts';

/** models/calibrations of the repository, from src/cost or dist/cost alike. */
export const CALIBRATIONS_DIR = fileURLToPath(new URL('../../models/calibrations/', import.meta.url));

/** Backends in the order the default prefers their calibrations. */
const BACKEND_PREFERENCE = ['webgpu', 'webasm', 'cpu'] as const;

/** Names of the calibrations in `dir`, sorted. */
export function listCalibrations(dir: string = CALIBRATIONS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .filter((name) => CALIBRATION_NAME.test(name))
    .sort();
}

/**
 * Reads and validates models/calibrations/<name>.json. Throws UNKNOWN_CALIBRATION (listing the
 * known names) when there is none, INTERNAL when the file is not a valid calibration.
 */
export function loadCalibration(name: string, dir: string = CALIBRATIONS_DIR): Calibration {
  const known = listCalibrations(dir);
  if (!known.includes(name)) {
    throw new HplbError('UNKNOWN_CALIBRATION',
      `no calibration named "${name}"; known: ${known.length ? known.join(', ') : '(none)'} (and "analytic")`,
      { pointer: '/calibration' });
  }
  const calibration = validateCalibration(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')));
  if (calibration.name !== name) {
    throw new HplbError('INTERNAL', `calibration file ${name}.json names itself "${calibration.name}"`);
  }
  return calibration;
}

/** This machine's calibration key: Node major, architecture and core count, e.g. "node20-x64-2core". */
export function machineKey(): string {
  const major = process.versions.node.split('.')[0];
  return `node${major}-${process.arch}-${cpus().length}core`;
}

/** The calibration name the default cost model uses, or null when none is committed. */
export function defaultCalibrationName(dir: string = CALIBRATIONS_DIR): string | null {
  const known = listCalibrations(dir).map((name) => ({ name, backend: loadCalibration(name, dir).backend as string }));
  const rank = (backend: string) => { const i = (BACKEND_PREFERENCE as readonly string[]).indexOf(backend); return i < 0 ? BACKEND_PREFERENCE.length : i; };
  known.sort((a, b) => rank(a.backend) - rank(b.backend) || (a.name < b.name ? -1 : 1));
  return known[0]?.name ?? null;
}

/** The calibrated model of the committed calibration, else the analytic model. */
export function defaultCostModel(dir: string = CALIBRATIONS_DIR): CostModel {
  const name = defaultCalibrationName(dir);
  return name === null ? ANALYTIC_COST_MODEL : createCalibratedCostModel(loadCalibration(name, dir));
}

/**
 * The cost model for a name: "analytic", a calibration name (or "calibrated:<name>", as plans
 * spell it), or undefined for the default. Throws UNKNOWN_CALIBRATION for an unknown name.
 */
export function resolveCostModel(name?: string, dir: string = CALIBRATIONS_DIR): CostModel {
  // "X" and "calibrated:X" (as plans spell it) are one model.
  const key = `${dir}\0${name?.startsWith('calibrated:') ? name.slice('calibrated:'.length) : name ?? ''}`;
  const known = resolved.get(key);
  if (known) return known;
  let model: CostModel;
  if (name === undefined) model = defaultCostModel(dir);
  else if (name === ANALYTIC_COST_MODEL.name) model = ANALYTIC_COST_MODEL;
  else model = createCalibratedCostModel(loadCalibration(name.startsWith('calibrated:') ? name.slice('calibrated:'.length) : name, dir));
  resolved.set(key, model);
  return model;
}

/** Resolved cost models by directory and name. Calibrations are committed data: they do not change while a process runs. */
const resolved = new Map<string, CostModel>();
