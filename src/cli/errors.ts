/** Which failures are the user's input (one line, exit 1) and how to print any failure. */
import { ShapeError } from '../core/index.js';
import { CheckpointError } from '../io/checkpoint.js';
import { SafetensorsError } from '../io/safetensors.js';
import { TokenizerError } from '../io/tokenizer.js';
import { MemoryBudgetError } from '../implicit/extract.js';
import { ConfigError, WeightError } from '../models/index.js';

/** A problem with the command line or its inputs, detected by a command. */
export class CliError extends Error {
  override name = 'CliError';
}

const USER_ERRORS = [CliError, ShapeError, CheckpointError, SafetensorsError, TokenizerError, ConfigError, WeightError, MemoryBudgetError];

/** One line for the terminal: the reason, never a stack trace (set IATTN_DEBUG=1 for one). */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const known = USER_ERRORS.some((kind) => error instanceof kind);
    const text = error.message.split('\n')[0];
    if (error instanceof RangeError && /allocation|Array buffer|Invalid typed array length/i.test(error.message)) {
      return `out of memory: ${text} (try a shorter input, fewer layers or channels, or row mode)`;
    }
    return known ? text : `internal error: ${text} (set IATTN_DEBUG=1 for details)`;
  }
  return String(error);
}
