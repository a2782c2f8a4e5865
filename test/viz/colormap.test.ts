import { describe, expect, it } from 'vitest';
import {
  colormap, contrastText, diverging, divergingHex, divergingRgb, parseColor, relativeLuminance, rgbToHex,
  sequential, sequentialHex, sequentialRgb, SEQUENTIAL_NAMES, DIVERGING_NAMES,
} from '../../src/viz/colormap.js';
import type { ColormapName } from '../../src/viz/colormap.js';

describe('colour maps', () => {
  it('sequential viridis hits its endpoints and clamps outside [0, 1]', () => {
    expect(sequentialHex(0)).toBe('#440154');
    expect(sequentialHex(1)).toBe('#fde725');
    expect(sequentialRgb(0)).toEqual([0x44, 0x01, 0x54]);
    expect(sequentialRgb(1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(sequentialHex(-3)).toBe('#440154');
    expect(sequentialHex(7)).toBe('#fde725');
    expect(sequentialHex(0, 'magma')).toBe('#000004');
    expect(sequentialHex(1, 'magma')).toBe('#fcfdbf');
  });

  it('diverging RdBu is reversed: -1 blue, 0 near white, +1 red, symmetric', () => {
    expect(divergingHex(-1)).toBe('#053061');
    expect(divergingHex(1)).toBe('#67001f');
    const mid = divergingRgb(0);
    expect(Math.min(...mid)).toBeGreaterThan(230);
    const neg = divergingRgb(-0.6), pos = divergingRgb(0.6);
    expect(neg[2]).toBeGreaterThan(neg[0]);
    expect(pos[0]).toBeGreaterThan(pos[2]);
    expect(divergingHex(-5)).toBe(divergingHex(-1));
    expect(diverging().domain).toEqual([-1, 1]);
    expect(sequential().domain).toEqual([0, 1]);
  });

  it('every named map returns #rrggbb and [r,g,b] bytes at its ends and middle', () => {
    for (const name of [...SEQUENTIAL_NAMES, ...DIVERGING_NAMES] as ColormapName[]) {
      const c = colormap(name);
      for (const v of [c.domain[0], (c.domain[0] + c.domain[1]) / 2, c.domain[1]]) {
        expect(c.hex(v)).toMatch(/^#[0-9a-f]{6}$/);
        const rgb = c.rgb(v);
        expect(rgb).toHaveLength(3);
        for (const b of rgb) expect(Number.isInteger(b) && b >= 0 && b <= 255).toBe(true);
        expect(rgbToHex(rgb)).toBe(c.hex(v));
      }
    }
  });

  it('lookup tables start and end at the domain ends', () => {
    const c = colormap('viridis');
    const lut = c.lut(256);
    expect(lut.length).toBe(768);
    expect(Array.from(lut.subarray(0, 3))).toEqual(c.rgb(0));
    expect(Array.from(lut.subarray(765))).toEqual(c.rgb(1));
    const d = colormap('rdbu').lut(3);
    expect(rgbToHex(Array.from(d.subarray(0, 3)))).toBe('#053061');
    expect(rgbToHex(Array.from(d.subarray(6, 9)))).toBe('#67001f');
    expect(() => c.lut(1)).toThrow(/lut size/);
  });

  it('NaN gets a distinct colour instead of throwing', () => {
    expect(sequentialHex(NaN)).toBe('#ff00ff');
  });

  it('parses CSS colours and picks readable text colours', () => {
    expect(parseColor('#abc')).toEqual([0xaa, 0xbb, 0xcc]);
    expect(parseColor('rgb(1, 2, 3)')).toEqual([1, 2, 3]);
    expect(() => parseColor('chartreuse')).toThrow(/cannot parse/);
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 6);
    expect(relativeLuminance([0, 0, 0])).toBe(0);
    expect(contrastText([255, 255, 255])).toEqual([0, 0, 0]);
    expect(contrastText([0x44, 0x01, 0x54])).toEqual([255, 255, 255]);
    expect(contrastText(sequentialRgb(1))).toEqual([0, 0, 0]);
  });

  it('unknown names are refused with the list of known ones', () => {
    expect(() => colormap('rainbow' as ColormapName)).toThrow(/unknown colour map 'rainbow'.*viridis/);
  });
});
