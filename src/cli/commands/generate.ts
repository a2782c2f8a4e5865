/** `iattn generate`: recurrent, token-by-token generation from a prompt. */
import type { Command } from 'commander';
import { generate } from '../../models/generate.js';
import { CliError } from '../errors.js';
import { addModelOptions, openModel, openTokenizer, printJson } from '../options.js';
import type { ModelOptions } from '../options.js';
import { integer, nonNegativeNumber, positiveInt } from '../parse.js';

interface GenerateCliOptions extends ModelOptions {
  prompt: string;
  maxTokens: string;
  temperature: string;
  seed: string;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  addModelOptions(program.command('generate').description('generate text, stepping each layer\'s recurrent state one token at a time'))
    .requiredOption('--prompt <text>', 'the prompt')
    .option('--max-tokens <n>', 'tokens to generate', '64')
    .option('--temperature <t>', 'sampling temperature; 0 = greedy', '0.8')
    .option('--seed <s>', 'random seed', '0')
    .option('--json', 'print {prompt, completion, ids} as JSON')
    .action((options: GenerateCliOptions) => {
      const temperature = nonNegativeNumber(options.temperature, '--temperature');
      const seed = integer(options.seed, '--seed');
      const loaded = openModel(options);
      const tokenizer = openTokenizer(loaded);
      const prompt = Int32Array.from(tokenizer.encode(options.prompt));
      if (prompt.length === 0) throw new CliError('the prompt is empty (no tokens)');
      const streaming = !options.json;
      if (streaming) process.stdout.write(options.prompt);
      const produced: number[] = [];
      const ids = generate(loaded.model, prompt, {
        maxTokens: positiveInt(options.maxTokens, '--max-tokens'),
        temperature,
        seed,
        onToken: (id) => {
          // Decode the whole completion each time so multi-byte characters split across tokens print whole.
          const before = tokenizer.decode(produced);
          produced.push(id);
          if (streaming) process.stdout.write(tokenizer.decode(produced).slice(before.length));
        },
      });
      if (streaming) return void process.stdout.write('\n');
      printJson({ prompt: options.prompt, completion: tokenizer.decode(ids), ids });
    });
}
