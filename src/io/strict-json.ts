// A strict JSON parser (RFC 8259) for untrusted headers. Pure module.
// Unlike JSON.parse it rejects duplicate object keys, bounds nesting depth (no stack
// overflow on hostile input), keeps number literals as written (so "1.0" is not an integer),
// and returns objects as Maps (a "__proto__" key is just a key).

/** A number as written in the source, e.g. "12", "-0.5", "1e3". */
export class JsonNumber {
  constructor(readonly text: string) {}

  /** The literal as a non-negative safe integer, or null if it is written otherwise. */
  asIndex(): number | null {
    if (!/^(0|[1-9][0-9]*)$/.test(this.text)) return null;
    const value = Number(this.text);
    return Number.isSafeInteger(value) ? value : null;
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Parser {
  private pos = 0;

  constructor(private readonly text: string, private readonly maxDepth: number) {}

  parseDocument(): JsonValue {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('trailing characters after the JSON value');
    return value;
  }

  private fail(what: string): never {
    throw new JsonSyntaxError(`${what} at character ${this.pos}`);
  }

  private skipSpace(): void {
    // JSON whitespace is exactly space, tab, line feed and carriage return.
    for (;;) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.pos++;
    }
  }

  private value(depth: number): JsonValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{' || c === '[') {
      if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return result;
      }
    }
    return this.fail(c === undefined ? 'unexpected end of JSON' : `unexpected character ${JSON.stringify(c)}`);
  }

  private expect(c: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== c) this.fail(`expected ${JSON.stringify(c)}`);
    this.pos++;
  }

  /** Consumes `close` (returning true) or a separating comma (returning false). */
  private endOrComma(close: string): boolean {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === close || c === ',') {
      this.pos++;
      return c === close;
    }
    return this.fail(`expected "," or ${JSON.stringify(close)}`);
  }

  private object(depth: number): JsonObject {
    const result: JsonObject = new Map();
    this.pos++; // '{'
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return result;
    }
    do {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      if (result.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
      this.expect(':');
      result.set(key, this.value(depth));
    } while (!this.endOrComma('}'));
    return result;
  }

  private array(depth: number): JsonValue[] {
    const result: JsonValue[] = [];
    this.pos++; // '['
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return result;
    }
    do result.push(this.value(depth));
    while (!this.endOrComma(']'));
    return result;
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) return this.fail('invalid number');
    this.pos += match[0].length;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    let out = '';
    this.pos++; // opening quote
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string');
      this.pos++;
      if (c === '"') return checkSurrogates(out) ?? this.fail('unpaired surrogate in string');
      if (c < ' ') this.fail('control character in string');
      out += c === '\\' ? this.escape() : c;
    }
  }

  private escape(): string {
    const c = this.text[this.pos++] ?? '';
    if (Object.hasOwn(ESCAPES, c)) return ESCAPES[c]!;
    const hex = this.text.slice(this.pos, this.pos + 4);
    if (c !== 'u' || !/^[0-9a-fA-F]{4}$/.test(hex)) return this.fail('invalid escape in string');
    this.pos += 4;
    return String.fromCharCode(parseInt(hex, 16));
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `s` if every UTF-16 surrogate is paired (so it is valid Unicode), else null. */
function checkSurrogates(s: string): string | null {
  return LONE_SURROGATE.test(s) ? null : s;
}

/** Parses `text` as one JSON value; throws JsonSyntaxError with the position on any error. */
export function parseStrictJson(text: string, maxDepth = 64): JsonValue {
  return new Parser(text, maxDepth).parseDocument();
}
