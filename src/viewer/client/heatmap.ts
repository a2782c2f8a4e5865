/**
 * Canvas pictures of implicit attention: a matrix (one pixel per cell in an offscreen image,
 * scaled onto the canvas, so L = 2048 costs one pass over 4 M values), its axis labels, and
 * hit-testing from the mouse to the cell (t, s) under it. Also the row view: one row per
 * layer, for long inputs whose full matrices are too costly.
 */
import type { ColorScale } from './colors.ts';
import { colorInto, MASK } from './colors.ts';
import { tokenLabel } from '../../viz/text.ts';

/** A matrix on screen: `side`×`side` cells over an input of `length` tokens (side < length when pooled). */
export interface MatrixData {
  values: Float32Array;
  side: number;
  length: number;
}

/** The positions a pooled cell i covers: ⌊iL/P⌋ … ⌊(i+1)L/P⌋ − 1. */
export function cellSpan(i: number, side: number, length: number): [number, number] {
  return [Math.floor((i * length) / side), Math.floor(((i + 1) * length) / side) - 1];
}

/** The matrix as an image, one pixel per cell; future positions (s > t) and NaN in the mask colour. */
export function matrixImage(m: MatrixData, scale: ColorScale): HTMLCanvasElement {
  const { values, side } = m;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(side, side);
  const px = image.data;
  const pooled = side < m.length;
  for (let t = 0; t < side; t++) {
    for (let s = 0; s < side; s++) {
      const at = 4 * (t * side + s);
      if (!pooled && s > t) {
        px[at] = MASK[0];
        px[at + 1] = MASK[1];
        px[at + 2] = MASK[2];
      } else {
        colorInto(scale, values[t * side + s], px, at);
      }
      px[at + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** Sizes a canvas for `w`×`h` CSS pixels at the screen's pixel density; returns its context in CSS units. */
export function sizeCanvas(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Where the matrix lies on a focus canvas (CSS pixels from its top-left corner). */
export interface PlotGeometry {
  left: number;
  top: number;
  size: number;
}

const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
const INK = '#333';
const MUTED = '#777';

/**
 * Draws the matrix with token labels (inputs up to 64 tokens) or position ticks, the
 * target row marked; returns the plot geometry for hit-testing.
 */
export function drawFocus(canvas: HTMLCanvasElement, m: MatrixData, scale: ColorScale, tokens: readonly string[], width: number, targetRow: number): PlotGeometry {
  const labelled = m.length <= 64 && m.side === m.length;
  const left = labelled ? 96 : 44;
  const top = labelled ? 78 : 22;
  const size = Math.max(120, Math.min(width - left - 12, 620));
  const ctx = sizeCanvas(canvas, left + size + 12, top + size + 12);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, left + size + 12, top + size + 12);
  ctx.imageSmoothingEnabled = m.side > size;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(matrixImage(m, scale), left, top, size, size);
  ctx.strokeStyle = '#999';
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, size + 1, size + 1);
  ctx.font = FONT;
  const cell = size / m.side;
  if (labelled) {
    ctx.fillStyle = INK;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const fontPx = Math.max(7, Math.min(11, cell * 0.85));
    ctx.font = `${fontPx}px system-ui, sans-serif`;
    for (let i = 0; i < m.length; i++) {
      const label = tokenLabel(tokens[i] ?? '', 12);
      ctx.fillStyle = i === targetRow ? '#b35c00' : INK;
      ctx.fillText(label, left - 5, top + (i + 0.5) * cell);
      ctx.save();
      ctx.translate(left + (i + 0.5) * cell, top - 5);
      ctx.rotate(-Math.PI / 3);
      ctx.textAlign = 'left';
      ctx.fillText(label, 0, 0);
      ctx.restore();
    }
  } else {
    ctx.fillStyle = MUTED;
    const step = tickStep(m.length, size);
    ctx.textBaseline = 'middle';
    for (let p = 0; p < m.length; p += step) {
      const at = ((p + 0.5) / m.length) * size;
      ctx.textAlign = 'right';
      ctx.fillText(String(p), left - 4, top + at);
      ctx.textAlign = 'center';
      ctx.fillText(String(p), left + at, top - 9);
    }
  }
  // The explained position's row.
  if (targetRow >= 0 && targetRow < m.length) {
    const y0 = top + (targetRow / m.length) * size;
    const h = Math.max(1.5, size / m.length);
    ctx.strokeStyle = '#e8590c';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(left - 0.75, y0 - 0.75, size + 1.5, h + 1.5);
  }
  return { left, top, size };
}

/** A tick every 1, 2, 5, 10, 20, 50 … positions, at least ~36 px apart. */
function tickStep(length: number, size: number): number {
  const minStep = (36 * length) / size;
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= minStep) return m * p;
  }
}

/** The cell under (x, y) (CSS pixels from the canvas corner), or null outside the plot. */
export function hitCell(g: PlotGeometry, side: number, x: number, y: number): { row: number; col: number } | null {
  const col = Math.floor(((x - g.left) / g.size) * side);
  const row = Math.floor(((y - g.top) / g.size) * side);
  if (col < 0 || row < 0 || col >= side || row >= side) return null;
  return { row, col };
}

/** A small picture of the matrix (no labels). */
export function drawThumbnail(canvas: HTMLCanvasElement, m: MatrixData, scale: ColorScale, size: number): void {
  const ctx = sizeCanvas(canvas, size, size);
  ctx.imageSmoothingEnabled = m.side > size;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(matrixImage(m, scale), 0, 0, size, size);
}

/** Geometry of the row view: one row of `rowHeight` per layer, positions across `size` pixels. */
export interface RowsGeometry {
  left: number;
  top: number;
  width: number;
  rowHeight: number;
}

/**
 * The target row of every layer: row k is layer `labels[k]`'s attention from the target to
 * every position (each scaled by its own largest |value|); positions after the target masked.
 */
export function drawRows(canvas: HTMLCanvasElement, rows: (Float32Array | null)[], scales: (ColorScale | null)[], labels: string[], length: number, upTo: number, width: number): RowsGeometry {
  const left = 72;
  const top = 20;
  const rowHeight = 22;
  const plotWidth = Math.max(100, width - left - 12);
  const height = top + rows.length * rowHeight + 8;
  const ctx = sizeCanvas(canvas, left + plotWidth + 12, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, left + plotWidth + 12, height);
  const image = document.createElement('canvas');
  image.width = length;
  image.height = rows.length;
  const ictx = image.getContext('2d')!;
  const data = ictx.createImageData(length, rows.length);
  rows.forEach((row, k) => {
    for (let s = 0; s < length; s++) {
      const at = 4 * (k * length + s);
      const scale = scales[k];
      if (row === null || scale === null || s > upTo) {
        data.data[at] = MASK[0];
        data.data[at + 1] = MASK[1];
        data.data[at + 2] = MASK[2];
      } else {
        colorInto(scale, row[s], data.data, at);
      }
      data.data[at + 3] = 255;
    }
  });
  ictx.putImageData(data, 0, 0);
  ctx.imageSmoothingEnabled = length > plotWidth;
  for (let k = 0; k < rows.length; k++) {
    ctx.drawImage(image, 0, k, length, 1, left, top + k * rowHeight + 2, plotWidth, rowHeight - 4);
  }
  ctx.font = FONT;
  ctx.fillStyle = INK;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  labels.forEach((label, k) => ctx.fillText(label, left - 6, top + (k + 0.5) * rowHeight));
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'center';
  const step = tickStep(length, plotWidth);
  for (let p = 0; p < length; p += step) ctx.fillText(String(p), left + ((p + 0.5) / length) * plotWidth, top - 9);
  return { left, top, width: plotWidth, rowHeight };
}

export function hitRow(g: RowsGeometry, rows: number, length: number, x: number, y: number): { k: number; s: number } | null {
  const s = Math.floor(((x - g.left) / g.width) * length);
  const k = Math.floor((y - g.top) / g.rowHeight);
  if (s < 0 || s >= length || k < 0 || k >= rows) return null;
  return { k, s };
}
