// A small PNG encoder (pure TypeScript + fflate's deflate), used to embed rasterised matrices in
// SVG as data URIs. Works in Node and in the browser.
import { zlibSync } from 'fflate';

export interface PngImage {
  width: number;
  height: number;
  /**
   * Pixel bytes, row-major, no padding: 4 bytes per pixel for 'rgba', 3 for 'rgb', 1 palette
   * index for 'indexed'.
   */
  data: Uint8Array;
  colorType: 'rgba' | 'rgb' | 'indexed';
  /** For 'indexed': r,g,b bytes per palette entry (at most 256 entries). */
  palette?: Uint8Array;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as used by PNG). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out, 4, 8 + body.length));
  return out;
}

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encode an 8-bit RGBA, RGB or palette image as PNG bytes. */
export function encodePng(img: PngImage): Uint8Array {
  const { width, height, data, colorType } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`PNG size must be positive integers, got ${width}×${height}`);
  }
  const bpp = colorType === 'rgba' ? 4 : colorType === 'rgb' ? 3 : 1;
  if (data.length !== width * height * bpp) {
    throw new Error(`PNG data has ${data.length} bytes, expected ${width}×${height}×${bpp}`);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType === 'rgba' ? 6 : colorType === 'rgb' ? 2 : 3;
  ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;

  // Filtering: palette images use no filter (recommended); truecolour rows pick the filter with
  // the smallest sum of absolute residuals (the usual heuristic).
  const stride = width * bpp;
  const raw = new Uint8Array(height * (stride + 1));
  const cand = colorType === 'indexed' ? [] : [new Uint8Array(stride), new Uint8Array(stride), new Uint8Array(stride), new Uint8Array(stride)];
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const o = y * (stride + 1);
    if (colorType === 'indexed') { raw[o] = 0; raw.set(row, o + 1); continue; }
    const prev = y > 0 ? data.subarray((y - 1) * stride, y * stride) : undefined;
    let best = 0, bestCost = Infinity;
    for (let f = 0; f < 5; f++) {
      let cost = 0;
      const buf = f === 0 ? row : cand[f - 1]!;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev ? prev[i]! : 0;
        const c = prev && i >= bpp ? prev[i - bpp]! : 0;
        let r: number;
        switch (f) {
          case 0: r = row[i]!; break;
          case 1: r = (row[i]! - a) & 255; break;
          case 2: r = (row[i]! - b) & 255; break;
          case 3: r = (row[i]! - ((a + b) >> 1)) & 255; break;
          default: {
            const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
            r = (row[i]! - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
          }
        }
        if (f > 0) buf[i] = r;
        cost += r < 128 ? r : 256 - r;
        if (cost >= bestCost) break;
      }
      if (cost < bestCost) { bestCost = cost; best = f; }
    }
    raw[o] = best;
    raw.set(best === 0 ? row : recompute(best, row, prev, bpp, cand[best - 1]!), o + 1);
  }
  const idat = zlibSync(raw, { level: 6 });

  const parts: Uint8Array[] = [PNG_SIGNATURE, chunk('IHDR', ihdr)];
  if (colorType === 'indexed') {
    const pal = img.palette;
    if (!pal || pal.length % 3 !== 0 || pal.length === 0 || pal.length > 768) {
      throw new Error('indexed PNG needs a palette of 1..256 r,g,b entries');
    }
    const n = pal.length / 3;
    for (let i = 0; i < data.length; i++) {
      if (data[i]! >= n) throw new Error(`palette index ${data[i]} out of range (palette has ${n} entries)`);
    }
    parts.push(chunk('PLTE', pal));
  }
  parts.push(chunk('IDAT', idat), chunk('IEND', new Uint8Array(0)));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// The cost loop may stop early, leaving a candidate buffer partially filled: recompute fully.
function recompute(f: number, row: Uint8Array, prev: Uint8Array | undefined, bpp: number, buf: Uint8Array): Uint8Array {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp]! : 0;
    const b = prev ? prev[i]! : 0;
    const c = prev && i >= bpp ? prev[i - bpp]! : 0;
    let pred: number;
    if (f === 1) pred = a;
    else if (f === 2) pred = b;
    else if (f === 3) pred = (a + b) >> 1;
    else {
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    buf[i] = (row[i]! - pred) & 255;
  }
  return buf;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (with padding) of a byte array, without Buffer or btoa. */
export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CH = 3 * 8192;
  for (let start = 0; start < bytes.length; start += CH) {
    const end = Math.min(bytes.length, start + CH);
    let s = '';
    let i = start;
    for (; i + 2 < end; i += 3) {
      const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
    }
    const rem = end - i;
    if (rem === 1) {
      const n = bytes[i]! << 16;
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
    } else if (rem === 2) {
      const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
    }
    parts.push(s);
  }
  return parts.join('');
}

/** 'data:image/png;base64,…' for an image. */
export function pngDataUri(img: PngImage): string {
  return 'data:image/png;base64,' + bytesToBase64(encodePng(img));
}
