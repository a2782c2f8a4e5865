import { describe, expect, it } from 'vitest';
import { METHOD_NAMES } from '../../src/explain/registry.js';
import { ApiError, parseAnalyze, parseAttention, parsePerturbation } from '../../src/viewer/server/validate.js';
import { catalogue, limits, MAMBA2 } from './helpers.js';

const models = catalogue();
const analyze = (body: unknown) => parseAnalyze(body, models, limits({ maxTokens: 8 }), METHOD_NAMES);

function refused(run: () => unknown): { status: number; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return { status: (error as ApiError).status, message: (error as Error).message };
  }
  throw new Error('expected the request to be refused');
}

describe('request checking', () => {
  it('resolves the model by id to a folder of the catalogue, with defaults filled in', () => {
    const job = analyze({ model: 'mamba2', text: 'Emma' });
    expect(job.model.dir).toBe(MAMBA2);
    expect(job.methods).toEqual([...METHOD_NAMES]);
    expect(job.target).toEqual({});
    expect(job.attention).toBeUndefined();
    const a = parseAttention({ model: 'rwkv', ids: [1, 2], layer: 3 }, models, limits());
    expect(a).toMatchObject({ layer: 3, variant: 'paper', reduce: 'mean-abs', mode: 'auto', channel: 0 });
    const p = parsePerturbation({ model: 'rwkv', ids: [1, 2], method: 'raw' }, models, limits(), METHOD_NAMES);
    expect(p.perturbation).toBe('delete');
  });

  it('never takes a path from the client', () => {
    for (const model of ['../mamba2', MAMBA2, '/etc', 'mamba2/..', '']) {
      const r = refused(() => analyze({ model, text: 'x' }));
      expect([400, 404]).toContain(r.status);
    }
    expect(refused(() => analyze({ model: '../../etc/passwd', text: 'x' })).message).toMatch(/unknown model '\.\.\/\.\.\/etc\/passwd'; models: mamba2, rwkv, recurrent_gemma/);
  });

  const cases: Array<[string, unknown, number, RegExp]> = [
    ['not an object', [1, 2], 400, /must be a JSON object/],
    ['an unknown field', { model: 'mamba2', text: 'x', path: '/etc' }, 400, /unknown field 'path'/],
    ['neither text nor ids', { model: 'mamba2' }, 400, /exactly one of text and ids/],
    ['both text and ids', { model: 'mamba2', text: 'x', ids: [1] }, 400, /exactly one of text and ids/],
    ['empty text', { model: 'mamba2', text: '' }, 400, /empty/],
    ['negative ids', { model: 'mamba2', ids: [1, -2] }, 400, /non-negative integer/],
    ['too many ids', { model: 'mamba2', ids: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, 400, /9 tokens; this server accepts at most 8/],
    ['an unknown method', { model: 'mamba2', text: 'x', methods: ['magic'] }, 400, /unknown method "magic"/],
    ['too many steps', { model: 'mamba2', text: 'x', options: { steps: 1000 } }, 400, /steps must be an integer in \[1, 64\]/],
    ['a bad variant', { model: 'mamba2', text: 'x', options: { variant: 'best' } }, 400, /variant must be one of paper/],
    ['a bad target', { model: 'mamba2', text: 'x', target: { position: 1.5 } }, 400, /position must be an integer/],
    ['a bad attention field', { model: 'mamba2', text: 'x', attention: { reduce: 'max' } }, 400, /reduce must be one of/],
    ['a channel reduction without its channel', { model: 'mamba2', text: 'x', attention: { reduce: 'channel' } }, 400, /channel is required/],
    ['an unknown model', { model: 'gpt5', text: 'x' }, 404, /unknown model 'gpt5'/],
  ];
  for (const [name, body, status, message] of cases) {
    it(`refuses ${name} (${status})`, () => {
      const r = refused(() => analyze(body));
      expect(r.status).toBe(status);
      expect(r.message).toMatch(message);
    });
  }
});
