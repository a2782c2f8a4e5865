import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/index.js';
import { associativeRecall, classificationSource, getTask, IGNORE, languageModelSource, taskSource, taskNames } from '../../src/train/data.js';
import { openData } from '../../src/io/datasets.js';

const stream = (n: number, V: number, seed: number) => {
  const rng = new Random(seed);
  return Int32Array.from({ length: n }, () => rng.int(V));
};

describe('language-model windows', () => {
  const source = () => languageModelSource({ name: 'test', train: stream(500, 20, 1), validation: stream(100, 20, 2), vocabSize: 20, length: 8, seed: 7 });

  it('are a pure function of (seed, step): targets are the ids shifted by one', () => {
    const a = source().batch(3, 4);
    const b = source().batch(3, 4);
    expect(a.ids).toEqual(b.ids);
    expect(a.targets).toEqual(b.targets);
    expect(source().batch(4, 4).ids).not.toEqual(a.ids);
    expect([a.batch, a.length, a.ids.length, a.targets.length]).toEqual([4, 8, 32, 32]);
    for (let r = 0; r < 4; r++) expect(a.targets.subarray(r * 8, r * 8 + 7)).toEqual(a.ids.subarray(r * 8 + 1, r * 8 + 8));
  });

  it('validate on consecutive held-out windows', () => {
    const v = source().validation(4, 10);
    expect(v.map((b) => b.batch)).toEqual([4, 4, 4]); // ⌊99 / 8⌋ = 12 windows
    expect(v[0].ids[8]).toBe(v[0].targets[7]);
    expect(source().validation(4, 1)).toHaveLength(1);
  });
});

describe('passage classification', () => {
  // Class c uses tokens [4c, 4c + 4): every passage tells its class.
  const classes = [0, 1, 2].map((c) => ({ label: `book${c}`, train: Int32Array.from(stream(300, 4, c), (t) => t + 4 * c), validation: Int32Array.from(stream(40 + 10 * c, 4, 9 + c), (t) => t + 4 * c) }));
  const source = classificationSource({ name: 'cls', classes, vocabSize: 12, length: 10, seed: 3 });

  it('labels each passage with the stream it comes from, deterministically', () => {
    const b = source.batch(5, 16);
    expect(source.batch(5, 16)).toEqual(b);
    expect(b.targets).toHaveLength(16);
    for (let i = 0; i < 16; i++) {
      const label = b.targets[i];
      for (let t = 0; t < 10; t++) expect(Math.floor(b.ids[i * 10 + t] / 4)).toBe(label);
    }
    expect(source.labels).toEqual(['book0', 'book1', 'book2']);
  });

  it('validates on balanced passages taken round-robin', () => {
    const v = source.validation(4, 100);
    const labels = v.flatMap((b) => [...b.targets]);
    expect(labels).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]); // 4 passages of 10 in the smallest class
  });
});

describe('synthetic tasks', () => {
  it('assoc-recall asks for the value of a key seen before', () => {
    expect(taskNames()).toContain('assoc-recall');
    expect(getTask('assoc-recall')).toBe(associativeRecall);
    const rng = new Random(5);
    for (const L of [9, 10]) {
      const s = associativeRecall.generate(rng, L, 100);
      expect(s.ids).toHaveLength(L);
      expect(s.target).toBe(L - 1);
      const [keyAt, valueAt] = s.evidence;
      expect(s.ids[keyAt]).toBe(s.ids[L - 1]);
      expect(s.ids[valueAt]).toBe(s.label);
      expect(valueAt).toBe(keyAt + 1);
      const keys = [...s.ids.slice(L - 9, L - 1)].filter((_, i) => i % 2 === 0);
      expect(new Set(keys).size).toBe(4); // distinct keys
    }
    expect(() => getTask('nope')).toThrow(/unknown task 'nope'.*task:assoc-recall/);
  });

  it('trains the LM head on one scored position per sequence, deterministically', () => {
    const source = () => taskSource({ task: associativeRecall, vocabSize: 64, length: 9, seed: 1, validationSize: 10 });
    const b = source().batch(2, 3);
    expect(source().batch(2, 3)).toEqual(b);
    for (let r = 0; r < 3; r++) {
      const row = [...b.targets.subarray(r * 9, r * 9 + 9)];
      expect(row.slice(0, 8).every((t) => t === IGNORE)).toBe(true);
      expect(row[8]).toBeGreaterThan(0);
    }
    expect(source().validation(4, 5).map((v) => v.batch)).toEqual([4, 4, 2]);
    expect(() => taskSource({ task: associativeRecall, vocabSize: 5, length: 9, seed: 1 })).toThrow(/vocabulary of at least 9/);
  });
});

describe('Austen sources', () => {
  // Tiny stand-ins for the six novels keep this test fast; the split and tokenizer are the real ones.
  const paragraph = (name: string, i: number) => `Chapter ${i} of ${name}. Mr. ${name} said, "Indeed!" and walked away.\n\n`;
  const books = ['emma', 'mansfield_park', 'northanger_abbey', 'persuasion', 'pride_prejudice', 'sense_sensibility'].map((name) => ({
    name,
    text: Array.from({ length: 60 }, (_, i) => paragraph(name, i)).join(''),
  }));

  it('tokenise the split with the project tokenizer: LM windows and 6-way classification', () => {
    const lm = openData('austen', { length: 16, seed: 0, books });
    expect(lm.objective).toBe('next-token');
    expect(lm.vocabSize).toBe(4096);
    expect(lm.batch(0, 2).ids).toHaveLength(32);
    const cls = openData('austen-classify', { length: 16, seed: 0, books });
    expect(cls.objective).toBe('classify');
    expect(cls.labels).toEqual(books.map((b) => b.name));
    expect(cls.validation(6, 1)[0].targets).toEqual(Int32Array.from([0, 1, 2, 3, 4, 5]));
    expect(() => openData('shakespeare', { length: 16, seed: 0, books })).toThrow(/unknown --data 'shakespeare'/);
  });
});
