/**
 * The "Vision" section of docs/results.md (built by results-doc.ts): the segmentation and
 * patch-perturbation tests of `iattn vision evaluate` (src/vision/evaluate.ts) on the shipped
 * Vision Mamba and MLLA classifiers, from the runs' results.json documents, recognised by name:
 * `vision-<anything>` (OUT/vision-NAME/results.json or OUT/vision-NAME.json, as stored in
 * docs/results-data/). A run with start layer 0 gives a model's main tables; runs with a later
 * start layer give the start-layer comparison. Tables, a summary figure and a reading derived
 * from the numbers (so a rerun cannot leave stale claims behind).
 */
import type { EvaluationResults, MeanStderr, MethodResult } from '../vision/evaluate.js';
import { barsSvg } from '../viz/bars-svg.js';

export interface VisionRun {
  name: string;
  doc: EvaluationResults;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const ms = (m: MeanStderr | undefined) => (m === undefined ? '–' : `${f3(m.mean)} ± ${f3(m.stderr)}`);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** How a model type is named in the text. */
const MODEL_NAMES: Record<string, string> = { vim: 'Vision Mamba', mlla: 'MLLA' };
const modelName = (type: string) => MODEL_NAMES[type] ?? type;
const MODEL_ORDER = ['vim', 'mlla'];
const rank = (type: string) => (MODEL_ORDER.includes(type) ? MODEL_ORDER.indexOf(type) : MODEL_ORDER.length);

/** The CLI's defaults, left out of the reconstructed commands. */
const DEFAULT_STEPS = 32;

/** Two means differ by more than two combined standard errors. */
const clearlyAbove = (a: MeanStderr, b: MeanStderr) => a.mean - b.mean > 2 * Math.hypot(a.stderr, b.stderr);

/** The command that reproduces a run (the settings recorded in its document). */
export function visionCommand(d: EvaluationResults, allMethods: readonly string[]): string {
  const s = d.settings;
  const methods = s.methods.length === allMethods.length && s.methods.every((m, i) => m === allMethods[i]) ? '' : ` --methods ${s.methods.join(',')}`;
  return (
    `iattn vision evaluate --model ${d.model} --images ${s.images} --perturbation-images ${s.perturbationImages} --accuracy-images ${s.accuracyImages}` +
    `${methods}${s.startLayer === 0 ? '' : ` --start-layer ${s.startLayer}`}${s.steps === DEFAULT_STEPS ? '' : ` --steps ${s.steps}`}`
  );
}

/** Bolds the best value of a column (best = max, or min with `lower`), skipping reference rows. */
function boldBest(rows: string[][], values: number[][], references: Set<number>, lower: boolean[]): void {
  values[0]?.forEach((_, col) => {
    const candidates = values.map((r, i) => (references.has(i) ? NaN : r[col])).filter(Number.isFinite);
    if (candidates.length === 0) return;
    const best = lower[col] ? Math.min(...candidates) : Math.max(...candidates);
    values.forEach((r, i) => {
      if (!references.has(i) && r[col] === best) rows[i][col + 1] = `**${rows[i][col + 1]}**`;
    });
  });
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/**
 * The section's lines (heading included) and its reading; `figure(name, svg)` stores a figure
 * and returns the path the document links.
 */
export function visionSection(runs: readonly VisionRun[], figure: (name: string, svg: string) => string, allMethods: readonly string[]): { lines: string[]; reading: string[] } {
  if (runs.length === 0) return { lines: [], reading: [] };
  const ordered = [...runs].sort((a, b) => rank(a.doc.modelType) - rank(b.doc.modelType) || a.doc.modelType.localeCompare(b.doc.modelType) || a.doc.settings.startLayer - b.doc.settings.startLayer);
  const main = ordered.filter((r) => r.doc.settings.startLayer === 0);
  const later = ordered.filter((r) => r.doc.settings.startLayer > 0);
  const models = main.map((r) => r.doc);
  const lines: string[] = [];
  const reading: string[] = [];
  lines.push('## 3. Vision: explanations of image classifiers', '');
  lines.push(
    'Two small vision classifiers trained in TypeScript on the project\'s synthetic shapes (32×32 images of a circle, square, triangle or cross on a cluttered background, 8×8 patches of 4×4 pixels; src/vision/data.ts): ' +
      '**Vision Mamba** (bidirectional Mamba, class token in the middle) and **MLLA** (Mamba-like linear attention, average-pooled). Their implicit attention is non-causal (full L×L matrices); the recipes, models and protocol are in [vision.md](vision.md). ' +
      'Every image has an exact object mask, so explanations are scored against it (**segmentation test**, as the official Vim/unified-attention code: the patch map is bilinearly upsampled to pixels and thresholded at its mean; pixel accuracy and mIoU over the set, mAP over images), ' +
      'and by occluding patches with grey in the method\'s order (**perturbation test**: positive = most relevant first, lower AUC is better; negative = least relevant first, higher is better; ΔA^F = negative − positive AUC of the normalised probability of the predicted class, higher is better). ' +
      '`mask` is the ground truth itself as a patch map (a reference, not a method), `random` a seeded random map. Attention recipes use the `paper` variant; integrated gradients 32 Gauss–Legendre nodes unless said.',
    '',
  );
  lines.push(
    table(
      ['model', 'parameters', 'held-out accuracy', 'images (segmentation / perturbation)', 'unperturbed on the perturbation images', 'code'],
      main.map(({ doc: d }) => [
        `${modelName(d.modelType)} (\`${d.model}\`)`,
        String(d.parameters),
        `${pct(d.accuracy)} of ${d.data.accuracyImages}`,
        `${d.data.images} / ${d.data.perturbationImages} (seed ${d.data.seed}, images 0 …)`,
        `accuracy ${f3(d.unperturbed.accuracy)}, p(predicted) ${f3(d.unperturbed.probability)}`,
        d.codeVersion,
      ]),
    ),
    '',
    'Commands (the results.json of each run, with every per-step curve, is stored in [results-data/](results-data/) as `vision-*.json`):',
    '',
    '```',
    ...ordered.map((r) => visionCommand(r.doc, allMethods)),
    '```',
    '',
  );

  // Segmentation and perturbation per method, both models side by side.
  const methods = [...new Set(models.flatMap((d) => Object.keys(d.methods)))];
  const ref = new Set(methods.flatMap((m, i) => (m === 'mask' ? [i] : [])));
  const label = (m: string) => (m === 'mask' ? '*mask (reference)*' : m);
  const get = (d: EvaluationResults, m: string): MethodResult | undefined => d.methods[m];
  {
    const header = ['method', ...models.flatMap((d) => [`${modelName(d.modelType)} pixel acc ↑`, 'mIoU ↑', 'mAP ↑'])];
    const values = methods.map((m) => models.flatMap((d) => {
      const s = get(d, m)?.segmentation;
      return s === undefined ? [NaN, NaN, NaN] : [s.pixelAccuracy, s.mIoU, s.mAP.mean];
    }));
    const rows = methods.map((m, i) => [label(m), ...models.flatMap((d, k) => {
      const s = get(d, m)?.segmentation;
      return s === undefined ? ['–', '–', '–'] : [f3(values[i][3 * k]), f3(values[i][3 * k + 1]), ms(s.mAP)];
    })]);
    boldBest(rows, values, ref, values[0].map(() => false));
    lines.push('### Segmentation test (start layer 0)', '', table(header, rows), '');
  }
  const perturbed = models.filter((d) => d.data.perturbationImages > 0);
  if (perturbed.length > 0) {
    const header = ['method', ...perturbed.flatMap((d) => [`${modelName(d.modelType)} positive AUC ↓`, 'negative AUC ↑', 'ΔA^F ↑'])];
    const values = methods.map((m) => perturbed.flatMap((d) => {
      const p = get(d, m)?.perturbation;
      return p === undefined ? [NaN, NaN, NaN] : [p.positive.probabilityAuc.mean, p.negative.probabilityAuc.mean, p.deltaAF.mean];
    }));
    const rows = methods.map((m) => [label(m), ...perturbed.flatMap((d) => {
      const p = get(d, m)?.perturbation;
      return p === undefined ? ['–', '–', '–'] : [ms(p.positive.probabilityAuc), ms(p.negative.probabilityAuc), ms(p.deltaAF)];
    })]);
    boldBest(rows, values, ref, values[0].map((_, c) => c % 3 === 0));
    lines.push(
      '### Perturbation test (start layer 0)',
      '',
      `AUC of the probability of the predicted class, divided by its unperturbed value, over the fraction of patches occluded k = 0, 0.1, …, 0.9 (trapezoid; 0.9 for an untouched score); mean ± standard error over images.`,
      '',
      table(header, rows),
      '',
    );
  }

  // The summary figure.
  const shown = methods.filter((m) => models.every((d) => get(d, m) !== undefined));
  const svg = barsSvg({
    title: 'Vision: segmentation and perturbation per method',
    subtitle: `${models.map((d) => `${modelName(d.modelType)} (${d.data.images} images)`).join(', ')} · whiskers: ± standard error · mask = ground truth (reference)`,
    categories: shown,
    series: models.map((d) => ({ name: modelName(d.modelType) })),
    panels: [
      { title: 'mIoU ↑', values: models.map((d) => shown.map((m) => get(d, m)!.segmentation.mIoU)), domain: [0, 1] },
      { title: 'mAP ↑', values: models.map((d) => shown.map((m) => get(d, m)!.segmentation.mAP.mean)), errors: models.map((d) => shown.map((m) => get(d, m)!.segmentation.mAP.stderr)), domain: [0, 1] },
      {
        title: 'ΔA^F (perturbation) ↑',
        values: models.map((d) => shown.map((m) => get(d, m)!.perturbation?.deltaAF.mean ?? NaN)),
        errors: models.map((d) => shown.map((m) => get(d, m)!.perturbation?.deltaAF.stderr ?? NaN)),
      },
    ],
  });
  lines.push(`![vision summary](${figure('vision-summary', svg)})`, '');

  // Start layer.
  const pairs = later.flatMap((l) => {
    const base = main.find((m) => m.doc.modelType === l.doc.modelType);
    return base === undefined ? [] : [{ base: base.doc, late: l.doc }];
  });
  if (pairs.length > 0) {
    const layerMethods = [...new Set(pairs.flatMap((p) => Object.keys(p.late.methods)))];
    const header = ['method', ...pairs.flatMap((p) => [`${modelName(p.late.modelType)} mIoU (0 → ${p.late.settings.startLayer})`, `mAP (0 → ${p.late.settings.startLayer})`, `ΔA^F (0 → ${p.late.settings.startLayer})`])];
    const rows = layerMethods.map((m) => [m, ...pairs.flatMap(({ base, late }) => {
      const [a, b] = [base.methods[m], late.methods[m]];
      if (a === undefined || b === undefined) return ['–', '–', '–'];
      return [
        `${f3(a.segmentation.mIoU)} → ${f3(b.segmentation.mIoU)}`,
        `${f3(a.segmentation.mAP.mean)} → ${f3(b.segmentation.mAP.mean)}`,
        a.perturbation && b.perturbation ? `${f3(a.perturbation.deltaAF.mean)} → ${f3(b.perturbation.deltaAF.mean)}` : '–',
      ];
    })]);
    lines.push(
      '### Start layer of the attention recipes',
      '',
      `The attention-based recipes started at a later block (${pairs.map((p) => `${modelName(p.late.modelType)}: block ${p.late.settings.startLayer}`).join(', ')}; the official Vim setting starts at block 15 of 24), on the same images as above.`,
      '',
      table(header, rows),
      '',
    );
  }

  // --- Reading ---
  for (const d of models) {
    const name = modelName(d.modelType);
    const real = Object.entries(d.methods).filter(([m]) => m !== 'mask' && m !== 'random');
    const byMiou = [...real].sort((a, b) => b[1].segmentation.mIoU - a[1].segmentation.mIoU);
    const random = d.methods.random;
    const mask = d.methods.mask;
    reading.push(
      `Vision, ${name} (held-out accuracy ${pct(d.accuracy)}): segmentation mIoU ranking ${byMiou.map(([m, r]) => `${m} ${f3(r.segmentation.mIoU)}`).join(' > ')}` +
        `${random ? `; random ${f3(random.segmentation.mIoU)}` : ''}${mask ? `; the ground-truth mask itself ${f3(mask.segmentation.mIoU)} (the ceiling of an 8×8 map after upsampling and the mean threshold)` : ''}.`,
    );
    if (random) {
      const above = real.filter(([, r]) => clearlyAbove(r.segmentation.mAP, random.segmentation.mAP)).map(([m]) => m);
      const best = [...real].sort((a, b) => b[1].segmentation.mAP.mean - a[1].segmentation.mAP.mean)[0];
      reading.push(`  mAP: best ${best[0]} (${ms(best[1].segmentation.mAP)}); more than two standard errors above random (${ms(random.segmentation.mAP)}): ${above.length ? above.join(', ') : 'none'}.`);
    }
    const withP = real.filter(([, r]) => r.perturbation !== undefined);
    if (withP.length > 0) {
      const byDelta = [...withP].sort((a, b) => b[1].perturbation!.deltaAF.mean - a[1].perturbation!.deltaAF.mean);
      reading.push(`  Perturbation: best ΔA^F ${byDelta[0][0]} (${ms(byDelta[0][1].perturbation!.deltaAF)}), then ${byDelta.slice(1, 3).map(([m, r]) => `${m} (${ms(r.perturbation!.deltaAF)})`).join(', ')}.`);
      if (random?.perturbation) {
        const notAbove = withP.filter(([, r]) => !clearlyAbove(r.perturbation!.deltaAF, random.perturbation!.deltaAF)).map(([m]) => m);
        reading.push(`  Not distinguishable from random in ΔA^F (random ${ms(random.perturbation.deltaAF)}): ${notAbove.length ? notAbove.join(', ') : 'none'}.`);
        const pos = [...withP].sort((a, b) => a[1].perturbation!.positive.probabilityAuc.mean - b[1].perturbation!.positive.probabilityAuc.mean);
        const randomPos = random.perturbation.positive.probabilityAuc.mean;
        const range = `the methods ${f3(pos[0][1].perturbation!.positive.probabilityAuc.mean)} … ${f3(pos.at(-1)![1].perturbation!.positive.probabilityAuc.mean)}, lowest ${pos[0][0]}`;
        reading.push(
          randomPos < 0.6 * 0.9
            ? `  Positive test: even the random order keeps only ${f3(randomPos)} of the 0.9 area (${range}): grey occlusion costs much of the probability whatever the order, so the positive AUCs are compressed and the negative test separates the methods more.`
            : `  Positive test: random ${f3(randomPos)}, ${range}.`,
        );
      }
      if (mask?.perturbation) {
        const beatMask = withP.filter(([, r]) => r.perturbation!.deltaAF.mean >= mask.perturbation!.deltaAF.mean).map(([m]) => m);
        const within = withP.filter(([, r]) => r.perturbation!.deltaAF.mean < mask.perturbation!.deltaAF.mean && !clearlyAbove(mask.perturbation!.deltaAF, r.perturbation!.deltaAF)).map(([m]) => m);
        reading.push(
          `  The ground-truth mask as a ranking scores ΔA^F ${ms(mask.perturbation.deltaAF)}; at or above it: ${beatMask.length ? `${beatMask.join(', ')} (the patches that decide are not only the object's)` : 'none'}; below it but within two standard errors: ${within.length ? within.join(', ') : 'none'}.`,
        );
      }
    }
    const ig = d.methods['integrated-gradients']?.completeness;
    if (ig !== undefined) reading.push(`  Integrated gradients' completeness error relative to |f(x) − f(0)|: median ${ig.medianRelative.toExponential(2)}, pooled ${ig.pooledRelative.toExponential(2)} (${d.settings.steps} nodes).`);
  }
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
  for (const { base, late } of pairs) {
    const describe = (what: string, delta: (m: string) => number | null) => {
      const changes = Object.keys(late.methods).flatMap((m) => {
        const d = base.methods[m] ? delta(m) : null;
        return d === null ? [] : [{ m, d }];
      });
      const up = changes.filter((c) => c.d > 0.01).map((c) => `${c.m} (${signed(c.d)})`);
      const same = changes.filter((c) => Math.abs(c.d) <= 0.01).map((c) => c.m);
      const down = changes.filter((c) => c.d < -0.01).map((c) => `${c.m} (${signed(c.d)})`);
      return `${what} better for ${up.length ? up.join(', ') : 'none'}, within ±0.01 for ${same.length ? same.join(', ') : 'none'}, worse for ${down.length ? down.join(', ') : 'none'}`;
    };
    const miou = describe('mIoU', (m) => late.methods[m].segmentation.mIoU - base.methods[m].segmentation.mIoU);
    const delta = describe('ΔA^F', (m) => {
      const [a, b] = [base.methods[m].perturbation, late.methods[m].perturbation];
      return a && b ? b.deltaAF.mean - a.deltaAF.mean : null;
    });
    reading.push(`Vision, ${modelName(late.modelType)}, start layer ${late.settings.startLayer} instead of 0: ${miou}; ${delta}.`);
  }
  return { lines, reading };
}

/** Standing notes of the vision runs (no numbers: those are in the reading). */
export const VISION_NOTES = `- **Vision**: the models are small (a few blocks, trained for minutes on two shared cores) and the images synthetic, with exact masks; the numbers compare methods on these models, not on ImageNet-scale Vision Mamba. The perturbation test occludes patches with grey (0 after normalisation), which the models never saw in training, so every order — random included — loses much of the probability after a few patches and the positive AUCs are compressed; the negative test and ΔA^F separate the methods better. Signed methods (grad × input, integrated gradients) rank their most negative patches last, which hurts them in the negative test. Integrated gradients integrates from zero patch embeddings while the class token and position embeddings stay, so f(α·e) changes steeply at small α and the Gauss–Legendre nodes leave the completeness error given per model in the reading.
`;
