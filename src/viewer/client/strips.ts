/**
 * The explanations of one pane: the input tokens coloured by the selected method (text, so
 * it wraps and can be read and clicked), and every method side by side as one strip of
 * coloured cells per method (canvas, so 2048 tokens cost nothing), with the tokens written
 * above the columns for short inputs. Hover shows the token and its score.
 */
import type { AnalyzeResponse, ExplanationJson, MethodSummary } from '../protocol.ts';
import { tokenLabel, visibleToken } from '../../viz/text.ts';
import type { ColorScale } from './colors.ts';
import { colorOf, cssColor, gradientCss, relevanceScale, textOn } from './colors.ts';
import { clear, el, formatValue } from './dom.ts';
import { sizeCanvas } from './heatmap.ts';
import { hideTooltip, showTooltip } from './tooltip.ts';

export interface StripsView {
  pane: number;
  analysis: AnalyzeResponse;
  explanations: ReadonlyMap<string, ExplanationJson>;
  methods: readonly MethodSummary[];
  /** The method that colours the token strip. */
  selected: string;
  onToken(position: number): void;
  onMethod(name: string): void;
}

const HEADER_TOKENS = 160;

/** The tokens coloured by the selected method; positions after the explained one are greyed. */
export function renderTokenStrip(strip: HTMLElement, legendBox: HTMLElement, v: StripsView): void {
  const a = v.analysis;
  const selected = v.explanations.get(v.selected);
  const position = a.target.position;
  clear(strip);
  clear(legendBox);
  const scores = selected?.scores;
  const scale = scores === undefined ? null : relevanceScale(scores, position);
  a.tokens.forEach((token, i) => {
    const span = el('span', { class: 'tok', text: visibleToken(token.text), data: { position: i, id: token.id } });
    if (scores !== undefined && scale !== null && i <= position) {
      const rgb = colorOf(scale, scores[i]);
      span.style.background = cssColor(rgb);
      span.style.color = textOn(rgb);
      span.dataset.score = String(scores[i]);
    } else if (i > position) {
      span.classList.add('after');
    }
    if (i === position) span.classList.add('explained');
    span.addEventListener('mousemove', (e) =>
      showTooltip(e.clientX, e.clientY, [`position ${i}: ${JSON.stringify(visibleToken(token.text))} (id ${token.id})`, scores === undefined ? 'no score' : `${v.selected}: ${formatValue(scores[i])}`], {
        kind: 'token',
        pane: v.pane,
        position: i,
        ...(scores === undefined ? {} : { value: String(scores[i]) }),
      }),
    );
    span.addEventListener('mouseleave', hideTooltip);
    span.addEventListener('click', () => v.onToken(i));
    strip.append(span);
  });
  strip.append(el('span', { class: 'arrow', text: '→' }), el('span', { class: 'tok target-tok', text: visibleToken(a.target.text) }));
  if (selected?.error !== undefined) legendBox.append(el('span', { class: 'method-error', text: `${v.selected}: ${selected.error}` }));
  else if (scale !== null) legendBox.append(legend(scale, scale.signed ? -scale.scale : 0, scale.scale));
}

/** One row per method: its name and its scores as coloured cells (or why it did not run). */
export function renderMethodTable(box: HTMLElement, v: StripsView, width: number): void {
  const a = v.analysis;
  const position = a.target.position;
  clear(box);
  if (a.tokens.length <= HEADER_TOKENS) {
    box.append(el('div', { class: 'method-row header' }, el('span', { class: 'method-name' }), tokenHeader(a.tokens.map((t) => t.text), width, position)));
  }
  for (const m of v.methods) {
    const e = v.explanations.get(m.name);
    const row = el('div', { class: `method-row${m.name === v.selected ? ' selected' : ''}`, data: { method: m.name }, title: `${m.description}\n${m.recipe}` });
    row.append(el('span', { class: 'method-name', text: m.name }));
    row.append(e?.scores === undefined ? el('span', { class: 'method-error', text: e?.error ?? 'not run' }) : methodStrip(v, m.name, e.scores, width));
    row.addEventListener('click', () => v.onMethod(m.name));
    box.append(row);
  }
}

function methodStrip(v: StripsView, method: string, scores: number[], width: number): HTMLCanvasElement {
  const a = v.analysis;
  const position = a.target.position;
  const canvas = el('canvas', { class: 'method-strip' });
  const ctx = sizeCanvas(canvas, width, 16);
  const scale = relevanceScale(scores, position);
  const cell = width / scores.length;
  for (let i = 0; i < scores.length; i++) {
    ctx.fillStyle = i <= position ? cssColor(colorOf(scale, scores[i])) : '#e4e4e4';
    ctx.fillRect(i * cell, 0, Math.max(cell - (cell >= 6 ? 1 : 0), 0.5), 16);
  }
  canvas.addEventListener('mousemove', (ev) => {
    const i = Math.min(scores.length - 1, Math.max(0, Math.floor((ev.offsetX / width) * scores.length)));
    showTooltip(ev.clientX, ev.clientY, [`${method} · position ${i}: ${JSON.stringify(visibleToken(a.tokens[i].text))}`, `relevance ${formatValue(scores[i])}`], {
      kind: 'method',
      pane: v.pane,
      method,
      position: i,
      value: String(scores[i]),
    });
  });
  canvas.addEventListener('mouseleave', hideTooltip);
  return canvas;
}

/** The input tokens written at an angle above the method strips, one per column (short inputs). */
function tokenHeader(tokens: readonly string[], width: number, position: number): HTMLCanvasElement {
  const canvas = el('canvas', { class: 'token-header' });
  const height = 70;
  const ctx = sizeCanvas(canvas, width, height);
  const cell = width / tokens.length;
  const fontPx = Math.max(8, Math.min(11, cell * 0.9));
  ctx.font = `${fontPx}px ui-monospace, SFMono-Regular, Menlo, monospace`;
  ctx.textBaseline = 'middle';
  tokens.forEach((token, i) => {
    ctx.save();
    ctx.translate((i + 0.5) * cell, height - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillStyle = i === position ? '#e8590c' : i > position ? '#98a2b3' : '#344054';
    ctx.fillText(tokenLabel(token, 11), 0, 0);
    ctx.restore();
  });
  return canvas;
}

/** A colour bar with its end values. */
export function legend(scale: ColorScale, lo: number, hi: number): HTMLElement {
  const bar = el('span', { class: 'bar' });
  bar.style.background = gradientCss(scale);
  return el('span', { class: 'colorbar' }, el('span', { class: 'lo', text: formatValue(lo) }), bar, el('span', { class: 'hi', text: formatValue(hi) }));
}
