/**
 * Checking a POST /api/image body into an image job (HTTP 400 with one message per problem,
 * 404 for an unknown model). An uploaded PNG is checked here, on the HTTP thread, only as far
 * as it is cheap: base64, its size in bytes, and the width × height its header declares — so
 * an oversized or decompression-bomb image is refused before any worker inflates it. Decoding
 * happens in the worker (src/io/png.ts), where a broken file becomes the same kind of 400.
 */
import { SHAPE_CLASSES, TEST_SEED } from '../../vision/data.js';
import { ImageError, pngDimensions } from '../../vision/image.js';
import type { ImageRequest, ViewerLimits, ViewerVariant } from '../protocol.js';
import { VIEWER_VARIANTS } from '../protocol.js';
import type { ModelCatalogue, ModelEntry } from './catalogue.js';
import { ApiError, integerField, modelOf, object, oneOfField, onlyKeys } from './validate.js';

/** Reductions of the per-layer maps (one head is not offered for images: `channel` picks one matrix). */
export const IMAGE_REDUCTIONS = ['mean-abs', 'mean', 'mean-positive', 'channel'] as const;
export type ImageReduce = (typeof IMAGE_REDUCTIONS)[number];

/** Images tried when a sample is asked by class (each class is about a quarter of the stream). */
export const SAMPLE_SEARCH = 1000;

export type ImageSourceJob =
  | { kind: 'sample'; seed: number; index: number; /** Index into SHAPE_CLASSES. */ cls?: number }
  | { kind: 'png'; bytes: Uint8Array; name: string; width: number; height: number };

export interface ImageJob {
  model: ModelEntry;
  source: ImageSourceJob;
  methods: string[];
  /** The class to explain (default: the predicted one). */
  label?: number;
  options: { startLayer: number; steps: number; seed: number };
  attention: { variant: ViewerVariant; reduce: ImageReduce; channel: number };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(0)} KiB` : `${bytes} bytes`;
}

/** The uploaded PNG: base64 → bytes, within the byte and pixel limits, a PNG header. */
function pngSource(value: unknown, name: unknown, limits: ViewerLimits): ImageSourceJob {
  if (typeof value !== 'string' || value.length === 0) throw new ApiError(400, 'image.png must be the PNG file as a base64 string');
  if (!BASE64.test(value) || value.length % 4 === 1) throw new ApiError(400, 'image.png is not valid base64 (send the file bytes base64-encoded, without a data: prefix)');
  const approx = Math.floor((value.length * 3) / 4);
  if (approx > limits.maxImageBytes + 2) {
    throw new ApiError(400, `the image file is about ${sizeText(approx)}; this server accepts PNG files up to ${sizeText(limits.maxImageBytes)}`);
  }
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (bytes.length > limits.maxImageBytes) throw new ApiError(400, `the image file is ${sizeText(bytes.length)}; this server accepts PNG files up to ${sizeText(limits.maxImageBytes)}`);
  let dims: { width: number; height: number };
  try {
    dims = pngDimensions(bytes);
  } catch (error) {
    throw new ApiError(400, `the uploaded file is ${(error as ImageError).message}; upload a PNG image`);
  }
  if (dims.width * dims.height > limits.maxImagePixels) {
    throw new ApiError(400, `the image is ${dims.width}×${dims.height} = ${dims.width * dims.height} pixels; this server accepts at most ${limits.maxImagePixels} pixels`);
  }
  let shown = 'uploaded image';
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string') throw new ApiError(400, 'image.name must be a string');
    // Shown only; control characters are dropped and the length bounded.
    shown = name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 120) || shown;
  }
  return { kind: 'png', bytes, name: shown, ...dims };
}

function sampleSource(value: unknown): ImageSourceJob {
  const o = object(value, 'image.sample');
  onlyKeys(o, ['seed', 'index', 'class'], 'image.sample');
  const seed = integerField(o, 'seed', 'image.sample', 0, 2 ** 31 - 1) ?? TEST_SEED;
  const index = integerField(o, 'index', 'image.sample', 0, 2 ** 31 - 1 - SAMPLE_SEARCH) ?? 0;
  const name = oneOfField(o, 'class', SHAPE_CLASSES, 'image.sample');
  return { kind: 'sample', seed, index, ...(name === undefined ? {} : { cls: SHAPE_CLASSES.indexOf(name) }) };
}

export function parseImage(body: unknown, catalogue: ModelCatalogue, limits: ViewerLimits, methods: readonly string[]): ImageJob {
  const o = object(body, 'the request');
  const keys: (keyof ImageRequest)[] = ['model', 'image', 'methods', 'target', 'options', 'attention'];
  onlyKeys(o, keys, 'image');
  const id = o.model;
  if (typeof id !== 'string' || id.length === 0) throw new ApiError(400, `image.model must be a vision model id from GET /api/models (${catalogue.ids().join(', ')})`);
  const model = modelOf(catalogue, id, 'vision', 'image');
  const info = model.image!;

  const image = object(o.image, 'image.image');
  onlyKeys(image, ['sample', 'png', 'name'], 'image.image');
  if ((image.sample === undefined) === (image.png === undefined)) throw new ApiError(400, 'image.image: give exactly one of sample and png');
  const source = image.sample !== undefined ? sampleSource(image.sample) : pngSource(image.png, image.name, limits);

  let chosen = [...methods];
  if (o.methods !== undefined) {
    if (!Array.isArray(o.methods) || o.methods.length === 0) throw new ApiError(400, `image.methods must be a non-empty array of method names (${methods.join(', ')})`);
    for (const m of o.methods) {
      if (typeof m !== 'string' || !methods.includes(m)) throw new ApiError(400, `image.methods: unknown method ${JSON.stringify(m)}; vision methods: ${methods.join(', ')}`);
    }
    chosen = [...new Set(o.methods as string[])];
  }

  let label: number | undefined;
  if (o.target !== undefined && o.target !== null) {
    const t = object(o.target, 'image.target');
    onlyKeys(t, ['label'], 'image.target');
    label = integerField(t, 'label', 'image.target', 0, info.labels.length - 1);
  }

  const options = o.options === undefined || o.options === null ? {} : object(o.options, 'image.options');
  onlyKeys(options, ['startLayer', 'steps', 'seed'], 'image.options');
  const startLayer = integerField(options, 'startLayer', 'image.options', 0, Math.max(0, model.layers - 1)) ?? 0;
  const steps = integerField(options, 'steps', 'image.options', 1, limits.maxSteps) ?? 32;
  const seed = integerField(options, 'seed', 'image.options', -(2 ** 31), 2 ** 31 - 1) ?? 0;

  const a = o.attention === undefined || o.attention === null ? {} : object(o.attention, 'image.attention');
  onlyKeys(a, ['variant', 'reduce', 'channel'], 'image.attention');
  const reduce = oneOfField(a, 'reduce', IMAGE_REDUCTIONS, 'image.attention') ?? 'mean-abs';
  const channel = integerField(a, 'channel', 'image.attention', 0);
  if (reduce === 'channel' && channel === undefined) throw new ApiError(400, "image.attention.channel is required with reduce 'channel'");

  return {
    model,
    source,
    methods: chosen,
    ...(label === undefined ? {} : { label }),
    options: { startLayer, steps, seed },
    attention: { variant: oneOfField(a, 'variant', VIEWER_VARIANTS, 'image.attention') ?? 'paper', reduce, channel: channel ?? 0 },
  };
}
