/**
 * Number formatting for the generated report and plots: fixed digits only (never locale or
 * exponent notation), so the same numbers always give the same bytes.
 */

/** A power of 1000 that times are divided by, and how headers name it, e.g. "1e9 token-pairs". */
export interface TimeScale {
  readonly factor: number;
  readonly label: string;
}

/** Units whose powers of 1000 have names of their own (calibrated cost models time in microseconds). */
const NAMED_MULTIPLES: Readonly<Record<string, Readonly<Record<number, string>>>> = { us: { 3: 'ms', 6: 's' } };

/** The largest power of 1000 not above the smallest positive value, so every scaled value is >= 1. */
export function chooseScale(values: readonly number[], unit: string): TimeScale {
  const positive = values.filter((v) => v > 0);
  const smallest = positive.length ? Math.min(...positive) : 1;
  const exponent = Math.max(0, 3 * Math.floor(Math.log10(smallest) / 3));
  const label = NAMED_MULTIPLES[unit]?.[exponent] ?? (exponent === 0 ? unit : `1e${exponent} ${unit}`);
  return { factor: 10 ** exponent, label };
}

/** toFixed without "-0.00". */
export function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** Four or so significant digits without exponents: 1234.5, 123.45, 12.345, 1.2345. */
export function scaled(value: number, scale: TimeScale): string {
  const v = value / scale.factor;
  const digits = Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 10 ? 2 : 3;
  return fixed(v, digits);
}

/** "1.450x". */
export function times(ratio: number): string {
  return `${fixed(ratio, 3)}x`;
}

/** "12.3%". */
export function percent(share: number): string {
  return `${fixed(share * 100, 1)}%`;
}

/** A KV-cache cap as tables write it: "1.000" or "none". */
export function capText(cap: number | null): string {
  return cap === null ? 'none' : fixed(cap, 3);
}

/** Bytes in GiB with two decimals, "n/a" for null. */
export function gib(bytes: number | null): string {
  return bytes === null ? 'n/a' : fixed(bytes / 2 ** 30, 2);
}

/** A ratio that may be missing: "1.450x" or "n/a". */
export function timesOrNa(ratio: number | null): string {
  return ratio === null ? 'n/a' : times(ratio);
}
