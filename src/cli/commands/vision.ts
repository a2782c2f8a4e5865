/**
 * `iattn vision …`: the vision models (Vision Mamba, MLLA) on the project's synthetic shapes.
 *   iattn vision train --arch vim|mlla --out DIR        train a small classifier, write its checkpoint
 *   iattn vision evaluate --model DIR [--images N]      accuracy, segmentation test and perturbation AUCs per method
 *   iattn vision explain --image FILE.png [--model DIR] the predicted class and an overlay of each method's map
 *   iattn vision sample --out FILE.png [--index N]      write a held-out test image (and its mask) as PNG
 *   iattn vision convert --pth FILE.pth --out DIR      a PyTorch (hustvl/Vim) state dict → config.json + model.safetensors
 * `iattn explain --image FILE.png` runs `vision explain` (see explain.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { writeCheckpoint } from '../../io/checkpoint.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { writePng } from '../../io/png.js';
import { codeVersion } from '../../io/provenance.js';
import { PickleError, readTorchStateDict, STATE_DICT_KEYS } from '../../io/torch-checkpoint.js';
import { loadVisionModel } from '../../io/vision-checkpoint.js';
import { trainAndSave } from '../../io/vision-training.js';
import { SHAPE_CLASSES, shapeImage, TEST_SEED } from '../../vision/data.js';
import { evaluateVision, evaluationMarkdown, VISION_EVAL_METHODS } from '../../vision/evaluate.js';
import type { EvaluationSettings } from '../../vision/evaluate.js';
import { VISION_METHOD_NAMES } from '../../vision/explain.js';
import { ImageError } from '../../vision/image.js';
import { DEFAULT_TRAIN_SETTINGS } from '../../vision/train.js';
import type { VisionTrainSettings } from '../../vision/train.js';
import { CliError } from '../errors.js';
import { explainImageFile } from '../explain-image.js';
import { integer, integerAtLeast, nonNegativeInt, nonNegativeNumber, oneOf, positiveInt, positiveNumber } from '../parse.js';
import { printJson } from '../options.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The shipped Vision Mamba classifier, the default of `vision explain` and `vision evaluate`. */
export const DEFAULT_VISION_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'vision', 'vim');

/** The shipped vision classifiers (Vision Mamba, MLLA), offered by `iattn serve` by default. */
export const DEFAULT_VISION_MODEL_DIRS = [DEFAULT_VISION_MODEL_DIR, path.join(PACKAGE_ROOT, 'models', 'vision', 'mlla')];

interface TrainOptions {
  arch: string;
  out?: string;
  steps: string;
  batch: string;
  lr: string;
  warmup: string;
  weightDecay: string;
  width: string;
  layers: string;
  state: string;
  heads: string;
  seed: string;
  evalImages: string;
  evalEvery: string;
  saveEvery: string;
  stopAfter?: string;
  init?: string;
  json?: boolean;
}

export function registerVision(program: Command): void {
  const vision = program.command('vision').description('Vision Mamba and MLLA on synthetic shapes: train, evaluate explanations (segmentation, perturbation), explain an image');
  vision
    .command('train')
    .description('train a small Vision Mamba or MLLA classifier on the synthetic shapes; writes config.json + model.safetensors')
    .option('--arch <name>', 'vim or mlla', 'vim')
    .option('--out <dir>', 'output folder (required)')
    .option('--steps <n>', 'optimisation steps', String(DEFAULT_TRAIN_SETTINGS.steps))
    .option('--batch <n>', 'images per step', String(DEFAULT_TRAIN_SETTINGS.batchSize))
    .option('--lr <x>', 'peak learning rate (linear warm-up, cosine decay to lr/20)', String(DEFAULT_TRAIN_SETTINGS.lr))
    .option('--warmup <n>', 'warm-up steps', String(DEFAULT_TRAIN_SETTINGS.warmup))
    .option('--weight-decay <x>', 'AdamW decoupled weight decay of matrices', String(DEFAULT_TRAIN_SETTINGS.weightDecay))
    .option('--width <n>', 'embedding width E', '64')
    .option('--layers <n>', 'blocks', '4')
    .option('--state <n>', 'Vim: SSM state size N', '8')
    .option('--heads <n>', 'MLLA: attention heads', '4')
    .option('--seed <n>', 'seed of the initialisation', '0')
    .option('--eval-images <n>', 'held-out images for the accuracy', String(DEFAULT_TRAIN_SETTINGS.evalImages))
    .option('--eval-every <n>', 'held-out accuracy every N steps (0: only at the end)', '0')
    .option('--save-every <n>', 'also save the checkpoint every N steps (0: only at the end)', '0')
    .option('--stop-after <n>', 'stop after N steps of the --steps schedule (the rest of the cosine decay is not run)')
    .option('--init <dir>', 'continue from this checkpoint (its architecture and weights; fresh schedule; training images after those it saw)')
    .option('--json', 'print the final summary as JSON')
    .action((options: TrainOptions) => runTrain(options));

  vision
    .command('evaluate')
    .description('held-out accuracy, then per explanation method: segmentation test (pixel accuracy, mIoU, mAP) and positive/negative perturbation AUCs')
    .option('--model <dir>', 'vision checkpoint folder (default: the shipped Vision Mamba)')
    .option('--images <n>', 'held-out test images for the segmentation test', '200')
    .option('--perturbation-images <n>', 'of those, images for the perturbation test', '100')
    .option('--accuracy-images <n>', 'held-out images for the accuracy', '1000')
    .option('--methods <list>', `comma-separated methods (default: all of ${VISION_EVAL_METHODS.join(', ')})`)
    .option('--start-layer <n>', 'first layer of the attention-based recipes', '0')
    .option('--steps <n>', 'integrated-gradients steps', '32')
    .option('--out <dir>', 'write results.json, results.md and perturbation curves (SVG) here')
    .option('--json', 'print the results as JSON')
    .action((options: EvaluateOptions) => runEvaluate(options));

  addExplainImageCommand(vision.command('explain'));

  vision
    .command('sample')
    .description('write held-out test image N of the synthetic shapes (and its object mask) as PNG files')
    .requiredOption('--out <file.png>', 'the image; the mask goes to FILE.mask.png')
    .option('--index <n>', 'test image index', '0')
    .option('--size <n>', 'image side', '32')
    .action((options: { out: string; index: string; size: string }) => {
      const size = positiveInt(options.size, '--size');
      const img = shapeImage(TEST_SEED, nonNegativeInt(options.index, '--index'), size);
      writePng(options.out, img.pixels, size, size);
      const maskFile = options.out.replace(/\.png$/i, '') + '.mask.png';
      writePng(maskFile, Float32Array.from([0, 1, 2].flatMap(() => Array.from(img.mask))), size, size);
      process.stdout.write(`${SHAPE_CLASSES[img.label]}: image ${options.out}, mask ${maskFile}\n`);
    });

  vision
    .command('convert')
    .description('convert a PyTorch checkpoint (.pth, e.g. a hustvl/Vim release) into a checkpoint folder: model.safetensors + config.json, then load it to check')
    .requiredOption('--pth <file>', 'the torch.save file (zip format); only plain state dicts of tensors are read, nothing in it is executed')
    .requiredOption('--out <dir>', 'the checkpoint folder to write')
    .option('--key <name>', `the entry holding the state dict (default: the file itself, or the first of ${STATE_DICT_KEYS.join(', ')})`)
    .option('--config <file.json>', 'keys to put in config.json (e.g. id2label); default: {"model_type": "vim"} with the ImageNet mean and std')
    .option('--json', 'print the summary as JSON')
    .action((options: ConvertOptions) => runConvert(options));
}


/** The normalisation of hustvl's ImageNet models (timm's IMAGENET_DEFAULT_MEAN / _STD). */
const IMAGENET_NORMALISATION = { image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] };

interface ConvertOptions {
  pth: string;
  out: string;
  key?: string;
  config?: string;
  json?: boolean;
}

function runConvert(options: ConvertOptions): void {
  let extra: Record<string, unknown> = {};
  if (options.config !== undefined) {
    try {
      extra = JSON.parse(fs.readFileSync(options.config, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(`--config: cannot read ${options.config} as JSON (${(error as Error).message.split('\n')[0]})`);
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) throw new CliError('--config: the file must hold a JSON object');
  }
  let read: ReturnType<typeof readTorchStateDict>;
  try {
    read = readTorchStateDict(options.pth, options.key);
  } catch (error) {
    if (error instanceof PickleError) throw new CliError(`${options.pth}: ${error.message}`);
    throw error;
  }
  const config = { model_type: 'vim', ...IMAGENET_NORMALISATION, ...extra };
  writeCheckpoint(options.out, config, Object.fromEntries([...read.tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: t.data }])));
  let summary: Record<string, unknown>;
  try {
    const model = loadVisionModel(options.out);
    let parameters = 0;
    for (const t of model.parameters.values()) parameters += t.size;
    const unused = [...read.tensors.keys()].filter((n) => !model.parameters.has(n));
    summary = {
      out: options.out,
      key: read.key,
      tensors: read.tensors.size,
      dtypes: [...new Set([...read.tensors.values()].map((t) => t.dtype))],
      modelType: model.modelType,
      layers: model.image.numLayers,
      imageSize: model.image.imageSize,
      patchSize: model.image.patchSize,
      classes: model.image.labels.length,
      parameters,
      unused,
    };
  } catch (error) {
    throw new CliError(`${options.pth}: converted to ${options.out}, but it does not load as a ${String(config.model_type)} model: ${(error as Error).message.split('\n')[0]}`);
  }
  if (options.json) printJson(summary);
  else {
    process.stdout.write(
      `${options.pth}${read.key === null ? '' : ` ['${read.key}']`}: ${summary.tensors} tensors (${(summary.dtypes as string[]).join(', ')}) → ${options.out}; ` +
        `${summary.modelType}, ${summary.layers} layers, ${summary.imageSize}×${summary.imageSize} images in ${summary.patchSize}×${summary.patchSize} patches, ${summary.classes} classes, ${summary.parameters} parameters\n`,
    );
    if ((summary.unused as string[]).length > 0) process.stdout.write(`warning: tensors the model does not use: ${(summary.unused as string[]).join(', ')}\n`);
  }
}

function runTrain(options: TrainOptions): void {
  const arch = oneOf(options.arch, ['vim', 'mlla'] as const, '--arch');
  if (options.out === undefined) throw new CliError('--out DIR is required (where the checkpoint is written)');
  const settings: VisionTrainSettings = {
    steps: positiveInt(options.steps, '--steps'),
    batchSize: positiveInt(options.batch, '--batch'),
    lr: positiveNumber(options.lr, '--lr'),
    warmup: nonNegativeInt(options.warmup, '--warmup'),
    weightDecay: nonNegativeNumber(options.weightDecay, '--weight-decay'),
    clip: 1,
    evalImages: integerAtLeast(options.evalImages, '--eval-images', 1),
    evalEvery: nonNegativeInt(options.evalEvery, '--eval-every'),
    saveEvery: nonNegativeInt(options.saveEvery, '--save-every'),
    ...(options.stopAfter === undefined ? {} : { stopAfter: positiveInt(options.stopAfter, '--stop-after') }),
  };
  const summary = trainAndSave({
    ...(options.init === undefined ? {} : { init: options.init }),
    arch,
    out: options.out,
    width: positiveInt(options.width, '--width'),
    layers: positiveInt(options.layers, '--layers'),
    state: positiveInt(options.state, '--state'),
    heads: positiveInt(options.heads, '--heads'),
    seed: integer(options.seed, '--seed'),
    settings,
    progress: options.json ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  if (options.json) printJson(summary);
  else process.stdout.write(`${arch}: ${summary.parameters} parameters, held-out accuracy ${(100 * summary.test_accuracy).toFixed(1)} % on ${summary.test_images} images; checkpoint written to ${options.out}\n`);
}

interface EvaluateOptions {
  model?: string;
  images: string;
  perturbationImages: string;
  accuracyImages: string;
  methods?: string;
  startLayer: string;
  steps: string;
  out?: string;
  json?: boolean;
}

function runEvaluate(options: EvaluateOptions): void {
  const dir = options.model ?? DEFAULT_VISION_MODEL_DIR;
  const model = loadVisionModel(dir);
  const methods = options.methods === undefined ? [...VISION_EVAL_METHODS] : options.methods.split(',').map((m) => m.trim());
  for (const m of methods) oneOf(m, VISION_EVAL_METHODS, '--methods');
  const settings: EvaluationSettings = {
    images: positiveInt(options.images, '--images'),
    perturbationImages: nonNegativeInt(options.perturbationImages, '--perturbation-images'),
    accuracyImages: positiveInt(options.accuracyImages, '--accuracy-images'),
    methods,
    startLayer: nonNegativeInt(options.startLayer, '--start-layer'),
    steps: positiveInt(options.steps, '--steps'),
  };
  const quiet = options.json === true;
  const version = codeVersion();
  const results = evaluateVision(model, dir, settings, {
    codeVersion: `${version.version}${version.commit === null ? '' : `+${version.commit.slice(0, 12)}`}`,
    ...(quiet ? {} : { progress: (line: string) => process.stderr.write(`${line}\n`) }),
  });
  if (options.out !== undefined) {
    fs.mkdirSync(options.out, { recursive: true });
    writeFileAtomic(path.join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileAtomic(path.join(options.out, 'results.md'), evaluationMarkdown(results));
    for (const [name, svg] of Object.entries(results.curves ?? {})) writeFileAtomic(path.join(options.out, `${name}.svg`), svg);
  }
  const { curves: _curves, ...json } = results;
  void _curves;
  if (options.json) printJson(json);
  else process.stdout.write(evaluationMarkdown(results));
}

interface ExplainImageOptions {
  image?: string;
  model?: string;
  method: string;
  startLayer: string;
  target?: string;
  out?: string;
  json?: boolean;
  steps: string;
}

/** The options of `vision explain` (also reachable as `iattn explain --image`). */
export function addExplainImageCommand(command: Command): void {
  command
    .description('explain a vision classifier on one image: predicted class, relevance map of each method over the image (PNG or HTML overlay with per-layer maps)')
    .requiredOption('--image <file.png>', 'the image (PNG; resized to the model input size)')
    .option('--model <dir>', 'vision checkpoint folder (default: the shipped Vision Mamba)')
    .option('--method <name|all>', `${VISION_METHOD_NAMES.join(', ')}, or all`, 'unified-attr')
    .option('--start-layer <n>', 'first layer of the attention-based recipes', '0')
    .option('--target <class>', 'class to explain (name or index; default: the predicted class)')
    .option('--steps <n>', 'integrated-gradients steps', '32')
    .option('--out <file.png|file.html>', 'write the overlay: PNG (map over image, per-layer maps) or an HTML report')
    .option('--json', 'print one JSON document')
    .action((options: ExplainImageOptions) => runExplainImage(options));
}

export function runExplainImage(options: ExplainImageOptions): void {
  if (options.image === undefined) throw new CliError('--image FILE.png is required');
  const methods = options.method === 'all' ? [...VISION_METHOD_NAMES] : [oneOf(options.method, VISION_METHOD_NAMES, '--method')];
  let result: ReturnType<typeof explainImageFile>;
  try {
    result = explainImageFile({
    image: options.image,
    modelDir: options.model ?? DEFAULT_VISION_MODEL_DIR,
    methods,
    startLayer: nonNegativeInt(options.startLayer, '--start-layer'),
    steps: positiveInt(options.steps, '--steps'),
    target: options.target,
    out: options.out,
    });
  } catch (error) {
    if (error instanceof ImageError) throw new CliError(error.message);
    throw error;
  }
  if (options.json) printJson(result.json);
  else process.stdout.write(result.text);
}
