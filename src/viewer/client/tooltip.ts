/**
 * The one hover tooltip: plain text lines (textContent), and the shown numbers as data
 * attributes (data-kind, data-layer, data-row, data-col, data-value …) for tests and tools.
 */
import { el } from './dom.ts';

let node: HTMLDivElement | null = null;

function tooltip(): HTMLDivElement {
  if (node === null) {
    node = el('div', { class: 'tooltip', attrs: { id: 'tooltip', role: 'tooltip', hidden: true } });
    document.body.append(node);
  }
  return node;
}

export function showTooltip(x: number, y: number, lines: string[], data: Record<string, string | number>): void {
  const t = tooltip();
  t.textContent = lines.join('\n');
  for (const key of Object.keys(t.dataset)) delete t.dataset[key];
  for (const [key, value] of Object.entries(data)) t.dataset[key] = String(value);
  t.hidden = false;
  const pad = 14;
  const { innerWidth, innerHeight } = window;
  const rect = t.getBoundingClientRect();
  const left = x + pad + rect.width > innerWidth ? x - pad - rect.width : x + pad;
  const top = y + pad + rect.height > innerHeight ? y - pad - rect.height : y + pad;
  t.style.left = `${Math.max(0, left)}px`;
  t.style.top = `${Math.max(0, top)}px`;
}

export function hideTooltip(): void {
  if (node !== null) node.hidden = true;
}
