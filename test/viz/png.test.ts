import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { bytesToBase64, crc32, encodePng, PNG_SIGNATURE, pngDataUri } from '../../src/viz/png-encoder.js';
import { svgToPng, svgToRgba } from '../../src/io/svg-png.js';
import { heatmapSvg } from '../../src/viz/heatmap-svg.js';
import { relevanceStripSvg } from '../../src/viz/relevance-svg.js';
import { curvesSvg } from '../../src/viz/curves-svg.js';
import { allElements, parseXml } from './xml.js';

function ihdr(png: Uint8Array): { width: number; height: number; colorType: number } {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect(String.fromCharCode(...png.subarray(12, 16))).toBe('IHDR');
  return { width: dv.getUint32(16), height: dv.getUint32(20), colorType: png[25]! };
}

/** Decode a non-interlaced 8-bit PNG of ours (all five filter types) back to bytes. */
function decodePng(png: Uint8Array): { width: number; height: number; bpp: number; data: Uint8Array } {
  const { width, height, colorType } = ihdr(png);
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 1;
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  for (let off = 8; off < png.length;) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    expect(dv.getUint32(off + 8 + len)).toBe(crc32(png, off + 4, off + 8 + len));
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= bpp ? out[y * stride + i - bpp]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= bpp ? out[(y - 1) * stride + i - bpp]! : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c); pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      out[y * stride + i] = (x + pred) & 255;
    }
  }
  return { width, height, bpp, data: out };
}

describe('PNG encoder (pure)', () => {
  it('crc32 and base64 match the standard', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    for (const n of [0, 1, 2, 3, 4, 5, 100, 30000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
      expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
  });

  it('round-trips RGBA, RGB and indexed images', () => {
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (const [colorType, bpp] of [['rgba', 4], ['rgb', 3], ['indexed', 1]] as const) {
      const width = 37, height = 23;
      // a mix of smooth and noisy rows so that several filter types are chosen
      const data = new Uint8Array(width * height * bpp).map((_, i) => (Math.floor(i / (width * bpp)) % 3 === 0 ? rnd() : (i * 3) & 255) % (colorType === 'indexed' ? 16 : 256));
      const palette = colorType === 'indexed' ? new Uint8Array(48).map((_, i) => i * 5) : undefined;
      const png = encodePng({ width, height, data, colorType, palette });
      expect(Array.from(png.subarray(0, 8))).toEqual(Array.from(PNG_SIGNATURE));
      const back = decodePng(png);
      expect(back).toMatchObject({ width, height, bpp });
      expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    }
  });

  it('refuses inconsistent input', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8Array(3), colorType: 'rgba' })).toThrow(/expected 2×2×4/);
    expect(() => encodePng({ width: 1, height: 1, data: new Uint8Array([3]), colorType: 'indexed', palette: new Uint8Array(6) })).toThrow(/out of range/);
    expect(() => encodePng({ width: 0, height: 1, data: new Uint8Array(0), colorType: 'rgb' })).toThrow(/positive/);
  });

  it('pngDataUri is a data URI that resvg can draw', () => {
    const uri = pngDataUri({ width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]), colorType: 'rgb' });
    expect(uri.startsWith('data:image/png;base64,')).toBe(true);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><image width="20" height="10" image-rendering="optimizeSpeed" href="${uri}"/></svg>`;
    const img = svgToRgba(svg);
    expect(Array.from(img.pixels.subarray(4 * (5 * 20 + 2), 4 * (5 * 20 + 2) + 4))).toEqual([255, 0, 0, 255]);
    expect(Array.from(img.pixels.subarray(4 * (5 * 20 + 17), 4 * (5 * 20 + 17) + 4))).toEqual([0, 0, 255, 255]);
  });
});

describe('svgToPng (resvg)', () => {
  const heat = heatmapSvg({ panels: { values: [1, 0, 0.5, 1], title: 'layer 0' }, tokens: ['a', 'b'] });

  it('writes PNG bytes with the requested width', () => {
    const png = svgToPng(heat, { width: 800 });
    expect(png).toBeInstanceOf(Uint8Array);
    expect(Array.from(png.subarray(0, 8))).toEqual(Array.from(PNG_SIGNATURE));
    const h = ihdr(png);
    expect(h.width).toBe(800);
    const natural = ihdr(svgToPng(heat));
    expect(h.height).toBe(Math.round((natural.height * 800) / natural.width));
    expect(ihdr(svgToPng(heat, { scale: 2 })).width).toBe(natural.width * 2);
    expect(() => svgToPng(heat, { width: 0 })).toThrow(/positive/);
  });

  it('renders every kind of picture', () => {
    for (const svg of [heat, relevanceStripSvg(['a', ' b'], [0.1, 1]), curvesSvg([{ name: 'm', x: [0, 1], y: [1, 0] }])]) {
      expect(ihdr(svgToPng(svg)).width).toBeGreaterThan(50);
    }
  });

  it('draws text (system fonts are found; install fonts-dejavu-core if this fails)', () => {
    const page = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60"><rect width="300" height="60" fill="#fff"/>${body}</svg>`;
    const inked = (svg: string) => {
      const { pixels } = svgToRgba(svg);
      let n = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 128) n++;
      return n;
    };
    expect(inked(page(''))).toBe(0);
    // the check is meaningful: with no fonts loaded, resvg silently draws no text
    const bare = svgToRgba(page('<text x="10" y="40" font-size="24">Emma</text>'), { loadSystemFonts: false });
    expect(bare.pixels.some((v, i) => i % 4 === 0 && v < 128)).toBe(false);
    let fonts = '';
    try { fonts = execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' }); } catch { /* fontconfig not installed */ }
    const hint = `no text was drawn; installed font families: ${JSON.stringify(fonts.trim().split('\n').slice(0, 5))}. On Debian/Ubuntu: apt-get install -y fonts-dejavu-core`;
    // the font stacks our SVGs use, sans and monospace
    for (const family of ['system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, DejaVu Sans, Liberation Sans, sans-serif',
      'ui-monospace, SFMono-Regular, Menlo, Consolas, DejaVu Sans Mono, Liberation Mono, monospace']) {
      const n = inked(page(`<text x="10" y="40" font-size="24" font-family="${family}">Emma Woodhouse</text>`));
      expect(n, hint).toBeGreaterThan(200);
    }
    // the SVG output itself: the row labels left of the matrix are drawn
    const svg = heatmapSvg({ panels: { values: [1, 0, 0.5, 1] }, tokens: ['Emma', 'Wood'] });
    const frame = allElements(parseXml(svg)).find((e) => e.name === 'rect' && e.attrs.fill === 'none' && e.attrs.stroke)!;
    const mx = Number(frame.attrs.x), my = Number(frame.attrs.y), mh = Number(frame.attrs.height);
    const img = svgToRgba(svg);
    let labelInk = 0;
    for (let y = Math.ceil(my); y < my + mh; y++) {
      for (let x = 0; x < mx - 2; x++) if (img.pixels[4 * (y * img.width + x)]! < 128) labelInk++;
    }
    expect(labelInk, hint).toBeGreaterThan(30);
  });
});
