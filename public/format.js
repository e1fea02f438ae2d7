// Number formatting shared by the page's summary, charts and table.

/**
 * A power of 1000 to divide costs by, and how to name it: from the largest value, so that it
 * reads as 1 to 999 (e.g. { factor: 1e9, label: '1e9 token-pairs' }).
 */
export function chooseScale(largest, unit) {
  const exponent = largest > 0 ? Math.max(0, 3 * Math.floor(Math.log10(largest) / 3)) : 0;
  const named = unit === 'us' ? { 3: 'ms', 6: 's' }[exponent] : undefined;
  return { factor: 10 ** exponent, label: named ?? (exponent === 0 ? unit : `1e${exponent} ${unit}`) };
}

/** About four significant digits, never an exponent. */
export function scaled(value, scale) {
  const v = value / scale.factor;
  const a = Math.abs(v);
  return v.toFixed(a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3);
}

/** "1.450×". */
export function times(ratio) {
  return `${ratio.toFixed(3)}×`;
}

/** "12.3%"; `digits` decimals. */
export function percent(share, digits = 1) {
  return `${(share * 100).toFixed(digits)}%`;
}

/** "optimal 31, within_tolerance 1": layers by status, statuses sorted by name. */
export function statusCounts(layers) {
  const counts = new Map();
  for (const layer of layers) counts.set(layer.status, (counts.get(layer.status) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
}
