import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { API_TYPES_FILE, generateApiTypes } from '../scripts/gen-api-types.ts';

describe('src/api-types.ts', () => {
  it('is what openapi.yaml generates now (run npm run gen:types when this fails)', async () => {
    const expected = await generateApiTypes();
    assert.equal(readFileSync(API_TYPES_FILE, 'utf8'), expected);
  });
});
