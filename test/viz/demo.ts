// Renders sample pictures to /tmp/viz-samples (or the directory given as argv[2]) for eyeballing:
//   npx tsx test/viz/demo.ts [outDir]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { heatmapSvg } from '../../src/viz/heatmap-svg.js';
import { svgToPng } from '../../src/io/svg-png.js';
import { relevanceStripSvg } from '../../src/viz/relevance-svg.js';
import { curvesSvg } from '../../src/viz/curves-svg.js';
import { colorTokens } from '../../src/viz/terminal.js';

const outDir = process.argv[2] ?? '/tmp/viz-samples';
mkdirSync(outDir, { recursive: true });

function save(name: string, svg: string, scale = 1): void {
  writeFileSync(join(outDir, `${name}.svg`), svg);
  const png = svgToPng(svg, { scale });
  writeFileSync(join(outDir, `${name}.png`), png);
  console.log(`${name}: svg ${(svg.length / 1024).toFixed(1)} KiB, png ${(png.length / 1024).toFixed(1)} KiB`);
}

// A deterministic pseudo-random generator.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A plausible implicit-attention-like matrix: decaying with distance, some strong sources. */
function fakeAttention(L: number, seed: number, signed = false): Float64Array {
  const r = rng(seed);
  const strength = Array.from({ length: L }, () => (r() < 0.15 ? 1 + 3 * r() : 0.2 * r()));
  const decay = 0.9 + 0.08 * r();
  const m = new Float64Array(L * L);
  for (let t = 0; t < L; t++) {
    for (let s = 0; s <= t; s++) {
      const v = strength[s]! * decay ** (t - s) * (0.6 + 0.4 * r()) + (s === t ? 0.8 : 0);
      m[t * L + s] = signed && r() < 0.3 ? -v : v;
    }
  }
  return m;
}

const sentence = [' Emma', ' Wood', 'house', ',', ' handsome', ',', ' clever', ',', ' and', ' rich', ',', ' with',
  ' a', ' comfortable', ' home', ' and', ' happy', ' disposition', ',', ' seemed', ' to', ' unite', '\n', '<script>'];

save('a-heatmap-24', heatmapSvg({
  panels: { values: fakeAttention(24, 7), title: 'layer 3 · paper · mean |H|' },
  tokens: sentence,
  title: 'Implicit attention',
  subtitle: 'mamba-130m · "Emma Woodhouse, handsome, clever, and rich…"',
}));

// (b) a 2×2 grid of 256×256 panels
const L = 256;
const words = ['the', ' of', ' Emma', ' Mr', '.', ' Knightley', ',', ' she', ' was', ' Harriet', '\n', ' &', ' "'];
const long = Array.from({ length: L }, (_, i) => words[(i * 7 + 3) % words.length]!);
save('b-grid-256', heatmapSvg({
  panels: [0, 1, 2, 3].map((k) => ({ values: fakeAttention(L, 11 + k), title: `layer ${k * 8} · paper · mean |H|` })),
  tokens: long,
  title: 'Implicit attention, 4 layers',
  subtitle: `L = ${L} tokens, per-panel min–max of |H|`,
}));
save('b2-signed-24', heatmapSvg({
  panels: { values: fakeAttention(24, 3, true), title: 'layer 5 · exact · channel 17' },
  tokens: sentence, scaling: 'signed',
}));

// (c) a relevance strip
const passage = ['Emma', ' Wood', 'house', ',', ' handsome', ',', ' clever', ',', ' and', ' rich', ',', ' with', ' a',
  ' comfortable', ' home', ' and', ' happy', ' disposition', ',', ' seemed', ' to', ' unite', ' some', ' of', ' the',
  ' best', ' bless', 'ings', ' of', ' existence', ';', '\n', 'and', ' had', ' lived', ' nearly', ' twenty', '-', 'one',
  ' years', ' in', ' the', ' world', ' with', ' very', ' little', ' to', ' distress', ' or', ' vex', ' her', '.'];
const r = rng(5);
const rel = passage.map((t) => (/Emma|Wood|house/.test(t) ? 0.6 + 0.4 * r() : 0.25 * r() ** 2));
save('c-relevance', relevanceStripSvg(passage, rel, {
  title: 'Why "Emma"? — implicit-attention rollout', subtitle: 'target: which novel · predicted: Emma (p = 0.93)',
  highlight: [passage.length - 1], target: '→ Emma',
}));
const signedRel = rel.map((v, i) => (i % 5 === 2 ? -v : v));
save('c2-relevance-signed', relevanceStripSvg(passage, signedRel, { title: 'gradient × input (signed)', showScores: true, width: 640 }));

// (d) a curves plot
const fr = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const curve = (k: number) => fr.map((f) => Math.exp(-k * f) * (1 - 0.05 * f));
save('d-curves', curvesSvg([
  { name: 'implicit attention (AUC 0.31)', x: fr, y: curve(4) },
  { name: 'attention rollout (AUC 0.38)', x: fr, y: curve(3) },
  { name: 'gradient × input (AUC 0.52)', x: fr, y: curve(1.6) },
  { name: 'random (AUC 0.71)', x: fr, y: fr.map((f) => 1 - 0.6 * f), dashed: true },
], {
  title: 'Perturbation: most relevant tokens first', subtitle: 'lower is better',
  xLabel: 'fraction of tokens perturbed', yLabel: 'normalised score',
}));

console.log(colorTokens(passage, rel));
console.log(colorTokens(passage, signedRel));
console.log(colorTokens(passage, rel, { color: false }));

// (e) one long input: L = 1024, signed
save('e-signed-1024', heatmapSvg({
  panels: { values: fakeAttention(1024, 21, true), title: 'layer 11 · exact · channel 5' },
  tokens: Array.from({ length: 1024 }, (_, i) => words[(i * 5 + 1) % words.length]!),
  scaling: 'signed',
}));
