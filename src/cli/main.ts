/** The `iattn` command line: every command of the contract, one-line errors, non-zero exits. */
import { Command, CommanderError } from 'commander';
import { registerAttention } from './commands/attention.js';
import { registerDemo } from './commands/demo.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerExplain } from './commands/explain.js';
import { registerGenerate } from './commands/generate.js';
import { registerInfo } from './commands/info.js';
import { registerPerplexity } from './commands/perplexity.js';
import { registerServe } from './commands/serve.js';
import { registerTrain } from './commands/train.js';
import { registerVision } from './commands/vision.js';
import { installNodeExecutor } from '../io/parallel-node.js';
import { CliError, describeFailure } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('iattn')
    .description('Implicit attention for gated-linear RNNs (Mamba, Mamba2, RWKV, Griffin …): run checkpoints, extract attention, explain predictions')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    // Keep commander's message and its suggestion on one line.
    .configureOutput({ outputError: (text, write) => write(`${text.trim().replace(/\s*\n\((Did you mean .*\?)\)/, ' ($1)')}\n`) })
    .exitOverride();
  // The order of the command-line contract (product.md), then the extras.
  registerInfo(program);
  registerPerplexity(program);
  registerAttention(program);
  registerExplain(program);
  registerEvaluate(program);
  registerTrain(program);
  registerServe(program);
  registerDemo(program);
  registerGenerate(program);
  registerVision(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Worker threads for large matrix products (IATTN_THREADS=1: none); a bad IATTN_THREADS is the user's error. */
function installWorkers(): void {
  try {
    installNodeExecutor();
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    installWorkers();
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    // Commander has already printed its own one-line message (unknown option, missing argument, help).
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`iattn: ${describeFailure(error)}\n`);
    if (process.env.IATTN_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
