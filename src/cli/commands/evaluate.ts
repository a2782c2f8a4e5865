/**
 * `iattn evaluate perturbation|groundtruth`: how faithful the explanation methods are
 * (explain-and-evaluate.md §2–§3, src/evaluate). Each writes results.json, results.md and a
 * plot (curves.svg + curves.png) into --out, prints the table (or the JSON document with
 * --json), shows a progress bar on a terminal, and fails with one line on bad input.
 *
 *   perturbation  a language model: the top next token at the last position of seeded
 *                 validation windows of the Austen text; a classifier (checkpoint with a
 *                 classifier head): the top class of seeded validation passages.
 *   groundtruth   a model trained on a synthetic task (task:assoc-recall, task:needle):
 *                 accuracy, then relevance vs the known evidence positions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { getMethod, METHOD_NAMES, DEFAULT_IG_STEPS } from '../../explain/registry.js';
import { AGGREGATIONS, ExplainError } from '../../explain/types.js';
import type { ChannelAggregation, ExplainOptions } from '../../explain/types.js';
import { VARIANTS } from '../../implicit/decomposition.js';
import type { Variant } from '../../implicit/decomposition.js';
import { MemoryBudgetError } from '../../implicit/extract.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import type { TextTokenizer } from '../../io/tokenizer.js';
import type { DecoderLM } from '../../models/index.js';
import { loadTrainedModel, STATE_FILE, TrainingError } from '../../io/training-checkpoint.js';
import type { ClassifierHead } from '../../train/classifier.js';
import { getTask } from '../../train/data.js';
import { classificationPassages, languageModelWindows } from '../../evaluate/austen.js';
import { classifierAsLM } from '../../evaluate/classifier-target.js';
import { runGroundTruth } from '../../evaluate/groundtruth.js';
import { EvaluationError } from '../../evaluate/metrics.js';
import { FRACTIONS, PERTURBATION_KINDS } from '../../evaluate/perturbation.js';
import type { PerturbationKind } from '../../evaluate/perturbation.js';
import { codeVersion } from '../../io/provenance.js';
import { groundTruthMarkdown, groundTruthSvg, perturbationMarkdown, perturbationSvg } from '../../evaluate/report.js';
import type { GroundTruthDocument, ModelInfo, PerturbationDocument, Provenance } from '../../evaluate/report.js';
import { runPerturbation } from '../../evaluate/runner.js';
import { EVIDENCE_DESCRIPTIONS } from '../../evaluate/tasks.js';
import { svgToPng } from '../../io/svg-png.js';
import { CliError } from '../errors.js';
import { integerAtLeast, nonNegativeInt, oneOf, positiveInt } from '../parse.js';
import { DEFAULT_MODEL_DIR, parseDType, printJson } from '../options.js';
import { progressBar } from '../progress.js';

interface CommonOptions {
  model?: string;
  dtype: string;
  methods: string;
  samples: string;
  seq?: string;
  seed: string;
  steps: string;
  startLayer: string;
  variant?: string;
  aggregation: string;
  out?: string;
  json?: boolean;
}

interface PerturbationCliOptions extends CommonOptions {
  kind: string;
  neutral: string;
  batch: string;
}

interface GroundTruthCliOptions extends CommonOptions {
  task?: string;
  minAccuracy: string;
}

function addCommonOptions(command: Command, defaultSamples: string): Command {
  return command
    .option('--model <dir>', 'checkpoint folder (default: the embedded model)')
    .option('--dtype <type>', 'compute type: float32 or float64', 'float32')
    .option('--methods <a,b|all>', `explanation methods: ${METHOD_NAMES.join(', ')}, or all`, 'all')
    .option('--samples <n>', 'samples evaluated (a fixed seeded draw)', defaultSamples)
    .option('--seed <n>', 'seed of the sample draw, tie-breaking and the random baseline', '0')
    .option('--steps <n>', 'integrated-gradients steps', String(DEFAULT_IG_STEPS))
    .option('--start-layer <n>', 'first layer entering the attention-based recipes', '0')
    .option('--variant <name>', `implicit-attention formulation: ${VARIANTS.join(', ')} (default: paper; hidden for hidden-attr)`)
    .option('--aggregation <how>', `channel aggregation: ${AGGREGATIONS.join(', ')}`, 'positive')
    .option('--json', 'print the results document (results.json) instead of the table');
}

export function registerEvaluate(program: Command): void {
  const evaluate = program.command('evaluate').description('how faithful explanations are: perturbation tests (Austen LMs, classifiers) and ground truth on synthetic tasks');
  addCommonOptions(
    evaluate
      .command('perturbation')
      .description(
        'perturb the most / least relevant tokens first and track p(target): AUC MoRF, AUC LeRF and ΔA^F per method. ' +
          'Language models: the top next token at the last position of validation windows (default 32 tokens); ' +
          'classifiers: the top class of validation passages (default: the trained length)',
      ),
    '200',
  )
    .option('--seq <n>', 'tokens per window or passage (default: 32 for language models; the trained length for classifiers)')
    .option('--kind <replace|delete>', 'replace perturbed tokens with --neutral, or delete them', 'delete')
    .option('--neutral <pad|space|#ID>', "replacement for --kind replace: the config's pad token, the tokenizer's space token, or an id", 'space')
    .option('--batch <n>', 'perturbed sequences per forward pass', '20')
    .option('--out <dir>', 'output folder for results.json, results.md, curves.svg, curves.png', 'out/evaluate/perturbation')
    .action((options: PerturbationCliOptions, command: Command) => guard(() => runPerturbationCommand(options, command)));
  addCommonOptions(
    evaluate
      .command('groundtruth')
      .description('on a model trained on a synthetic task: accuracy, then relevance mass on the evidence, top-k hit rate and AUROC per method'),
    '200',
  )
    .option('--seq <n>', 'tokens per example (default: the length the model was trained on)')
    .option('--task <name>', 'assoc-recall or needle (default: the task the model was trained on, from its trainer_state.json)')
    .option('--min-accuracy <x>', 'below this accuracy the model did not learn the task and is not explained', '0.9')
    .option('--out <dir>', 'output folder for results.json, results.md, curves.svg, curves.png', 'out/evaluate/groundtruth')
    .action((options: GroundTruthCliOptions, command: Command) => guard(() => runGroundTruthCommand(options, command)));
  for (const c of evaluate.commands) c.exitOverride();
}

/** Failures of the evaluation's inputs become one-line CLI errors. */
function guard(run: () => void): void {
  try {
    run();
  } catch (error) {
    if (error instanceof EvaluationError || error instanceof ExplainError || error instanceof TrainingError || error instanceof MemoryBudgetError) throw new CliError(error.message);
    throw error;
  }
}

function parseMethods(value: string): string[] {
  if (value === 'all') return [...METHOD_NAMES];
  const names = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (names.length === 0) throw new CliError(`--methods expects comma-separated method names or all, got '${value}'`);
  return [...new Set(names.map((n) => getMethod(n).name))];
}

function explainOptions(o: CommonOptions, layers: number): ExplainOptions & { startLayer: number; aggregation: ChannelAggregation; steps: number; seed: number } {
  const startLayer = nonNegativeInt(o.startLayer, '--start-layer');
  if (startLayer >= layers) throw new CliError(`--start-layer ${startLayer} is outside the model's layers [0, ${layers})`);
  const options = {
    startLayer,
    aggregation: oneOf(o.aggregation, AGGREGATIONS, '--aggregation'),
    steps: positiveInt(o.steps, '--steps'),
    seed: nonNegativeInt(o.seed, '--seed'),
  };
  return o.variant === undefined ? options : { ...options, variant: oneOf(o.variant, VARIANTS, '--variant') as Variant };
}

interface Opened {
  dir: string;
  model: DecoderLM;
  head: ClassifierHead | null;
  labels: string[] | null;
  config: Record<string, unknown>;
  tokenizerPath: string | null;
  /** trainer_state.json's data section, when the checkpoint was trained by iattn train. */
  trained: { name: string; length: number } | null;
}

function openTrained(o: CommonOptions): Opened {
  const dir = o.model ?? DEFAULT_MODEL_DIR;
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new CliError(`--model ${dir}: no config.json there`);
  const loaded = loadTrainedModel(dir, parseDType(o.dtype));
  let trained: Opened['trained'] = null;
  const stateFile = path.join(dir, STATE_FILE);
  if (fs.existsSync(stateFile)) {
    try {
      const data = (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { data?: { name?: unknown; length?: unknown } }).data;
      if (typeof data?.name === 'string' && typeof data.length === 'number') trained = { name: data.name, length: data.length };
    } catch {
      // not ours: treat as untrained
    }
  }
  return { dir, ...loaded, trained };
}

function modelInfo(m: Opened): ModelInfo {
  return {
    dir: m.dir,
    modelType: m.model.modelType,
    layers: m.model.numLayers,
    hidden: m.model.config.hiddenSize,
    parameters: m.model.parameterCount() + (m.head === null ? 0 : m.head.weight.size + m.head.bias.size),
    objective: m.head === null ? 'next-token' : 'classify',
    ...(m.labels === null ? {} : { labels: m.labels }),
    ...(m.trained === null ? {} : { trainedOn: m.trained.name }),
  };
}

/** The command line as given: the command path and every option set on the command line (canonical order). */
function provenance(command: Command): Provenance {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  const values = command.opts() as Record<string, unknown>;
  const quote = (a: string) => (/^[\w./:,#=@+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  const flags = command.options.flatMap((option) => {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) !== 'cli' || option.long === undefined) return [];
    const value = values[key];
    return value === true ? [option.long] : [option.long, quote(String(value))];
  });
  return { code: codeVersion(), command: ['iattn', ...names, ...flags].join(' '), createdAt: new Date().toISOString() };
}

function openTokenizerOf(m: Opened): TextTokenizer {
  if (m.tokenizerPath === null) throw new CliError(`${m.dir} has no tokenizer.json (needed to read the Austen text)`);
  return loadTokenizer(m.tokenizerPath);
}

/** The replacement id of --neutral: pad (config), space (tokenizer) or #ID. */
function neutralToken(value: string, m: Opened, tokenizer: TextTokenizer): { id: number; text: string; source: string } {
  const V = m.model.config.vocabSize;
  let id: number;
  let source: string;
  if (value === 'pad') {
    const candidates = ['pad_token_id', 'unk_token_id', 'eos_token_id'] as const;
    const key = candidates.find((k) => Number.isInteger(m.config[k]));
    if (key === undefined) throw new CliError(`--neutral pad: ${m.dir}/config.json has no pad_token_id, unk_token_id or eos_token_id`);
    id = m.config[key] as number;
    source = `config.json ${key}`;
  } else if (value === 'space') {
    const ids = tokenizer.encode(' ');
    if (ids.length !== 1) throw new CliError(`--neutral space: ' ' encodes to ${ids.length} tokens in this tokenizer; use pad or #ID`);
    id = ids[0];
    source = "the tokenizer's encoding of ' '";
  } else {
    const match = /^#(\d+)$/.exec(value);
    if (match === null) throw new CliError(`--neutral must be pad, space or #ID, got '${value}'`);
    id = Number(match[1]);
    source = 'given id';
  }
  if (!(id >= 0 && id < V)) throw new CliError(`--neutral ${value}: id ${id} is outside the vocabulary [0, ${V})`);
  return { id, text: tokenizer.tokenToString(id), source };
}

function writeOutputs(out: string, document: unknown, markdown: string, svg: string): string[] {
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new CliError(`cannot create --out ${out}: ${(error as Error).message}`);
  }
  const files = ['results.json', 'results.md', 'curves.svg', 'curves.png'].map((f) => path.join(out, f));
  writeFileAtomic(files[0], `${JSON.stringify(document, null, 2)}\n`);
  writeFileAtomic(files[1], markdown);
  writeFileAtomic(files[2], svg);
  writeFileAtomic(files[3], svgToPng(svg, { scale: 1.5 }));
  return files;
}

function report(o: CommonOptions, out: string, document: unknown, markdown: string, svg: string): void {
  const files = writeOutputs(out, document, markdown, svg);
  if (o.json) return printJson(document);
  process.stdout.write(`${markdown}\nwrote ${files.join(', ')}\n`);
}

function runPerturbationCommand(o: PerturbationCliOptions, command: Command): void {
  const methods = parseMethods(o.methods);
  const samples = positiveInt(o.samples, '--samples');
  const kind = oneOf(o.kind, PERTURBATION_KINDS, '--kind') as PerturbationKind;
  const batchSize = positiveInt(o.batch, '--batch');
  const seed = nonNegativeInt(o.seed, '--seed');
  const seqGiven = o.seq === undefined ? undefined : integerAtLeast(o.seq, '--seq', 2);
  if (kind === 'delete' && command.getOptionValueSource('neutral') === 'cli') throw new CliError('--neutral applies to --kind replace only');
  const out = o.out ?? 'out/evaluate/perturbation';
  const m = openTrained(o);
  const explain = explainOptions(o, m.model.numLayers);
  const tokenizer = openTokenizerOf(m);
  const neutral = kind === 'replace' ? neutralToken(o.neutral, m, tokenizer) : null;
  const classify = m.head !== null;
  const length = seqGiven ?? (classify ? (m.trained?.length ?? 64) : 32);
  const set = classify ? classificationPassages(tokenizer, length, samples, seed, m.labels ?? []) : languageModelWindows(tokenizer, length, samples, seed);
  const model = classify ? classifierAsLM(m.model, m.head!) : m.model;
  const bar = progressBar('perturbation', 'samples');
  const started = performance.now();
  let run;
  try {
    run = runPerturbation(model, set.samples, {
      methods,
      perturbation: { kind, ...(neutral === null ? {} : { neutralId: neutral.id }) },
      protectTarget: !classify,
      seed,
      explain,
      batchSize,
      onProgress: (d, t) => bar.update(d, t),
    });
  } finally {
    bar.stop();
  }
  const document: PerturbationDocument = {
    evaluation: 'perturbation',
    ...provenance(command),
    model: modelInfo(m),
    target: classify
      ? "the class logit of the model's top class, read by the classifier head at the last token; score: p(that class)"
      : "the model's top next token after the last token of each window; score: p(that token)",
    data: { slice: set.slice, length, samples: set.samples.length, candidates: set.candidates, seed, picked: set.samples.map((s) => ({ book: s.book, offset: s.offset })) },
    perturbation: {
      kind,
      neutral,
      fractions: [...FRACTIONS],
      protectTarget: !classify,
      excluded: classify
        ? 'every position may be perturbed (the class is read at the last token, which may be perturbed too)'
        : 'the explained (last) position is never perturbed — its token is the one whose next token is predicted; every earlier position may be',
      auc: 'p(target) after perturbation / p(target) unperturbed, trapezoid AUC over the fractions 0 … 0.9 (a flat curve at 1 gives 0.9)',
    },
    explain: { startLayer: explain.startLayer, variant: explain.variant ?? 'paper (hidden for hidden-attr)', aggregation: explain.aggregation, igSteps: explain.steps, seed },
    unperturbed: run.unperturbed,
    methods: run.summaries,
    failures: run.failures,
    igRelativeCompleteness: run.igRelativeCompleteness,
    perSample: run.outcomes.map((outcome, i) => ({
      book: set.samples[i].book,
      offset: set.samples[i].offset,
      target: outcome.target,
      label: set.samples[i].label ?? null,
      p0: outcome.baseProbability,
      auc: Object.fromEntries(Object.entries(outcome.methods).map(([name, c]) => [name, [c.aucMorf, c.aucLerf] as [number, number]])),
    })),
    forwards: run.forwards,
    seconds: { ...run.seconds, total: (performance.now() - started) / 1000 },
  };
  report(o, out, document, perturbationMarkdown(document), perturbationSvg(document));
}

function runGroundTruthCommand(o: GroundTruthCliOptions, command: Command): void {
  const methods = parseMethods(o.methods);
  const samples = positiveInt(o.samples, '--samples');
  const seed = nonNegativeInt(o.seed, '--seed');
  const minAccuracy = Number(o.minAccuracy);
  if (!(minAccuracy >= 0 && minAccuracy <= 1) || o.minAccuracy.trim() === '') throw new CliError(`--min-accuracy must be a number in [0, 1], got '${o.minAccuracy}'`);
  const seqGiven = o.seq === undefined ? undefined : integerAtLeast(o.seq, '--seq', 2);
  const out = o.out ?? 'out/evaluate/groundtruth';
  const m = openTrained(o);
  if (m.head !== null) throw new CliError(`${m.dir} is a classifier; the ground-truth tasks are answered by a language-model head (train with --data task:NAME)`);
  const trainedTask = m.trained?.name.startsWith('task:') ? m.trained.name.slice('task:'.length) : undefined;
  const taskName = o.task ?? trainedTask;
  if (taskName === undefined) throw new CliError(`${m.dir} was not trained on a task (no task:NAME in its ${STATE_FILE}); give --task assoc-recall or --task needle`);
  const task = getTask(taskName);
  const length = seqGiven ?? (trainedTask === taskName ? m.trained!.length : undefined);
  if (length === undefined) throw new CliError(`--seq is needed: ${m.dir} was not trained on task:${taskName}`);
  const need = task.minVocab(length);
  if (m.model.config.vocabSize < need) throw new CliError(`task:${taskName} with ${length} tokens needs a vocabulary of ${need}; the model has ${m.model.config.vocabSize}`);
  const explain = explainOptions(o, m.model.numLayers);
  const bar = progressBar('ground truth', 'examples');
  let result;
  try {
    result = runGroundTruth(m.model, task, { methods, samples, length, seed, minAccuracy, explain, onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.stop();
  }
  const document: GroundTruthDocument = {
    evaluation: 'groundtruth',
    ...provenance(command),
    model: modelInfo(m),
    task: { name: task.name, description: task.description, length, vocabSize: m.model.config.vocabSize, evidence: EVIDENCE_DESCRIPTIONS[task.name] ?? 'the positions the task generator marks as evidence' },
    seed,
    explain: { startLayer: explain.startLayer, variant: explain.variant ?? 'paper (hidden for hidden-attr)', aggregation: explain.aggregation, igSteps: explain.steps, seed },
    result,
  };
  report(o, out, document, groundTruthMarkdown(document), groundTruthSvg(document));
}
