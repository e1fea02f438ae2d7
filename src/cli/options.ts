/**
 * Value parsers for commander options, shared by the CLI, the scripts and the benches (every one
 * of them parses its arguments with commander). Each throws commander's InvalidArgumentError, which
 * commander reports as "error: option '--x <n>' argument 'y' is invalid. <message>" with exit 1.
 */
import { InvalidArgumentError } from 'commander';

/** A parser of integers >= `min`. */
function integerAtLeast(min: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

/** An integer >= 1. */
export const positiveInt = integerAtLeast(1);

/** An integer >= 0. */
export const nonNegativeInt = integerAtLeast(0);

/** A finite number >= 0. */
export function nonNegative(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

/** A finite number. */
export function finite(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/** Comma-separated numbers > 0, e.g. GPU speeds "1,1,0.5". */
export function positiveList(text: string): number[] {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isFinite(x) || x <= 0))
    throw new InvalidArgumentError('expected comma-separated numbers > 0');
  return xs;
}

/** Comma-separated integers >= 1, e.g. budgets "64,128,256". */
export function positiveIntList(text: string): number[] {
  const xs = text.split(',').map((part) => Number(part.trim()));
  if (!xs.every((x) => Number.isInteger(x) && x >= 1))
    throw new InvalidArgumentError('expected comma-separated integers >= 1');
  return xs;
}

/** Default address of the service a plan id is fetched from (npm start's). */
export const DEFAULT_SERVICE_URL = 'http://localhost:8080';
