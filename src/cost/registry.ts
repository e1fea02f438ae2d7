/**
 * Which cost model a name means: "analytic", a calibration in models/calibrations/<name>.json, or
 * (no name) the default, which is the calibration committed for this machine when there is one
 * and the analytic model otherwise. The one place that resolves cost models.
 *
 * "This machine" is matched by name: a calibration named `<machineKey()>-<backend>` (for example
 * node20-x64-2core-webasm), backends tried in the order webgpu, webasm, cpu.
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

/** The calibration name the default cost model uses on this machine, or null when none is committed. */
export function defaultCalibrationName(dir: string = CALIBRATIONS_DIR): string | null {
  const known = listCalibrations(dir);
  const key = machineKey();
  return BACKEND_PREFERENCE.map((backend) => `${key}-${backend}`).find((name) => known.includes(name)) ?? null;
}

/** The calibrated model of this machine's committed calibration, else the analytic model. */
export function defaultCostModel(dir: string = CALIBRATIONS_DIR): CostModel {
  const name = defaultCalibrationName(dir);
  return name === null ? ANALYTIC_COST_MODEL : createCalibratedCostModel(loadCalibration(name, dir));
}

/**
 * The cost model for a name: "analytic", a calibration name (or "calibrated:<name>", as plans
 * spell it), or undefined for the default. Throws UNKNOWN_CALIBRATION for an unknown name.
 */
export function resolveCostModel(name?: string, dir: string = CALIBRATIONS_DIR): CostModel {
  if (name === undefined) return defaultCostModel(dir);
  if (name === ANALYTIC_COST_MODEL.name) return ANALYTIC_COST_MODEL;
  const calibration = name.startsWith('calibrated:') ? name.slice('calibrated:'.length) : name;
  return createCalibratedCostModel(loadCalibration(calibration, dir));
}
