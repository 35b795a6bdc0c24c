/**
 * The two readers of an oversized payload (src/streams/cut.ts): `cutPayload` on an object, `JsonCutter` on
 * its JSON text pushed in pieces. They must keep the same thing, wherever the text is split.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CUT_LENGTH, cutMark, cutPayload, cutString, JsonCutter, KEEP } from '../../src/streams/cut.js';

/** Pushes `text` into a cutter in pieces ending at `splits`, and parses what it kept. */
function cutText(text: string, splits: number[], maxLength = 1e9) {
  const cutter = new JsonCutter(maxLength);
  let from = 0;
  for (const at of [...splits].sort((a, b) => a - b)) {
    cutter.push(text.slice(from, Math.max(from, at)));
    from = Math.max(from, at);
  }
  cutter.push(text.slice(from));
  const kept = cutter.end();
  return kept === undefined ? undefined : { ...kept, value: JSON.parse(kept.text) as unknown };
}

// Long strings of a few characters (emoji, escapes, quotes) around the cut lengths.
const longString = fc
  .tuple(
    fc.constantFrom('a', '\n', '"', '\\', '\u{1F600}', 'é', '\u0001', '/'),
    fc.integer({ min: CUT_LENGTH - 3, max: CUT_LENGTH * 2 }),
  )
  .map(([c, n]) => c.repeat(Math.ceil(n / c.length)).slice(0, n));
// Strings cut alike whose sizes differ: the size kept is the first one's, in both readers.
const alike = fc.constantFrom('e', 'é').map((c) => `${'x'.repeat(KEEP)}${c.repeat(10)}${'x'.repeat(KEEP)}`);
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    longString,
    alike,
    fc.integer(),
    // JSON has no -0 (JSON.stringify writes it as 0), and this property compares a value with its text.
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__proto__')), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

describe('cutting the long strings of an oversized payload', () => {
  it('property: the line reader keeps what the object reader keeps, however the text is split', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), valueArb, { maxKeys: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (value, splitsRaw, pretty) => {
          const text = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
          const splits = splitsRaw.map((n) => n % (text.length + 1));
          const object = cutPayload(value, 1e9, 64)!;
          const line = cutText(text, splits)!;
          expect(line.value).toEqual(object.value);
          expect(line.strings).toBe(object.cut.strings);
          expect(line.sizes).toEqual(object.cut.sizes);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('property: any JSON, pretty or not, its non-ASCII escaped or not, however split: the line reader keeps what cutPayload keeps of JSON.parse', () => {
    // Strings of any UTF-16 units (lone surrogates, quotes, backslashes, controls), long ones around the
    // cut, and long keys; escaped as `\uXXXX`, a pair's two escapes may be split anywhere.
    const long = fc
      .tuple(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
        fc.integer({ min: CUT_LENGTH - 2, max: CUT_LENGTH + 40 }),
      )
      .map(([c, n]) => c.repeat(Math.ceil(n / c.length)).slice(0, n));
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      long,
      fc.string({ unit: fc.constantFrom('\uD83D', '\uDE00', 'a', '\\', '"'), maxLength: 20 }),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.string({ unit: 'binary' }), long), tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), value, { maxKeys: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        (payload, splitsRaw, pretty, escaped) => {
          let json = pretty ? JSON.stringify(payload, null, '\t\r\n ') : JSON.stringify(payload);
          if (escaped)
            json = json.replace(
              /[\u0080-\uffff]/g,
              (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
            );
          const object = cutPayload(JSON.parse(json) as Record<string, unknown>, 1e9, 64)!;
          const line = cutText(
            json,
            splitsRaw.map((n) => n % (json.length + 1)),
          )!;
          expect(line.value).toEqual(object.value);
          expect(line.strings).toBe(object.cut.strings);
          expect(line.sizes).toEqual(object.cut.sizes);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: what JSON.parse rejects stays rejected (a JSON text with a few characters put in or taken out)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 2 }),
        fc.nat(),
        fc.string({ unit: 'binary', maxLength: 3 }),
        fc.nat(3),
        fc.array(fc.nat(), { maxLength: 4 }),
        (value, at, put, taken, splitsRaw) => {
          const json = JSON.stringify({ a: value });
          const p = at % (json.length + 1);
          const text = json.slice(0, p) + put + json.slice(p + taken);
          let parsed: unknown;
          let ok = true;
          try {
            parsed = JSON.parse(text);
          } catch {
            ok = false;
          }
          let kept: ReturnType<typeof cutText>;
          try {
            kept = cutText(
              text,
              splitsRaw.map((n) => n % (text.length + 1)),
            );
          } catch {
            kept = undefined; // what it kept is not JSON
          }
          expect(kept !== undefined).toBe(ok);
          if (ok) expect(kept!.value).toEqual(parsed);
        },
      ),
      { numRuns: 1_000 },
    );
    // And the cases by name: numbers, literals, blanks and a BOM JSON does not allow, two values, garbage.
    for (const text of [
      '01',
      '1.',
      '-',
      '1e',
      '1e+',
      '.5',
      '+1',
      '0x1',
      'NaN',
      'tru',
      'nul',
      '\uFEFF{}',
      '{}\u000b',
      '\f1',
      '\u00a01',
      '1\u2028',
      '{} {}',
      '{}{}',
      '"a""b"',
      '"a"x',
      '[1,]',
      '{"a":1,}',
      '[1 2]',
      '{"a" "b"}',
      "'a'",
      '"\\U0041"',
      '"\t"',
    ]) {
      let kept: ReturnType<typeof cutText>;
      try {
        kept = cutText(text, [1]);
      } catch {
        kept = undefined;
      }
      expect({ text, kept }).toEqual({ text, kept: undefined });
    }
  });

  it('cuts a string value to its first and last KEEP characters around the mark, never half an emoji', () => {
    const emoji = '\u{1F600}'; // two UTF-16 units
    // An emoji across the end of the head: 'a' then pairs, the 8,000th unit a first half.
    const head = `a${emoji.repeat(CUT_LENGTH)}`;
    expect(cutString(head)).toBe(`a${emoji.repeat(3_999)}${cutMark(head.length)}${emoji.repeat(4_000)}`);
    // An emoji across the start of the tail: the tail's first unit a second half.
    const tail = `${emoji.repeat(CUT_LENGTH)}b`;
    expect(cutString(tail)).toBe(`${emoji.repeat(4_000)}${cutMark(tail.length)}${emoji.repeat(3_999)}b`);
    // The line reader keeps the same.
    expect(cutText(JSON.stringify([head, tail]), [8_001, 30_000])!.value).toEqual([
      cutString(head),
      cutString(tail),
    ]);
    expect(cutString('x'.repeat(CUT_LENGTH))).toBe('x'.repeat(CUT_LENGTH));
    expect(cutString('x'.repeat(CUT_LENGTH + 1))).toBe(
      `${'x'.repeat(KEEP)}${cutMark(CUT_LENGTH + 1)}${'x'.repeat(KEEP)}`,
    );
  });

  it('keeps a long key whole, and cuts a long value in an array', () => {
    const key = 'k'.repeat(CUT_LENGTH * 2);
    const text = JSON.stringify({ [key]: ['v'.repeat(CUT_LENGTH * 2)] });
    const kept = cutText(text, [10, CUT_LENGTH + 7])!;
    const [[k, v]] = Object.entries(kept.value as Record<string, string[]>) as [[string, string[]]];
    expect(k).toBe(key);
    expect(v).toEqual([`${'v'.repeat(KEEP)}${cutMark(CUT_LENGTH * 2)}${'v'.repeat(KEEP)}`]);
    expect(kept.strings).toBe(1);
  });

  it('keeps every long key whole, not only the first of an object: after a comma, in an object in an array, after a closed one', () => {
    const key = (c: string) => c.repeat(CUT_LENGTH + 1);
    const value = 'v'.repeat(CUT_LENGTH + 1);
    const object = {
      a: 1,
      [key('k')]: [value, { [key('l')]: value }],
      b: { c: [1], [key('m')]: { x: value }, [key('n')]: value },
      [key('o')]: true,
    };
    for (const text of [JSON.stringify(object), JSON.stringify([1, object], null, 1)]) {
      const kept = cutText(text, [])!;
      const expected = cutPayload(object, 1e9, 64)!;
      expect(kept.value).toEqual(text.startsWith('[') ? [1, expected.value] : expected.value);
      expect(kept.strings).toBe(4);
    }
  });

  it('counts the UTF-8 size of a cut string, a surrogate pair split between two pushes too', () => {
    const value = `${'é'.repeat(CUT_LENGTH)}\u{1F600}`;
    const text = JSON.stringify({ a: value });
    const pair = text.indexOf('\u{1F600}') + 1; // between the pair's two halves
    const kept = cutText(text, [pair])!;
    expect([...kept.sizes.values()]).toEqual([Buffer.byteLength(value)]);
    // And written as escapes: `\ud83d\ude00`, split inside the second one.
    const escaped = text.replace('\u{1F600}', '\\ud83d\\ude00');
    const at = escaped.indexOf('\\ude00') + 3;
    const again = cutText(escaped, [at])!;
    expect([...again.sizes.values()]).toEqual([Buffer.byteLength(value)]);
    expect(again.value).toEqual(kept.value);
  });

  it("keeps the size of the first of two strings cut alike, in the text's order, in both readers", () => {
    // A Write over a file edited in the middle: the new content and `originalFile` are as long and have
    // the same ends, so they are cut to the same string, but their UTF-8 sizes differ ('é' against 'e').
    const ends = 'x'.repeat(KEEP);
    const content = `${ends}${'é'.repeat(500)}${ends}`;
    const originalFile = `${ends}${'e'.repeat(500)}${ends}`;
    const payload = {
      tool_input: { content },
      tool_response: { type: 'update', content, originalFile },
      deeper: [{ originalFile }],
    };
    const cut = cutString(content);
    expect(cutString(originalFile)).toBe(cut);
    const object = cutPayload(payload, 1e9, 64)!;
    const line = cutText(JSON.stringify(payload), [])!;
    expect(object.cut.sizes?.get(cut)).toBe(Buffer.byteLength(content));
    expect(line.sizes.get(cut)).toBe(Buffer.byteLength(content));
    // originalFile first: its size, in both.
    const other = { a: [[originalFile]], b: content, c: { d: content } };
    expect(cutPayload(other, 1e9, 64)!.cut.sizes?.get(cut)).toBe(Buffer.byteLength(originalFile));
    expect(cutText(JSON.stringify(other), [])!.sizes.get(cut)).toBe(Buffer.byteLength(originalFile));
  });

  it('gives up on a text that is no JSON string: a bad escape, a control character, cut inside a string', () => {
    expect(cutText('{"a":"\\x41"}', [])).toBeUndefined();
    expect(cutText('{"a":"\\u12G4"}', [])).toBeUndefined();
    expect(cutText('{"a":"x\u0001"}', [])).toBeUndefined();
    expect(cutText('{"a":"\u0001n"}', [])).toBeUndefined(); // no escape: a control character
    expect(cutText('{"a":"xyz', [])).toBeUndefined();
    // The rest is left to JSON.parse: blanks become one space, so two numbers never become one.
    expect(() => JSON.parse(new JsonCutter(100).end()!.text)).toThrow();
    const cutter = new JsonCutter(100);
    cutter.push('[1 \n\t 2]');
    expect(cutter.end()!.text).toBe('[1 2]');
  });

  it('cuts in the line reader at the same boundary: 16,383 and 16,384 characters kept whole, 16,385 cut', () => {
    for (const n of [CUT_LENGTH - 1, CUT_LENGTH, CUT_LENGTH + 1]) {
      const value = 'y'.repeat(n);
      const kept = cutText(JSON.stringify({ v: value }), [3, 5 + n])!;
      expect((kept.value as { v: string }).v).toBe(cutString(value));
      expect(kept.strings).toBe(n > CUT_LENGTH ? 1 : 0);
      expect([...kept.sizes.values()]).toEqual(n > CUT_LENGTH ? [n] : []);
    }
  });

  it('keeps lone surrogates as JSON.parse reads them: a low one at the start, a high one at the end; drops one at a cut', () => {
    const lone = `\uDC00${'a'.repeat(CUT_LENGTH)}\uD800`;
    expect(cutString(lone)).toBe(
      `\uDC00${'a'.repeat(KEEP - 1)}${cutMark(lone.length)}${'a'.repeat(KEEP - 1)}\uD800`,
    );
    // A lone low one first in the tail, a lone high one last in the head: neither kept.
    const atCuts = `${'a'.repeat(KEEP - 1)}\uD800${'b'.repeat(CUT_LENGTH)}\uDC00${'c'.repeat(KEEP - 1)}`;
    expect(cutString(atCuts)).toBe(`${'a'.repeat(KEEP - 1)}${cutMark(atCuts.length)}${'c'.repeat(KEEP - 1)}`);
    for (const value of [lone, atCuts]) {
      const text = JSON.stringify([value]); // lone surrogates written as \u escapes
      for (const at of [2, 4, 8, text.length - 4]) {
        const kept = cutText(text, [at])!;
        expect(kept.value).toEqual([cutString(value)]);
        expect([...kept.sizes.values()]).toEqual([Buffer.byteLength(value)]);
      }
    }
  });

  it('holds the text kept and, of the string being read, its whole while short, then its head and a tail of at most 2 × KEEP', () => {
    const cutter = new JsonCutter(1e9);
    cutter.push('["');
    expect(cutter.held).toBe(1);
    cutter.push('a'.repeat(CUT_LENGTH));
    expect(cutter.held).toBe(1 + CUT_LENGTH);
    cutter.push('a'); // past CUT_LENGTH: its first KEEP + 1 and last KEEP
    expect(cutter.held).toBe(1 + KEEP + 1 + KEEP);
    cutter.push('a'.repeat(KEEP)); // the tail grows to 2 × KEEP
    expect(cutter.held).toBe(1 + KEEP + 1 + 2 * KEEP);
    cutter.push('a'); // one more: trimmed to KEEP
    expect(cutter.held).toBe(1 + KEEP + 1 + KEEP);
    cutter.push('a'.repeat(3 * KEEP)); // a long piece: only its last KEEP taken
    expect(cutter.held).toBe(1 + KEEP + 1 + 2 * KEEP);
    cutter.push('\\u00'); // an escape read in part
    expect(cutter.held).toBe(1 + KEEP + 1 + 2 * KEEP + 4);
    cutter.push('e9"]');
    const kept = cutter.end()!;
    expect(cutter.held).toBe(kept.text.length);
    expect(JSON.parse(kept.text)).toEqual([
      cutString(`${'a'.repeat(CUT_LENGTH + 1 + KEEP + 1 + 3 * KEEP)}é`),
    ]);
    expect(kept.text.length).toBe(JSON.stringify(JSON.parse(kept.text)).length);
  });

  it('gives up, holding nothing, when the text kept outgrows its limit out of any string', () => {
    const cutter = new JsonCutter(8);
    cutter.push('[1,2,3,');
    expect(cutter.held).toBe(7);
    cutter.push('4,5]');
    expect(cutter.end()).toBeUndefined();
    expect(cutter.held).toBe(0);
    cutter.push('"abc"'); // nothing more read
    expect(cutter.held).toBe(0);
    expect(cutter.end()).toBeUndefined();
  });

  it('counts the UTF-8 size of a cut string whatever the surrogates where its pieces meet', () => {
    const long = 'a'.repeat(CUT_LENGTH);
    // Pairs split between two pushes, at the ends of the ranges (U+10000, U+10FFFF, U+103FF, U+10FC00).
    for (const pair of ['\uD800\uDC00', '\uDBFF\uDFFF', '\uD800\uDFFF', '\uDBFF\uDC00']) {
      const value = `${long}${pair}b`;
      const text = JSON.stringify([value]);
      const kept = cutText(text, [text.indexOf(pair) + 1])!;
      expect([...kept.sizes.values()]).toEqual([Buffer.byteLength(value)]);
    }
    // No pair where they meet: a high one then U+E000, U+E000 then a low one, two low ones, a string
    // that starts with a low one after a string that ended with a high one (each lone one an escape).
    for (const value of [
      `${long}\uD800\uE000`,
      `${long}\uE000\uDC00`,
      `${long}\uDC00\uDC00`,
      `${long}\uDFFF\uDC00`,
    ]) {
      for (const text of [JSON.stringify([value]), JSON.stringify(['\uD800', value])]) {
        const kept = cutText(text, [text.length - 5])!;
        expect([...kept.sizes.values()]).toEqual([Buffer.byteLength(value)]);
      }
    }
    const after = `\uDC00${long}`;
    for (const text of [JSON.stringify(['\uD800', after]), JSON.stringify(['x\uD83D\uDE00', after])]) {
      expect([...cutText(text, [])!.sizes.values()]).toEqual([Buffer.byteLength(after)]);
    }
  });

  it('keeps a text exactly as long as its limit; holds no key longer than the limit leaves room for', () => {
    const exact = new JsonCutter(5);
    exact.push('[1,2]');
    expect(exact.end()?.text).toBe('[1,2]');
    const key = new JsonCutter(10);
    key.push(`{"${'k'.repeat(9)}`); // '{' and 9 characters of a key: 10, held
    expect(key.held).toBe(10);
    key.push('k'); // 11: given up at once, not when the key ends
    expect(key.held).toBe(0);
    expect(key.end()).toBeUndefined();
  });

  it('gives up when a key alone is longer than what it may keep', () => {
    const cutter = new JsonCutter(50);
    cutter.push(`{"${'k'.repeat(100)}":1}`);
    expect(cutter.end()).toBeUndefined();
    expect(cutter.held).toBe(0);
  });

  it('cutPayload: undefined when the copy is still too large, too deep, or cannot be read', () => {
    expect(cutPayload({ a: new Array(100).fill(1) }, 50, 64)).toBeUndefined();
    expect(cutPayload({ a: { b: { c: {} } } }, 1e9, 2)).toBeUndefined();
    expect(cutPayload({ a: { b: {} } }, 1e9, 3)).toBeDefined();
    const hostile = {
      get a(): string {
        throw new Error('no');
      },
    };
    expect(cutPayload(hostile, 1e9, 64)).toBeUndefined();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(cutPayload(circular, 1e9, 64)).toBeUndefined();
    // `__proto__` stays an own field, as JSON.parse makes it.
    const parsed = JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>;
    const copy = cutPayload(parsed, 1e9, 64)!.value;
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });
});
