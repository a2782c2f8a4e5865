/**
 * The models a viewer may open: the folders given at start-up, each checked once (config.json
 * and weight headers readable) and named by its folder. Language models and vision
 * classifiers (model_type vim, mlla) may be mixed; each entry says which it is. Requests name
 * a model by id; the path never leaves the server and is never taken from a request.
 */
import * as path from 'node:path';
import { openCheckpoint } from '../../io/checkpoint.js';
import type { Checkpoint } from '../../io/checkpoint.js';
import { ConfigReader } from '../../models/config.js';
import { completeVimConfig, isVisionConfig } from '../../vision/checkpoint.js';
import { parseImageConfig } from '../../vision/model.js';
import type { ImageModelInfo, ModelSummary } from '../protocol.js';

export interface ModelEntry extends ModelSummary {
  /** Absolute checkpoint folder (server side only). */
  dir: string;
}

export class ModelCatalogue {
  private readonly byId = new Map<string, ModelEntry>();

  /** Opens every folder's config and headers; throws (naming the folder) when one is not a checkpoint. */
  constructor(dirs: readonly string[], defaultDir?: string) {
    const seen = new Set<string>();
    const defaultResolved = defaultDir === undefined ? undefined : path.resolve(defaultDir);
    for (const given of dirs) {
      const dir = path.resolve(given);
      if (seen.has(dir)) continue;
      seen.add(dir);
      const checkpoint = openCheckpoint(dir);
      try {
        const isDefault = dir === defaultResolved;
        const id = this.uniqueId(isDefault ? 'default' : slug(path.basename(dir)));
        const vision = isVisionConfig(checkpoint.config);
        const config = checkpoint.modelType === 'vim' ? completeVimConfig(checkpoint.config, checkpoint) : checkpoint.config;
        const layers = config.num_hidden_layers ?? config.n_layer ?? config.num_layers;
        this.byId.set(id, {
          id,
          name: isDefault ? `default (${checkpoint.modelType})` : path.basename(dir),
          modelType: checkpoint.modelType,
          kind: vision ? 'vision' : 'text',
          layers: typeof layers === 'number' ? layers : 0,
          hasTokenizer: checkpoint.tokenizerPath !== null,
          isDefault,
          ...(vision ? { image: imageInfo(checkpoint, config) } : {}),
          dir,
        });
      } finally {
        checkpoint.close();
      }
    }
  }

  get(id: string): ModelEntry | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** What GET /api/models shows (no paths). */
  summaries(): ModelSummary[] {
    return [...this.byId.values()].map(({ dir: _dir, ...summary }) => summary);
  }

  private uniqueId(base: string): string {
    let id = base;
    for (let n = 2; this.byId.has(id); n++) id = `${base}-${n}`;
    return id;
  }
}

/** The input side of a vision checkpoint, from its (completed) config. */
function imageInfo(checkpoint: Checkpoint, config: Checkpoint['config']): ImageModelInfo {
  const c = parseImageConfig(new ConfigReader(config, checkpoint.modelType), { hiddenSize: 64, numLayers: 4 });
  return { imageSize: c.imageSize, patchSize: c.patchSize, grid: c.imageSize / c.patchSize, labels: c.labels };
}

/** A folder name as an id: letters, digits, '.', '_' and '-' (anything else becomes '-'). */
function slug(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return s.length > 0 ? s.slice(0, 64) : 'model';
}
