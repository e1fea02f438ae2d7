import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HplbError } from '../../src/errors.ts';
import { convertDuoAttention } from '../../src/profiles/convert-duo-attention.ts';
import { convertMInference } from '../../src/profiles/convert-minference.ts';

type Entry = [string, number, number, number] | unknown;
type MInferenceData = Record<string, Entry>[];

// Synthetic inputs of the right shape, so these cases run without the source data.
const QWEN_7B = 'Qwen2.5_7B_Instruct_128k_instruct_kv_out_v32_fit_o_best_pattern.json'; // 28 layers x 28 heads
const LLAMA_8B = 'Llama_3_8B_Instruct_262k_kv_out_v32_fit_o_best_pattern.json'; // 32 layers x 32 heads

function minferenceData(layers: number, heads: number): MInferenceData {
  return Array.from({ length: layers }, () =>
    Object.fromEntries(Array.from({ length: heads }, (_, h) => [String(h), ['vertical_and_slash', 1000, 6096, 0.5]])),
  );
}

function expectInvalid(run: () => unknown, mentions: readonly (string | RegExp)[]): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof HplbError, `expected HplbError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_PROFILE');
    for (const m of mentions) {
      if (typeof m === 'string')
        assert.ok(err.message.includes(m), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(m)}`);
      else assert.match(err.message, m);
    }
    return true;
  });
}

describe('convertMInference rejects malformed files with the file, layer and head', () => {
  const cases: {
    name: string;
    file: string;
    edit: (d: MInferenceData) => MInferenceData | unknown;
    mentions: (string | RegExp)[];
  }[] = [
    {
      name: 'unknown pattern',
      file: QWEN_7B,
      edit: (d) => {
        d[3]['5'] = ['block_sparse', 1000, 6096, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 3, head 5', 'unknown pattern "block_sparse"'],
    },
    {
      name: 'ragged layer (last head missing)',
      file: QWEN_7B,
      edit: (d) => {
        delete d[7]['27'];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 7, head 27', 'missing', '27 heads'],
    },
    {
      name: 'missing head index in the middle',
      file: QWEN_7B,
      edit: (d) => {
        delete d[2]['10'];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 2, head 10', 'missing'],
    },
    {
      name: 'extra head index',
      file: QWEN_7B,
      edit: (d) => {
        d[4]['28'] = ['vertical_and_slash', 1000, 6096, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 4, head "28"', 'not a head index 0..27'],
    },
    {
      name: 'head index that is not a number',
      file: QWEN_7B,
      edit: (d) => {
        d[6].x = ['vertical_and_slash', 1000, 6096, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 6, head "x"'],
    },
    {
      name: 'head count that does not match the architecture',
      file: LLAMA_8B,
      edit: () => minferenceData(32, 28),
      mentions: [`minference/${LLAMA_8B}`, 'layer 0, head 28', 'missing', 'architecture 32'],
    },
    {
      name: 'non-numeric vertical_size',
      file: QWEN_7B,
      edit: (d) => {
        d[1]['2'] = ['vertical_and_slash', '1000', 6096, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 1, head 2', 'vertical_size', '"1000"'],
    },
    {
      name: 'non-numeric slash_size',
      file: QWEN_7B,
      edit: (d) => {
        d[27]['0'] = ['vertical_and_slash', 1000, null, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 27, head 0', 'slash_size'],
    },
    {
      name: 'fractional size',
      file: QWEN_7B,
      edit: (d) => {
        d[9]['9'] = ['vertical_and_slash', 10.5, 6096, 0.5];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 9, head 9', 'vertical_size'],
    },
    {
      name: 'entry that is not a 4-element list',
      file: QWEN_7B,
      edit: (d) => {
        d[8]['3'] = ['vertical_and_slash', 1000, 6096];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 8, head 3', '[pattern, vertical_size, slash_size, score]'],
    },
    {
      name: 'non-numeric score',
      file: QWEN_7B,
      edit: (d) => {
        d[0]['0'] = ['vertical_and_slash', 1000, 6096, 'high'];
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 0, head 0', 'score'],
    },
    {
      name: 'wrong layer count',
      file: QWEN_7B,
      edit: (d) => d.slice(0, 27),
      mentions: [`minference/${QWEN_7B}`, '27 layers', 'has 28'],
    },
    {
      name: 'layer that is not an object',
      file: QWEN_7B,
      edit: (d) => {
        d[11] = [] as unknown as Record<string, Entry>;
        return d;
      },
      mentions: [`minference/${QWEN_7B}`, 'layer 11'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = JSON.stringify(c.edit(minferenceData(c.file === QWEN_7B ? 28 : 32, c.file === QWEN_7B ? 28 : 32)));
      expectInvalid(() => convertMInference(c.file, text), c.mentions);
    });
  }

  it('accepts the unedited synthetic input (the cases above fail only for their edit)', () => {
    assert.equal(convertMInference(QWEN_7B, JSON.stringify(minferenceData(28, 28))).budgets.length, 28);
  });

  it('refuses an unknown file name, listing the known ones', () => {
    const file = 'Yi_9B_200k_kv_out_v32_fit_o_best_pattern.json';
    expectInvalid(
      () => convertMInference(file, JSON.stringify(minferenceData(48, 32))),
      [`minference/${file}`, 'unknown MInference file', QWEN_7B],
    );
  });

  it('refuses text that is not JSON, naming the file', () => {
    expectInvalid(() => convertMInference(QWEN_7B, '[{"0": ['), [`minference/${QWEN_7B}`, 'not valid JSON']);
  });
});

describe('convertDuoAttention rejects malformed input with the file, layer and KV head', () => {
  const MODEL = 'Mistral-7B-Instruct-v0.2'; // 32 layers, 8 KV heads
  const TSV = `duo-attention/${MODEL}.full_attention_heads.tsv`;
  const CONFIG = `duo-attention/${MODEL}.config.json`;
  const gates = (): string[][] =>
    Array.from({ length: 32 }, (_, l) => Array.from({ length: 8 }, (_, k) => ((l + k) % 3 === 0 ? '0.9' : '0.1')));
  const config = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      threshold: 0.5,
      sink_size: 128,
      recent_size: 256,
      output_dir: `attn_patterns/${MODEL}/run`,
      ...extra,
    });
  const tsv = (rows: string[][]): string => `${rows.map((r) => r.join('\t')).join('\n')}\n`;
  /** The rows after `change` (which edits them in place). */
  const changed =
    (change: (rows: string[][]) => unknown) =>
    (rows: string[][]): string[][] => {
      change(rows);
      return rows;
    };

  const cases: { name: string; rows?: (r: string[][]) => string[][]; config?: string; mentions: string[] }[] = [
    {
      name: 'row with a missing column',
      rows: changed((r) => r[5].pop()),
      mentions: [TSV, 'layer 5, KV head 7', '7 columns'],
    },
    {
      name: 'row with an extra column',
      rows: changed((r) => r[6].push('0.3')),
      mentions: [TSV, 'layer 6, KV head 8', '9 columns'],
    },
    {
      name: 'gate that is not a number',
      rows: changed((r) => r[3].splice(2, 1, 'abc')),
      mentions: [TSV, 'layer 3, KV head 2', '"abc"'],
    },
    { name: 'empty gate', rows: changed((r) => r[30].splice(0, 1, '')), mentions: [TSV, 'layer 30, KV head 0'] },
    { name: 'missing layer row', rows: (r) => r.slice(1), mentions: [TSV, '31 rows'] },
    { name: 'threshold missing', config: config({ threshold: undefined }), mentions: [CONFIG, '"threshold"'] },
    { name: 'sink_size not an integer', config: config({ sink_size: 'all' }), mentions: [CONFIG, '"sink_size"'] },
    {
      name: 'deployment override it does not interpret',
      config: config({ deploy_recent_size: 1024 }),
      mentions: [CONFIG, '"deploy_recent_size"'],
    },
    {
      name: 'output_dir of another model',
      config: config({ output_dir: 'attn_patterns/Other/run' }),
      mentions: [CONFIG, '"output_dir"'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rows = (c.rows ?? ((r) => r))(gates());
      expectInvalid(() => convertDuoAttention(MODEL, tsv(rows), c.config ?? config()), c.mentions);
    });
  }

  it('accepts the unedited synthetic input and applies the gate rule', () => {
    const p = convertDuoAttention(MODEL, tsv(gates()), config());
    assert.deepEqual(p.budgets[0][0], { kind: 'full' });
    assert.deepEqual(p.budgets[0][4], { kind: 'streaming', sink: 128, recent: 256 });
  });

  it('refuses an unknown model, listing the known ones', () => {
    expectInvalid(
      () => convertDuoAttention('Mistral-7B-Instruct-v0.3', tsv(gates()), config()),
      ['Mistral-7B-Instruct-v0.3', MODEL],
    );
  });
});
