/** Shared pieces of the viewer tests: the model folders, a catalogue over them, limits, and decoding matrices. */
import { fixturePath } from '../helpers/fixtures.js';
import { ModelCatalogue } from '../../src/viewer/server/catalogue.js';
import { DEFAULT_LIMITS } from '../../src/viewer/server/config.js';
import type { ViewerLimits } from '../../src/viewer/protocol.js';

export const MAMBA2 = fixturePath('trained', 'mamba2');
export const RWKV = fixturePath('trained', 'rwkv');
export const GRIFFIN = fixturePath('hf', 'recurrent_gemma');

export const PROMPT = 'Emma Woodhouse, handsome, clever, and rich, with a comfortable home';

export const limits = (overrides: Partial<ViewerLimits> = {}): ViewerLimits => ({ ...DEFAULT_LIMITS, ...overrides });

export const catalogue = (): ModelCatalogue => new ModelCatalogue([MAMBA2, RWKV, GRIFFIN]);

/** The float32 values of a base64 matrix from the API. */
export function decode(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
