/** `iattn info`: what a checkpoint is — family, layers, widths, parameters, dtypes, tokenizer. */
import type { Command } from 'commander';
import { openCheckpoint } from '../../io/checkpoint.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import { getFamily } from '../../models/index.js';
import { modelFromStore } from '../../models/registry.js';
import { addModelOptions, DEFAULT_MODEL_DIR, parseDType, printJson } from '../options.js';
import type { ModelOptions } from '../options.js';

export interface ModelInfo {
  dir: string;
  modelType: string;
  family: string;
  layers: number;
  layerKinds: string[];
  hiddenSize: number;
  vocabSize: number;
  parameters: number;
  storedDtypes: Record<string, number>;
  tokenizer: { path: string; vocabSize: number } | null;
  config: Record<string, unknown>;
}

export function modelInfo(dir: string, dtype: 'float32' | 'float64' = 'float32'): ModelInfo {
  const checkpoint = openCheckpoint(dir);
  try {
    const family = getFamily(checkpoint.modelType);
    const model = modelFromStore(checkpoint.config, checkpoint, dtype);
    const tokenizerPath = checkpoint.tokenizerPath;
    return {
      dir,
      modelType: checkpoint.modelType,
      family: family.description,
      layers: model.numLayers,
      layerKinds: model.layerKinds().map((kinds) => kinds.join('+')),
      hiddenSize: model.config.hiddenSize,
      vocabSize: model.config.vocabSize,
      parameters: model.parameterCount(),
      storedDtypes: checkpoint.dtypes(),
      tokenizer: tokenizerPath === null ? null : { path: tokenizerPath, vocabSize: loadTokenizer(tokenizerPath).vocabSize },
      config: checkpoint.config,
    };
  } finally {
    checkpoint.close();
  }
}

export function registerInfo(program: Command): void {
  addModelOptions(program.command('info').description('describe a checkpoint: family, layers, widths, parameter count, dtypes, tokenizer'))
    .option('--json', 'print one JSON document')
    .action((options: ModelOptions & { json?: boolean }) => {
      const info = modelInfo(options.model ?? DEFAULT_MODEL_DIR, parseDType(options.dtype));
      if (options.json) return printJson(info);
      const kinds = summarizeKinds(info.layerKinds);
      const lines = [
        `model       ${info.dir}`,
        `family      ${info.modelType} — ${info.family}`,
        `layers      ${info.layers} (${kinds})`,
        `hidden      ${info.hiddenSize}`,
        `vocabulary  ${info.vocabSize}`,
        `parameters  ${info.parameters.toLocaleString('en-US')} (${(info.parameters / 1e6).toFixed(2)} M)`,
        `stored as   ${Object.entries(info.storedDtypes).map(([d, n]) => `${d} ×${n}`).join(', ')}`,
        `tokenizer   ${info.tokenizer === null ? 'none (use --ids)' : `${info.tokenizer.path} (${info.tokenizer.vocabSize} tokens)`}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/** "mamba ×24" or "rglru+mlp ×2, local_attention+mlp ×1". */
function summarizeKinds(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}
