import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { HplbError } from '../../src/errors.ts';
import { loadProfile, loadRegistry, modelsDir, validateProfile } from '../../src/profiles/registry.ts';
import { tinyProfile } from './inline-profile.ts';

const EXPECTED = [
  { id: 'llama-2-7b-32k-instruct-duo', layers: 32, heads: 32 },
  { id: 'llama-3-70b-instruct-262k-minference', layers: 80, heads: 64 },
  { id: 'llama-3-8b-instruct-262k-minference', layers: 32, heads: 32 },
  { id: 'llama-3-8b-instruct-gradient-1048k-duo', layers: 32, heads: 32 },
  { id: 'llama-3.1-8b-instruct-128k-minference', layers: 32, heads: 32 },
  { id: 'mistral-7b-instruct-v0.2-duo', layers: 32, heads: 32 },
  { id: 'qwen2.5-14b-instruct-1m-minference', layers: 48, heads: 40 },
  { id: 'qwen2.5-32b-instruct-128k-minference', layers: 64, heads: 40 },
  { id: 'qwen2.5-7b-instruct-128k-minference', layers: 28, heads: 28 },
];

const registry = loadRegistry();
const work = mkdtempSync(join(tmpdir(), 'hplb-registry-'));
after(() => rmSync(work, { recursive: true, force: true }));

function expectInvalid(run: () => unknown, pointer: string, mention: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof HplbError, String(err));
    assert.equal(err.code, 'INVALID_PROFILE');
    assert.equal(err.pointer, pointer);
    assert.match(err.message, mention);
    return true;
  });
}

describe('the committed profiles', () => {
  it('are exactly the nine converted ones, sorted by id, with their shapes', () => {
    assert.deepEqual(
      registry.list().map((p) => ({ id: p.id, layers: p.architecture.layers, heads: p.architecture.queryHeads })),
      EXPECTED,
    );
  });

  it('each validates against models/profile.schema.json with a plain Ajv2020 (no project code)', () => {
    const schema = JSON.parse(readFileSync(join(modelsDir(), 'profile.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (const { id } of EXPECTED) {
      const value = JSON.parse(readFileSync(join(modelsDir(), `${id}.json`), 'utf8')) as unknown;
      assert.ok(validate(value), `${id}: ${JSON.stringify(validate.errors)}`);
    }
  });
});

describe('ModelRegistry.resolve', () => {
  it('finds a profile by id', () => {
    assert.equal(registry.resolve('qwen2.5-14b-instruct-1m-minference').architecture.layers, 48);
  });

  it('loads a profile by path, also one outside models/', () => {
    const path = join(work, 'tiny.json');
    writeFileSync(path, JSON.stringify(tinyProfile()));
    assert.equal(registry.resolve(path).id, 'tiny-test');
    assert.equal(
      registry.resolve(join(modelsDir(), 'mistral-7b-instruct-v0.2-duo.json')).id,
      'mistral-7b-instruct-v0.2-duo',
    );
  });

  for (const unknown of ['gpt-5', join(work, 'absent.json')]) {
    it(`answers UNKNOWN_MODEL listing the known ids for ${JSON.stringify(unknown)}`, () => {
      assert.throws(
        () => registry.resolve(unknown),
        (err: unknown) =>
          err instanceof HplbError &&
          err.code === 'UNKNOWN_MODEL' &&
          err.status === 404 &&
          EXPECTED.every(({ id }) => err.message.includes(id)),
      );
    });
  }

  it('get returns undefined for an unknown id', () => {
    assert.equal(registry.get('gpt-5'), undefined);
  });
});

describe('loadRegistry', () => {
  it('refuses two files with the same id, naming both', () => {
    const dir = join(work, 'duplicates');
    mkdirSync(dir);
    copyFileSync(join(modelsDir(), 'profile.schema.json'), join(dir, 'profile.schema.json'));
    for (const name of ['a.json', 'b.json']) writeFileSync(join(dir, name), JSON.stringify(tinyProfile()));
    assert.throws(
      () => loadRegistry(dir),
      (err: unknown) => err instanceof HplbError && /b\.json.*"tiny-test".*a\.json/.test(err.message),
    );
  });
});

/** A profile as plain JSON, for cases that break it on purpose. */
type EditableProfile = { budgets: unknown[][]; architecture: Record<string, unknown>; [field: string]: unknown };

describe('validateProfile', () => {
  it('accepts a valid inline profile and returns it', () => {
    const p = tinyProfile();
    assert.equal(validateProfile(p), p);
  });

  const cases: { name: string; edit: (p: EditableProfile) => void; pointer: string; mention: RegExp }[] = [
    {
      name: 'budget missing a number',
      edit: (p) => (p.budgets[1][2] = { kind: 'vertical_slash', vertical: 10 }),
      pointer: '/budgets/1/2',
      mention: /slash/,
    },
    {
      name: 'unknown budget kind',
      edit: (p) => (p.budgets[0][3] = { kind: 'dense' }),
      pointer: '/budgets/0/3/kind',
      mention: /vertical_slash/,
    },
    {
      name: 'extra field in a budget',
      edit: (p) => (p.budgets[0][1] = { kind: 'full', tokens: 5 }),
      pointer: '/budgets/0/1/tokens',
      mention: /not an allowed property/,
    },
    {
      name: 'negative size',
      edit: (p) => (p.budgets[0][0] = { kind: 'vertical_slash', vertical: -1, slash: 9 }),
      pointer: '/budgets/0/0/vertical',
      mention: />= 0/,
    },
    {
      name: 'fractional size',
      edit: (p) => (p.budgets[0][2] = { kind: 'streaming', sink: 4, recent: 6.5 }),
      pointer: '/budgets/0/2/recent',
      mention: /integer/,
    },
    {
      name: 'extra top-level field',
      edit: (p) => (p.costs = []),
      pointer: '/costs',
      mention: /not an allowed property/,
    },
    { name: 'provenance missing', edit: (p) => delete p.provenance, pointer: '', mention: /provenance/ },
    { name: 'id not lower-case kebab', edit: (p) => (p.id = 'Tiny_Test'), pointer: '/id', mention: /pattern/ },
    {
      name: 'a layer with too few heads',
      edit: (p) => p.budgets[1].pop(),
      pointer: '/budgets/1',
      mention: /3 heads, architecture.queryHeads is 4/,
    },
    {
      name: 'fewer layers than the architecture',
      edit: (p) => p.budgets.pop(),
      pointer: '/budgets',
      mention: /1 layers, architecture.layers is 2/,
    },
    {
      name: 'sourceScores of another shape',
      edit: (p) =>
        (p.sourceScores = [
          [1, 2, 3, 4],
          [1, 2, 3],
        ]),
      pointer: '/sourceScores/1',
      mention: /3 heads/,
    },
    {
      name: 'queryHeads not a multiple of kvHeads',
      edit: (p) => (p.architecture.kvHeads = 3),
      pointer: '/architecture/kvHeads',
      mention: /not a multiple/,
    },
    {
      name: 'version not matching the content',
      edit: (p) => (p.budgets[1][0] = { kind: 'streaming', sink: 4, recent: 60 }),
      pointer: '/version',
      mention: /content hash/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with pointer ${JSON.stringify(c.pointer)}`, () => {
      const p = structuredClone(tinyProfile()) as unknown as EditableProfile;
      c.edit(p);
      expectInvalid(() => validateProfile(p), c.pointer, c.mention);
    });
  }
});

describe('loadProfile', () => {
  it('names the file and the pointer of an invalid profile', () => {
    const path = join(work, 'bad-kind.json');
    const p = structuredClone(tinyProfile()) as unknown as EditableProfile;
    p.budgets[1][3] = { kind: 'dense' };
    writeFileSync(path, JSON.stringify(p));
    expectInvalid(
      () => loadProfile(path),
      '/budgets/1/3/kind',
      new RegExp(`${path.replaceAll('.', '\\.')} at /budgets/1/3/kind`),
    );
  });

  it('names the file when it is not JSON', () => {
    const path = join(work, 'broken.json');
    writeFileSync(path, '{"id": ');
    expectInvalid(() => loadProfile(path), '', /broken\.json: not valid JSON/);
  });
});

describe('models/README.md', () => {
  it('lists every committed profile', () => {
    const readme = readFileSync(join(modelsDir(), 'README.md'), 'utf8');
    for (const { id } of EXPECTED) assert.ok(readme.includes(`| \`${id}\` |`), `${id} missing from models/README.md`);
  });
});
