/**
 * `checkPayload` answers with a fast recursive walk and names a problem with the stack-based walk
 * (`findProblem`): the two must agree on every value, whichever limit is hit first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPayload, findProblem, type PayloadLimits, previewJson } from '../../src/streams/payload.js';

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
  const emoji = '\u{1F600}'; // two UTF-16 units
  /** Whether `text` holds half of a surrogate pair on its own. */
  const loneHalf = (text: string) =>
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

  it('cuts a string or JSON text on a code point boundary, never leaving half of an emoji', () => {
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
});
