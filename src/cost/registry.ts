/**
 * Which cost model a name means: "executed-work" (the default, also when no name is given),
 * "roofline:<device>" (microseconds from a device's published peaks, roofline.ts), "analytic"
 * (nominal pairs), or a calibration in models/calibrations/<name>.json ("<name>" or
 * "calibrated:<name>"). The one place that resolves cost models.
 *
 * The default is hardware-neutral executed work (MACs): the same request gives the same plan (and
 * plan id) on every machine, and no device's microseconds are passed off as another's. A
 * calibration is opt-in by name and its costs are labelled with its device. Resolved models are
 * kept per registry directory, so resolving is cheap on every request.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANALYTIC_COST_MODEL, createExecutedWorkCostModel, type CostModel } from './cost-model.ts';
import { CALIBRATION_NAME, createCalibratedCostModel, validateCalibration, type Calibration } from './calibrated.ts';
import { createRooflineCostModel, DEVICES, ROOFLINE_PREFIX, rooflineDevice } from './roofline.ts';
import { HplbError } from '../errors.ts';

/** models/calibrations of the repository, from src/cost or dist/cost alike. */
export const CALIBRATIONS_DIR = fileURLToPath(new URL('../../models/calibrations/', import.meta.url));

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
    throw new HplbError(
      'UNKNOWN_CALIBRATION',
      `no calibration or roofline named "${name}"; calibrations: ${known.length ? known.join(', ') : '(none)'}; rooflines: ${ROOFLINE_NAMES.join(', ')}; and "${DEFAULT_COST_MODEL_NAME}", "analytic"`,
      { pointer: '/calibration' },
    );
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

/** The default cost model: executed work in MACs. */
export const DEFAULT_COST_MODEL_NAME = 'executed-work';

/** Every roofline cost model's name (roofline:<device id>). */
export const ROOFLINE_NAMES: readonly string[] = DEVICES.map((device) => `${ROOFLINE_PREFIX}${device.id}`);

/**
 * The cost model for a name: "executed-work" or undefined (the default), "roofline:<device>",
 * "analytic", a calibration name (or "calibrated:<name>", as plans spell it). Throws
 * UNKNOWN_CALIBRATION for an unknown name.
 * Builds the model afresh (a calibration is read from its file): what answers many requests holds a
 * createCostModelResolver instead.
 */
export function resolveCostModel(name?: string, dir: string = CALIBRATIONS_DIR): CostModel {
  const canonical = canonicalName(name);
  if (canonical === DEFAULT_COST_MODEL_NAME) return createExecutedWorkCostModel();
  if (canonical === ANALYTIC_COST_MODEL.name) return ANALYTIC_COST_MODEL;
  const device = rooflineDevice(canonical);
  if (device) return createRooflineCostModel(device);
  return createCalibratedCostModel(loadCalibration(canonical, dir));
}

/**
 * resolveCostModel that keeps every model it resolves, and with it the model's own work cache:
 * calibrations are committed data and do not change while a process runs. The service's app and
 * the benches each own one.
 */
export function createCostModelResolver(dir: string = CALIBRATIONS_DIR): (name?: string) => CostModel {
  const resolved = new Map<string, CostModel>();
  return (name) => {
    const canonical = canonicalName(name);
    let model = resolved.get(canonical);
    if (!model) {
      model = resolveCostModel(canonical, dir);
      resolved.set(canonical, model);
    }
    return model;
  };
}

/** "X" and "calibrated:X" (as plans spell it) are one model; undefined is the default. */
function canonicalName(name: string | undefined): string {
  if (name === undefined) return DEFAULT_COST_MODEL_NAME;
  return name.startsWith('calibrated:') ? name.slice('calibrated:'.length) : name;
}
