import { Command } from 'commander';
import { join } from 'node:path';
import { applyPlan, MANIFEST_FILE } from '../apply/apply.ts';
import { loadPlan } from '../apply/plan-input.ts';
import { loadRegistry } from '../profiles/registry.ts';
import type { CliIo } from './plan-command.ts';
import { textTable } from './format.ts';
import { DEFAULT_SERVICE_URL } from './options.ts';

interface ApplyFlags {
  plan: string;
  checkpoint: string;
  out: string;
  expandKv?: boolean;
  allowExtraKv?: boolean;
  minferenceConfig?: string;
  duoAttention?: string;
  service: string;
  json?: boolean;
}

export function applyCommand(io: CliIo): Command {
  return new Command('apply')
    .description('rewrite a Hugging Face checkpoint so that contiguous tensor-parallel sharding yields the plan')
    .requiredOption('--plan <plan.json|planId>', 'a Plan JSON file, or the id of a plan stored by the service')
    .requiredOption('--checkpoint <dir>', 'config.json plus model.safetensors, or shards and their index')
    .requiredOption('--out <dir>', 'output folder (must not exist)')
    .option('--expand-kv', 'for a query-head plan on a GQA model: duplicate KV heads as needed instead of refusing')
    .option(
      '--allow-extra-kv',
      "with --expand-kv: write the checkpoint even when the engine's query-to-KV mapping needs more KV copies than the plan stores",
    )
    .option('--minference-config <file>', 'MInference per-head config (JSON list of layers) to rewrite')
    .option('--duo-attention <dir>', 'DuoAttention pattern folder (full_attention_heads.tsv, config.json) to rewrite')
    .option('--service <url>', 'service to fetch a plan id from', DEFAULT_SERVICE_URL)
    .option('--json', 'print the manifest written to the output folder')
    .action(async (flags: ApplyFlags) => {
      const plan = await loadPlan(flags.plan, flags.service);
      const registry = loadRegistry();
      const started = performance.now();
      const result = await applyPlan({
        plan,
        checkpointDir: flags.checkpoint,
        outDir: flags.out,
        expandKv: flags.expandKv,
        allowExtraKv: flags.allowExtraKv,
        minferenceConfig: flags.minferenceConfig,
        duoAttentionDir: flags.duoAttention,
        modelArchitecture: (id) => registry.get(id)?.architecture,
      });
      const seconds = (performance.now() - started) / 1000;
      const { manifest } = result;
      if (flags.json) {
        io.out(`${JSON.stringify(manifest, null, 2)}\n`);
        return;
      }
      const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
      const { source, output } = manifest;
      const rows = output.files.map((f) => [f.path, mb(f.bytes), f.sha256.slice(0, 16)]);
      io.out(`${textTable(['file', 'MB', 'sha256'], rows)}\n`);
      io.out(
        `plan ${manifest.planId} (${manifest.granularity}) applied to ${manifest.modelType}: ` +
          `${manifest.layers.length} layers, ${output.queryHeads} query heads, KV heads ${source.kvHeads} -> ` +
          `${output.kvHeads} (per-GPU KV cache x${output.kvCacheFactor}${planFactorNote(output)})\n` +
          `run it with tensor-parallel size ${manifest.tensorParallelSize}; ` +
          `manifest: ${join(flags.out, MANIFEST_FILE)}\n` +
          `read ${mb(result.bytesRead)} MB of tensors, wrote ${mb(result.bytesWritten)} MB ` +
          `in ${seconds.toFixed(2)} s ` +
          `(${mb(result.bytesRead / seconds)} MB/s), peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} MB\n`,
      );
      if (manifest.skipped.length > 0) io.out(`not carried over: ${manifest.skipped.join(', ')}\n`);
    });
}

/** When the checkpoint holds more KV than the plan stores, how much: the engine's mapping forces copies. */
function planFactorNote(output: { kvCacheFactor: number; planKvCacheFactor: number }): string {
  if (output.kvCacheFactor === output.planKvCacheFactor) return '';
  const plan = Number(output.planKvCacheFactor.toFixed(3));
  return `; the plan stores x${plan}: the engine's fixed query-to-KV mapping needs the extra copies`;
}
