/**
 * The outputs of an evaluation (explain-and-evaluate.md §5), pure: the machine-readable
 * document (results.json), the human table (results.md) and the plot (SVG; the CLI
 * rasterises it to PNG). Every document records seeds, model, data slice, perturbation kind
 * and code version.
 */
import { CATEGORICAL, curvesSvg } from '../viz/index.js';
import type { CurveSeries } from '../viz/index.js';
import type { GroundTruthRun, MethodEvidence } from './groundtruth.js';
import { RECALL_FRACTIONS } from './groundtruth.js';
import type { MeanWithError } from './metrics.js';
import type { MethodSummary } from './perturbation.js';
import type { CodeVersion } from '../io/provenance.js';
import type { PerturbationRun } from './runner.js';

export interface ModelInfo {
  dir: string;
  modelType: string;
  layers: number;
  hidden: number;
  parameters: number;
  /** `next-token` (LM head) or `classify` (classifier head on the last token). */
  objective: 'next-token' | 'classify';
  labels?: string[];
  /** What the checkpoint was trained on, when trainer_state.json says so. */
  trainedOn?: string;
}

export interface Provenance {
  code: CodeVersion;
  /** The command line that produced the document. */
  command: string;
  createdAt: string;
}

export interface PerturbationDocument extends Provenance {
  evaluation: 'perturbation';
  model: ModelInfo;
  target: string;
  data: { slice: string; length: number; samples: number; candidates: number; seed: number; picked: Array<{ book: string; offset: number }> };
  perturbation: {
    kind: string;
    /** The replacement id (replace only). */
    neutral: { id: number; text: string; source: string } | null;
    fractions: number[];
    protectTarget: boolean;
    excluded: string;
    auc: string;
  };
  explain: { startLayer: number; variant: string; aggregation: string; igSteps: number; seed: number };
  unperturbed: PerturbationRun['unperturbed'];
  methods: MethodSummary[];
  failures: PerturbationRun['failures'];
  igRelativeCompleteness: MeanWithError | null;
  /** Per sample: the explained target, p_0 and every method's AUCs. */
  perSample: Array<{ book: string; offset: number; target: number; label: number | null; p0: number; auc: Record<string, [morf: number, lerf: number]> }>;
  forwards: number;
  seconds: { explain: number; perturb: number; total: number };
}

export interface GroundTruthDocument extends Provenance {
  evaluation: 'groundtruth';
  model: ModelInfo;
  task: { name: string; description: string; length: number; vocabSize: number; evidence: string };
  seed: number;
  explain: { startLayer: number; variant: string; aggregation: string; igSteps: number; seed: number };
  result: GroundTruthRun;
}

/** "0.412 ± 0.013" */
export function formatMean(m: MeanWithError, digits = 3): string {
  if (!Number.isFinite(m.mean)) return '–';
  return `${m.mean.toFixed(digits)} ± ${m.se.toFixed(digits)}`;
}

/** A Markdown table; the cells are taken as they are. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Marks the best mean of a column in bold (higher or lower is better). */
function bolden(values: readonly MeanWithError[], higherIsBetter: boolean): string[] {
  const finite = values.map((v) => v.mean).filter((v) => Number.isFinite(v));
  const best = finite.length === 0 ? NaN : higherIsBetter ? Math.max(...finite) : Math.min(...finite);
  return values.map((v) => (v.mean === best ? `**${formatMean(v)}**` : formatMean(v)));
}

/** The perturbation table: one row per method, sorted by ΔA^F (best first). */
export function perturbationTable(methods: readonly MethodSummary[]): string {
  const sorted = [...methods].sort((a, b) => (b.deltaAF.mean || 0) - (a.deltaAF.mean || 0));
  const morf = bolden(sorted.map((m) => m.aucMorf), false);
  const lerf = bolden(sorted.map((m) => m.aucLerf), true);
  const delta = bolden(sorted.map((m) => m.deltaAF), true);
  return markdownTable(
    ['method', 'AUC MoRF ↓', 'AUC LeRF ↑', 'ΔA^F ↑', 'n'],
    sorted.map((m, i) => [m.method, morf[i], lerf[i], delta[i], String(m.samples)]),
  );
}

function describeModel(m: ModelInfo): string {
  return `${m.modelType} (${m.layers} layers, hidden ${m.hidden}, ${m.parameters.toLocaleString('en-US')} parameters${m.trainedOn ? `, trained on ${m.trainedOn}` : ''}) from \`${m.dir}\``;
}

function describeCode(d: Provenance): string {
  return `${d.code.package} ${d.code.version}, commit ${d.code.commit ?? 'unknown'}`;
}

export function perturbationMarkdown(d: PerturbationDocument): string {
  const u = d.unperturbed;
  const neutral = d.perturbation.neutral === null ? '' : ` with id ${d.perturbation.neutral.id} ${JSON.stringify(d.perturbation.neutral.text)} (${d.perturbation.neutral.source})`;
  const failures = Object.entries(d.failures).map(([m, f]) => `- ${m} failed on ${f.samples} sample(s): ${f.message}`);
  const ig = d.igRelativeCompleteness;
  return [
    `# Perturbation test of ${d.model.modelType}`,
    '',
    `- model: ${describeModel(d.model)}`,
    `- target: ${d.target}`,
    `- data: ${d.data.samples} samples drawn with seed ${d.data.seed} from ${d.data.slice}`,
    `- perturbation: **${d.perturbation.kind}**${neutral}; fractions ${d.perturbation.fractions.join(', ')} of the eligible positions; ${d.perturbation.excluded}`,
    `- score: ${d.perturbation.auc}`,
    `- explanations: start layer ${d.explain.startLayer}, variant ${d.explain.variant}, aggregation ${d.explain.aggregation}, integrated-gradients ${d.explain.igSteps} steps, seed ${d.explain.seed}`,
    `- unperturbed model on these samples: p(target) ${formatMean(u.probability)}${u.accuracy === null ? '' : `, accuracy ${(100 * u.accuracy).toFixed(1)} % (top prediction = true ${d.model.objective === 'classify' ? 'class' : 'next token'})`}`,
    ...(ig === null ? [] : [`- integrated gradients: relative completeness error ${formatMean(ig)} (|Σ relevance − (f(x) − f(0))| / |f(x) − f(0)|)`]),
    `- code: ${describeCode(d)}; ${d.createdAt}; ${d.forwards} perturbed forwards, ${d.seconds.total.toFixed(0)} s`,
    `- command: \`${d.command}\``,
    '',
    perturbationTable(d.methods),
    '',
    'Mean ± standard error over the samples. MoRF: most relevant first (lower is better); LeRF: least relevant first (higher is better); ΔA^F = AUC(LeRF) − AUC(MoRF).',
    ...(failures.length ? ['', ...failures] : []),
    '',
  ].join('\n');
}

/** Colour of method i (Tableau 10, then darker repeats). */
function colorOf(i: number): string {
  return CATEGORICAL[i % CATEGORICAL.length]!;
}

/** Width and height of an SVG document made by src/viz. */
function svgSize(svg: string): [number, number] {
  const m = /^<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/.exec(svg);
  if (m === null) throw new Error('svgSize: not an SVG document with width and height');
  return [Number(m[1]), Number(m[2])];
}

/** Two SVG documents side by side in one (nested <svg> elements). */
export function sideBySide(left: string, right: string): string {
  const [w1, h1] = svgSize(left);
  const [w2, h2] = svgSize(right);
  const W = w1 + w2;
  const H = Math.max(h1, h2);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><rect width="${W}" height="${H}" fill="#ffffff"/>${left}${right.replace(/^<svg /, `<svg x="${w1}" `)}</svg>`;
}

/**
 * Score vs fraction perturbed, one curve per method (same colour in both panels):
 * left MoRF (most relevant first; falling fast is good), right LeRF (least relevant first;
 * staying high is good), on a shared y axis.
 */
export function perturbationSvg(d: PerturbationDocument): string {
  const x = d.perturbation.fractions;
  const values = d.methods.flatMap((m) => [...m.morfCurve, ...m.lerfCurve].map((c) => c.mean)).filter(Number.isFinite);
  const top = Math.max(1.2, Math.ceil(Math.max(...values, 1) * 5) / 5);
  const common = { width: 430, height: 440, xLabel: 'fraction of tokens perturbed', xDomain: [0, 0.9] as const, yDomain: [0, top] as const };
  const panel = (order: 'MoRF' | 'LeRF', legend: 'right' | 'none') =>
    curvesSvg(
      d.methods.map((m, i) => ({ name: m.method, x, y: (order === 'MoRF' ? m.morfCurve : m.lerfCurve).map((c) => c.mean), color: colorOf(i) })),
      {
        ...common,
        ...(legend === 'right' ? { width: 600 } : {}),
        legend,
        title: order === 'MoRF' ? `Perturbation: ${d.model.modelType}${d.model.objective === 'classify' ? ' classifier' : ''} (${d.perturbation.kind}, n = ${d.data.samples})` : ' ',
        subtitle: order === 'MoRF' ? 'most relevant first (MoRF): lower is better' : 'least relevant first (LeRF): higher is better',
        yLabel: order === 'MoRF' ? 'p(target) / p₀(target), mean over samples' : undefined,
      },
    );
  return sideBySide(panel('MoRF', 'none'), panel('LeRF', 'right'));
}

/** The ground-truth table: one row per method and the chance levels of a random ranking. */
export function groundTruthTable(methods: readonly MethodEvidence[], run: Pick<GroundTruthRun, 'evidencePerExample' | 'positionsScored'>): string {
  const mass = bolden(methods.map((m) => m.mass), true);
  const top = bolden(methods.map((m) => m.topK), true);
  const au = bolden(methods.map((m) => m.auroc), true);
  const chance = run.evidencePerExample / run.positionsScored;
  return markdownTable(
    ['method', 'evidence mass ↑', 'top-k hit ↑', 'AUROC ↑', 'n'],
    [
      ...methods.map((m, i) => [m.method, mass[i], top[i], au[i], String(m.samples)]),
      ['*chance (uniform random)*', `*${chance.toFixed(3)}*`, `*${chance.toFixed(3)}*`, '*0.500*', ''],
    ],
  );
}

export function groundTruthMarkdown(d: GroundTruthDocument): string {
  const r = d.result;
  const ig = r.igRelativeCompleteness;
  const failures = Object.entries(r.failures).map(([m, f]) => `- ${m} failed on ${f.samples} sample(s): ${f.message}`);
  return [
    `# Ground-truth test of ${d.model.modelType} on task:${d.task.name}`,
    '',
    `- model: ${describeModel(d.model)}`,
    `- task: ${d.task.description}; ${d.task.length} tokens, vocabulary ${d.task.vocabSize}; evidence: ${d.task.evidence}`,
    `- accuracy: **${(100 * r.accuracy).toFixed(1)} %** on ${r.examples} examples drawn with seed ${d.seed} (threshold ${(100 * r.minAccuracy).toFixed(0)} %): ${r.learned ? 'learned' : '**did not learn the task — not explained, excluded from the attribution tables**'}`,
    ...(r.learned
      ? [
          `- explained: the label's logit at the last position on the ${r.explained} correctly answered examples; scored over positions 0 … t − 1 (the query token at t is left out); ${r.evidencePerExample.toFixed(2)} evidence positions among ${r.positionsScored.toFixed(1)} on average`,
          `- explanations: start layer ${d.explain.startLayer}, variant ${d.explain.variant}, aggregation ${d.explain.aggregation}, integrated-gradients ${d.explain.igSteps} steps, seed ${d.explain.seed}`,
          ...(ig === null ? [] : [`- integrated gradients: relative completeness error ${formatMean(ig)}`]),
        ]
      : []),
    `- code: ${describeCode(d)}; ${d.createdAt}; ${r.seconds.toFixed(0)} s`,
    `- command: \`${d.command}\``,
    '',
    ...(r.learned
      ? [
          groundTruthTable(r.methods, r),
          '',
          'Mean ± standard error over the explained examples. Evidence mass: share of the positive relevance on the evidence positions; top-k hit: share of the k most relevant positions that are evidence (k = number of evidence positions; ties by expectation); AUROC of relevance vs the evidence mask (ties ½).',
        ]
      : []),
    ...(failures.length ? ['', ...failures] : []),
    '',
  ].join('\n');
}

/** Evidence found vs fraction of positions inspected (most relevant first), one curve per method. */
export function groundTruthSvg(d: GroundTruthDocument): string {
  const r = d.result;
  const series: CurveSeries[] = Object.entries(r.recallCurves).map(([method, y], i) => ({ name: method, x: RECALL_FRACTIONS, y, color: colorOf(i) }));
  series.push({ name: 'chance', x: [0, 1], y: [0, 1], color: '#999999', dashed: true });
  return curvesSvg(series, {
    width: 700,
    height: 420,
    title: `Ground truth: ${d.model.modelType} on task:${d.task.name}`,
    subtitle: r.learned ? `${r.explained} correctly answered examples · accuracy ${(100 * r.accuracy).toFixed(1)} %` : `did not learn the task (accuracy ${(100 * r.accuracy).toFixed(1)} %): no explanations`,
    xLabel: 'fraction of positions inspected, most relevant first',
    yLabel: 'share of the evidence found',
    xDomain: [0, 1],
    yDomain: [0, 1],
  });
}
