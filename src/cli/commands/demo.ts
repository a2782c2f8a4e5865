/**
 * `iattn demo` (what `npm start` runs): on the embedded default model and a sample Austen
 * prompt, predict the next token, explain it with every method (coloured tokens in the
 * terminal), draw every layer's implicit attention, and write one HTML report.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { METHOD_NAMES } from '../../explain/registry.js';
import { explanationHtml, quoteToken, targetLine } from '../../explain/report.js';
import { extract } from '../../implicit/extract.js';
import { runForAttention } from '../../implicit/model-layers.js';
import { writeFileAtomic } from '../../io/node-file.js';
import { svgToPng } from '../../io/svg-png.js';
import { matrixFigure } from '../attention-image.js';
import { addModelOptions, openModel, openTokenizer, printJson } from '../options.js';
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
}

export function registerDemo(program: Command): void {
  addModelOptions(program.command('demo').description('the main job on the embedded default model: predict, explain with every method, draw the implicit attention, write an HTML report'))
    .option('--text <text>', 'the prompt', DEMO_PROMPT)
    .option('--out <dir>', 'folder for report.html and attention.png', 'iattn-demo')
    .option('--no-color', 'no terminal colours')
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
    }),
  );
  writeFileAtomic(imagePath, svgToPng(figure));
  if (options.json) {
    const methods = Object.fromEntries(entries.map((e) => [e.method, e.explanation ? Array.from(e.explanation.scores) : { error: e.error }]));
    printJson({ model: loaded.dir, tokens, target: { ...target, text: tokenText(target.token) }, methods, report: reportPath, image: imagePath });
  }
  say(`\nwrote ${reportPath} (open it in a browser) and ${imagePath}`);
  say('the interactive viewer: npx iattn serve  (then open http://127.0.0.1:7860/)');
  say('more: npx iattn explain --help · npx iattn attention --help · npx iattn --help');
}
