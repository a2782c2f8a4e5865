/** `iattn perplexity`: mean NLL of windows of --seq tokens (see src/evaluate/perplexity.ts). */
import type { Command } from 'commander';
import { perplexity } from '../../evaluate/perplexity.js';
import { positiveInt } from '../parse.js';
import { addInputOptions, addModelOptions, openModel, printJson, readInputIds } from '../options.js';
import type { InputOptions, ModelOptions } from '../options.js';
import { progressBar } from '../progress.js';

interface PerplexityOptions extends ModelOptions, InputOptions {
  seq: string;
  batch: string;
  json?: boolean;
}

export function registerPerplexity(program: Command): void {
  const command = program
    .command('perplexity')
    .description('validation perplexity: mean NLL of tokens 1..seq-1 of each window of --seq tokens given their prefix');
  addInputOptions(addModelOptions(command))
    .option('--seq <n>', 'window length in tokens', '256')
    .option('--batch <n>', 'windows per forward pass', '8')
    .option('--json', 'print {nll, ppl, tokens, windows} as JSON')
    .action((options: PerplexityOptions) => {
      const seq = positiveInt(options.seq, '--seq');
      const batchSize = positiveInt(options.batch, '--batch');
      const loaded = openModel(options);
      const ids = readInputIds(options, loaded);
      const bar = progressBar('perplexity', 'windows');
      const started = performance.now();
      const result = perplexity(loaded.model, ids, seq, { batchSize, onProgress: (d, t) => bar.update(d, t) });
      bar.stop();
      const seconds = (performance.now() - started) / 1000;
      if (options.json) return printJson(result);
      process.stdout.write(
        `nll ${result.nll.toFixed(5)}  ppl ${result.ppl.toFixed(2)}  (${result.tokens} tokens scored in ${result.windows} windows, ${seconds.toFixed(1)} s)\n`,
      );
    });
}
