/**
 * `iattn serve [--host 127.0.0.1] [--port 7860] [--model DIR …]`: the web viewer. Serves the
 * built client (building it first when needed) and the JSON API of src/viewer/README.md for
 * the embedded default model, the which-novel classifier (models/classifier: its prediction
 * is a novel, named by id2label), the shipped vision classifiers (models/vision/vim, mlla) and
 * every --model folder (named by folder; language or vision checkpoints); runs until Ctrl+C.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, resolveConfig } from '../../viewer/server/config.js';
import { ModelCatalogue } from '../../viewer/server/catalogue.js';
import { ensureClient } from '../../viewer/server/client-build.js';
import { startViewer } from '../../viewer/server/server.js';
import { CliError } from '../errors.js';
import { DEFAULT_CLASSIFIER_DIR, DEFAULT_MODEL_DIR } from '../options.js';
import { integerAtLeast, positiveInt } from '../parse.js';
import { DEFAULT_VISION_MODEL_DIRS } from './vision.js';

interface ServeOptions {
  host: string;
  port: string;
  model: string[];
  default: boolean;
  maxTokens: string;
  maxWork: string;
  workers?: string;
  timeout: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the web viewer: explanations, every layer\'s implicit attention, two models side by side, perturbation curves')
    .option('--host <host>', 'interface to listen on (an address other than 127.0.0.1 lets other machines connect)', DEFAULT_HOST)
    .option('--port <n>', 'port (0 picks a free one)', String(DEFAULT_PORT))
    .option('--model <dir>', 'a checkpoint folder (language or vision model) to offer besides the default models (repeatable)', (dir: string, dirs: string[]) => [...dirs, dir], [] as string[])
    .option('--no-default', 'do not offer the embedded default model and the shipped vision models')
    .option('--max-tokens <n>', 'longest input accepted, in tokens', String(DEFAULT_LIMITS.maxTokens))
    .option('--max-work <n>', 'most matrix entries one attention request may compose', String(DEFAULT_LIMITS.maxMatrixWork))
    .option('--workers <n>', 'compute threads (default: 2, or one per spare core up to 4)')
    .option('--timeout <seconds>', 'stop a computation after this long', String(DEFAULT_LIMITS.timeoutSeconds))
    .action(async (options: ServeOptions) => runServe(options));
}

async function runServe(options: ServeOptions): Promise<void> {
  const port = integerAtLeast(options.port, '--port', 0);
  if (port > 65535) throw new CliError(`--port must be at most 65535, got '${options.port}'`);
  // The default language model, the which-novel classifier (class names from its id2label) and the vision models.
  const defaults = [DEFAULT_MODEL_DIR, ...(fs.existsSync(DEFAULT_CLASSIFIER_DIR) ? [DEFAULT_CLASSIFIER_DIR] : []), ...DEFAULT_VISION_MODEL_DIRS];
  const modelDirs = [...(options.default ? defaults : []), ...options.model];
  if (modelDirs.length === 0) throw new CliError('no model to show: drop --no-default or give --model DIR');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    new ModelCatalogue(modelDirs); // every folder is a checkpoint, before anything is built
  } catch (error) {
    throw new CliError(`--model: ${(error as Error).message}`);
  }
  let staticDir: string;
  try {
    staticDir = await ensureClient(say);
  } catch (error) {
    throw new CliError(`${(error as Error).message}; then run npm run build:viewer`);
  }
  const config = resolveConfig({
    host: options.host,
    port,
    modelDirs,
    ...(options.default ? { defaultModelDir: DEFAULT_MODEL_DIR } : {}),
    staticDir,
    ...(options.workers === undefined ? {} : { workers: positiveInt(options.workers, '--workers') }),
    limits: {
      ...DEFAULT_LIMITS,
      maxTokens: positiveInt(options.maxTokens, '--max-tokens'),
      maxMatrixWork: positiveInt(options.maxWork, '--max-work'),
      timeoutSeconds: positiveInt(options.timeout, '--timeout'),
    },
  });
  let viewer;
  try {
    viewer = await startViewer(config);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const models = viewer.catalogue.summaries().map((m) => `${m.id} (${m.modelType})`).join(', ');
  say(`viewer at ${viewer.url}  (models: ${models})`);
  if (config.host !== DEFAULT_HOST && config.host !== 'localhost') say(`warning: listening on ${config.host}: other machines can reach this viewer`);
  say('press Ctrl+C to stop');
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void viewer.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
