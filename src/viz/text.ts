// Text helpers shared by the SVG renderers and the terminal printer. Pure: no Node APIs.

/**
 * Escape text for use in XML character data or in a double- or single-quoted attribute.
 * Characters that XML 1.0 forbids (C0 controls other than tab/newline/CR, lone surrogates,
 * U+FFFE/U+FFFF) are replaced by U+FFFD so the document always parses.
 */
export function xmlEscape(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x26: out += '&amp;'; continue;
      case 0x3c: out += '&lt;'; continue;
      case 0x3e: out += '&gt;'; continue;
      case 0x22: out += '&quot;'; continue;
      case 0x27: out += '&#39;'; continue;
      case 0x09: out += '&#9;'; continue;
      case 0x0a: out += '&#10;'; continue;
      case 0x0d: out += '&#13;'; continue;
    }
    if (c < 0x20 || c === 0xfffe || c === 0xffff) { out += '\ufffd'; continue; }
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) { out += text[i]! + text[i + 1]!; i++; }
      else out += '\ufffd';
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) { out += '\ufffd'; continue; }
    out += text[i]!;
  }
  return out;
}

/** Visible stand-ins for characters that would otherwise be invisible or break a layout. */
const VISIBLE: Record<string, string> = {
  '\n': '↵',
  '\r': '␍',
  '\t': '⇥',
  '\f': '␌',
  '\v': '␋',
  '\u00a0': '⍽',
};

/**
 * Make a token's text displayable on one line: newlines become '↵', tabs '⇥', other control
 * characters (C0, DEL, C1 — including ESC, so a token can never inject terminal escape
 * sequences) become their Unicode control pictures or U+FFFD. Spaces are kept.
 */
export function visibleToken(token: string): string {
  let out = '';
  for (const ch of token) {
    const v = VISIBLE[ch];
    if (v !== undefined) { out += v; continue; }
    const c = ch.codePointAt(0)!;
    if (c < 0x20) out += String.fromCodePoint(0x2400 + c);
    else if (c === 0x7f) out += '␡';
    else if (c >= 0x80 && c < 0xa0) out += '\ufffd';
    else if (c === 0x2028 || c === 0x2029) out += '↵';
    else out += ch;
  }
  return out;
}

/**
 * A short axis label for a token: visible control characters, surrounding spaces trimmed
 * (an all-space token shows as '␣'), shortened to `maxChars` code points with '…'.
 */
export function tokenLabel(token: string, maxChars = 14): string {
  let s = visibleToken(token);
  const trimmed = s.trim();
  s = trimmed.length === 0 ? (s.length === 0 ? '∅' : '␣'.repeat(Math.min(s.length, 3))) : trimmed;
  const cps = Array.from(s);
  if (cps.length > maxChars) s = cps.slice(0, Math.max(1, maxChars - 1)).join('') + '…';
  return s;
}

/** Number of code points (what a monospace font lays out). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Rough advance width of `s` in a proportional sans-serif font, in em. Deliberately a little
 * generous (DejaVu Sans is wide) so layouts computed from it do not overlap.
 */
export function estimateTextWidthEm(s: string): number {
  let w = 0;
  for (const ch of s) {
    if (' .,:;\'!|il1Ijtf()[]'.includes(ch)) w += 0.34;
    else if ('mwMW@%'.includes(ch)) w += 0.92;
    else if (ch >= 'A' && ch <= 'Z') w += 0.7;
    else if (ch.codePointAt(0)! > 0x2e7f) w += 1.0; // CJK and other wide scripts
    else w += 0.6;
  }
  return w;
}

/** Compact number formatting for colour bars and tick labels: 0, 0.25, 3.21e-4, 1.2e+5. */
export function formatNumber(v: number, digits = 3): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  let s: string;
  if (a >= 1e5 || a < 1e-3) {
    s = v.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  } else {
    s = v.toPrecision(digits);
    if (s.includes('.') && !s.includes('e')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    if (s.includes('e')) s = String(Number(s));
  }
  return s.replace(/^-/, '−');
}

/** Format a coordinate for SVG output (at most 2 decimals, no trailing zeros). */
export function fmt(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}
