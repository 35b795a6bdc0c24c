/**
 * `checkPayload` answers with a fast recursive walk and names a problem with the stack-based walk
 * (`findProblem`): the two must agree on every value, whichever limit is hit first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkPayload,
  findProblem,
  leadingFields,
  type PayloadLimits,
  previewJson,
} from '../../src/streams/payload.js';

function nested(depth: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const limitsArb = fc.record({
  maxPayloadBytes: fc.integer({ min: 1, max: 400 }),
  maxDepth: fc.integer({ min: 1, max: 8 }),
  maxRawLength: fc.constant(100),
});

// JSON-like values, with what JSON cannot hold mixed in (bigints, non-finite numbers, undefined).
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt(),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.sparseArray(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('checkPayload', () => {
  it('gives the same answer as the stack-based walk on any value and limits', () => {
    fc.assert(
      fc.property(valueArb, limitsArb, (value, limits: PayloadLimits) => {
        expect(checkPayload(value, limits)).toBe(findProblem(value, limits));
      }),
      { numRuns: 2_000 },
    );
  });

  it('accepts a valid payload and names each kind of problem', () => {
    const limits = { maxPayloadBytes: 100, maxDepth: 4, maxRawLength: 100 };
    expect(checkPayload({ a: 'x', b: [1, true, null] }, limits)).toBeUndefined();
    expect(checkPayload({ a: 'x'.repeat(100) }, limits)).toContain('maxPayloadBytes');
    expect(checkPayload(nested(4), limits)).toContain('maxDepth (4)');
    expect(checkPayload({ a: [Number.NaN] }, limits)).toContain('non-finite');
    expect(checkPayload({ a: 1n }, limits)).toContain('bigint');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(checkPayload(circular, limits)).toContain('maxDepth');
  });

  it('counts strings with their quotes, keys, scalars and punctuation: accepts a payload at exactly its size, rejects it one under', () => {
    // Each key counts its length + 4 (quotes, colon, comma), a string its length + 2, a number 8,
    // a boolean 5, null 4, an object or array 2 for its brackets plus 1 per element (its comma).
    const cases: [unknown, number][] = [
      [{}, 2],
      [{ k: 'abc' }, 2 + 5 + 5],
      [{ k: 12 }, 2 + 5 + 8],
      [{ k: true }, 2 + 5 + 5],
      [{ k: null }, 2 + 5 + 4],
      [{ k: {} }, 2 + 5 + 2],
      [{ k: [] }, 2 + 5 + 2],
      [{ k: ['ab', 1] }, 2 + 5 + 2 + 2 + 4 + 8],
      [{ k: [{}, null, false] }, 2 + 5 + 2 + 3 + 2 + 4 + 5],
      [{ k: new Array(3) }, 2 + 5 + 2 + 3], // holes, which JSON writes as null, count their commas
    ];
    for (const [value, size] of cases) {
      for (const maxDepth of [8, 1_000]) {
        // maxDepth 1,000 skips the fast walk: the stack-based walk alone must count the same.
        expect(checkPayload(value, { maxPayloadBytes: size, maxDepth, maxRawLength: 100 })).toBeUndefined();
        expect(checkPayload(value, { maxPayloadBytes: size - 1, maxDepth, maxRawLength: 100 })).toBe(
          `larger than maxPayloadBytes (${size - 1} characters of JSON)`,
        );
      }
    }
  });

  it('counts nested arrays toward the depth, as nested objects', () => {
    for (const maxDepth of [3, 1_000]) {
      const limits = { maxPayloadBytes: 100_000, maxDepth, maxRawLength: 100 };
      let deep: unknown = [1];
      for (let depth = 1; depth < maxDepth; depth++) deep = [deep];
      // The object is level 0, the outermost array level 1, the innermost array level maxDepth.
      expect(checkPayload({ a: deep }, limits)).toBe(`nested deeper than maxDepth (${maxDepth})`);
      expect(checkPayload({ a: (deep as unknown[])[0] }, limits)).toBeUndefined();
    }
  });

  it('ignores inherited properties, as JSON does', () => {
    const value = Object.assign(Object.create({ inherited: 'x'.repeat(1_000), n: 1n }) as object, { own: 1 });
    for (const maxDepth of [8, 1_000]) {
      expect(checkPayload(value, { maxPayloadBytes: 100, maxDepth, maxRawLength: 100 })).toBeUndefined();
    }
  });

  it('walks without recursion when maxDepth allows more nesting than the fast walk takes', () => {
    const limits = { maxPayloadBytes: 10_000_000, maxDepth: 200_000, maxRawLength: 100 };
    expect(checkPayload(nested(150_000), limits)).toBeUndefined();
    expect(checkPayload(nested(250_000), limits)).toContain('maxDepth (200000)');
  });

  it('names the first problem of the stack-based walk when the payload has several', () => {
    const limits = { maxPayloadBytes: 50, maxDepth: 3, maxRawLength: 100 };
    // The stack-based walk visits the last key first: the bigint is met before the long string.
    expect(checkPayload({ long: 'x'.repeat(60), n: 1n }, limits)).toContain('bigint');
    expect(checkPayload({ n: 1n, long: 'x'.repeat(60) }, limits)).toContain('maxPayloadBytes');
  });

  it('lets a getter that throws surface as before (the bridge rejects it as unreadable)', () => {
    const hostile = {
      get boom(): string {
        throw new Error('boom');
      },
    };
    const limits = { maxPayloadBytes: 100, maxDepth: 4, maxRawLength: 100 };
    expect(() => checkPayload(hostile, limits)).toThrow('boom');
  });
});

describe('previewJson', () => {
  // Two UTF-16 units each: an emoji, and the first and last code points that need a surrogate pair.
  const pairs = ['\u{1F600}', '\u{10000}', '\u{10FFFF}'];
  /** Whether `text` holds half of a surrogate pair on its own. */
  const loneHalf = (text: string) =>
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

  it('cuts a string or JSON text on a code point boundary, never leaving half of an emoji', () => {
    for (const emoji of pairs)
      for (let at = 0; at < 6; at++) {
        const text = `${'a'.repeat(at)}${emoji.repeat(6)}`;
        const cut = previewJson(text, 7);
        expect(cut.truncated).toBe(true);
        expect(loneHalf(cut.text)).toBe(false);
        expect(text.startsWith(cut.text)).toBe(true);
        expect(cut.text.length).toBeGreaterThanOrEqual(6);
        const json = previewJson({ note: text }, 12);
        expect(loneHalf(json.text)).toBe(false);
        expect(JSON.stringify({ note: text }).startsWith(json.text)).toBe(true);
      }
  });

  it('keeps a string or JSON text of exactly maxLength characters whole, and says it was not truncated', () => {
    expect(previewJson('abc', 3)).toEqual({ text: 'abc', truncated: false });
    expect(previewJson('abcd', 3)).toEqual({ text: 'abc', truncated: true });
    expect(previewJson({ a: 1 }, 7)).toEqual({ text: '{"a":1}', truncated: false });
    expect(previewJson({ a: 1 }, 6)).toEqual({ text: '{"a":1', truncated: true });
  });

  it('writes booleans and null as JSON does, a bigint and a non-finite number as JSON can hold them', () => {
    const value = { t: true, f: false, n: null, list: [false, null], big: 12n, nan: Number.NaN };
    expect(previewJson(value, 1_000)).toEqual({
      text: '{"t":true,"f":false,"n":null,"list":[false,null],"big":"12n","nan":null}',
      truncated: false,
    });
  });

  it('leaves out inherited properties, as JSON.stringify does', () => {
    const value = Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 });
    expect(previewJson(value, 100)).toEqual({ text: JSON.stringify(value), truncated: false });
    expect(JSON.stringify(value)).toBe('{"own":2}');
  });

  it('replaces what is nested deeper than 32 levels, in arrays as in objects, with "[…]"', () => {
    let deep: unknown = [1];
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(previewJson(deep, 1_000)).toEqual({
      text: `${'['.repeat(32)}"[…]"${']'.repeat(32)}`,
      truncated: true,
    });
  });

  it('stops reading a large object or array once maxLength characters are written', () => {
    const object = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const array = Array.from({ length: 10_000 }, (_, i) => i);
    for (const target of [object, array]) {
      let reads = 0;
      const proxy = new Proxy(target, {
        get(t, key, receiver) {
          if (typeof key === 'string' && key !== 'length') reads++;
          return Reflect.get(t, key, receiver);
        },
      });
      const preview = previewJson(proxy, 20);
      expect(preview).toEqual({ text: JSON.stringify(target).slice(0, 20), truncated: true });
      expect(reads).toBeLessThan(20);
    }
  });

  it('writes a part it cannot read (a Proxy whose traps throw) as "[unreadable]", and the rest as it is', () => {
    const unlisted = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(previewJson({ ok: 1, bad: unlisted, after: [true] }, 100)).toEqual({
      text: '{"ok":1,"bad":"[unreadable]","after":[true]}',
      truncated: true,
    });
  });
});

describe('leadingFields', () => {
  it("reads the top level's and the output's or payload's fields of a JSON text cut anywhere", () => {
    const envelope = JSON.stringify({
      hook: 'PostToolUse',
      timestamp: 1.5e12,
      output: {
        session_id: 's1',
        tool_input: { session_id: 'no', n: [1, { a: 2 }] },
        hook_event_name: 'Stop',
      },
    });
    expect(leadingFields(envelope)).toEqual({
      hook: 'PostToolUse',
      timestamp: 1.5e12,
      sessionId: 's1',
      hookEventName: 'Stop',
    });
    // Cut inside a string or a number: what came before it.
    expect(leadingFields(envelope.slice(0, 48))).toEqual({ hook: 'PostToolUse', timestamp: 1.5e12 });
    expect(leadingFields(envelope.slice(0, 47))).toEqual({ hook: 'PostToolUse' });
    expect(leadingFields(envelope.slice(0, 30))).toEqual({ hook: 'PostToolUse' });
    // A capture, blanks and escapes as JSON has them; the first value of a field is kept.
    expect(
      leadingFields(
        ' \uFEFF{ "hook_event_name" : "Stop" ,\n "payload" : { "session_id" : "s\\"2", "session_id": "x" }',
      ),
    ).toEqual({ hookEventName: 'Stop', sessionId: 's"2' });
    // Not a field of a deeper object, of an array, nor the top level's after the output's; a later
    // top-level session after the output object closed is read.
    expect(
      leadingFields('{"output":[{"session_id":"no"}],"x":{"session_id":"no"},"session_id":"top"}'),
    ).toEqual({
      sessionId: 'top',
    });
    expect(leadingFields('{"other":{"session_id":"no","hook":"no"},"hook":"h"}')).toEqual({ hook: 'h' });
    // A number is taken only as the top level's timestamp; a string timestamp or numbered hook is none.
    expect(leadingFields('{"timestamp":"5","hook":7,"output":{"timestamp":3,"session_id":4}}')).toEqual({});
    expect(leadingFields('{"timestamp":-2.5e-3}')).toEqual({ timestamp: -2.5e-3 });
    // Not an object: nothing.
    for (const text of ['[{"hook":"h"}]', '"hook"', '5', '', '{"hook"', '{"hook":"h', '{"timestamp":12']) {
      expect(leadingFields(text), text).toEqual({});
    }
    expect(leadingFields('{"a":1}{"hook":"h"}')).toEqual({});
  });

  it('takes no value of a line torn inside it and run into the next text', () => {
    const next = '{"hook":"PostToolUse","timestamp":1733520000500,"output":{"session_id":"s2"}}';
    // Torn inside its time: 17 is no time (and the next text's fields are not this line's).
    expect(leadingFields(`{"hook":"PreToolUse","timestamp":17${next}`)).toEqual({ hook: 'PreToolUse' });
    // Torn inside a string, closed by the next text's first quote: "Pre{" is no hook, "s{" no session.
    expect(leadingFields(`{"hook":"Pre${next}`)).toEqual({});
    expect(leadingFields(`{"hook":"Stop","output":{"session_id":"s${next}`)).toEqual({ hook: 'Stop' });
    // A value followed by blanks, then its `,` / `}`, is whole.
    expect(leadingFields('{"timestamp" : 5 , "hook" : "h" }')).toEqual({ timestamp: 5, hook: 'h' });
  });

  it('reads only the first 65,536 characters', () => {
    expect(leadingFields(`{"pad":"${'x'.repeat(65_536)}","hook":"h"}`)).toEqual({});
    expect(leadingFields(`{"pad":"${'x'.repeat(65_500)}","hook":"h"}`)).toEqual({ hook: 'h' });
    expect(leadingFields(`{"pad":"${'x'.repeat(65_525)}","hook":"h"}`)).toEqual({});
  });
});
