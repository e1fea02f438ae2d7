import assert from 'node:assert/strict';
import { it } from 'node:test';
import { si } from '../../src/cli/format.ts';

it('si: three significant digits and the unit the rounded value belongs to', () => {
  const table: [number, string][] = [
    [0, '0'],
    [12_345, '12.3k'],
    [999.5, '1.00k'],
    [999.6e9, '1.00T'],
    [1e12, '1.00T'],
    [1.5e18, '1.50e+18'],
  ];
  for (const [x, text] of table) assert.equal(si(x), text, String(x));
});
