/**
 * Decomposing a whole model's sequence mixers: run the model once, take each mixer's input
 * from the trace, and hand it to the family's decomposition (registered by mixer kind).
 */
import * as F from '../core/index.js';
import { ShapeError } from '../core/index.js';
import type { Tensor } from '../core/index.js';
import type { DecoderLM, Sublayer, Trace } from '../models/index.js';
import type { MambaMixer } from '../models/mamba.js';
import type { Mamba2Mixer } from '../models/mamba2.js';
import type { RwkvTimeMix } from '../models/rwkv.js';
import type { LayerDecomposition } from './decomposition.js';
import { mambaDecomposition } from './families/mamba.js';
import { mamba2Decomposition } from './families/mamba2.js';
import { rwkvDecomposition } from './families/rwkv.js';

type Decomposer = (sublayer: Sublayer, x: Tensor) => LayerDecomposition;

const mixerOf = <M>(sublayer: Sublayer): M => (sublayer as unknown as { mixer: M }).mixer;

/** Sequence-mixer kinds that have an implicit (or real) attention, and how to decompose them. */
const DECOMPOSERS: Record<string, Decomposer> = {
  mamba: (s, x) => mambaDecomposition('mamba', mixerOf<MambaMixer>(s).internals(x)),
  falcon_mamba: (s, x) => mambaDecomposition('falcon_mamba', mixerOf<MambaMixer>(s).internals(x)),
  mamba2: (s, x) => mamba2Decomposition(mixerOf<Mamba2Mixer>(s).internals(x)),
  rwkv: (s, x) => rwkvDecomposition(mixerOf<RwkvTimeMix>(s).internals(x)),
};

export interface MixerLayer {
  layer: number;
  kind: string;
  sublayer: Sublayer;
}

/** The sequence mixer of every layer (one per layer; MLP/channel-mix sublayers are skipped). */
export function mixerLayers(model: DecoderLM): MixerLayer[] {
  const found: MixerLayer[] = [];
  model.layerKinds().forEach((kinds, layer) => {
    kinds.forEach((kind, index) => {
      if (kind in DECOMPOSERS) found.push({ layer, kind, sublayer: model.sublayer(layer, index) });
    });
  });
  return found;
}

export interface DecomposedModel {
  logits: Tensor;
  layers: Map<number, LayerDecomposition>;
}

/** Runs the model on ids [B, L] and decomposes the mixers of `layers` (default: all). */
export function decomposeModel(model: DecoderLM, ids: Int32Array, batch: number, length: number, layers?: number[]): DecomposedModel {
  return F.noGrad(() => {
    const trace: Trace = new Map();
    const logits = model.forwardIds(ids, batch, length, trace);
    const mixers = mixerLayers(model);
    const wanted = layers ?? mixers.map((m) => m.layer);
    const result = new Map<number, LayerDecomposition>();
    for (const layer of wanted) {
      const mixer = mixers.find((m) => m.layer === layer);
      if (mixer === undefined) {
        throw new ShapeError(`layer ${layer} has no sequence mixer with an implicit attention (layers: ${mixers.map((m) => m.layer).join(', ')})`);
      }
      const x = trace.get(`mixer_in.${layer}.${mixer.kind}`)!;
      result.set(layer, DECOMPOSERS[mixer.kind](mixer.sublayer, x));
    }
    return { logits, layers: result };
  });
}
