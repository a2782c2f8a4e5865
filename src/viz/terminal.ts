// Tokens coloured by relevance for the terminal (24-bit or 256-colour ANSI backgrounds). Pure:
// the caller decides whether colour is wanted (NO_COLOR, --no-color, not a TTY …).
import { colormap, contrastText, DEFAULT_DIVERGING, DEFAULT_RELEVANCE } from './colormap.js';
import type { ColormapName, RGB } from './colormap.js';
import { normaliseScores } from './scale.js';
import type { ScoreScaling } from './scale.js';
import { formatNumber, visibleToken } from './text.js';

export interface ColorTokensOptions {
  /** Use ANSI colours (default true). When false the output contains no escape sequences. */
  color?: boolean;
  /** 'truecolor' (24-bit, default) or 'ansi256' for terminals without 24-bit colour. */
  palette?: 'truecolor' | 'ansi256';
  /** How scores map to colours (default 'auto': signed → diverging, else relative to the max). */
  scaling?: ScoreScaling;
  /** Colour map (default 'oranges' for sequential, RdBu reversed for signed scores). */
  colormap?: ColormapName;
  /** Append a legend line (default true). */
  legend?: boolean;
  /** Label of the legend (default 'relevance'). */
  legendLabel?: string;
  /**
   * Plain mode: tokens whose normalised |relevance| is at least this are wrapped in ⟦ ⟧
   * (default 0.5). The legend lists the top tokens with their scores.
   */
  plainThreshold?: number;
  /** How many top tokens the plain legend lists (default 5). */
  topK?: number;
  /** Token indices to mark (e.g. the position being explained): underlined / wrapped in ‹ ›. */
  highlight?: readonly number[];
}

const ESC = '\u001b[';
const RESET = `${ESC}0m`;

/** xterm-256 index nearest to an RGB colour (6×6×6 cube or the grey ramp). */
export function rgbToAnsi256(rgb: readonly number[]): number {
  const [r, g, b] = rgb as [number, number, number];
  const level = (c: number) => (c < 48 ? 0 : c < 115 ? 1 : Math.floor((c - 35) / 40));
  const cube = [0, 95, 135, 175, 215, 255];
  const ri = level(r), gi = level(g), bi = level(b);
  const cubeIdx = 16 + 36 * ri + 6 * gi + bi;
  const cr = cube[ri]!, cg = cube[gi]!, cb = cube[bi]!;
  const grey = Math.round((r + g + b) / 3);
  const gi2 = grey < 8 ? 0 : grey > 238 ? 23 : Math.round((grey - 8) / 10);
  const gv = 8 + 10 * gi2;
  const dCube = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2;
  const dGrey = (r - gv) ** 2 + (g - gv) ** 2 + (b - gv) ** 2;
  return dGrey < dCube ? 232 + gi2 : cubeIdx;
}

function sgr(bg: RGB, fg: RGB, palette: 'truecolor' | 'ansi256', underline: boolean): string {
  const u = underline ? `${ESC}4m` : '';
  if (palette === 'ansi256') return `${ESC}48;5;${rgbToAnsi256(bg)}m${ESC}38;5;${rgbToAnsi256(fg)}m${u}`;
  return `${ESC}48;2;${bg[0]};${bg[1]};${bg[2]}m${ESC}38;2;${fg[0]};${fg[1]};${fg[2]}m${u}`;
}

/**
 * Split a token into display pieces: visible text, and real line breaks after each '\n'
 * (shown as '↵' so the newline token itself stays visible and coloured).
 */
function pieces(token: string): { text: string; newline: boolean }[] {
  const out: { text: string; newline: boolean }[] = [];
  const parts = token.split(/\r\n|\n|\u2028|\u2029/);
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const t = visibleToken(p) + (last ? '' : '↵');
    if (t.length > 0 || !last) out.push({ text: t, newline: !last });
  });
  if (out.length === 0) out.push({ text: '∅', newline: false });
  return out;
}

/**
 * Tokens with a background colour by relevance and black or white text for contrast. Control
 * characters in tokens are made visible (never emitted raw), newlines show as '↵' and break the
 * line, colours are reset before every line break. With `color: false`, plain text: tokens at or
 * above `plainThreshold` are wrapped in ⟦ ⟧ and the legend lists the top tokens.
 */
export function colorTokens(tokens: readonly string[], scores: ArrayLike<number>, options: ColorTokensOptions = {}): string {
  if (tokens.length !== scores.length) throw new Error(`colorTokens: ${tokens.length} tokens but ${scores.length} scores`);
  const useColor = options.color ?? true;
  const palette = options.palette ?? 'truecolor';
  const norm = normaliseScores(scores, options.scaling ?? 'auto');
  const cmap = colormap(options.colormap ?? (norm.kind === 'diverging' ? DEFAULT_DIVERGING : DEFAULT_RELEVANCE));
  const toDomain = (c: number) => {
    const u = norm.kind === 'diverging' ? (c + 1) / 2 : c;
    return cmap.domain[0] + u * (cmap.domain[1] - cmap.domain[0]);
  };
  const highlight = new Set(options.highlight ?? []);
  const threshold = options.plainThreshold ?? 0.5;
  let body = '';
  tokens.forEach((tok, i) => {
    const c = norm.values[i]!;
    const hl = highlight.has(i);
    for (const p of pieces(tok)) {
      if (useColor) {
        const bg: RGB = Number.isNaN(c) ? [128, 128, 128] : cmap.rgb(toDomain(c));
        if (p.text) body += sgr(bg, contrastText(bg), palette, hl) + p.text + RESET;
      } else {
        const mark = Number.isFinite(c) && Math.abs(c) >= threshold;
        let t = p.text;
        if (mark && t) t = `⟦${t}⟧`;
        if (hl && t) t = `‹${t}›`;
        body += t;
      }
      if (p.newline) body += '\n';
    }
  });
  if (!(options.legend ?? true)) return body;
  return body + '\n' + legendLine(tokens, scores, norm, useColor, palette, options, (c) => cmap.rgb(toDomain(c)));
}

function legendLine(
  tokens: readonly string[], scores: ArrayLike<number>, norm: ReturnType<typeof normaliseScores>, useColor: boolean,
  palette: 'truecolor' | 'ansi256', options: ColorTokensOptions, colorOf: (c: number) => RGB,
): string {
  const label = options.legendLabel ?? 'relevance';
  const range = norm.kind === 'diverging'
    ? `${formatNumber(norm.lo)} … 0 … ${formatNumber(norm.hi)}`
    : `${formatNumber(norm.lo)} … ${formatNumber(norm.hi)}`;
  if (useColor) {
    const n = 12;
    let bar = '';
    for (let k = 0; k < n; k++) {
      const u = k / (n - 1);
      const c = norm.kind === 'diverging' ? 2 * u - 1 : u;
      const rgb = colorOf(c);
      bar += (palette === 'ansi256' ? `${ESC}48;5;${rgbToAnsi256(rgb)}m` : `${ESC}48;2;${rgb[0]};${rgb[1]};${rgb[2]}m`) + '  ';
    }
    const lowWord = norm.kind === 'diverging' ? 'negative' : 'low';
    const highWord = norm.kind === 'diverging' ? 'positive' : 'high';
    return `${label}: ${lowWord} ${bar}${RESET} ${highWord}  (${range})`;
  }
  const k = Math.max(0, Math.floor(options.topK ?? 5));
  const order = Array.from({ length: tokens.length }, (_, i) => i)
    .filter((i) => Number.isFinite(Number(scores[i])))
    .sort((a, b) => Math.abs(Number(scores[b])) - Math.abs(Number(scores[a])) || a - b)
    .slice(0, k);
  const top = order.map((i) => `#${i} "${visibleToken(tokens[i]!)}" ${formatNumber(Number(scores[i]))}`).join(', ');
  const thr = options.plainThreshold ?? 0.5;
  return `${label}: ⟦…⟧ marks |relevance| ≥ ${Math.round(thr * 100)}% of the maximum (${range})${top ? `; top: ${top}` : ''}`;
}
