/**
 * Presenting explanations: the target line ("next token ' Emma' p=0.31 at position 31"), a
 * plain top-k listing, and a self-contained HTML report (one relevance strip per method,
 * drawn by src/viz; every piece of text escaped).
 */
import { relevanceStripSvg, visibleToken, xmlEscape } from '../viz/index.js';
import type { Explanation, ResolvedTarget } from './types.js';

/** A method's outcome in a report: its explanation, or why it could not run. */
export interface ReportEntry {
  method: string;
  description: string;
  recipe: string;
  explanation?: Explanation;
  error?: string;
}

export function quoteToken(text: string): string {
  return `'${visibleToken(text)}'`;
}

/** "next token ' Emma' p=0.310 at position 31", plus the model's top token when another token was asked for. */
export function targetLine(target: ResolvedTarget, tokenText: (id: number) => string): string {
  const p = (x: number) => x.toPrecision(3);
  if (target.token === target.topToken) return `next token ${quoteToken(tokenText(target.token))} p=${p(target.probability)} at position ${target.position}`;
  return (
    `target token ${quoteToken(tokenText(target.token))} p=${p(target.probability)} at position ${target.position} ` +
    `(the model's top: ${quoteToken(tokenText(target.topToken))} p=${p(target.topProbability)})`
  );
}

/** The explained class of a classifier (its head reads the last position), with the top class when another was asked for. */
export function classTargetLine(target: ResolvedTarget, labels: readonly string[]): string {
  const p = (x: number) => x.toPrecision(3);
  const name = (c: number) => quoteToken(labels[c] ?? `class ${c}`);
  const read = `read by the classifier head at position ${target.position}`;
  if (target.token === target.topToken) return `class ${name(target.token)} p=${p(target.probability)}, ${read}`;
  return `target class ${name(target.token)} p=${p(target.probability)}, ${read} (the model's top: ${name(target.topToken)} p=${p(target.topProbability)})`;
}

/** Indices of the k largest scores (ties: earlier position first). */
export function topPositions(scores: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .filter((i) => Number.isFinite(scores[i]))
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, k);
}

/** "' Emma'#3 0.532, ' the'#9 0.210, …" */
export function topTokensLine(tokens: readonly string[], scores: ArrayLike<number>, k = 10): string {
  return topPositions(scores, k)
    .map((i) => `${quoteToken(tokens[i])}#${i} ${formatScore(scores[i])}`)
    .join(', ');
}

export function formatScore(x: number): string {
  return x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}

export interface HtmlReport {
  title: string;
  /** Where the input came from (model directory and so on), shown under the title. */
  subtitle: string;
  tokens: readonly string[];
  targetLine: string;
  /** The target token's text, drawn after the input ("→ ' Emma'"). */
  targetText: string;
  position: number;
  entries: readonly ReportEntry[];
  /** Extra pictures after the methods (e.g. per-layer implicit-attention heatmaps), as SVG markup made by src/viz. */
  figures?: readonly { title: string; svg: string }[];
  /** Further explanations after the figures (e.g. a classifier's decision on the same text), each under its own heading. */
  parts?: readonly HtmlReportPart[];
}

/** One more explained prediction in a report: a heading, what was explained, every method's strip. */
export interface HtmlReportPart {
  heading: string;
  subtitle: string;
  tokens: readonly string[];
  targetLine: string;
  targetText: string;
  position: number;
  entries: readonly ReportEntry[];
}

/** One HTML document, no external resources. */
export function explanationHtml(report: HtmlReport): string {
  const parts = (report.parts ?? []).flatMap((part) => [
    `<h1>${xmlEscape(part.heading)}</h1>`,
    `<p class="sub">${xmlEscape(part.subtitle)}</p>`,
    `<p><strong>${xmlEscape(part.targetLine)}</strong></p>`,
    ...methodSections(part),
  ]);
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${xmlEscape(report.title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;color:#222;padding:0 1em}',
    'h1{font-size:1.4em}.figure svg{max-width:100%;height:auto}h2{font-size:1.1em;margin:1.6em 0 .2em}.desc,.meta,.sub{color:#666;margin:.2em 0}',
    '.recipe{font-family:ui-monospace,monospace;font-size:.85em;color:#444;margin:.2em 0 .6em}.error{color:#a00}.top{font-size:.9em}</style>',
    '</head><body>',
    `<h1>${xmlEscape(report.title)}</h1>`,
    `<p class="sub">${xmlEscape(report.subtitle)}</p>`,
    `<p><strong>${xmlEscape(report.targetLine)}</strong></p>`,
    ...methodSections(report),
    ...(report.figures ?? []).map((f) => `<section><h2>${xmlEscape(f.title)}</h2><div class="figure">${f.svg}</div></section>`),
    ...parts,
    '</body></html>',
    '',
  ].join('\n');
}

/** One section per method: its description, recipe, relevance strip and top tokens. */
function methodSections(report: Pick<HtmlReport, 'tokens' | 'targetText' | 'position' | 'entries'>): string[] {
  return report.entries.map((entry) => {
    const head = `<h2>${xmlEscape(entry.method)}</h2><p class="desc">${xmlEscape(entry.description)}</p><p class="recipe">${xmlEscape(entry.recipe)}</p>`;
    if (entry.explanation === undefined) return `<section>${head}<p class="error">not available: ${xmlEscape(entry.error ?? 'unknown error')}</p></section>`;
    const e = entry.explanation;
    const svg = relevanceStripSvg(report.tokens, e.scores, {
      highlight: [report.position],
      target: `→ ${report.targetText}`,
      legendLabel: `${e.method} relevance`,
    });
    const notes: string[] = [`${e.metadata.elapsedMs.toFixed(0)} ms`];
    if (e.metadata.completenessError !== undefined) {
      notes.push(`completeness error ${formatScore(e.metadata.completenessError)} (relative ${formatScore(e.metadata.relativeCompletenessError ?? NaN)})`);
    }
    const top = `<p class="top">top: ${xmlEscape(topTokensLine(report.tokens, e.scores, 10))}</p>`;
    return `<section>${head}<div class="strip">${svg}</div>${top}<p class="meta">${xmlEscape(notes.join(' · '))}</p></section>`;
  });
}
