import { describe, expect, it } from 'vitest';
import { colorTokens, rgbToAnsi256 } from '../../src/viz/terminal.js';

const ESC = '\u001b';
const tokens = [' Emma', ' Wood', 'house', ',', '\n', ' handsome'];
const scores = [0.9, 1, 0.6, 0.1, 0, 0.2];

describe('colorTokens', () => {
  it('colours tokens with 24-bit ANSI backgrounds and contrasting text', () => {
    const out = colorTokens(tokens, scores);
    expect(out).toMatch(/\u001b\[48;2;\d+;\d+;\d+m\u001b\[38;2;(0;0;0|255;255;255)m Emma\u001b\[0m/);
    // the most relevant token is dark, so its text is white; the least is light with black text
    expect(out).toMatch(/\u001b\[38;2;255;255;255m Wood/);
    expect(out).toMatch(/\u001b\[38;2;0;0;0m↵/);
    // newline tokens are visible and break the line after a reset
    expect(out).toContain(`↵${ESC}[0m\n`);
    expect(out.split('\n')[0]).toContain('house');
    expect(out.split('\n')[1]).toContain(' handsome');
    // legend line
    expect(out.split('\n').at(-1)).toMatch(/^relevance: low .*high {2}\(0 … 1\)$/);
  });

  it('plain mode contains no escape sequences and still marks the important tokens', () => {
    const out = colorTokens(tokens, scores, { color: false });
    expect(out).not.toContain(ESC);
    expect(out).toContain('⟦ Emma⟧⟦ Wood⟧⟦house⟧,↵\n handsome');
    expect(out).toContain('top: #1 " Wood" 1, #0 " Emma" 0.9');
    expect(colorTokens(tokens, scores, { color: false, legend: false })).toBe('⟦ Emma⟧⟦ Wood⟧⟦house⟧,↵\n handsome');
  });

  it('never lets control characters in tokens reach the terminal', () => {
    const evil = ['\u001b[2J', 'bell\u0007', '\u009b31m', 'tab\there'];
    for (const color of [true, false]) {
      const out = colorTokens(evil, [1, 1, 1, 1], { color, legend: false });
      expect(out).not.toContain('\u0007');
      expect(out).not.toContain('\u009b');
      expect(out).not.toContain('\u001b[2J');
      expect(out).toContain('␛[2J');
      expect(out).toContain('tab⇥here');
      // in colour mode, every ESC starts one of our SGR sequences
      const escs = out.split(ESC).length - 1;
      const ours = (out.match(/\u001b\[(48;2;\d+;\d+;\d+|38;2;\d+;\d+;\d+|0)m/g) ?? []).length;
      expect(escs).toBe(ours);
    }
  });

  it('signed scores use a diverging legend; 256-colour palette; highlights', () => {
    const out = colorTokens(['a', 'b'], [-1, 2], { palette: 'ansi256', highlight: [1] });
    expect(out).toMatch(/\u001b\[48;5;\d+m/);
    expect(out).not.toMatch(/48;2;/);
    expect(out).toContain(`${ESC}[4mb`);
    expect(out).toMatch(/negative .* positive {2}\(−2 … 0 … 2\)/);
    expect(colorTokens(['a', 'b'], [-1, 2], { color: false, highlight: [1] })).toContain('‹⟦b⟧›');
  });

  it('maps RGB to the nearest xterm-256 colour', () => {
    expect(rgbToAnsi256([0, 0, 0])).toBe(16);
    expect(rgbToAnsi256([255, 255, 255])).toBe(231);
    expect(rgbToAnsi256([255, 0, 0])).toBe(196);
    expect(rgbToAnsi256([128, 128, 128])).toBe(244);
  });

  it('refuses mismatched lengths', () => {
    expect(() => colorTokens(['a'], [])).toThrow(/1 tokens but 0 scores/);
  });
});
