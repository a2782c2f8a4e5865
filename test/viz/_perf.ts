import { heatmapSvg } from '../../src/viz/heatmap-svg.js';
for (const L of [128, 1024, 2048]) {
  const m = new Float32Array(L * L);
  for (let i = 0; i < m.length; i++) m[i] = Math.random();
  const t0 = performance.now();
  const svg = heatmapSvg({ panels: { values: m }, tokens: Array.from({ length: L }, (_, i) => `tok${i}`) });
  console.log(L, (svg.length / 1e6).toFixed(2), 'MB', (performance.now() - t0).toFixed(0), 'ms', (svg.match(/<text/g) ?? []).length, 'texts');
  const sm = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) sm[i * L + j] = Math.exp(-(i - j) / 30);
  const t1 = performance.now();
  const svg2 = heatmapSvg({ panels: { values: sm } });
  console.log(' smooth', (svg2.length / 1e6).toFixed(3), 'MB', (performance.now() - t1).toFixed(0), 'ms');
}
