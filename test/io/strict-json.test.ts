import { describe, expect, it } from 'vitest';
import { JsonNumber, JsonSyntaxError, parseStrictJson, type JsonValue } from '../../src/io/strict-json.js';

/** The parsed value with Maps as objects and numbers as their literal text, for comparisons. */
function plain(value: JsonValue): unknown {
  if (value instanceof JsonNumber) return `#${value.text}`;
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

describe('parseStrictJson', () => {
  it('parses every kind of value, keeping number literals as written', () => {
    const text = ' {"a": [1, -0.5, 1e3, 2E-2, true, false, null], "b": {"c": "x\\n\\u00e9\\ud83d\\ude00\\/"}} ';
    expect(plain(parseStrictJson(text))).toEqual({
      a: ['#1', '#-0.5', '#1e3', '#2E-2', true, false, null],
      b: { c: 'x\né😀/' },
    });
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const value = parseStrictJson('{"__proto__": 1}') as Map<string, JsonValue>;
    expect([...value.keys()]).toEqual(['__proto__']);
  });

  it.each([
    ['empty input', ''],
    ['a trailing comma in an object', '{"a":1,}'],
    ['a trailing comma in an array', '[1,]'],
    ['a leading zero', '01'],
    ['a plus sign', '+1'],
    ['a bare fraction', '.5'],
    ['a trailing dot', '1.'],
    ['single quotes', "{'a':1}"],
    ['an unquoted key', '{a:1}'],
    ['a raw control character in a string', '"a\u0001"'],
    ['an unknown escape', '"\\x41"'],
    ['a short unicode escape', '"\\u12"'],
    ['a lone high surrogate', '"\\ud800"'],
    ['a lone low surrogate', '"\\udc00x"'],
    ['a duplicate key', '{"a":1,"a":2}'],
    ['NaN', 'NaN'],
    ['Infinity', '[Infinity]'],
    ['a comment', '{} // x'],
    ['a missing colon', '{"a" 1}'],
    ['an unterminated string', '"abc'],
    ['a truncated literal', 'tru'],
    ['a non-JSON space', '\u00a0{}'],
  ])('rejects %s', (_, text) => {
    expect(() => parseStrictJson(text)).toThrow(JsonSyntaxError);
  });

  it('bounds the nesting depth instead of overflowing the stack', () => {
    expect(() => parseStrictJson('['.repeat(1_000_000))).toThrow(/nesting deeper than 64/);
    expect(() => parseStrictJson('{"a":'.repeat(65) + '1' + '}'.repeat(65))).toThrow(JsonSyntaxError);
    expect(parseStrictJson('['.repeat(64) + ']'.repeat(64))).toBeInstanceOf(Array);
  });

  it('reports the position of the error', () => {
    expect(() => parseStrictJson('[1, 2,, 3]')).toThrow(/at character 6/);
  });
});

describe('JsonNumber.asIndex', () => {
  it.each([
    ['0', 0], ['7', 7], ['9007199254740991', 9007199254740991],
    ['9007199254740992', null], ['-1', null], ['-0', null], ['1.0', null], ['1e2', null],
  ])('%s → %s', (text, expected) => {
    expect(new JsonNumber(text).asIndex()).toBe(expected);
  });
});
