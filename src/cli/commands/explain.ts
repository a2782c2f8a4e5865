/**
 * `iattn explain`: which input tokens made the model predict its next token — one method or
 * all of them (src/explain), as coloured tokens in the terminal (or the top-10 tokens with
 * scores when colour is off: NO_COLOR, --no-color, or stdout not a terminal), one JSON
 * document with --json, and an HTML report with --out FILE.html. On a classifier checkpoint
 * (a classifier head, src/train/classifier.ts) the explained logit is the class read at the
 * last token; --target names a class (id2label name or #ID).
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { ExplainContext } from '../../explain/context.js';
import { DEFAULT_IG_STEPS, DEFAULT_METHOD, explain, getMethod, METHOD_NAMES } from '../../explain/registry.js';
import { classTargetLine, explanationHtml, formatScore, quoteToken, targetLine, topTokensLine } from '../../explain/report.js';
import type { ReportEntry } from '../../explain/report.js';
import { AGGREGATIONS, ExplainError } from '../../explain/types.js';
import type { ExplainOptions, ResolvedTarget } from '../../explain/types.js';
import { VARIANTS } from '../../implicit/decomposition.js';
import { MemoryBudgetError } from '../../implicit/extract.js';
import { classifierOf } from '../../io/classifier-checkpoint.js';
import type { LoadedModel } from '../../io/load-model.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { colorTokens } from '../../viz/index.js';
import { CliError } from '../errors.js';
import { integer, nonNegativeInt, oneOf, positiveInt } from '../parse.js';
import { addInputOptions, addModelOptions, openModel, openTokenizer, printJson, readInputIds } from '../options.js';
import type { InputOptions, ModelOptions } from '../options.js';
import { progressBar } from '../progress.js';
import { tokenLabels } from '../tokens.js';
import { runExplainImage } from './vision.js';

interface ExplainCliOptions extends ModelOptions, InputOptions {
  method: string;
  target: string;
  position: string;
  variant?: string;
  startLayer: string;
  aggregation: string;
  steps: string;
  seed: string;
  json?: boolean;
  out?: string;
  color: boolean;
  image?: string;
}

export function registerExplain(program: Command): void {
  const command = program
    .command('explain')
    .description('explain a prediction: relevance of every input token for the next-token logit, by implicit-attention and gradient methods');
  addInputOptions(addModelOptions(command))
    .option('--method <name|all>', `${METHOD_NAMES.join(', ')} (last-tokens = recency, ig = integrated-gradients), or all`, DEFAULT_METHOD)
    .option('--target <next|TOKEN>', "next = the model's top next token; otherwise a string that encodes to exactly one token, or #ID", 'next')
    .option('--position <t|last>', 'the position whose next-token logit is explained', 'last')
    .option('--variant <name>', `implicit-attention formulation: ${VARIANTS.join(', ')} (default: paper; hidden for hidden-attr)`)
    .option('--start-layer <n>', 'first layer entering the attention-based recipes', '0')
    .option('--aggregation <how>', `channel aggregation: ${AGGREGATIONS.join(', ')}`, 'positive')
    .option('--steps <n>', 'integrated-gradients steps (Gauss–Legendre nodes)', String(DEFAULT_IG_STEPS))
    .option('--seed <n>', 'seed of the random baseline', '0')
    .option('--json', 'print one JSON document: tokens, target, per-method scores and metadata')
    .option('--out <file.html>', 'also write an HTML report')
    .option('--no-color', 'no terminal colours: list the top-10 tokens of each method instead')
    .option('--image <file.png>', 'explain a vision model (Vision Mamba, MLLA) on a PNG image instead: same as `iattn vision explain`')
    .action((options: ExplainCliOptions) => {
      if (options.image !== undefined) return runExplainImage({ ...options, target: options.target === 'next' ? undefined : options.target });
      try {
        runExplain(options);
      } catch (error) {
        if (isMethodFailure(error)) throw new CliError(error.message);
        throw error;
      }
    });
}

function runExplain(options: ExplainCliOptions): void {
  const methods = options.method === 'all' ? [...METHOD_NAMES] : [getMethod(options.method).name];
  const explainOptions: ExplainOptions = {
    startLayer: nonNegativeInt(options.startLayer, '--start-layer'),
    aggregation: oneOf(options.aggregation, AGGREGATIONS, '--aggregation'),
    steps: positiveInt(options.steps, '--steps'),
    seed: integer(options.seed, '--seed'),
  };
  if (options.variant !== undefined) explainOptions.variant = oneOf(options.variant, VARIANTS, '--variant');
  if (options.out !== undefined && path.extname(options.out).toLowerCase() !== '.html') {
    throw new CliError(`--out writes an HTML report; give a file ending in .html, got '${options.out}'`);
  }
  const base = openModel(options);
  const classifier = classifierOf(base);
  const loaded = classifier ?? base;
  const labels = classifier?.classifier.labels ?? null;
  if (explainOptions.startLayer! >= loaded.model.numLayers) {
    throw new CliError(`--start-layer ${explainOptions.startLayer} is outside the model's layers [0, ${loaded.model.numLayers})`);
  }
  const ids = readInputIds(options, loaded);
  const tokens = tokenLabels(loaded, ids);
  const tokenText = labels === null ? tokenTextOf(loaded) : (id: number) => labels[id] ?? `class ${id}`;
  explainOptions.target = { position: parsePosition(options.position, ids.length), token: labels === null ? parseTarget(options.target, loaded) : parseClass(options.target, labels) };

  const { target, entries } = explainMethods(loaded, ids, methods, explainOptions);
  const headline = labels === null ? targetLine(target, tokenText) : classTargetLine(target, labels);

  if (options.out !== undefined) {
    const html = explanationHtml({
      title: labels === null ? `Explanation of ${loaded.model.modelType} at position ${target.position}` : `Why did the ${loaded.model.modelType} classifier say ${quoteToken(tokenText(target.token))}?`,
      subtitle: `model ${loaded.dir} · ${ids.length} tokens · variant ${explainOptions.variant ?? 'paper (hidden for hidden-attr)'} · start layer ${explainOptions.startLayer} · aggregation ${explainOptions.aggregation}`,
      tokens,
      targetLine: headline,
      targetText: quoteToken(tokenText(target.token)),
      position: target.position,
      entries,
    });
    try {
      writeFileAtomic(options.out, html);
    } catch (error) {
      throw new CliError(`cannot write ${options.out}: ${(error as Error).message}`);
    }
  }
  if (options.json) {
    printJson({ ...(jsonDocument(loaded, ids, tokens, target, tokenText, entries) as object), ...(labels === null ? {} : { labels }) });
  } else {
    printHuman(tokens, target, tokenText, entries, options.color, headline);
  }
  if (options.out !== undefined) (options.json ? process.stderr : process.stdout).write(`report written to ${options.out}\n`);
}

/** Runs each method on one input; with several, a method that cannot run is reported and the others go on. */
export function explainMethods(loaded: LoadedModel, ids: Int32Array, methods: string[], explainOptions: ExplainOptions): { target: ResolvedTarget; entries: ReportEntry[] } {
  const context = new ExplainContext(loaded.model, ids);
  const target = context.target(explainOptions.target);
  const bar = methods.length > 1 ? progressBar('explaining', 'methods') : null;
  const entries: ReportEntry[] = methods.map((name, i) => {
    bar?.update(i, methods.length);
    const method = getMethod(name);
    const entry: ReportEntry = { method: name, description: method.description, recipe: method.recipe };
    try {
      entry.explanation = explain(context, name, explainOptions);
    } catch (error) {
      // With one method its failure is the command's; with all, the others still run.
      if (methods.length === 1 || !isMethodFailure(error)) throw error;
      entry.error = error.message;
    }
    return entry;
  });
  bar?.update(methods.length, methods.length);
  bar?.stop();
  return { target, entries };
}

function jsonDocument(
  loaded: LoadedModel,
  ids: Int32Array,
  tokens: string[],
  target: ResolvedTarget,
  tokenText: (id: number) => string,
  entries: ReportEntry[],
): unknown {
  const methods: Record<string, unknown> = {};
  for (const entry of entries) {
    const e = entry.explanation;
    methods[entry.method] =
      e === undefined
        ? { description: entry.description, recipe: entry.recipe, error: entry.error }
        : {
            description: entry.description,
            recipe: entry.recipe,
            scores: Array.from(e.scores),
            ...(e.layers === undefined ? {} : { layers: e.layers.map((l) => ({ layer: l.layer, kind: l.kind, scores: Array.from(l.scores) })) }),
            metadata: e.metadata,
          };
  }
  return {
    model: loaded.dir,
    modelType: loaded.model.modelType,
    tokens: Array.from(ids, (id, i) => ({ id, text: tokens[i] })),
    target: { ...target, text: tokenText(target.token), topText: tokenText(target.topToken) },
    methods,
  };
}

/** The methods' scores, one line each (coloured tokens or the top 10), under `headline` (default: the target line). */
export function printHuman(tokens: string[], target: ResolvedTarget, tokenText: (id: number) => string, entries: ReportEntry[], colorFlag: boolean, headline?: string): void {
  const color = colorFlag && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const width = Math.max(...entries.map((e) => e.method.length)) + 2;
  const lines = [headline ?? targetLine(target, tokenText)];
  for (const entry of entries) {
    const e = entry.explanation;
    const name = entry.method.padEnd(width);
    if (e === undefined) {
      lines.push(`${name}not available: ${entry.error}`);
      continue;
    }
    if (color) lines.push(name + colorTokens(tokens, e.scores, { legend: false, highlight: [target.position] }));
    else lines.push(`${name}${topTokensLine(tokens, e.scores, 10)}`);
    if (e.metadata.completenessError !== undefined) {
      lines.push(
        `${' '.repeat(width)}completeness error ${formatScore(e.metadata.completenessError)} ` +
          `(${formatScore(100 * (e.metadata.relativeCompletenessError ?? NaN))}% of f(x) − f(0) = ${formatScore(target.logit - (e.metadata.baselineLogit ?? NaN))})`,
      );
    }
  }
  if (color) lines.push(`${' '.repeat(width)}(colour: relevance relative to each method's largest score; the explained position is underlined)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Failures of one method on this input (bad option, unsupported layer, too large): reported, not crashes. */
function isMethodFailure(error: unknown): error is Error {
  return error instanceof ExplainError || error instanceof MemoryBudgetError;
}

export function tokenTextOf(loaded: LoadedModel): (id: number) => string {
  if (loaded.tokenizerPath === null) return (id) => `#${id}`;
  const tokenizer = openTokenizer(loaded);
  return (id) => tokenizer.tokenToString(id);
}

/** 'next' → the model's choice; '#ID' → that id; otherwise text that must encode to exactly one token. */
function parseTarget(value: string, loaded: LoadedModel): number | undefined {
  if (value === 'next') return undefined;
  const vocab = loaded.model.config.vocabSize;
  const id = /^#(\d+)$/.exec(value);
  if (id !== null) {
    const n = Number(id[1]);
    if (n >= vocab) throw new CliError(`--target ${value} is outside the model's vocabulary [0, ${vocab})`);
    return n;
  }
  if (loaded.tokenizerPath === null) throw new CliError(`--target '${value}': this model has no tokenizer.json; give next or a token id as #ID`);
  const tokenizer = openTokenizer(loaded);
  const encoded = tokenizer.encode(value);
  if (encoded.length !== 1) {
    const pieces = encoded.map((t) => quoteToken(tokenizer.tokenToString(t))).join(' ');
    throw new CliError(`--target '${value}' encodes to ${encoded.length} tokens${encoded.length ? ` (${pieces})` : ''}; give exactly one token (mind the leading space, e.g. ' Emma') or #ID`);
  }
  if (encoded[0] >= vocab) throw new CliError(`--target '${value}' is token ${encoded[0]}, outside the model's vocabulary [0, ${vocab})`);
  return encoded[0];
}

/** A classifier's --target: 'next' → its top class; '#ID' or a class name (id2label). */
function parseClass(value: string, labels: readonly string[]): number | undefined {
  if (value === 'next') return undefined;
  const id = /^#(\d+)$/.exec(value);
  const n = id !== null ? Number(id[1]) : labels.indexOf(value);
  if (n < 0 || n >= labels.length) throw new CliError(`--target '${value}' is not a class of this classifier; give next, #ID or one of ${labels.join(', ')}`);
  return n;
}

function parsePosition(value: string, length: number): number {
  if (value === 'last') return length - 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n >= length || value.trim() === '') {
    throw new CliError(`--position must be 'last' or an integer in [0, ${length}) (the input has ${length} tokens), got '${value}'`);
  }
  return n;
}
