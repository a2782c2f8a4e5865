/**
 * Decomposing a whole model's sequence mixers: run the model once, take each mixer's input
 * from the trace, and hand it to the family's decomposition (registered by mixer kind).
 */
import * as F from '../core/index.js';
import { ShapeError } from '../core/index.js';
import type { Tensor } from '../core/index.js';
import type { DecoderLM, Sublayer, Trace } from '../models/index.js';
import type { GatedAttention } from '../models/gla.js';
import type { HgrnAttention } from '../models/hgrn.js';
import type { MambaMixer } from '../models/mamba.js';
import type { Mamba2Mixer } from '../models/mamba2.js';
import type { LocalAttention } from '../models/local-attention.js';
import type { RecurrentBlock } from '../models/recurrent-gemma.js';
import type { RwkvTimeMix } from '../models/rwkv.js';
import type { LayerDecomposition } from './decomposition.js';
import { gatedLinearAttentionDecomposition } from './families/gla.js';
import { hgrnDecomposition } from './families/hgrn.js';
import { mambaDecomposition } from './families/mamba.js';
import { mamba2Decomposition } from './families/mamba2.js';
import { localAttentionDecomposition, rglruDecomposition } from './families/rglru.js';
import { rwkvDecomposition } from './families/rwkv.js';

type Decomposer = (sublayer: Sublayer, x: Tensor) => LayerDecomposition;

const mixerOf = <M>(sublayer: Sublayer): M => (sublayer as unknown as { mixer: M }).mixer;

const mambaLike = (kind: string, mixer: MambaMixer, x: Tensor) => mambaDecomposition(kind, mixer.internals(x), (p) => mixer.projectOutput(p));
const gatedAttentionLike = (kind: string, mixer: GatedAttention, x: Tensor) =>
  gatedLinearAttentionDecomposition(kind, mixer.internals(x), (p) => mixer.projectOutput(p));

/** Sequence-mixer kinds that have an implicit (or real) attention, and how to decompose them. */
const DECOMPOSERS: Record<string, Decomposer> = {
  mamba: (s, x) => mambaLike('mamba', mixerOf<MambaMixer>(s), x),
  falcon_mamba: (s, x) => mambaLike('falcon_mamba', mixerOf<MambaMixer>(s), x),
  mamba2: (s, x) => {
    const mixer = mixerOf<Mamba2Mixer>(s);
    return mamba2Decomposition(mixer.internals(x), (p) => mixer.projectOutput(p));
  },
  rwkv: (s, x) => {
    const mixer = mixerOf<RwkvTimeMix>(s);
    return rwkvDecomposition(mixer.internals(x), (p) => mixer.projectOutput(p));
  },
  rglru: (s, x) => rglruDecomposition(mixerOf<RecurrentBlock>(s), x),
  local_attention: (s, x) => localAttentionDecomposition(mixerOf<LocalAttention>(s), x),
  gla: (s, x) => gatedAttentionLike('gla', mixerOf<GatedAttention>(s), x),
  retnet: (s, x) => gatedAttentionLike('retnet', mixerOf<GatedAttention>(s), x),
  hgrn: (s, x) => {
    const mixer = mixerOf<HgrnAttention>(s);
    return hgrnDecomposition(mixer.internals(x), (p) => mixer.projectOutput(p));
  },
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

/** A forward pass whose mixer inputs are kept, so each layer can be decomposed when asked (one at a time saves memory). */
export interface AttentionRun {
  logits: Tensor;
  /** Layers with a sequence mixer, in order. */
  layers: number[];
  decompose(layer: number): LayerDecomposition;
}

/** Runs the model on ids [B, L] (no gradients) and prepares per-layer decompositions. */
export function runForAttention(model: DecoderLM, ids: Int32Array, batch: number, length: number): AttentionRun {
  const trace: Trace = new Map();
  const logits = F.noGrad(() => model.forwardIds(ids, batch, length, trace));
  const mixers = mixerLayers(model);
  return {
    logits,
    layers: mixers.map((m) => m.layer),
    decompose(layer) {
      const mixer = mixers.find((m) => m.layer === layer);
      if (mixer === undefined) {
        throw new ShapeError(`layer ${layer} has no sequence mixer with an implicit attention (layers: ${mixers.map((m) => m.layer).join(', ')})`);
      }
      const x = trace.get(`mixer_in.${layer}.${mixer.kind}`)!;
      return F.noGrad(() => DECOMPOSERS[mixer.kind](mixer.sublayer, x));
    },
  };
}

/** Every (or the given) layer's decomposition at once; convenient for small inputs. */
export function decomposeModel(model: DecoderLM, ids: Int32Array, batch: number, length: number, layers?: number[]): Map<number, LayerDecomposition> {
  const run = runForAttention(model, ids, batch, length);
  return new Map((layers ?? run.layers).map((layer) => [layer, run.decompose(layer)]));
}
