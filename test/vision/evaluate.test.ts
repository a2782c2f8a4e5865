import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/core/index.js';
import { SHAPE_CLASSES, shapeImage, shapesBatch } from '../../src/vision/data.js';
import { averagePrecision, maskPatchMap, meanStderr, perturbedImages, SegmentationMeter, trapezoid } from '../../src/vision/evaluate.js';
import { minMax, overlay, upsampleBilinear } from '../../src/vision/maps.js';

describe('segmentation metrics', () => {
  it('average precision equals sklearn on known answers (ties grouped)', () => {
    expect(averagePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
    expect(averagePrecision([1, 1, 0], [1, 0, 1])).toBeCloseTo(0.5 * 0.5 + 0.5 * (2 / 3), 12);
    expect(averagePrecision([3, 2, 1], [1, 1, 0])).toBe(1);
    expect(averagePrecision([3, 2, 1], [0, 0, 0])).toBe(0);
  });

  it('bilinear upsampling equals PyTorch F.interpolate(scale_factor=2, bilinear, align_corners=False)', () => {
    const up = upsampleBilinear([0, 1, 2, 3], 2, 2);
    expect(Array.from(up)).toEqual([0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
    expect(Array.from(upsampleBilinear([5, 5, 5, 5], 2, 3))).toEqual(new Array(36).fill(5));
  });

  it('a map equal to the mask scores 1 everywhere; its complement scores 0 (threshold at the mean)', () => {
    const mask = Uint8Array.from([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const perfect = new SegmentationMeter();
    perfect.add(Float64Array.from(mask), mask, 4, 1);
    expect(perfect.result()).toMatchObject({ pixelAccuracy: 1, mIoU: 1, mAP: { mean: 1 }, apObject: { mean: 1 } });
    const inverse = new SegmentationMeter();
    inverse.add(Float64Array.from(mask, (m) => 1 - m), mask, 4, 1);
    expect(inverse.result()).toMatchObject({ pixelAccuracy: 0, mIoU: 0 });
  });

  it('the ground truth as a patch map is the object share of each patch', () => {
    const mask = new Uint8Array(16);
    mask[0] = mask[1] = mask[4] = 1; // three pixels of the top-left 2×2 patch
    expect(Array.from(maskPatchMap(mask, 2, 2))).toEqual([0.75, 0, 0, 0]);
  });
});

describe('perturbation', () => {
  it('masks the most (positive) or least (negative) relevant patches first, to 0', () => {
    const image = Tensor.full([1, 1, 4, 4], 1, 'float64');
    const scores = [0.1, 0.9, 0.5, 0.3]; // patches of a 2×2 grid of 2×2 pixels
    const out = perturbedImages(image, scores, 2, 2, [0, 0.25, 0.5]);
    expect(out.shape).toEqual([6, 1, 4, 4]);
    const zeros = (i: number) => Array.from(out.data.subarray(i * 16, (i + 1) * 16)).map((v): number => (v === 0 ? 1 : 0));
    expect(zeros(0).reduce((a, b) => a + b, 0)).toBe(0);
    expect(zeros(1)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]); // positive 25 %: patch 1 (top right)
    expect(zeros(2).reduce((a, b) => a + b, 0)).toBe(8); // positive 50 %: patches 1 and 2
    expect(zeros(4)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // negative 25 %: patch 0
  });

  it('AUC is the trapezoid over k = 0 … 0.9; mean ± standard error', () => {
    expect(trapezoid(new Array(10).fill(1))).toBeCloseTo(0.9, 12);
    expect(trapezoid([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBeCloseTo(0.05, 12);
    const m = meanStderr([1, 2, 3, 4]);
    expect(m.mean).toBe(2.5);
    expect(m.stderr).toBeCloseTo(Math.sqrt(5 / 3 / 4), 12);
  });
});

describe('synthetic shapes', () => {
  it('are a pure function of (seed, index): same image twice, other seeds differ', () => {
    const a = shapeImage(2, 5);
    expect(shapeImage(2, 5)).toEqual(a);
    expect(shapeImage(1, 5).pixels).not.toEqual(a.pixels);
  });

  it('have all four classes, an object covering 5–45 % of the image, pixels in [0, 1]', () => {
    const counts = new Array(SHAPE_CLASSES.length).fill(0);
    for (let i = 0; i < 200; i++) {
      const img = shapeImage(3, i);
      counts[img.label]++;
      const share = img.mask.reduce((a, b) => a + b, 0) / img.mask.length;
      expect(share).toBeGreaterThan(0.05);
      expect(share).toBeLessThan(0.45);
      expect(Math.min(...img.pixels)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...img.pixels)).toBeLessThanOrEqual(1);
    }
    for (const c of counts) expect(c).toBeGreaterThan(30);
  });

  it('the mask is exact: the object has one colour (up to the noise), distinct from the background under it', () => {
    const img = shapeImage(4, 0);
    const S = img.size;
    const inside: number[][] = [[], [], []];
    for (let i = 0; i < S * S; i++) if (img.mask[i]) for (let c = 0; c < 3; c++) inside[c].push(img.pixels[c * S * S + i]);
    for (const channel of inside) {
      const mean = channel.reduce((a, b) => a + b, 0) / channel.length;
      const sd = Math.sqrt(channel.reduce((a, b) => a + (b - mean) ** 2, 0) / channel.length);
      expect(sd).toBeLessThan(0.07); // σ = 0.05 noise (less where clamped)
    }
  });

  it('batches normalise with the model statistics', () => {
    const b = shapesBatch(2, 0, 3, 32, { imageMean: [0.5, 0.5, 0.5], imageStd: [0.5, 0.5, 0.5] });
    expect(b.images.shape).toEqual([3, 3, 32, 32]);
    expect(b.images.data[0]).toBeCloseTo((b.pixels[0] - 0.5) / 0.5, 6);
    expect(b.masks.length).toBe(3 * 32 * 32);
  });
});

describe('maps', () => {
  it('min–max scales, colours and blends', () => {
    expect(Array.from(minMax([2, 4, 3]))).toEqual([0, 1, 0.5]);
    expect(Array.from(minMax([1, 1]))).toEqual([0, 0]);
    const image = new Float32Array(3 * 4).fill(1);
    const blended = overlay(image, [0, 0, 1, 1], 2, 0);
    expect(Array.from(blended)).toEqual(Array.from(image));
  });
});
