// A tiny strict XML parser for tests: enough to prove our SVGs are well-formed and to query them.
// Throws on unbalanced tags, unquoted or duplicate attributes, bad entity references, '<' in
// attribute values, raw characters that XML 1.0 forbids, and anything after the root element.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Decoded character data directly inside this element. */
  text: string;
  parent?: XmlElement;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  return raw.replace(/&([^;&\s]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`bare '&' at ${where}: ${JSON.stringify(raw.slice(0, 60))}`);
    if (body in ENTITIES) return ENTITIES[body]!;
    let cp: number;
    if (/^#x[0-9a-fA-F]+$/.test(body)) cp = parseInt(body.slice(2), 16);
    else if (/^#[0-9]+$/.test(body)) cp = parseInt(body.slice(1), 10);
    else throw new Error(`unknown entity &${body}; at ${where}`);
    if (!allowedChar(cp)) throw new Error(`character reference &${body}; is not allowed in XML 1.0`);
    return String.fromCodePoint(cp);
  });
}

function allowedChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function checkChars(s: string): void {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (!allowedChar(cp)) throw new Error(`character U+${cp.toString(16).padStart(4, '0')} is not allowed in XML 1.0`);
  }
}

const NAME = /^[A-Za-z_:][\w:.-]*/;

export function parseXml(src: string): XmlElement {
  checkChars(src);
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < src.length) {
    if (src.startsWith('<?', i)) {
      const e = src.indexOf('?>', i);
      if (e < 0) throw new Error('unterminated processing instruction');
      i = e + 2;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const e = src.indexOf('-->', i);
      if (e < 0) throw new Error('unterminated comment');
      i = e + 3;
      continue;
    }
    if (src.startsWith('</', i)) {
      const e = src.indexOf('>', i);
      const name = src.slice(i + 2, e).trim();
      const top = stack.pop();
      if (!top || top.name !== name) throw new Error(`mismatched </${name}> at ${i} (open: ${top?.name ?? 'none'})`);
      i = e + 1;
      continue;
    }
    if (src[i] === '<') {
      i++;
      const m = NAME.exec(src.slice(i, i + 200));
      if (!m) throw new Error(`bad tag name at ${i}`);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      i += m[0].length;
      for (;;) {
        const ws = /^\s*/.exec(src.slice(i, i + 1000))![0];
        i += ws.length;
        if (src.startsWith('/>', i)) { i += 2; break; }
        if (src[i] === '>') { i += 1; stack.push(el); break; }
        if (ws.length === 0) throw new Error(`expected whitespace before attribute at ${i}`);
        const an = NAME.exec(src.slice(i, i + 200));
        if (!an) throw new Error(`bad attribute name at ${i}: ${JSON.stringify(src.slice(i, i + 30))}`);
        i += an[0].length;
        if (src[i] !== '=') throw new Error(`attribute ${an[0]} without '=' at ${i}`);
        i++;
        const q = src[i];
        if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${an[0]} at ${i}`);
        const end = src.indexOf(q, i + 1);
        if (end < 0) throw new Error('unterminated attribute value');
        const raw = src.slice(i + 1, end);
        if (raw.includes('<')) throw new Error(`'<' in attribute ${an[0]} at ${i}`);
        if (an[0] in el.attrs) throw new Error(`duplicate attribute ${an[0]} on <${el.name}>`);
        el.attrs[an[0]] = decode(raw, i);
        i = end + 1;
      }
      const parent = stack[stack.length - (stack[stack.length - 1] === el ? 2 : 1)];
      if (parent) { el.parent = parent; parent.children.push(el); }
      else if (root) throw new Error('more than one root element');
      else root = el;
      continue;
    }
    const next = src.indexOf('<', i);
    const raw = src.slice(i, next < 0 ? src.length : next);
    const top = stack[stack.length - 1];
    if (!top) {
      if (raw.trim()) throw new Error(`text outside the root element at ${i}`);
    } else {
      if (raw.includes(']]>')) throw new Error("']]>' in character data");
      top.text += decode(raw, i);
    }
    i = next < 0 ? src.length : next;
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

/** All elements in document order (depth first). */
export function allElements(root: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => { out.push(e); e.children.forEach(walk); };
  walk(root);
  return out;
}

/** All character data under an element, concatenated. */
export function textContent(e: XmlElement): string {
  return e.text + e.children.map(textContent).join('');
}

export function byClass(root: XmlElement, cls: string): XmlElement[] {
  return allElements(root).filter((e) => (e.attrs.class ?? '').split(/\s+/).includes(cls));
}
