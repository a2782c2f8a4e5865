import { describe, expect, it } from 'vitest';
import { relevanceStripSvg } from '../../src/viz/relevance-svg.js';
import { allElements, byClass, parseXml, textContent } from './xml.js';

const NASTY = ['<script>alert(1)</script>', ' a & b', ' say "hi"', '"><img onerror=alert(1)>', '\u001b[2J', '\n'];

describe('relevanceStripSvg', () => {
  it('draws one coloured box per token, escaped, with a legend', () => {
    const svg = relevanceStripSvg(NASTY, [1, 0.5, 0.25, 0, 0.1, 0.2], { title: '<b>why</b>', target: '"><img>' });
    const root = parseXml(svg);
    expect(svg).not.toMatch(/<script|<img|<b>/i);
    expect(svg).not.toContain('\u001b');
    const boxes = byClass(root, 'token');
    expect(boxes).toHaveLength(NASTY.length);
    const labels = boxes.map((b) => textContent(b.children.find((c) => c.name === 'text')!));
    expect(labels[0]).toBe('<script>alert(1)</script>');
    expect(labels[1]).toBe('a\u00a0&\u00a0b'); // leading space becomes a word gap, inner spaces kept
    expect(labels[3]).toBe('"><img\u00a0onerror=alert(1)>');
    expect(labels[4]).toBe('␛[2J');
    expect(labels[5]).toBe('↵');
    // tooltips give the index, the token and its score
    expect(textContent(boxes[0]!.children.find((c) => c.name === 'title')!)).toBe('#0 “<script>alert(1)</script>” · 1');
    expect(byClass(root, 'colorbar')).toHaveLength(1);
    expect(svg).toContain('&quot;&gt;&lt;img&gt;');
  });

  it('wraps lines to the width and breaks after newline tokens', () => {
    const tokens = Array.from({ length: 60 }, (_, i) => (i === 30 ? '\n' : ` word${i}`));
    const width = 300;
    const svg = relevanceStripSvg(tokens, tokens.map((_, i) => i), { width });
    const root = parseXml(svg);
    expect(Number(root.attrs.width)).toBeLessThanOrEqual(width);
    const rects = byClass(root, 'token').map((b) => b.children.find((c) => c.name === 'rect')!.attrs);
    for (const r of rects) expect(Number(r.x) + Number(r.width)).toBeLessThanOrEqual(width);
    const ys = rects.map((r) => Number(r.y));
    expect(new Set(ys).size).toBeGreaterThan(5);
    for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThanOrEqual(ys[i - 1]!);
    // the token after the newline starts a line
    expect(Number(rects[31]!.x)).toBe(Number(rects[0]!.x));
    expect(ys[31]).toBeGreaterThan(ys[30]!);
  });

  it('signed scores use a diverging legend; highlighted tokens are outlined; scores can be printed', () => {
    const svg = relevanceStripSvg(['a', ' b', ' c'], [-1, 0, 2], { highlight: [2], showScores: true });
    const root = parseXml(svg);
    expect(textContent(byClass(root, 'colorbar')[0]!)).toMatch(/−2.*0.*2/);
    const rects = byClass(root, 'token').map((b) => b.children.find((c) => c.name === 'rect')!.attrs);
    expect(rects[2]!['stroke-width']).toBe('2');
    expect(rects[0]!['stroke-width']).toBe('0.75');
    expect(allElements(root).filter((e) => e.name === 'text').map(textContent)).toContain('−1');
  });

  it('refuses mismatched lengths', () => {
    expect(() => relevanceStripSvg(['a'], [1, 2])).toThrow(/1 tokens but 2 scores/);
  });
});
