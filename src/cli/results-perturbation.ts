/**
 * The perturbation part of docs/results.md across families (built by results-doc.ts): runs are
 * grouped — language models trained here (`models/eval/lm-*`, one per family, same recipe),
 * which-novel classifiers (`classifier-*`, one per family), and the PyTorch-trained language
 * models of the test fixtures — and each group gets a methods × families table of ΔA^F, the
 * mean over its families, and a reading derived from the numbers (how often each method is
 * best, and on how many families it is clearly above the random and recency baselines).
 */
import type { MeanWithError } from '../evaluate/metrics.js';
import { formatMean, markdownTable } from '../evaluate/report.js';
import type { PerturbationDocument } from '../evaluate/report.js';

export interface PerturbationGroup {
  key: 'lm' | 'classifier' | 'shipped' | 'fixture';
  /** Heading of the group's table. */
  title: string;
  /** Short column name in the overview. */
  label: string;
  docs: PerturbationDocument[];
}

/** How a family is named in the tables (model_type otherwise). */
const DISPLAY: Record<string, string> = { recurrent_gemma: 'griffin' };
export const familyName = (modelType: string) => DISPLAY[modelType] ?? modelType;

/** Two means differ by more than two combined standard errors. */
export function clearlyAbove(a: MeanWithError, b: MeanWithError): boolean {
  return a.mean - b.mean > 2 * Math.sqrt(a.se ** 2 + b.se ** 2);
}

function groupKey(d: PerturbationDocument): PerturbationGroup['key'] {
  const dir = d.model.dir.replace(/\\/g, '/');
  if (dir.startsWith('test/fixtures/')) return 'fixture';
  // models/eval/* are the per-family evaluation models; anything else (models/classifier) is a shipped model.
  if (!dir.startsWith('models/eval/')) return 'shipped';
  return d.model.objective === 'classify' ? 'classifier' : 'lm';
}

const GROUPS: Array<Omit<PerturbationGroup, 'docs'>> = [
  { key: 'lm', title: 'Austen language models trained here (one per family, same recipe)', label: 'LMs' },
  { key: 'classifier', title: 'Which-novel classifiers (one per family)', label: 'classifiers' },
  { key: 'shipped', title: 'The shipped default models', label: 'shipped' },
  { key: 'fixture', title: 'PyTorch-trained language models of the test fixtures', label: 'fixture LMs' },
];

/** The runs by group, in GROUPS order (documents keep their given order inside a group); empty groups dropped. */
export function perturbationGroups(docs: readonly PerturbationDocument[]): PerturbationGroup[] {
  return GROUPS.map((g) => ({ ...g, docs: docs.filter((d) => groupKey(d) === g.key) })).filter((g) => g.docs.length > 0);
}

const methodsOf = (g: PerturbationGroup) => [...new Set(g.docs.flatMap((d) => d.methods.map((m) => m.method)))];
const deltaOf = (d: PerturbationDocument, method: string) => d.methods.find((m) => m.method === method)?.deltaAF;

/** Mean over the group's families of a method's mean ΔA^F (NaN when a family lacks it). */
export function groupMean(g: PerturbationGroup, method: string): number {
  const values = g.docs.map((d) => deltaOf(d, method)?.mean ?? NaN);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The overview cell of a method for a group: the run's ΔA^F ± SE for one run, the mean over families otherwise. */
export function overviewColumn(g: PerturbationGroup): { header: string; cells: Map<string, string> } {
  const methods = methodsOf(g);
  if (g.docs.length === 1) {
    const d = g.docs[0];
    const best = Math.max(...d.methods.map((m) => m.deltaAF.mean));
    return {
      header: `ΔA^F ${familyName(d.model.modelType)} ${d.model.objective === 'classify' ? 'classifier' : 'LM'}${g.key === 'fixture' ? ' (fixture)' : g.key === 'shipped' ? ` (${d.model.dir})` : ''} ↑`,
      cells: new Map(d.methods.map((m) => [m.method, m.deltaAF.mean === best ? `**${formatMean(m.deltaAF, 2)}**` : formatMean(m.deltaAF, 2)])),
    };
  }
  const means = new Map(methods.map((m) => [m, groupMean(g, m)]));
  const best = Math.max(...[...means.values()].filter(Number.isFinite));
  return {
    header: `ΔA^F ${g.label}, mean of ${g.docs.length} families ↑`,
    cells: new Map(methods.map((m) => [m, Number.isFinite(means.get(m)!) ? (means.get(m) === best ? `**${means.get(m)!.toFixed(2)}**` : means.get(m)!.toFixed(2)) : '–'])),
  };
}

/** Methods × families table of ΔA^F (best per family in bold) with the mean over families. */
export function groupTable(g: PerturbationGroup): string {
  const methods = methodsOf(g).sort((a, b) => groupMean(g, b) - groupMean(g, a));
  const best = g.docs.map((d) => Math.max(...d.methods.map((m) => m.deltaAF.mean)));
  const rows = methods.map((method) => [
    method,
    ...g.docs.map((d, i) => {
      const v = deltaOf(d, method);
      if (v === undefined) return '–';
      return v.mean === best[i] ? `**${formatMean(v, 2)}**` : formatMean(v, 2);
    }),
    Number.isFinite(groupMean(g, method)) ? groupMean(g, method).toFixed(2) : '–',
  ]);
  const header = ['method', ...g.docs.map((d) => familyName(d.model.modelType)), 'mean'];
  return markdownTable(header, rows);
}

/** Sentences derived from a group's numbers. */
export function groupReading(g: PerturbationGroup): string[] {
  if (g.docs.length < 2) return [];
  const methods = methodsOf(g);
  const ranked = [...methods].sort((a, b) => groupMean(g, b) - groupMean(g, a));
  const wins = new Map(methods.map((m) => [m, 0]));
  for (const d of g.docs) {
    const best = [...d.methods].sort((a, b) => b.deltaAF.mean - a.deltaAF.mean)[0];
    wins.set(best.method, (wins.get(best.method) ?? 0) + 1);
  }
  const beats = (baseline: string) =>
    methods
      .filter((m) => m !== baseline)
      .map((m) => ({ m, n: g.docs.filter((d) => {
        const a = deltaOf(d, m);
        const b = deltaOf(d, baseline);
        return a !== undefined && b !== undefined && clearlyAbove(a, b);
      }).length }))
      .sort((a, b) => b.n - a.n)
      .map(({ m, n }) => `${m} ${n}`)
      .join(', ');
  const families = g.docs.length;
  return [
    `${g.title}: by mean ΔA^F over the ${families} families, ${ranked.slice(0, 3).map((m) => `${m} (${groupMean(g, m).toFixed(2)})`).join(' > ')}; last ${ranked.at(-1)} (${groupMean(g, ranked.at(-1)!).toFixed(2)}). ` +
      `Best method per family: ${[...wins].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${n}×`).join(', ')}.`,
    `  Families (of ${families}) on which a method is more than two standard errors above random: ${beats('random')}.`,
    ...(methods.includes('recency') ? [`  … above the recency baseline: ${beats('recency')}.`] : []),
  ];
}
