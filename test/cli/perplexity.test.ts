/**
 * The trained checkpoints (PyTorch-trained, stored float16 / bfloat16) reach the reference
 * validation NLL through the CLI contract: 64 windows of 256 tokens, tokens 1..255 scored.
 */
import { describe, expect, it } from 'vitest';
import { iattn } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

const REFERENCE_NLL: Record<string, number> = { rwkv: 4.16856, mamba2: 4.75168 };

describe('iattn perplexity on the validation ids', () => {
  for (const [name, reference] of Object.entries(REFERENCE_NLL)) {
    it(`${name} reaches the reference NLL ${reference} within 2e-3`, () => {
      const ids = `${fixturePath('trained', 'val_ids.safetensors')}:val_ids`;
      const r = iattn(['perplexity', '--model', fixturePath('trained', name), '--ids', ids, '--seq', '256', '--json'], { timeoutMs: 300_000 });
      expect(r.stderr).toBe('');
      const result = JSON.parse(r.stdout);
      expect(result.windows).toBe(64);
      expect(result.tokens).toBe(64 * 255);
      expect(Math.abs(result.nll - reference)).toBeLessThan(2e-3);
      expect(result.ppl).toBeCloseTo(Math.exp(result.nll), 6);
    }, 300_000);
  }
});
