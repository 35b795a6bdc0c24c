import fc from 'fast-check';
import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type Event,
  type PatternMatchData,
  type PatternTimeoutData,
  Priority,
  pattern,
} from '../../src/index.js';

// Which kept latest time `pattern` forgets when `maxKeys` are kept: the earliest, the lowest key on a tie
// (strings in order, then the keyless `null`). Seen only through the outputs: a late event of a key whose
// time is still kept counts at that time, one whose time was forgotten counts at its own.

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const WITHIN = 10 * MIN;

/** An event of `key` (`null`: no session) at `minutes`. */
function ev(id: string, type: 'a' | 'b' | 'x', minutes: number, key: string | null): Event {
  return {
    id,
    type,
    timestamp: T0 + minutes * MIN,
    priority: Priority.NORMAL,
    data: {},
    ...(key === null ? {} : { sessionId: key }),
  };
}

/** Matches as `M[ids]`, timeouts as `T[ids]:reason`. */
function label(event: Event): string {
  if (event.type === 'pattern.matched')
    return `M[${(event.data as PatternMatchData).events.map((e) => e.id)}]`;
  const data = event.data as PatternTimeoutData;
  return `T[${data.events.map((e) => e.id)}]:${data.reason}`;
}

/** `pattern([a, b])` within 10 min over `events`, derived events only, as labels. */
function run(events: readonly Event[], maxKeys: number): string[] {
  const out: string[] = [];
  from(events)
    .pipe(
      pattern([(e) => e.type === 'a', (e) => e.type === 'b'], {
        within: WITHIN,
        maxKeys,
        passThrough: false,
      }),
    )
    .subscribe((event) => out.push(label(event)));
  return out;
}

/**
 * The probe of each key, in key order: a late `a` at 40 min, then a `b` at 55 min. The `a` counts at
 * the key's kept time (48 or 50 min) if it is still kept: a match (7 or 5 min). Forgotten, it counts at
 * 40 min: its partial match times out (15 min).
 */
function probes(keys: ReadonlyArray<string | null>): Event[] {
  return [
    ...keys.map((key, i) => ev(`a${i}`, 'a', 40, key)),
    ...keys.map((key, i) => ev(`b${i}`, 'b', 55, key)),
  ];
}

describe('pattern: which kept latest time is forgotten on a tie', () => {
  it('forgets the lowest key of two with the same time, whichever arrived first', () => {
    // K1 and K2 without partial matches, both kept at 50 min; K3 (51 min) finds maxKeys (2) kept: one
    // must go. K1 goes in both orders: K1's late event counts at 40 min, K2's at 50 min.
    const k1 = ev('x1', 'x', 50, 'K1');
    const k2 = ev('x2', 'x', 50, 'K2');
    const rest = [ev('x3', 'x', 51, 'K3'), ...probes(['K1', 'K2'])];
    const expected = ['T[a0]:timeout', 'M[a1,b1]'];
    expect(run([k1, k2, ...rest], 2)).toEqual(expected);
    expect(run([k2, k1, ...rest], 2)).toEqual(expected);
  });

  it('forgets the string key before the keyless one (null) on a tie, whichever arrived first', () => {
    const keyless = ev('x0', 'x', 50, null);
    const k = ev('x1', 'x', 50, 'K');
    const rest = [ev('x2', 'x', 51, 'L'), ...probes([null, 'K'])];
    // K is forgotten: its late event (a1) counts at 40 min; the keyless one's (a0) at 50 min.
    const expected = ['T[a1]:timeout', 'M[a0,b0]'];
    expect(run([keyless, k, ...rest], 2)).toEqual(expected);
    expect(run([k, keyless, ...rest], 2)).toEqual(expected);
  });

  it('may forget the key being kept itself: a tied new key that is the lowest goes, whichever came last', () => {
    // K1, K2 and K0 all at 50 min, maxKeys 2: the lowest, K0, is forgotten in every arrival order (it
    // used to be the lowest of the two kept before the last arrival: K1 when K0 came last).
    const at50 = { K0: ev('x0', 'x', 50, 'K0'), K1: ev('x1', 'x', 50, 'K1'), K2: ev('x2', 'x', 50, 'K2') };
    const expected = ['T[a0]:timeout', 'M[a1,b1]'];
    for (const order of [
      ['K0', 'K1', 'K2'],
      ['K1', 'K2', 'K0'],
      ['K2', 'K0', 'K1'],
    ] as const) {
      expect(run([...order.map((key) => at50[key]), ...probes(['K0', 'K1'])], 2)).toEqual(expected);
    }
  });

  it('forgets a new key earlier than the kept ones, as a replay in timestamp order does', () => {
    // A at 50, B at 51, C at 48 (late), maxKeys 2. In time order (a replay: C, A, B) C is forgotten when
    // B comes; live (A, B, C) C must go too, not A, or A's late event counts at 40 min there only.
    const a = ev('xa', 'x', 50, 'A');
    const b = ev('xb', 'x', 51, 'B');
    const c = ev('xc', 'x', 48, 'C');
    const expected = ['T[a1]:timeout', 'M[a0,b0]'];
    expect(run([c, a, b, ...probes(['A', 'C'])], 2)).toEqual(expected);
    expect(run([a, b, c, ...probes(['A', 'C'])], 2)).toEqual(expected);
  });

  it('forgets the key whose latest time is the earliest, counting each key’s later events', () => {
    // maxKeys 3; D (50 min) pushes one out. A came back at 49 min: B (47) goes.
    const x = (key: string, minutes: number) => ev(`x${key}${minutes}`, 'x', minutes, key);
    expect(
      run([x('A', 46), x('B', 47), x('C', 48), x('A', 49), x('D', 50), ...probes(['A', 'B'])], 3),
    ).toEqual(['T[a1]:timeout', 'M[a0,b0]']);
    // A came back at 47 min, still the earliest: A goes.
    expect(
      run([x('A', 46), x('A', 47), x('B', 48), x('C', 49), x('D', 50), ...probes(['A', 'B'])], 3),
    ).toEqual(['T[a0]:timeout', 'M[a1,b1]']);
  });

  it('keeps through a sweep a key’s later time that still counts', () => {
    // A kept at 39, then 41 min; B at 51 sweeps the kept times more than 10 min behind: not A's 41. A's
    // late a counts at 41 min, and b at 51 is within 10 min of it.
    const events = [ev('x1', 'x', 39, 'A'), ev('x2', 'x', 41, 'A'), ev('x3', 'x', 51, 'B')];
    expect(run([...events, ev('a', 'a', 40, 'A'), ev('b', 'b', 51, 'A')], 10)).toEqual(['M[a,b]']);
  });

  it('gives a key with a partial match no place among the kept latest times', () => {
    // maxKeys 2: A's kept time goes when A starts a partial match, so C's finds room and B's stays kept:
    // B's late a counts at 46 min.
    const events = [
      ev('x1', 'x', 46, 'B'),
      ev('x2', 'x', 47, 'A'),
      ev('aA', 'a', 48, 'A'),
      ev('x3', 'x', 49, 'C'),
    ];
    expect(run([...events, ev('aB', 'a', 40, 'B'), ev('bB', 'b', 55, 'B')], 2)).toEqual([
      'M[aB,bB]',
      'T[aA]:flushed',
    ]);
  });

  it('gives the same outputs whatever the arrival order among equal timestamps (property)', () => {
    // n keys kept at 48 or 50 min (many ties), arriving in time order, equal times in any order (a live
    // run, or a replay merging sessions by timestamp then id). maxKeys = n, so all are kept; then
    // `forget` keys at distinct later times each push one out: the earliest, the lowest key on a tie.
    // (The tied keys are all kept before one goes: the key being kept is never the one forgotten.)
    const scenario = fc
      .record({
        times: fc.array(fc.constantFrom(48, 50), { minLength: 2, maxLength: 6 }),
        keyless: fc.boolean(),
        forget: fc.nat(),
        order: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
      })
      .map(({ times, keyless, forget, order }) => ({
        // Keys named so that their order is not their index order; the last one keyless if `keyless`.
        keys: times.map((_, i) => (keyless && i === times.length - 1 ? null : `K${(i * 7) % 10}-${i}`)),
        times,
        forget: 1 + (forget % (times.length - 1)),
        order,
      }));
    fc.assert(
      fc.property(scenario, ({ keys, times, forget, order }) => {
        const n = keys.length;
        const arrivals = (tieBreak: (i: number) => number) =>
          keys
            .map((key, i) => ({ i, event: ev(`x${i}`, 'x', times[i]!, key) }))
            .sort((p, q) => times[p.i]! - times[q.i]! || tieBreak(p.i) - tieBreak(q.i))
            .map(({ event }) => event);
        const fillers = Array.from({ length: forget }, (_, j) =>
          ev(`f${j}`, 'x', 50 + (j + 1) / 10, `F${j}`),
        );
        const tail = [...fillers, ...probes(keys)];
        const outputs = run([...arrivals((i) => order[i]!), ...tail], n);

        // The same as in index order, and as in reverse index order.
        expect(outputs).toEqual(run([...arrivals((i) => i), ...tail], n));
        expect(outputs).toEqual(run([...arrivals((i) => -i), ...tail], n));

        // The rule itself: the `forget` lowest by (time, key) time out, the others match.
        const rank = (i: number) => [times[i]!, keys[i] === null ? 1 : 0, keys[i] ?? ''] as const;
        const byRule = keys
          .map((_, i) => i)
          .sort((p, q) => {
            const [tp, np, kp] = rank(p);
            const [tq, nq, kq] = rank(q);
            return tp - tq || np - nq || (kp < kq ? -1 : kp > kq ? 1 : 0);
          });
        const forgotten = new Set(byRule.slice(0, forget));
        const expected = keys.map((_, i) => (forgotten.has(i) ? `T[a${i}]:timeout` : `M[a${i},b${i}]`));
        expect([...outputs].sort()).toEqual([...expected].sort());
        expect(outputs).toHaveLength(n);
      }),
      { numRuns: 100 },
    );
  });
});
