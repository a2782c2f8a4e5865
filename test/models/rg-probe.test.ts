import { it } from 'vitest';
import * as F from '../../src/core/index.js';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { modelFromStore } from '../../src/models/index.js';
import type { Trace } from '../../src/models/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/ops.js';
it('probe', () => {
  const ref = SafetensorsReader.open(fixturePath('hf', 'recurrent_gemma', 'reference.safetensors'));
  for (const w of [15, 16, 17, 100]) {
    const ck = openCheckpoint(fixturePath('hf', 'recurrent_gemma'));
    const model = modelFromStore({ ...ck.config, attention_window_size: w }, ck, 'float64');
    const trace: Trace = new Map();
    F.noGrad(() => model.forwardIds(ref.readInt('input_ids'), 2, 24, trace));
    console.log(w, relativeError(trace.get('mixer_out.2.local_attention')!.data, ref.readFloat('mixer_out.2.local_attention', 'float64')));
  }
});
