/**
 * `iattn train`: train a model of any registered family from scratch (or resume a run) and
 * write a Hugging Face checkpoint — config.json (the family's keys), model.safetensors (HF
 * names and shapes), tokenizer.json — plus optimizer.safetensors, trainer_state.json and
 * train_log.jsonl for resuming and inspection. See src/train/trainer.ts for the loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { parseConfigJson } from '../../io/checkpoint.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import { initModel } from '../../models/index.js';
import { architectureConfig, architectureNames, getArchitecture } from '../../train/architectures.js';
import type { SizePreset } from '../../train/architectures.js';
import { loadTrainedModel, STATE_FILE, TrainingError } from '../../io/training-checkpoint.js';
import { defaultTokenizerPath, endOfTextId, openData } from '../../io/datasets.js';
import { readSettings, resumeRun, startRun, train, trainSettings } from '../../train/trainer.js';
import type { EvalLog, Run, StepLog, TrainSettings } from '../../train/trainer.js';
import { CliError } from '../errors.js';
import { integerAtLeast, nonNegativeNumber, positiveNumber } from '../parse.js';
import { parseDType, printJson } from '../options.js';

interface TrainCliOptions {
  arch?: string;
  init?: string;
  size: string;
  hidden?: string;
  layers?: string;
  data: string;
  steps: string;
  batch: string;
  seq: string;
  lr: string;
  minLr?: string;
  warmup?: string;
  weightDecay: string;
  clip: string;
  seed: string;
  evalEvery: string;
  evalBatches: string;
  saveEvery: string;
  resume?: boolean;
  out?: string;
  tokenizer?: string;
  dtype: string;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model from scratch on Austen, Austen passage classification or a synthetic task; writes a Hugging Face checkpoint')
    .option('--arch <name|config.json>', `architecture: ${architectureNames().join(', ')} (griffin = recurrent_gemma), or a config.json file`)
    .option('--init <dir>', 'start from the weights of this checkpoint (e.g. models/default) instead of a random initialisation; its config replaces --arch/--size/--hidden/--layers')
    .option('--size <preset>', 'size preset: tiny (H 64, 2 layers) or small (H 256, 6 layers)', 'tiny')
    .option('--hidden <n>', 'hidden size (overrides the preset)')
    .option('--layers <n>', 'number of layers (overrides the preset)')
    .option('--data <source>', 'austen | austen-classify | task:NAME (e.g. task:assoc-recall)', 'austen')
    .option('--steps <n>', 'optimisation steps', '200')
    .option('--batch <n>', 'sequences per step', '8')
    .option('--seq <n>', 'tokens per sequence', '64')
    .option('--lr <x>', 'peak learning rate (linear warm-up, cosine decay)', '3e-3')
    .option('--min-lr <x>', 'learning-rate floor of the cosine decay (default lr/10)')
    .option('--warmup <n>', 'warm-up steps (default 10 % of steps, at most 200)')
    .option('--weight-decay <x>', 'AdamW decoupled weight decay of matrices', '0.1')
    .option('--clip <x>', 'clip gradients to this global norm (0: no clipping)', '1')
    .option('--seed <n>', 'seed of the initialisation and the data stream', '0')
    .option('--eval-every <n>', 'validation NLL every N steps (0: only at the end)', '100')
    .option('--eval-batches <n>', 'validation batches per evaluation', '8')
    .option('--save-every <n>', 'checkpoint every N steps (0: only at the end)', '0')
    .option('--resume', 'continue the run saved in --out (same data and settings; --steps may grow)')
    .option('--out <dir>', 'output folder (required)')
    .option('--tokenizer <file>', 'tokenizer.json (default: the project\'s 4096-token Austen BPE)')
    .option('--dtype <type>', 'compute type: float32 or float64', 'float32')
    .option('--json', 'print the final summary as JSON')
    .action((options: TrainCliOptions, command: Command) => runTrain(options, command));
}




/** The run's settings from the flags. */
function settingsFromFlags(o: TrainCliOptions): TrainSettings {
  const lr = positiveNumber(o.lr, '--lr');
  const clip = nonNegativeNumber(o.clip, '--clip');
  return trainSettings({
    steps: integerAtLeast(o.steps, '--steps', 1),
    batchSize: integerAtLeast(o.batch, '--batch', 1),
    lr,
    minLr: o.minLr === undefined ? undefined : nonNegativeNumber(o.minLr, '--min-lr'),
    warmup: o.warmup === undefined ? undefined : integerAtLeast(o.warmup, '--warmup', 0),
    weightDecay: nonNegativeNumber(o.weightDecay, '--weight-decay'),
    clip: clip === 0 ? Infinity : clip,
    seed: integerAtLeast(o.seed, '--seed', 0),
    evalEvery: integerAtLeast(o.evalEvery, '--eval-every', 0),
    evalBatches: integerAtLeast(o.evalBatches, '--eval-batches', 1),
    saveEvery: integerAtLeast(o.saveEvery, '--save-every', 0),
    dtype: parseDType(o.dtype),
  });
}

/** Reads --arch: a known name, or a config.json file (or a folder holding one). */
function readArch(arch: string): string | Record<string, unknown> {
  const looksLikePath = arch.endsWith('.json') || arch.includes('/') || arch.includes(path.sep);
  if (!looksLikePath) {
    getArchitecture(arch); // a clear error for unknown names
    return arch;
  }
  const file = fs.existsSync(arch) && fs.statSync(arch).isDirectory() ? path.join(arch, 'config.json') : arch;
  if (!fs.existsSync(file)) throw new CliError(`--arch ${arch}: no such config.json`);
  return parseConfigJson(fs.readFileSync(file, 'utf8'));
}

function freshRun(o: TrainCliOptions, command: Command, out: string): Run {
  if (fs.existsSync(path.join(out, STATE_FILE))) throw new CliError(`${out} already holds a training run; add --resume to continue it, or choose another --out`);
  if (o.init !== undefined) return initialisedRun(o, command, out);
  if (o.arch === undefined) throw new CliError('--arch is required (or --init DIR to start from a checkpoint, or --resume to continue the run in --out)');
  if (o.size !== 'tiny' && o.size !== 'small') throw new CliError(`--size must be tiny or small, got '${o.size}'`);
  const settings = settingsFromFlags(o);
  const tokenizerPath = o.tokenizer ?? defaultTokenizerPath();
  if (!fs.existsSync(tokenizerPath)) throw new CliError(`--tokenizer ${tokenizerPath} does not exist`);
  const vocabSize = loadTokenizer(tokenizerPath).vocabSize;
  const eot = endOfTextId(tokenizerPath);
  const tokenIds = eot === null ? {} : { bos_token_id: eot, eos_token_id: eot, pad_token_id: eot };
  const raw = {
    ...architectureConfig(readArch(o.arch), {
      vocabSize,
      size: o.size as SizePreset,
      hidden: o.hidden === undefined ? undefined : integerAtLeast(o.hidden, '--hidden', 1),
      layers: o.layers === undefined ? undefined : integerAtLeast(o.layers, '--layers', 1),
    }),
    ...tokenIds,
  };
  const model = initModel(raw, settings.seed, settings.dtype);
  const data = openData(o.data, { length: integerAtLeast(o.seq, '--seq', 1), seed: settings.seed, tokenizerPath, vocabSize });
  return startRun({ model, data, settings, outDir: out, tokenizerPath, configExtras: { ...tokenIds, dtype: settings.dtype } });
}

/**
 * A fresh run whose model starts from the weights of the --init checkpoint (fine-tuning, e.g.
 * a classifier head on the default language model): same config.json keys, same tokenizer
 * unless --tokenizer is given. A classifier checkpoint is refused (its head would be dropped).
 */
function initialisedRun(o: TrainCliOptions, command: Command, out: string): Run {
  const init = o.init!;
  for (const [key, flag] of [['arch', '--arch'], ['size', '--size'], ['hidden', '--hidden'], ['layers', '--layers']] as const) {
    if (command.getOptionValueSource(key) === 'cli') throw new CliError(`--init ${init} fixes the model; drop ${flag}`);
  }
  if (!fs.existsSync(path.join(init, 'config.json'))) throw new CliError(`--init ${init}: no config.json there`);
  const settings = settingsFromFlags(o);
  const loaded = loadTrainedModel(init, settings.dtype);
  if (loaded.head !== null) throw new CliError(`--init ${init} is a classifier; start from a language-model checkpoint`);
  const tokenizerPath = o.tokenizer ?? loaded.tokenizerPath ?? defaultTokenizerPath();
  if (!fs.existsSync(tokenizerPath)) throw new CliError(`--tokenizer ${tokenizerPath} does not exist`);
  const vocabSize = loadTokenizer(tokenizerPath).vocabSize;
  const data = openData(o.data, { length: integerAtLeast(o.seq, '--seq', 1), seed: settings.seed, tokenizerPath, vocabSize });
  // Token ids and the dtype as the checkpoint says them (the family's own keys still win).
  const carried = Object.fromEntries(['bos_token_id', 'eos_token_id', 'pad_token_id'].filter((k) => loaded.config[k] !== undefined).map((k) => [k, loaded.config[k]]));
  return startRun({ model: loaded.model, data, settings, outDir: out, tokenizerPath, initFrom: init, configExtras: { ...carried, dtype: settings.dtype } });
}

/** Flags that fix the run; with --resume they may be repeated but must agree with the saved run. */
const FIXED: Array<[key: keyof TrainCliOptions, flag: string, saved: (s: TrainSettings, data: string, seq: number) => unknown, given: (o: TrainCliOptions) => unknown]> = [
  ['data', '--data', (_s, data) => data, (o) => o.data],
  ['seq', '--seq', (_s, _d, seq) => seq, (o) => Number(o.seq)],
  ['batch', '--batch', (s) => s.batchSize, (o) => Number(o.batch)],
  ['lr', '--lr', (s) => s.lr, (o) => Number(o.lr)],
  ['seed', '--seed', (s) => s.seed, (o) => Number(o.seed)],
  ['dtype', '--dtype', (s) => s.dtype, (o) => o.dtype],
];

function resumedRun(o: TrainCliOptions, command: Command, out: string): Run {
  if (!fs.existsSync(path.join(out, STATE_FILE))) throw new CliError(`--resume: ${out} has no ${STATE_FILE} to resume from`);
  const saved = readSettings(out);
  const state = JSON.parse(fs.readFileSync(path.join(out, STATE_FILE), 'utf8')) as { data: { name: string; length: number } };
  for (const [key, flag, savedValue, givenValue] of FIXED) {
    if (command.getOptionValueSource(key) !== 'cli') continue;
    const want = savedValue(saved, state.data.name, state.data.length);
    if (givenValue(o) !== want) throw new CliError(`--resume: ${flag} ${String(o[key])} differs from the run in ${out} (${String(want)})`);
  }
  // The model comes from OUT/config.json; repeated model flags must describe it.
  const config = parseConfigJson(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  const modelChecks: Array<[keyof TrainCliOptions, string, unknown, () => unknown]> = [
    ['arch', '--arch', config.model_type, () => (o.arch !== undefined && typeof readArch(o.arch) === 'string' ? getArchitecture(o.arch).modelType : config.model_type)],
    ['hidden', '--hidden', config.hidden_size, () => Number(o.hidden)],
    ['layers', '--layers', config.num_hidden_layers, () => Number(o.layers)],
  ];
  for (const [key, flag, want, given] of modelChecks) {
    if (command.getOptionValueSource(key) === 'cli' && given() !== want) throw new CliError(`--resume: ${flag} ${String(o[key])} differs from the model in ${out} (${String(want)})`);
  }
  const explicit = (key: keyof TrainCliOptions, flag: string, min: number): number | undefined =>
    command.getOptionValueSource(key) === 'cli' ? integerAtLeast(String(o[key]), flag, min) : undefined;
  const tokenizerPath = o.tokenizer ?? path.join(out, 'tokenizer.json');
  const data = openData(state.data.name, {
    length: state.data.length,
    seed: saved.seed,
    tokenizerPath: fs.existsSync(tokenizerPath) ? tokenizerPath : undefined,
  });
  return resumeRun(
    out,
    data,
    {
      steps: explicit('steps', '--steps', 1),
      evalEvery: explicit('evalEvery', '--eval-every', 0),
      saveEvery: explicit('saveEvery', '--save-every', 0),
      evalBatches: explicit('evalBatches', '--eval-batches', 1),
    },
    fs.existsSync(tokenizerPath) ? tokenizerPath : undefined,
  );
}

function progress(json: boolean): { step(log: StepLog, total: number): void; eval(log: EvalLog, total: number): void; stop(): void } {
  if (json) return { step() {}, eval() {}, stop() {} };
  if (!process.stderr.isTTY) {
    // Not a terminal: one line per evaluation instead of a bar.
    let last: StepLog | null = null;
    return {
      step: (log) => (last = log),
      eval: (e, total) => process.stderr.write(`step ${e.step}/${total}  loss ${last?.loss.toFixed(4) ?? '-'}  val_nll ${e.val_nll.toFixed(4)}  lr ${last?.lr.toExponential(2) ?? '-'}\n`),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: 'train [{bar}] {value}/{total} steps | loss {loss} | val {val} | lr {lr} | {tps} tok/s | {eta_formatted} left', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let val = '-';
  return {
    step(log, total) {
      const payload = { loss: log.loss.toFixed(4), val, lr: log.lr.toExponential(2), tps: log.tokens_per_s.toFixed(0) };
      if (!started) {
        bar.start(total, log.step - 1, payload);
        started = true;
      }
      bar.update(log.step, payload);
    },
    eval(e) {
      val = e.val_nll.toFixed(4);
      bar.update({ val });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function runTrain(o: TrainCliOptions, command: Command): void {
  if (o.out === undefined) throw new CliError('--out DIR is required (the checkpoint folder to write)');
  const out = o.out;
  let run: Run;
  try {
    run = o.resume ? resumedRun(o, command, out) : freshRun(o, command, out);
  } catch (error) {
    if (error instanceof TrainingError) throw new CliError(error.message);
    throw error;
  }
  const bar = progress(o.json === true);
  const total = run.settings.steps;
  let result;
  try {
    result = train(run, { hooks: { onStep: (log, t) => bar.step(log, t), onEval: (e) => bar.eval(e, total) } });
  } catch (error) {
    if (error instanceof TrainingError) throw new CliError(error.message);
    throw error;
  } finally {
    bar.stop();
  }
  const last = result.losses.at(-1) ?? null;
  const e = result.lastEval;
  const summary = {
    out,
    model_type: run.model.modelType,
    parameters: run.model.parameterCount() + (run.head === null ? 0 : run.head.weight.size + run.head.bias.size),
    data: run.data.name,
    objective: run.data.objective,
    steps: run.step,
    resumed_from: run.resumedAt,
    train_loss: last,
    val_nll: e?.val_nll ?? null,
    val_ppl: e === null || run.data.objective === 'classify' ? null : Math.exp(e.val_nll),
    val_accuracy: e?.val_accuracy ?? null,
    tokens_per_s: result.tokensPerSecond,
    seconds: result.seconds,
    files: ['config.json', 'model.safetensors', 'tokenizer.json', 'optimizer.safetensors', 'trainer_state.json', 'train_log.jsonl'].filter((f) => fs.existsSync(path.join(out, f))),
  };
  if (o.json) return printJson(summary);
  const accuracy = run.data.objective === 'classify' || run.data.name.startsWith('task:') ? `, accuracy ${((e?.val_accuracy ?? NaN) * 100).toFixed(1)} %` : '';
  process.stdout.write(
    `trained ${summary.model_type} (${summary.parameters.toLocaleString('en-US')} parameters) on ${summary.data} to step ${summary.steps}` +
      `${run.resumedAt === null ? '' : ` (resumed at ${run.resumedAt})`}: train loss ${last?.toFixed(4) ?? '-'}, ` +
      `val NLL ${e?.val_nll.toFixed(4) ?? '-'}${summary.val_ppl === null ? '' : ` (ppl ${summary.val_ppl.toFixed(2)})`}${accuracy}, ${summary.tokens_per_s.toFixed(0)} tokens/s\n` +
      `wrote ${out}: ${summary.files.join(', ')}\n`,
  );
}
