import { describe, expect, it } from 'vitest';
import { inflateSync } from 'node:zlib';
import { heatmapSvg, axisLabels, niceStep } from '../../src/viz/heatmap-svg.js';
import { sequentialRgb, MASK_RGB } from '../../src/viz/colormap.js';
import { svgToRgba } from '../../src/io/svg-png.js';
import { allElements, byClass, parseXml, textContent } from './xml.js';

function lowerTriangular(L: number, f: (t: number, s: number) => number): Float64Array {
  const m = new Float64Array(L * L);
  for (let t = 0; t < L; t++) for (let s = 0; s <= t; s++) m[t * L + s] = f(t, s);
  return m;
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const NASTY = ['<script>alert(1)</script>', 'a & b', 'say "hi"', '"><img onerror=alert(1)>', "it's", '\u0000\u001b[31m', '\n', ' Emma'];

describe('heatmapSvg', () => {
  it('renders a small matrix as well-formed SVG with vector cells, labels and a colour bar', () => {
    const tokens = [' Emma', ' Wood', 'house', ',', ' handsome'];
    const svg = heatmapSvg({ panels: { values: lowerTriangular(5, (t, s) => t + s + 1), title: 'layer 3 · paper · mean |H|' }, tokens });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(Number(root.attrs.width)).toBeGreaterThan(100);
    const rows = byClass(root, 'row-labels')[0]!.children.map(textContent);
    const cols = byClass(root, 'col-labels')[0]!.children.map(textContent);
    expect(rows).toEqual(['Emma', 'Wood', 'house', ',', 'handsome']);
    expect(cols).toEqual(rows);
    expect(byClass(root, 'future')).toHaveLength(1); // the upper triangle, in grey
    expect(byClass(root, 'colorbar')).toHaveLength(1);
    expect(svg).toContain('layer 3 · paper · mean |H|');
    expect(svg).not.toContain('<image');
    // colour bar labels show the real min and max of |H|
    const cbText = textContent(byClass(root, 'colorbar')[0]!);
    expect(cbText).toContain('1');
    expect(cbText).toContain('9');
  });

  it('escapes every label, title and subtitle', () => {
    const svg = heatmapSvg({
      panels: { values: lowerTriangular(NASTY.length, () => 1), title: NASTY[0], subtitle: NASTY[3] },
      tokens: NASTY, title: NASTY[3], subtitle: NASTY[2], cellTooltips: true,
    });
    const root = parseXml(svg);
    expect(svg).not.toMatch(/<script/i);
    expect(svg).not.toMatch(/<img/i);
    expect(svg).not.toContain('\u001b');
    expect(svg).not.toContain('\u0000');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('&quot;&gt;&lt;img onerror=alert(1)&gt;');
    expect(svg).toContain('a &amp; b');
    // only svg elements: nothing injected
    const names = new Set(allElements(root).map((e) => e.name));
    for (const n of names) expect(['svg', 'title', 'rect', 'text', 'g', 'path', 'defs', 'linearGradient', 'stop', 'line']).toContain(n);
    const rows = byClass(root, 'row-labels')[0]!.children.map(textContent);
    expect(rows[0]).toBe('<script>alert(1)</script>'.slice(0, 13) + '…');
    expect(rows[6]).toBe('↵');
    // hover tooltips carry the full token text, escaped
    expect(allElements(root).some((e) => e.name === 'title' && textContent(e).includes('"><img onerror=alert(1)>'))).toBe(true);
  });

  it('thins labels so the count stays bounded and they cannot overlap (L = 2048)', () => {
    const L = 2048;
    const tokens = Array.from({ length: L }, (_, i) => `tok${i}`);
    const svg = heatmapSvg({ panels: { values: lowerTriangular(L, (t, s) => 1 / (1 + t - s)) }, tokens });
    const root = parseXml(svg);
    const rowG = byClass(root, 'row-labels')[0]!;
    const colG = byClass(root, 'col-labels')[0]!;
    expect(rowG.children.length).toBeLessThanOrEqual(60);
    expect(colG.children.length).toBeLessThanOrEqual(60);
    expect(rowG.children.length).toBeGreaterThanOrEqual(10);
    // consecutive labels are at least one line height apart
    const fs = Number(rowG.attrs['font-size']);
    const ys = rowG.children.map((e) => Number(e.attrs.y));
    for (let i = 1; i < ys.length; i++) expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(fs * 1.2 - 1e-9);
    // thinned labels carry their position
    expect(textContent(rowG.children[1]!)).toMatch(/^\d+ tok\d+$/);
    expect(svg).toContain('<image');
  });

  it('axisLabels keeps every label when cells are big enough', () => {
    expect(axisLabels(24, 22, undefined, 11, 14).items).toHaveLength(24);
    expect(axisLabels(1000, 0.5, undefined, 11, 14).step).toBe(50);
    expect(axisLabels(1000, 0.5, undefined, 11, 14).fontSize).toBe(11);
    expect(axisLabels(60, 9.6, undefined, 11, 14)).toMatchObject({ step: 1, fontSize: 8 });
    expect([1, 3, 7, 11, 49, 51].map(niceStep)).toEqual([1, 5, 10, 20, 50, 100]);
  });

  it('keeps a 1024 × 1024 matrix of random values under 4 MB', () => {
    const L = 1024;
    const r = random(1);
    const svg = heatmapSvg({ panels: { values: lowerTriangular(L, () => r()) }, tokens: Array.from({ length: L }, (_, i) => `t${i}`) });
    expect(svg.length).toBeLessThan(4 * 1024 * 1024);
    parseXml(svg);
  });

  it('embeds a valid indexed PNG for large matrices, with the mask colour in the upper triangle', () => {
    const L = 200;
    const svg = heatmapSvg({ panels: { values: lowerTriangular(L, (_t, s) => (s === 0 ? 1 : 0.5)) } });
    const m = /href="data:image\/png;base64,([^"]+)"/.exec(svg);
    expect(m).not.toBeNull();
    const png = Buffer.from(m![1]!, 'base64');
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = png.readUInt32BE(16), height = png.readUInt32BE(20);
    expect(width).toBe(height);
    expect(width % L).toBe(0);
    expect(png[25]).toBe(3); // colour type: palette
    // decode: collect IDAT, inflate, check the first row: index of max at column 0, mask elsewhere
    let off = 8;
    const idat: Buffer[] = [];
    let palette: Buffer | undefined;
    while (off < png.length) {
      const len = png.readUInt32BE(off);
      const type = png.toString('latin1', off + 4, off + 8);
      if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
      if (type === 'PLTE') palette = png.subarray(off + 8, off + 8 + len);
      off += 12 + len;
    }
    const raw = inflateSync(Buffer.concat(idat));
    expect(raw.length).toBe(height * (width + 1));
    const k = width / L;
    const px = (row: number, col: number) => raw[row * k * (width + 1) + 1 + col * k]!;
    const rgb = (idx: number) => Array.from(palette!.subarray(3 * idx, 3 * idx + 3));
    expect(rgb(px(0, 0))).toEqual(sequentialRgb(1));
    expect(rgb(px(5, 3))).toEqual(sequentialRgb(0));
    expect(rgb(px(0, 1))).toEqual(MASK_RGB);
    expect(rgb(px(10, 150))).toEqual(MASK_RGB);
  });

  it('draws what it says: rasterised output has the colour map in the lower and grey in the upper triangle', () => {
    for (const render of ['rects', 'image'] as const) {
      const L = 8;
      const svg = heatmapSvg({ panels: { values: lowerTriangular(L, (t, s) => (t === s ? 1 : 0.25)) }, render, showLabels: false, panelSize: 160 });
      const root = parseXml(svg);
      const frame = allElements(root).find((e) => e.name === 'rect' && e.attrs.fill === 'none' && e.attrs.stroke)!;
      const x0 = Number(frame.attrs.x), y0 = Number(frame.attrs.y), cell = Number(frame.attrs.width) / L;
      const img = svgToRgba(svg);
      const at = (t: number, s: number) => {
        const x = Math.floor(x0 + (s + 0.5) * cell), y = Math.floor(y0 + (t + 0.5) * cell);
        const o = 4 * (y * img.width + x);
        return Array.from(img.pixels.subarray(o, o + 3));
      };
      expect(at(3, 3)).toEqual(sequentialRgb(1));
      expect(at(5, 1)).toEqual(sequentialRgb(0));
      expect(at(1, 5)).toEqual(MASK_RGB);
    }
  });

  it('draws a grid of panels with per-panel scaling and titles', () => {
    const panels = [0, 1, 2, 3].map((k) => ({ values: lowerTriangular(16, (t, s) => (k + 1) * (t - s + 1)), title: `layer ${k}` }));
    const svg = heatmapSvg({ panels, columns: 2, title: 'grid' });
    const root = parseXml(svg);
    expect(byClass(root, 'panel')).toHaveLength(4);
    const cb = textContent(byClass(root, 'colorbar')[0]!);
    expect(cb).toContain('min');
    expect(cb).toContain('max');
    const xs = byClass(root, 'panel').map((p) => Number(byClass(p, 'cells')[0]!.attrs.transform!.match(/translate\(([\d.]+)/)![1]));
    expect(xs[0]).toBe(xs[2]);
    expect(xs[1]).toBeGreaterThan(xs[0]!);
    // shared scale: real numbers on the colour bar
    const shared = textContent(byClass(parseXml(heatmapSvg({ panels, shareScale: true })), 'colorbar')[0]!);
    expect(shared).toContain('64');
  });

  it("signed scaling uses a diverging bar centred on 0; 'raw' honours a range", () => {
    const v = lowerTriangular(6, (_t, s) => (s % 2 ? -1 : 2));
    const signed = heatmapSvg({ panels: { values: v }, scaling: 'signed' });
    const cb = byClass(parseXml(signed), 'colorbar')[0]!;
    expect(textContent(cb)).toMatch(/−2.*0.*2|0/);
    expect(signed).toContain('#053061'); // the blue end of RdBu in the gradient
    const raw = heatmapSvg({ panels: { values: v }, scaling: 'raw', range: [-10, 10] });
    expect(textContent(byClass(parseXml(raw), 'colorbar')[0]!)).toContain('−10');
  });

  it('accepts nested arrays and shaped tensors; non-causal matrices have no mask', () => {
    const nested = [[1, 0], [0.5, 0.25]];
    expect(parseXml(heatmapSvg({ panels: { values: nested } })).name).toBe('svg');
    const shaped = { data: new Float32Array([1, 2, 3, 4]), shape: [1, 2, 2] };
    const svg = heatmapSvg({ panels: { values: shaped, causal: false } });
    expect(byClass(parseXml(svg), 'future')).toHaveLength(0);
    const rect = heatmapSvg({ panels: { values: new Float64Array(6), rows: 2, cols: 3 } });
    expect(byClass(parseXml(rect), 'future')).toHaveLength(1);
  });

  it('reports bad input clearly', () => {
    expect(() => heatmapSvg({ panels: [] })).toThrow(/no panels/);
    expect(() => heatmapSvg({ panels: { values: [1, 2, 3] } })).toThrow(/not a square matrix/);
    expect(() => heatmapSvg({ panels: { values: [1, 2, 3, 4] }, tokens: ['a'] })).toThrow(/1 row labels for 2 rows/);
    expect(() => heatmapSvg({ panels: { values: [1, 2, 3, 4], rows: 3 } })).toThrow(/expected 3×2|expected 3×3/);
    expect(() => heatmapSvg({ panels: { values: [[1, 2], [3]] } })).toThrow(/row 1 has 1 values/);
    expect(() => heatmapSvg({ panels: { values: [1] }, scaling: 'log' as never })).toThrow(/unknown display scaling/);
  });

  it('shows non-finite values without failing', () => {
    const svg = heatmapSvg({ panels: { values: [NaN, 0, 1, Infinity], title: 'nan' } });
    parseXml(svg);
    expect(svg).toContain('2 non-finite');
    expect(svg).toContain('#ff00ff');
  });
});
