// Token relevance as coloured boxes flowing across lines (explanation reports). Pure.
import { colormap, contrastText, DEFAULT_DIVERGING, DEFAULT_RELEVANCE, rgbToHex } from './colormap.js';
import type { ColormapName } from './colormap.js';
import { normaliseScores } from './scale.js';
import type { ScoreScaling } from './scale.js';
import { codePointLength, fmt, formatNumber, visibleToken, xmlEscape } from './text.js';
import { attrs, colorBar, MONO_FONT_FAMILY, FONT_FAMILY, MUTED, normaliseFontFamily, svgOpen, text, textWidth } from './svg.js';

export interface RelevanceStripOptions {
  /** Maximum width of the picture in px (lines wrap to fit; default 760). */
  width?: number;
  /** Token font size in px (default 14). */
  fontSize?: number;
  /** How scores map to colours (default 'auto': signed → diverging, else relative to the max). */
  scaling?: ScoreScaling;
  /** Colour map (default: 'oranges' for sequential, RdBu reversed for signed scores). */
  colormap?: ColormapName;
  title?: string;
  subtitle?: string;
  /** Token indices to outline (e.g. the position being explained). */
  highlight?: readonly number[];
  /** Text appended after the tokens in a dashed box, e.g. the predicted token "→ ' Emma'". */
  target?: string;
  /** Print each token's score under its box (default false). */
  showScores?: boolean;
  /** Draw a colour bar under the text (default true). */
  legend?: boolean;
  /** Caption of the colour bar (default 'relevance'). */
  legendLabel?: string;
  /** Font for the tokens (default a monospace stack, so box widths are exact). */
  fontFamily?: string;
  background?: string;
}

interface Box {
  index: number;
  label: string;
  x: number;
  line: number;
  w: number;
  score: number;
  u: number;
}

// Advance width of monospace fonts in em (DejaVu Sans Mono, Menlo and SF Mono: 0.602; Consolas 0.55).
const MONO_EM = 0.61;

/**
 * Render tokens as boxes coloured by relevance, wrapping across lines like text. Spaces are kept
 * (a token's leading space is part of its box), newlines show as '↵' and start a new line,
 * every string is XML-escaped.
 */
export function relevanceStripSvg(tokens: readonly string[], scores: ArrayLike<number>, options: RelevanceStripOptions = {}): string {
  if (tokens.length !== scores.length) {
    throw new Error(`relevanceStripSvg: ${tokens.length} tokens but ${scores.length} scores`);
  }
  const fs = options.fontSize ?? 14;
  const maxWidth = Math.max(160, options.width ?? 760);
  const margin = 12;
  const norm = normaliseScores(scores, options.scaling ?? 'auto');
  const cmap = colormap(options.colormap ?? (norm.kind === 'diverging' ? DEFAULT_DIVERGING : DEFAULT_RELEVANCE));
  const toDomain = (u: number) => cmap.domain[0] + u * (cmap.domain[1] - cmap.domain[0]);
  const toU = (c: number) => (norm.kind === 'diverging' ? (c + 1) / 2 : c);
  const charW = MONO_EM * fs;
  const padX = Math.max(2, Math.round(fs * 0.22));
  const boxH = Math.round(fs * 1.45);
  const scoreH = options.showScores ? Math.round(fs * 0.85) : 0;
  const lineH = boxH + scoreH + Math.round(fs * 0.45);
  const inner = maxWidth - 2 * margin;
  const maxChars = Math.max(1, Math.floor((inner - 2 * padX) / charW));
  const highlight = new Set(options.highlight ?? []);

  // flow layout: a token's leading space becomes a word gap before its box; tokens that continue
  // a word (no leading space) sit close to the previous box
  const wordGap = Math.round(charW * 0.8);
  const subwordGap = 2;
  const scoreFs = Math.round(fs * 0.62);
  const boxes: Box[] = [];
  let x = 0, line = 0;
  tokens.forEach((tok, i) => {
    const lead = /^[ \u00a0]+/.exec(tok);
    const rest = lead ? tok.slice(lead[0].length) : tok;
    let label: string;
    if (rest.length === 0) label = tok.length === 0 ? '∅' : '␣'.repeat(Math.min(3, tok.length));
    else label = visibleToken(rest);
    if (codePointLength(label) > maxChars) label = Array.from(label).slice(0, maxChars - 1).join('') + '…';
    const scoreText = options.showScores ? formatNumber(Number(scores[i]), 2) : '';
    const w = Math.max(codePointLength(label) * charW + 2 * padX, options.showScores ? textWidth(scoreText, scoreFs) + 4 : 0);
    let bx = x === 0 ? 0 : x + (lead && rest.length > 0 ? wordGap : subwordGap);
    if (bx > 0 && bx + w > inner) { bx = 0; line++; }
    const c = norm.values[i]!;
    boxes.push({ index: i, label, x: bx, line, w, score: Number(scores[i]), u: Number.isNaN(c) ? NaN : toU(c) });
    x = bx + w;
    const breaks = Math.min(2, (tok.match(/\r\n|\n|\r|\u2028|\u2029/g) ?? []).length);
    if (breaks > 0) { x = 0; line += breaks; }
  });
  let targetBox: { x: number; line: number; w: number; label: string } | undefined;
  if (options.target !== undefined) {
    let label = visibleToken(options.target);
    if (codePointLength(label) > maxChars) label = Array.from(label).slice(0, maxChars - 1).join('') + '…';
    const w = codePointLength(label) * charW + 2 * padX;
    const sx = x > 0 ? x + wordGap : 0;
    if (sx > 0 && sx + w > inner) { x = 0; line++; targetBox = { x: 0, line, w, label }; }
    else targetBox = { x: sx, line, w, label };
  }
  const lines = boxes.length || targetBox ? Math.max(line, targetBox?.line ?? 0) + 1 : 0;
  const usedW = Math.max(0, ...boxes.map((b) => b.x + b.w), targetBox ? targetBox.x + targetBox.w : 0);

  // header, body, legend
  const uiFs = Math.max(10, Math.round(fs * 0.8));
  let top = margin;
  const head: string[] = [];
  if (options.title) {
    head.push(text(margin, top + fs * 1.1, options.title, { 'font-size': Math.round(fs * 1.1), 'font-weight': 'bold', 'font-family': FONT_FAMILY }));
    top += fs * 1.1 * 1.45;
  }
  if (options.subtitle) {
    head.push(text(margin, top + uiFs, options.subtitle, { 'font-size': uiFs, fill: MUTED, 'font-family': FONT_FAMILY }));
    top += uiFs * 1.5;
  }
  if (head.length) top += 6;
  const bodyTop = top;
  const bodyH = lines * lineH;
  const legend = options.legend ?? true;
  const legendLen = 200;
  const legendTop = bodyTop + bodyH + uiFs + 6;
  const height = legend ? legendTop + 10 + uiFs * 2 + margin : bodyTop + bodyH + margin;
  const titleW = Math.max(
    options.title ? textWidth(options.title, fs * 1.1) * 1.08 : 0,
    options.subtitle ? textWidth(options.subtitle, uiFs) : 0,
  );
  const width = Math.min(maxWidth, Math.max(usedW + 2 * margin, legend ? legendLen + 2 * margin + 40 : 0, titleW + 2 * margin));

  const out: string[] = [svgOpen(width, height, { fontFamily: FONT_FAMILY, fontSize: uiFs, background: options.background, title: options.title })];
  out.push(...head);
  out.push(`<g class="tokens" font-family="${xmlEscape(normaliseFontFamily(options.fontFamily ?? MONO_FONT_FAMILY))}" font-size="${fmt(fs)}" text-anchor="middle">`);
  for (const b of boxes) {
    const bx = margin + b.x, by = bodyTop + b.line * lineH;
    const rgb = Number.isNaN(b.u) ? [255, 0, 255] : cmap.rgb(toDomain(b.u));
    const fg = rgbToHex(contrastText(rgb));
    const tip = `#${b.index} “${visibleToken(tokens[b.index]!)}” · ${formatNumber(b.score, 4)}`;
    const hl = highlight.has(b.index);
    out.push(`<g class="token"><title>${xmlEscape(tip)}</title>`);
    out.push(`<rect${attrs({ x: bx, y: by, width: b.w, height: boxH, rx: 3, fill: rgbToHex(rgb), stroke: hl ? '#111111' : '#000000', 'stroke-opacity': hl ? undefined : 0.12, 'stroke-width': hl ? 2 : 0.75 })}/>`);
    // spaces as U+00A0 so that they are not collapsed
    out.push(text(bx + b.w / 2, by + boxH / 2, b.label.replace(/ /g, '\u00a0'), { dy: '0.35em', fill: fg }));
    if (options.showScores) {
      out.push(text(bx + b.w / 2, by + boxH + scoreH * 0.85, formatNumber(b.score, 2), { 'font-size': scoreFs, fill: MUTED, 'font-family': FONT_FAMILY }));
    }
    out.push('</g>');
  }
  if (targetBox) {
    const bx = margin + targetBox.x, by = bodyTop + targetBox.line * lineH;
    out.push(`<rect${attrs({ x: bx, y: by, width: targetBox.w, height: boxH, rx: 3, fill: '#ffffff', stroke: '#555555', 'stroke-width': 1.2, 'stroke-dasharray': '3 2' })}/>`);
    out.push(text(bx + targetBox.w / 2, by + boxH / 2, targetBox.label.replace(/ /g, '\u00a0'), { dy: '0.35em', 'font-weight': 'bold' }));
  }
  out.push('</g>');
  if (legend) {
    const ticks = norm.kind === 'diverging'
      ? [{ u: 0, label: formatNumber(norm.lo) }, { u: 0.5, label: '0' }, { u: 1, label: formatNumber(norm.hi) }]
      : [{ u: 0, label: formatNumber(norm.lo) }, { u: 1, label: formatNumber(norm.hi) }];
    out.push(colorBar({
      x: margin, y: legendTop, thickness: 10, length: legendLen, orientation: 'horizontal',
      colorAt: (u) => cmap.hex(toDomain(u)), ticks, fontSize: uiFs - 1,
    }));
    out.push(text(margin + legendLen + 10, legendTop + 9, options.legendLabel ?? 'relevance', { fill: MUTED, 'font-size': uiFs - 1 }));
  }
  out.push('</svg>');
  return out.join('');
}
