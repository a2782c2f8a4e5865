/**
 * `recency` (the spec's `last-tokens`) — sanity baseline: the nearer a token is to the
 * target position t, the more relevant:
 *
 *   relevance_j = (j + 1) / (t + 1) for j ≤ t, 0 after t.
 */
import type { ExplainMethod } from '../types.js';

export const RECENCY_RECIPE = 'relevance_j = (j + 1) / (t + 1) for j ≤ t (the most recent tokens first)';

export const recency: ExplainMethod = {
  name: 'recency',
  aliases: ['last-tokens'],
  description: 'recency baseline: later tokens are more relevant',
  recipe: RECENCY_RECIPE,
  run(context, target) {
    const t = target.position;
    const scores = new Float64Array(context.length);
    for (let j = 0; j <= t; j++) scores[j] = (j + 1) / (t + 1);
    return { scores };
  },
};
