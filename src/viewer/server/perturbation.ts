/**
 * The perturbation curve of the input on screen: src/evaluate/perturbation.ts (the evaluation's
 * own definition — MoRF/LeRF over k = 0, 0.1, …, 0.9 of the positions before the target,
 * normalised target probability, trapezoid AUCs) applied to one sample and one method.
 * Tokens after the target position cannot change its output (causal models) and are dropped
 * before the model is re-run.
 */
import { FRACTIONS, modelScorer, perturbSample } from '../../evaluate/perturbation.js';
import type { DecoderLM } from '../../models/model.js';
import type { PerturbationKind } from '../protocol.js';

export interface PerturbationCurve {
  fractions: number[];
  /** Normalised target probability, most relevant first. */
  morf: number[];
  /** Normalised target probability, least relevant first. */
  lerf: number[];
  /** The unperturbed target probability (the normaliser). */
  baseline: number;
  /** Positions that may be perturbed (those before the target position). */
  perturbable: number;
  auc: { morf: number; lerf: number; delta: number };
}

/** MoRF and LeRF curves of relevance `scores` [L] for `target.token` after `target.position`, ids [L]. */
export function perturbationCurve(
  model: DecoderLM,
  ids: Int32Array,
  scores: ArrayLike<number>,
  target: { position: number; token: number },
  kind: PerturbationKind,
  neutralId: number,
  seed: number,
): PerturbationCurve {
  const t = target.position;
  const prefix = ids.slice(0, t + 1);
  const relevance = Float64Array.from({ length: t + 1 }, (_, j) => scores[j]);
  const outcome = perturbSample(
    { ids: prefix, position: t, target: target.token },
    new Map([['method', relevance]]),
    modelScorer(model),
    { perturbation: kind === 'replace' ? { kind, neutralId } : { kind }, protectTarget: true, seed },
  );
  const curves = outcome.methods.method;
  return {
    fractions: [...FRACTIONS],
    morf: curves.morf,
    lerf: curves.lerf,
    baseline: outcome.baseProbability,
    perturbable: outcome.eligible,
    auc: { morf: curves.aucMorf, lerf: curves.aucLerf, delta: curves.deltaAF },
  };
}
