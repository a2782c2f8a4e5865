/**
 * Building DOM nodes without HTML parsing: text always goes in through textContent and
 * attributes through setAttribute, so nothing a user typed (or a token of the model) can
 * become markup. The viewer never assigns innerHTML.
 */

type Child = Node | string | null | undefined | false;

export interface ElementOptions {
  class?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string | number | boolean>;
  data?: Record<string, string | number>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, options: ElementOptions = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.class !== undefined) node.className = options.class;
  if (options.text !== undefined) node.textContent = options.text;
  if (options.title !== undefined) node.title = options.title;
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    if (value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const [name, value] of Object.entries(options.data ?? {})) node.dataset[name] = String(value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Removes every child of `node`. */
export function clear(node: Node): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function option(value: string, label: string, selected = false): HTMLOptionElement {
  const o = el('option', { text: label, attrs: { value } });
  o.selected = selected;
  return o;
}

/** Number → short text: 3 significant digits, exponent form for very small or large values. */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}
