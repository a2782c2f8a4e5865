/**
 * The embedded default model (trained in TypeScript, models/README.md) loads offline and keeps
 * its measured quality: validation NLL 4.2328 on the fixtures' protocol (64 × 256 tokens).
 */
import { describe, expect, it } from 'vitest';
import { iattn } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('the embedded default model', () => {
  it('is what commands use without --model, and reaches its validation NLL', () => {
    const r = iattn(['perplexity', '--ids', `${fixturePath('trained', 'val_ids.safetensors')}:val_ids`, '--seq', '256', '--json'], { timeoutMs: 300_000 });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout);
    expect(result.windows).toBe(64);
    expect(result.nll).toBeGreaterThan(4.2);
    expect(result.nll).toBeLessThan(4.27);
  }, 300_000);

  it('runs the demo (npm start) and writes the report', () => {
    const out = `${process.env.TMPDIR ?? '/tmp'}/iattn-demo-test-${process.pid}`;
    const r = iattn(['demo', '--out', out], { timeoutMs: 300_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/next token '.+' p=/);
    expect(r.stdout).toMatch(/unified-attr/);
    expect(r.stdout).toContain(`${out}/report.html`);
    const json = JSON.parse(iattn(['demo', '--out', out, '--json'], { timeoutMs: 300_000 }).stdout);
    expect(json.report).toBe(`${out}/report.html`);
    expect(Object.keys(json.methods)).toContain('unified-attr');
    expect(json.methods['unified-attr']).toHaveLength(json.tokens.length);
  }, 300_000);
});
