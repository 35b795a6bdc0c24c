import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeTime,
  encodeSeq,
  encodeTime,
  escapePart,
  eventKey,
  eventRange,
  indexKey,
  indexRange,
  indexSuffix,
  seqAtEnd,
  sessionRange,
  unescapePart,
} from '../../src/store/keys.js';

/** LevelDB compares keys as bytes: compare the UTF-8 encodings. */
const byteCompare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const time = fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.integer({ min: 0, max: 2 ** 53 }));

describe('key encoding', () => {
  it('encodes times so that byte order is numeric order, fractions included, and decodes them', () => {
    fc.assert(
      fc.property(time, time, (a, b) => {
        expect(Math.sign(byteCompare(encodeTime(a), encodeTime(b)))).toBe(Math.sign(a - b));
        expect(decodeTime(encodeTime(a))).toBe(a + 0);
        expect(encodeTime(a)).toHaveLength(16);
      }),
    );
    expect(encodeTime(-0)).toBe(encodeTime(0));
  });

  it('encodes seqs so that byte order is numeric order', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (a, b) => {
          expect(Math.sign(byteCompare(encodeSeq(a), encodeSeq(b)))).toBe(Math.sign(a - b));
          expect(seqAtEnd(eventKey('x', a))).toBe(a);
        },
      ),
    );
  });

  it('escapes ids and types injectively, without the separator, as well-formed UTF-16', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const ea = escapePart(a);
        expect(ea.includes('\x00')).toBe(false);
        // Lone surrogates would all become U+FFFD in UTF-8: none may survive escaping.
        expect(Buffer.from(ea).toString()).toBe(ea);
        if (a !== b) expect(ea).not.toBe(escapePart(b));
        expect(unescapePart(ea)).toBe(a);
      }),
    );
    expect(escapePart('\uD800')).not.toBe(escapePart('\uD801'));
    // A lone surrogate beside another character (not its pair) is escaped too.
    for (const value of ['x\uDFFF', '\uD800x', '\uDBFF\uD800']) {
      const escaped = escapePart(value);
      expect(Buffer.from(escaped).toString(), JSON.stringify(value)).toBe(escaped);
      expect(unescapePart(escapePart(value))).toBe(value);
    }
    expect(escapePart('plain.type')).toBe('plain.type');
    for (const value of ['\x00\x01\uD800x\uDFFF', 'a\x01\x02b', '\uD83D\uDE00\uDBFFe'])
      expect(unescapePart(escapePart(value))).toBe(value);
  });

  it('ends index keys with time then seq, comparable as strings', () => {
    fc.assert(
      fc.property(time, fc.nat(), time, fc.nat(), (t1, s1, t2, s2) => {
        const k1 = indexSuffix(indexKey('1', 'a', t1, s1));
        const k2 = indexSuffix(indexKey('1', 'a', t2, s2));
        expect(Math.sign(byteCompare(k1, k2))).toBe(Math.sign(t1 - t2 || s1 - s2));
        expect(seqAtEnd(k1)).toBe(s1);
      }),
    );
  });

  it('puts a key in the ranges of its own session, type, times and seqs, and in no other', () => {
    const within = (key: string, range: { gte: string; lt: string }) =>
      byteCompare(key, range.gte) >= 0 && byteCompare(key, range.lt) < 0;
    // Parts as the store makes them: session numbers in base 36, escaped types (some prefixes of others).
    const session = fc.constantFrom('0', '1', '10', 'a');
    const type = fc.constantFrom('a', 'a.b', 'ab', 'a\x00b', '\uD800', 'b').map(escapePart);
    const bound = fc.option(time, { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({ s: session, type, t: time, seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }) }),
        fc.record({
          s: session,
          type,
          start: bound,
          end: bound,
          fromSeq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        }),
        (key, range) => {
          const index = indexKey(key.s, key.type, key.t, key.seq);
          const sameType = key.s === range.s && key.type === range.type;
          const inTime =
            (range.start === undefined || key.t >= range.start) &&
            (range.end === undefined || key.t <= range.end);
          expect(within(index, indexRange(range.s, range.type, range.start, range.end))).toBe(
            sameType && inTime,
          );
          expect(within(index, sessionRange(range.s))).toBe(key.s === range.s);
          const event = eventKey(key.s, key.seq);
          expect(within(event, eventRange(range.s, range.fromSeq))).toBe(
            key.s === range.s && key.seq >= range.fromSeq,
          );
          expect(within(event, sessionRange(range.s))).toBe(key.s === range.s);
        },
      ),
      { numRuns: 500 },
    );
  });
});
