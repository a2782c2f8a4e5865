/**
 * `iattn demo` (what `npm start` runs): on the embedded default model and a sample Austen
 * prompt, predict the next token, explain it with every method (coloured tokens in the
 * terminal), draw every layer's implicit attention; then let the embedded which-novel
 * classifier (models/classifier) say which book the prompt comes from and explain that
 * decision with every method; write one HTML report with both.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { METHOD_NAMES } from '../../explain/registry.js';
import { classTargetLine, explanationHtml, quoteToken, targetLine } from '../../explain/report.js';
import type { HtmlReportPart } from '../../explain/report.js';
import { noGrad } from '../../core/index.js';
import { classifierOf } from '../../io/classifier-checkpoint.js';
import type { LoadedClassifier } from '../../io/classifier-checkpoint.js';
import { loadModel } from '../../io/load-model.js';
import { extract } from '../../implicit/extract.js';
import { runForAttention } from '../../implicit/model-layers.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { svgToPng } from '../../io/svg-png.js';
import { matrixFigure } from '../attention-image.js';
import { CliError } from '../errors.js';
import { addModelOptions, DEFAULT_CLASSIFIER_DIR, openModel, openTokenizer, parseDType, printJson } from '../options.js';
import type { ModelOptions } from '../options.js';
import { tokenLabels } from '../tokens.js';
import { explainMethods, printHuman, tokenTextOf } from './explain.js';

export const DEMO_PROMPT =
  'Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, seemed to unite some of the best blessings of existence; and had lived nearly twenty-one years in the world with very little to distress or vex';

interface DemoOptions extends ModelOptions {
  text: string;
  out: string;
  color: boolean;
  json?: boolean;
  /** The which-novel classifier folder (undefined: the embedded one), or false (--no-classifier). */
  classifier?: string | false;
}

export function registerDemo(program: Command): void {
  addModelOptions(program.command('demo').description('the main job on the embedded default model: predict, explain with every method, draw the implicit attention, say which Austen novel the prompt comes from (the embedded classifier) and why, write an HTML report'))
    .option('--text <text>', 'the prompt', DEMO_PROMPT)
    .option('--out <dir>', 'folder for report.html and attention.png', 'iattn-demo')
    .option('--no-color', 'no terminal colours')
    .option('--classifier <dir>', 'the classifier that says which novel the prompt comes from (a checkpoint with a classifier head); default: the embedded classifier (models/classifier)')
    .option('--no-classifier', 'skip the classification part')
    .option('--json', 'print one JSON document: the prediction, every method\'s scores and the files written')
    .action((options: DemoOptions) => runDemo(options));
}

function runDemo(options: DemoOptions): void {
  const loaded = openModel(options);
  const ids = Int32Array.from(openTokenizer(loaded).encode(options.text));
  const tokens = tokenLabels(loaded, ids);
  const tokenText = tokenTextOf(loaded);
  // With --json, the human lines go to stderr so stdout holds exactly one JSON document.
  const say = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  say(`model ${loaded.dir} (${loaded.model.modelType}, ${loaded.model.numLayers} layers, ${(loaded.model.parameterCount() / 1e6).toFixed(2)} M parameters)`);
  say(`prompt: ${options.text}\n`);

  const { target, entries } = explainMethods(loaded, ids, [...METHOD_NAMES], {});
  if (!options.json) printHuman(tokens, target, tokenText, entries, options.color);

  const run = runForAttention(loaded.model, ids, 1, ids.length);
  const layers = run.layers.map((layer) => {
    const d = run.decompose(layer);
    return { layer, mixer: d.mixer, extraction: extract(d, { variant: 'paper', reduce: 'mean-abs' }) };
  });
  const figure = matrixFigure(layers, tokens, { variant: 'paper', reduce: 'mean-abs', row: undefined, format: 'svg', model: path.basename(loaded.dir) });

  fs.mkdirSync(options.out, { recursive: true });
  const reportPath = path.join(options.out, 'report.html');
  const imagePath = path.join(options.out, 'attention.png');
  const classification = options.classifier === false ? null : classify(options.classifier ?? DEFAULT_CLASSIFIER_DIR, options, say);

  writeFileAtomic(
    reportPath,
    explanationHtml({
      title: `Why did ${loaded.model.modelType} predict ${quoteToken(tokenText(target.token))}?`,
      subtitle: `model ${loaded.dir} · ${ids.length} tokens · every explanation method, then every layer's implicit attention (paper formulation, mean |H| over channels)`,
      tokens,
      targetLine: targetLine(target, tokenText),
      targetText: quoteToken(tokenText(target.token)),
      position: target.position,
      entries,
      figures: [{ title: 'Implicit attention of every layer', svg: figure }],
      parts: classification === null ? [] : [classification.part],
    }),
  );
  writeFileAtomic(imagePath, svgToPng(figure));
  if (options.json) {
    const methods = Object.fromEntries(entries.map((e) => [e.method, e.explanation ? Array.from(e.explanation.scores) : { error: e.error }]));
    printJson({
      model: loaded.dir,
      tokens,
      target: { ...target, text: tokenText(target.token) },
      methods,
      ...(classification === null ? {} : { classifier: classification.json }),
      report: reportPath,
      image: imagePath,
    });
  }
  say(`\nwrote ${reportPath} (open it in a browser) and ${imagePath}`);
  say('the interactive viewer: npx iattn serve  (then open http://127.0.0.1:7860/)');
  say('more: npx iattn explain --help · npx iattn attention --help · npx iattn --help');
}

/** Probabilities of every class for the whole passage (softmax of the head at the last token). */
function classProbabilities(c: LoadedClassifier, ids: Int32Array): number[] {
  const logits = noGrad(() => c.model.forwardIds(ids, 1, ids.length)).data; // [1, L, C]
  const C = c.classifier.labels.length;
  const last = Array.from(logits.subarray((ids.length - 1) * C, ids.length * C));
  const m = Math.max(...last);
  const e = last.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/**
 * The classification part: which novel the prompt comes from (every class's probability),
 * and every method's relevance of each token for the predicted class's logit.
 */
function classify(dir: string, options: DemoOptions, say: (line: string) => void): { part: HtmlReportPart; json: unknown } {
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new CliError(`--classifier ${dir}: no config.json there (or give --no-classifier)`);
  const classifier = classifierOf(loadModel(dir, { dtype: parseDType(options.dtype) }));
  if (classifier === null) throw new CliError(`--classifier ${dir} has no classifier head (classifier.weight); train one with iattn train --data austen-classify`);
  const { labels } = classifier.classifier;
  const ids = Int32Array.from(openTokenizer(classifier).encode(options.text));
  const tokens = tokenLabels(classifier, ids);
  const probabilities = classProbabilities(classifier, ids);
  const ranked = labels.map((label, i) => ({ label, p: probabilities[i] })).sort((a, b) => b.p - a.p);
  say(`\nwhich novel? ${classifier.dir} (${classifier.model.modelType} classifier, ${labels.length} classes from id2label): ` + ranked.map((r) => `${r.label} ${(100 * r.p).toFixed(1)} %`).join(' · '));
  const { target, entries } = explainMethods(classifier, ids, [...METHOD_NAMES], {});
  const labelOf = (id: number) => labels[id] ?? `class ${id}`;
  const headline = classTargetLine(target, labels);
  say(`why ${quoteToken(labelOf(target.token))}? relevance of each token for that class's logit:`);
  if (!options.json) printHuman(tokens, target, labelOf, entries, options.color, headline);
  const part: HtmlReportPart = {
    heading: `Which novel? The classifier says ${quoteToken(labelOf(target.token))}`,
    subtitle: `classifier ${classifier.dir} · ${ids.length} tokens · ${ranked.map((r) => `${r.label} ${(100 * r.p).toFixed(1)} %`).join(' · ')} · relevance of each token for the class logit, every method`,
    tokens,
    targetLine: headline,
    targetText: quoteToken(labelOf(target.token)),
    position: target.position,
    entries,
  };
  const methods = Object.fromEntries(entries.map((e) => [e.method, e.explanation ? Array.from(e.explanation.scores) : { error: e.error }]));
  const json = {
    model: classifier.dir,
    labels,
    probabilities: Object.fromEntries(labels.map((l, i) => [l, probabilities[i]])),
    predicted: labelOf(target.topToken),
    target: { ...target, text: labelOf(target.token) },
    tokens,
    methods,
  };
  return { part, json };
}
