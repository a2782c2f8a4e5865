/** The viewer on the embedded which-novel classifier: the explained prediction is the class, named by id2label. */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExplainContext } from '../../src/explain/context.js';
import { explain, METHOD_NAMES } from '../../src/explain/registry.js';
import { classifierOf } from '../../src/io/classifier-checkpoint.js';
import { loadModel } from '../../src/io/load-model.js';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { ModelCatalogue } from '../../src/viewer/server/catalogue.js';
import { ViewerEngine } from '../../src/viewer/server/engine.js';
import { parseAnalyze } from '../../src/viewer/server/validate.js';
import { AUSTEN_BOOKS } from '../helpers/fixtures.js';
import { limits, PROMPT } from './helpers.js';

const CLASSIFIER = path.resolve(import.meta.dirname, '../../models/classifier');

describe('ViewerEngine on a classifier checkpoint', () => {
  it('explains the class logit and names the class from id2label', () => {
    const models = new ModelCatalogue([CLASSIFIER]);
    const engine = new ViewerEngine(limits());
    const r = engine.analyze(parseAnalyze({ model: 'classifier', text: PROMPT, methods: ['integrated-gradients'] }, models, limits(), METHOD_NAMES));
    expect(r.target.text).toBe('emma');
    expect(r.target.topText).toBe('emma');
    expect(AUSTEN_BOOKS).toContain(r.target.text);
    expect(r.target.position).toBe(r.tokens.length - 1);
    // The same scores as explaining the classifier view directly.
    const view = classifierOf(loadModel(CLASSIFIER))!;
    const ids = Int32Array.from(loadTokenizer(view.tokenizerPath!).encode(PROMPT));
    const expected = explain(new ExplainContext(view.model, ids), 'integrated-gradients', { target: { position: ids.length - 1 } });
    expect(r.explanations[0].scores).toEqual(Array.from(expected.scores));
  });
});
