/**
 * What the viewer computes for an image (POST /api/image), independent of HTTP and threads:
 * the image (a generated sample with its mask, or an uploaded PNG decoded and resized to the
 * model's input), the classifier's prediction, each vision method's patch map
 * (src/vision/explain.ts) with its per-layer maps, and every layer's implicit attention as the
 * classifier reads it — the class token's row (Vim) or the mean of the rows (MLLA, whose head
 * averages the tokens) — over the patch grid. Lives in each compute worker next to the text
 * engine; loads each model once and keeps the last few images' contexts.
 */
import { createHash } from 'node:crypto';
import { getMethod } from '../../explain/registry.js';
import { extract } from '../../implicit/extract.js';
import type { Reduce } from '../../implicit/extract.js';
import { decodePng } from '../../io/png.js';
import { loadVisionModel } from '../../io/vision-checkpoint.js';
import { normalise, SHAPE_CLASSES, shapeImage } from '../../vision/data.js';
import { explainVision, VISION_RECIPES, VisionExplainContext } from '../../vision/explain.js';
import type { VisionMethod } from '../../vision/explain.js';
import { resizeTo, rgbBytes } from '../../vision/image.js';
import type { VisionModel } from '../../vision/model.js';
import type { ImageExplanationJson, ImageJson, ImageLayerJson, ImageResponse } from '../protocol.js';
import type { ModelEntry } from './catalogue.js';
import { VISION_METHOD_COSTS } from './config.js';
import { SAMPLE_SEARCH } from './image-request.js';
import type { ImageJob } from './image-request.js';
import { ApiError } from './validate.js';

/** Images whose explanation contexts are kept per engine. */
const CONTEXTS_KEPT = 6;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export class VisionEngine {
  private readonly models = new Map<string, VisionModel>();
  private readonly contexts = new Map<string, VisionExplainContext>();

  image(job: ImageJob): ImageResponse {
    const started = performance.now();
    const model = this.model(job.model);
    const { image, pixels, key } = this.input(job, model);
    const context = this.context(`${job.model.id}\u0000${key}`, model, pixels);
    const labels = model.image.labels;
    const target = context.target(job.label);
    const probabilities = labels.map((_, k) => context.target(k).probability);
    const explanations = job.methods.map((name) => this.explainOne(context, name as VisionMethod, job));
    const { dir: _dir, ...summary } = job.model;
    return {
      model: summary,
      image,
      grid: model.grid,
      patchSize: model.image.patchSize,
      labels,
      prediction: {
        predicted: target.predicted,
        predictedName: labels[target.predicted],
        predictedProbability: target.predictedProbability,
        label: target.label,
        labelName: labels[target.label],
        probability: target.probability,
        logit: target.logit,
        probabilities,
      },
      explanations,
      query: model.readout.kind === 'token' ? 'cls' : 'mean',
      attention: this.attention(context, job),
      elapsedMs: performance.now() - started,
    };
  }

  private explainOne(context: VisionExplainContext, method: VisionMethod, job: ImageJob): ImageExplanationJson {
    const base = { method, description: getMethod(method).description, recipe: VISION_RECIPES[method], cost: VISION_METHOD_COSTS[method] ?? 'matrix' };
    try {
      const e = explainVision(context, method, { startLayer: job.options.startLayer, steps: job.options.steps, seed: job.options.seed, ...(job.label === undefined ? {} : { label: job.label }) });
      return {
        ...base,
        scores: Array.from(e.patchScores),
        ...(e.layers === undefined ? {} : { layers: e.layers.map((l) => ({ layer: l.layer, scores: Array.from(l.scores) })) }),
        ...(e.completenessError === undefined ? {} : { completenessError: e.completenessError }),
        elapsedMs: e.elapsedMs,
      };
    } catch (error) {
      // One method failing must not lose the others.
      return { ...base, error: error instanceof Error ? error.message.split('\n')[0] : String(error) };
    }
  }

  /** qᵀ·H of every layer over the patches, H reduced over channels as asked. */
  private attention(context: VisionExplainContext, job: ImageJob): ImageResponse['attention'] {
    const model = context.model;
    const { variant, reduce, channel } = job.attention;
    const L = model.length;
    let channels = 0;
    const layers: ImageLayerJson[] = [];
    for (let layer = 0; layer < context.layers; layer++) {
      const d = context.decomposition(layer);
      channels = d.matrixCount(variant);
      if (reduce === 'channel' && channel >= channels) throw new ApiError(400, `channel ${channel} is outside this model's ${channels} matrices of the ${variant} variant [0, ${channels})`);
      const options = { variant, reduce: (reduce === 'channel' ? 'none' : reduce) as Reduce, ...(reduce === 'channel' ? { channels: [channel] } : {}), dtype: 'float64' as const };
      let row: Float64Array;
      if (model.readout.kind === 'token') {
        row = extract(d, { ...options, row: model.readout.position }).data as Float64Array;
      } else {
        const m = extract(d, options).data as Float64Array;
        row = new Float64Array(L);
        for (let t = 0; t < L; t++) for (let s = 0; s < L; s++) row[s] += m[t * L + s] / L;
      }
      const scores = Array.from(model.patchTokens, (t) => row[t]);
      layers.push({
        layer,
        mixer: d.mixer,
        scores,
        ...(model.readout.kind === 'token' ? { cls: row[model.readout.position] } : {}),
        min: Math.min(...scores),
        max: Math.max(...scores),
      });
    }
    return { variant, reduce, ...(reduce === 'channel' ? { channel } : {}), channels, layers };
  }

  /** The image as the model sees it, what the page shows of it, and a cache key. */
  private input(job: ImageJob, model: VisionModel): { image: ImageJson; pixels: Float32Array; key: string } {
    const S = model.image.imageSize;
    const source = job.source;
    if (source.kind === 'sample') {
      let index = source.index;
      if (source.cls !== undefined) {
        const end = source.index + SAMPLE_SEARCH;
        while (index < end && shapeImage(source.seed, index, S).label !== source.cls) index++;
        if (index === end) throw new ApiError(400, `no ${SHAPE_CLASSES[source.cls]} among images ${source.index} … ${end - 1} of seed ${source.seed}`);
      }
      const img = shapeImage(source.seed, index, S);
      return {
        image: {
          source: 'sample',
          name: `seed ${source.seed} · image ${index}`,
          width: S,
          height: S,
          size: S,
          pixels: base64(rgbBytes(img.pixels, S, S)),
          seed: source.seed,
          index,
          label: img.label,
          labelName: SHAPE_CLASSES[img.label],
          mask: base64(img.mask),
        },
        pixels: img.pixels,
        key: `sample:${source.seed}:${index}`,
      };
    }
    const raw = decodePng(source.bytes);
    const pixels = resizeTo(raw, S);
    return {
      image: { source: 'upload', name: source.name, width: raw.width, height: raw.height, size: S, pixels: base64(rgbBytes(pixels, S, S)) },
      pixels,
      key: `png:${createHash('sha256').update(source.bytes).digest('hex')}`,
    };
  }

  private context(key: string, model: VisionModel, pixels: Float32Array): VisionExplainContext {
    let context = this.contexts.get(key);
    if (context !== undefined) this.contexts.delete(key);
    else context = new VisionExplainContext(model, normalise(pixels, 1, model.image.imageSize, model.image, model.dtype));
    this.contexts.set(key, context); // most recently used last
    while (this.contexts.size > CONTEXTS_KEPT) this.contexts.delete(this.contexts.keys().next().value!);
    return context;
  }

  private model(entry: ModelEntry): VisionModel {
    let model = this.models.get(entry.id);
    if (model === undefined) {
      model = loadVisionModel(entry.dir);
      this.models.set(entry.id, model);
    }
    return model;
  }
}
