/** `iattn attention`: every layer's implicit attention, printed, or exported to safetensors/JSON/SVG/PNG. */
import * as path from 'node:path';
import type { Command } from 'commander';
import { VARIANTS } from '../../implicit/decomposition.js';
import type { Variant } from '../../implicit/decomposition.js';
import { extract, REDUCTIONS } from '../../implicit/extract.js';
import type { Extraction, Reduce } from '../../implicit/extract.js';
import { attentionKey } from '../../implicit/naming.js';
import { runForAttention } from '../../implicit/model-layers.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { CliError } from '../errors.js';
import { indexBelow, integerList, oneOf, positiveNumber } from '../parse.js';
import { addInputOptions, addModelOptions, openModel, printJson, readInputIds } from '../options.js';
import type { InputOptions, ModelOptions } from '../options.js';
import { progressBar } from '../progress.js';
import { tokenLabels } from '../tokens.js';
import { renderAttentionImage } from '../attention-image.js';

interface AttentionOptions extends ModelOptions, InputOptions {
  layer: string;
  variant: string;
  row?: string;
  reduce?: string;
  channel?: string;
  out?: string;
  maxMemory: string;
  json?: boolean;
}

export interface LayerAttention {
  layer: number;
  mixer: string;
  key: string;
  extraction: Extraction;
}

export function registerAttention(program: Command): void {
  const command = program.command('attention').description("extract each layer's implicit attention matrix (Zimerman, Ali & Wolf 2025)");
  addInputOptions(addModelOptions(command))
    .option('--layer <n|all>', 'layer index or "all"', 'all')
    .option('--variant <name>', `formulation: ${VARIANTS.join(', ')}`, 'paper')
    .option('--row <t|last>', 'only the query row t (O(L) memory per channel) instead of full L×L matrices')
    .option('--reduce <how>', `${REDUCTIONS.join(', ')} (default: none for .safetensors/.json files, mean-abs otherwise)`)
    .option('--channel <list>', 'comma-separated channels (heads for attention layers, cores for --variant hidden)')
    .option('--out <file>', 'write .safetensors, .json, .svg or .png')
    .option('--max-memory <MiB>', 'refuse results larger than this', '1024')
    .option('--json', 'print one JSON document (summary, or everything with --out FILE.json)')
    .action((options: AttentionOptions) => runAttention(options));
}

function runAttention(options: AttentionOptions): void {
  const variant = oneOf(options.variant, VARIANTS, '--variant');
  const format = options.out === undefined ? 'terminal' : outputFormat(options.out);
  const reduce = oneOf(options.reduce ?? (format === 'safetensors' || format === 'json' ? 'none' : 'mean-abs'), REDUCTIONS, '--reduce');
  const memoryBudget = positiveNumber(options.maxMemory, '--max-memory') * 1024 * 1024;
  const channels = options.channel === undefined ? undefined : integerList(options.channel, '--channel');
  const loaded = openModel(options);
  const ids = readInputIds(options, loaded);
  const L = ids.length;
  const row = options.row === undefined ? undefined : options.row === 'last' ? L - 1 : indexBelow(options.row, '--row', L);
  const run = runForAttention(loaded.model, ids, 1, L);
  const layers = options.layer === 'all' ? run.layers : [indexBelow(options.layer, '--layer', loaded.model.numLayers)];
  const bar = progressBar('attention', 'layers');
  const results: LayerAttention[] = layers.map((layer, i) => {
    const d = run.decompose(layer);
    const extraction = extract(d, { variant, reduce, row, channels, memoryBudget, dtype: loaded.model.dtype });
    bar.update(i + 1, layers.length);
    return { layer, mixer: d.mixer, key: attentionKey(layer, variant, reduce, row, L), extraction };
  });
  bar.stop();
  const labels = tokenLabels(loaded, ids);
  if (format === 'terminal') return printSummary(results, labels, row, options.json === true, variant, reduce);
  const out = options.out!;
  if (format === 'safetensors') writeSafetensors(out, tensorsOf(results, ids, variant, reduce, row));
  else if (format === 'json') writeFileAtomic(out, JSON.stringify(jsonOf(results, labels, variant, reduce, row)));
  else writeFileAtomic(out, renderAttentionImage(results, labels, { variant, reduce, row, format, model: path.basename(loaded.dir) }));
  const written = { out, format, layers: results.map((r) => ({ layer: r.layer, key: r.key, shape: r.extraction.shape })) };
  if (options.json) printJson(written);
  else process.stdout.write(`wrote ${out} (${results.length} layer${results.length === 1 ? '' : 's'}: ${results.map((r) => r.key).join(', ')})\n`);
}

type Format = 'safetensors' | 'json' | 'svg' | 'png';

function outputFormat(file: string): Format {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === 'safetensors' || ext === 'json' || ext === 'svg' || ext === 'png') return ext;
  throw new CliError(`--out must end in .safetensors, .json, .svg or .png, got '${file}'`);
}

function tensorsOf(results: LayerAttention[], ids: Int32Array, variant: Variant, reduce: Reduce, row: number | undefined) {
  const tensors: Parameters<typeof writeSafetensors>[1] = {
    input_ids: { dtype: 'I64', shape: [1, ids.length], data: BigInt64Array.from(ids, (v) => BigInt(v)) },
  };
  for (const r of results) {
    const dtype = r.extraction.data instanceof Float64Array ? 'F64' : 'F32';
    tensors[r.key] = { dtype, shape: r.extraction.shape, data: r.extraction.data };
    if (r.extraction.bias !== undefined && variant === 'exact' && reduce === 'none' && row === undefined) {
      tensors[`attn.${r.layer}.exact_bias`] = { dtype, shape: [1, ids.length, r.extraction.bias.length / ids.length], data: r.extraction.bias };
    }
  }
  return tensors;
}

function jsonOf(results: LayerAttention[], labels: string[], variant: Variant, reduce: Reduce, row: number | undefined) {
  return {
    tokens: labels,
    variant,
    reduce,
    row: row ?? null,
    layers: results.map((r) => ({ layer: r.layer, mixer: r.mixer, key: r.key, shape: r.extraction.shape, data: Array.from(r.extraction.data) })),
  };
}

/** Per layer: the source tokens the last (or chosen) query row attends to most. */
function printSummary(results: LayerAttention[], labels: string[], row: number | undefined, json: boolean, variant: Variant, reduce: Reduce): void {
  const L = labels.length;
  const t = row ?? L - 1;
  const summary = results.map((r) => {
    const scores = queryRow(r.extraction, t, L, row !== undefined);
    const top = [...scores.keys()].sort((a, b) => Math.abs(scores[b]) - Math.abs(scores[a])).slice(0, 5);
    return { layer: r.layer, mixer: r.mixer, key: r.key, shape: r.extraction.shape, top: top.map((s) => ({ position: s, token: labels[s], value: scores[s] })) };
  });
  if (json) return printJson({ tokens: labels, variant, reduce, query: t, layers: summary });
  process.stdout.write(`implicit attention (${variant}, ${reduce}) of query position ${t} ${JSON.stringify(labels[t])} over ${L} tokens\n`);
  for (const s of summary) {
    const tops = s.top.map((e) => `${JSON.stringify(e.token)}@${e.position} ${e.value.toExponential(2)}`).join('  ');
    process.stdout.write(`layer ${String(s.layer).padStart(2)} ${s.mixer.padEnd(12)} ${tops}\n`);
  }
}

/** Row t averaged over the leading (channel/head) matrices of batch 0. */
function queryRow(e: Extraction, t: number, L: number, isRow: boolean): Float64Array {
  const per = isRow ? L : L * L;
  const matrices = e.data.length / per;
  const out = new Float64Array(L);
  for (let m = 0; m < matrices; m++) {
    const base = m * per + (isRow ? 0 : t * L);
    for (let s = 0; s < L; s++) out[s] += e.data[base + s] / matrices;
  }
  return out;
}
