import { describe, expect, it } from 'vitest';
import { curvesSvg } from '../../src/viz/curves-svg.js';
import { allElements, byClass, parseXml, textContent } from './xml.js';

const fr = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

describe('curvesSvg', () => {
  it('draws one curve per series with a legend and axis labels', () => {
    const svg = curvesSvg([
      { name: 'implicit <attention>', x: fr, y: fr.map((f) => 1 - f) },
      { name: 'random & "friends"', x: fr, y: fr.map((f) => 1 - f / 2), dashed: true },
    ], { title: 'Perturbation', xLabel: 'fraction perturbed', yLabel: 'normalised score' });
    const root = parseXml(svg);
    const series = byClass(root, 'series');
    expect(series).toHaveLength(2);
    expect(series.map((s) => s.children.filter((c) => c.name === 'path')).flat()).toHaveLength(2);
    expect(series[1]!.children.find((c) => c.name === 'path')!.attrs['stroke-dasharray']).toBe('6 4');
    expect(series[0]!.children.filter((c) => c.name === 'circle')).toHaveLength(10);
    const legend = textContent(byClass(root, 'legend')[0]!);
    expect(legend).toContain('implicit <attention>');
    expect(legend).toContain('random & "friends"');
    expect(svg).not.toContain('<attention>');
    const texts = allElements(root).filter((e) => e.name === 'text').map(textContent);
    expect(texts).toContain('fraction perturbed');
    expect(texts).toContain('normalised score');
    expect(texts).toContain('0.4');
    expect(texts).toContain('1');
  });

  it('breaks a line at missing values and honours fixed domains', () => {
    const svg = curvesSvg([{ name: 'gap', x: [0, 1, 2, 3], y: [1, NaN, 3, 4] }], { yDomain: [0, 10], legend: 'inside' });
    const d = byClass(parseXml(svg), 'series')[0]!.children.find((c) => c.name === 'path')!.attrs.d!;
    expect(d.match(/M/g)).toHaveLength(2);
    expect(allElements(parseXml(svg)).filter((e) => e.name === 'text').map(textContent)).toContain('10');
  });

  it('refuses bad input', () => {
    expect(() => curvesSvg([{ name: 'x', x: [0, 1], y: [1] }])).toThrow(/2 x values but 1 y values/);
    expect(() => curvesSvg([{ name: 'x', x: [0, 1], y: [1, 0] }], { xDomain: [1, 1] })).toThrow(/xDomain/);
    expect(parseXml(curvesSvg([])).name).toBe('svg');
  });
});
