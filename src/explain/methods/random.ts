/**
 * `random` — sanity baseline: relevance_j ~ U[0, 1) for j ≤ t (0 after t), drawn from the
 * project's seeded generator (mulberry32) with `seed` (default 0): the same seed gives the
 * same scores.
 */
import { Random } from '../../core/index.js';
import type { ExplainMethod } from '../types.js';

export const RANDOM_RECIPE = 'relevance_j ~ U[0, 1) for j ≤ t, seeded (mulberry32, --seed)';

export const random: ExplainMethod = {
  name: 'random',
  description: 'seeded uniform random scores (sanity baseline)',
  recipe: RANDOM_RECIPE,
  run(context, target, options) {
    const rng = new Random(options.seed);
    const scores = new Float64Array(context.length);
    for (let j = 0; j <= target.position; j++) scores[j] = rng.next();
    return { scores };
  },
};
