import { from, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type Event,
  type PatternMatchData,
  type PatternStep,
  type PatternTimeoutData,
  Priority,
  pattern,
} from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';

// Optional steps, leading ones above all: an optional step that took an event keeps it in the match
// (while the match fits in `within`), and a partial match's deadline runs from its first required event.

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const TEN = { within: 10 * MIN };

/** An event of type `type` (its id's first letter) at `minutes`, in session A. */
function ev(id: string, minutes: number): Event {
  return {
    id,
    type: id[0]!,
    timestamp: T0 + minutes * MIN,
    priority: Priority.NORMAL,
    data: {},
    sessionId: 'A',
  };
}
const is = (type: string) => Object.defineProperty((e: Event) => e.type === type, 'name', { value: type });
const opt = (type: string): PatternStep => ({ match: is(type), optional: true });

/** Matches as `M[ids]`, timeouts as `T[ids]>expected:reason@minute`. */
function label(event: Event): string {
  if (event.type === 'pattern.matched') {
    const data = event.data as PatternMatchData;
    return `M[${data.events.map((e) => e.id)}]@${(event.timestamp - T0) / MIN}`;
  }
  const data = event.data as PatternTimeoutData;
  return `T[${data.events.map((e) => e.id)}]>${data.expected}:${data.reason}@${(event.timestamp - T0) / MIN}`;
}

/** The derived events of `steps` within 10 min over `events`, as labels. */
function derived(steps: readonly PatternStep[], events: readonly Event[], maxKeys?: number): string[] {
  const out: string[] = [];
  from(events)
    .pipe(pattern(steps, { ...TEN, passThrough: false, ...(maxKeys === undefined ? {} : { maxKeys }) }))
    .subscribe((event) => out.push(label(event)));
  return out;
}

/** The data of the only derived event of `steps` over `events`. */
function only(steps: readonly PatternStep[], events: readonly Event[]): PatternMatchData {
  const out: Event[] = [];
  from(events)
    .pipe(pattern(steps, { ...TEN, passThrough: false }))
    .subscribe((event) => out.push(event));
  expect(out).toHaveLength(1);
  return out[0]!.data as PatternMatchData;
}

const LEADING: PatternStep[] = [opt('f'), is('s'), is('p')];

describe('pattern: a leading optional step', () => {
  it(
    'keeps the event it took in the match, while the match fits in `within` (the diagram of docs/pattern.md)',
    marbles((m) => {
      // The partial match that skipped f (it started at s) used to be kept over the one that took f.
      const values = {
        f: ev('f1', 0),
        s: ev('s1', 1),
        p: ev('p1', 2),
        g: ev('f2', 5),
        t: ev('s2', 8),
        q: ev('p2', 16),
      };
      const source = m.cold('  -f--s--p----g----t-----------q---|', values);
      const expected = '       -f--s--(pM)-g----t-----------(qN)|';
      const labelled = source.pipe(
        pattern(LEADING, TEN),
        map((e) => (e.type.startsWith('pattern.') ? label(e) : e.id)),
      );
      m.expect(labelled).toBeObservable(expected, {
        f: 'f1',
        s: 's1',
        p: 'p1',
        M: 'M[f1,s1,p1]@2',
        g: 'f2',
        t: 's2',
        q: 'p2',
        N: 'M[s2,p2]@16',
      });
    }),
  );

  it('takes the latest of several events it accepts', () => {
    expect(derived(LEADING, [ev('f1', 0), ev('f2', 1), ev('s', 2), ev('p', 3)])).toEqual(['M[f2,s,p]@3']);
  });

  it('is skipped when its event never comes', () => {
    expect(derived(LEADING, [ev('s', 0), ev('p', 1)])).toEqual(['M[s,p]@1']);
    expect(derived(LEADING, [ev('s', 0), ev('x', 1), ev('p', 2)])).toEqual(['M[s,p]@2']);
  });

  it('times out alone when no required event comes within `within` of it', () => {
    expect(derived(LEADING, [ev('f', 0), ev('s', 11), ev('p', 12)])).toEqual([
      'T[f]>s:timeout@10',
      'M[s,p]@12',
    ]);
  });

  it('is left out of a match it does not fit in: the deadline runs from the first required event', () => {
    // p is 12 min after f, 7 after s: the match is [s, p] (it fits in 10 min); f is dropped, not the match.
    expect(derived(LEADING, [ev('f', 0), ev('s', 5), ev('p', 12)])).toEqual(['M[s,p]@12']);
    // Within 10 min of f: kept.
    expect(derived(LEADING, [ev('f', 0), ev('s', 5), ev('p', 10)])).toEqual(['M[f,s,p]@10']);
  });

  it('is in the timeout of the partial match it started, due `within` after the first required event', () => {
    const out: Event[] = [];
    from([ev('f', 0), ev('s', 5), ev('x', 16)])
      .pipe(pattern(LEADING, { ...TEN, passThrough: false }))
      .subscribe((event) => out.push(event));
    expect(out.map(label)).toEqual(['T[f,s]>p:timeout@15']);
    expect(out[0]!.data).toMatchObject({ deadline: T0 + 15 * MIN, window: { start: T0, end: T0 + 5 * MIN } });
  });

  it('gives way to a partial match with a later first required event, which keeps its own', () => {
    // Overlapping: [f1, s1] and [f2, s2] wait for p; the later (s2) is kept, with f2.
    const events = [ev('f1', 0), ev('s1', 1), ev('f2', 2), ev('s2', 3), ev('p', 4)];
    expect(derived(LEADING, events)).toEqual(['M[f2,s2,p]@4']);
    // Matches one after the other each keep theirs.
    const twice = [ev('f1', 0), ev('s1', 1), ev('p1', 2), ev('f2', 3), ev('s2', 4), ev('p2', 5)];
    expect(derived(LEADING, twice)).toEqual(['M[f1,s1,p1]@2', 'M[f2,s2,p2]@5']);
  });

  it('is kept before a notFollowedBy between required steps, and broken by it alike', () => {
    const steps: PatternStep[] = [opt('f'), is('s'), { notFollowedBy: is('x') }, is('p')];
    expect(derived(steps, [ev('f', 0), ev('s', 1), ev('p', 2)])).toEqual(['M[f,s,p]@2']);
    expect(derived(steps, [ev('f', 0), ev('s', 1), ev('x', 2), ev('p', 3)])).toEqual([]);
  });

  it('is in the match of a trailing notFollowedBy, which waits out `within` from the first required event', () => {
    const steps: PatternStep[] = [opt('f'), is('s'), { notFollowedBy: is('x') }];
    expect(derived(steps, [ev('f', 0), ev('s', 5), ev('y', 16)])).toEqual(['M[f,s]@15']);
    // An x 12 min after f but within 10 of s breaks it.
    expect(derived(steps, [ev('f', 0), ev('s', 5), ev('x', 12), ev('y', 16)])).toEqual([]);
  });
});

describe('pattern: two optional steps in a row', () => {
  const steps: PatternStep[] = [opt('a'), opt('b'), is('s'), is('p')];

  it('keeps both leading events when both came, or the one that came', () => {
    expect(derived(steps, [ev('a', 0), ev('b', 1), ev('s', 2), ev('p', 3)])).toEqual(['M[a,b,s,p]@3']);
    expect(derived(steps, [ev('a', 0), ev('s', 2), ev('p', 3)])).toEqual(['M[a,s,p]@3']);
    expect(derived(steps, [ev('b', 1), ev('s', 2), ev('p', 3)])).toEqual(['M[b,s,p]@3']);
  });

  it('drops the leading events that no longer fit in `within`, earliest first', () => {
    // a at 0, b at 5, s at 12 (within 10 of b), p at 13: a does not fit.
    expect(derived(steps, [ev('a', 0), ev('b', 5), ev('s', 12), ev('p', 13)])).toEqual(['M[b,s,p]@13']);
    // The steps named are those of the events kept, and the window starts at the first of them.
    expect(only(steps, [ev('a', 0), ev('b', 5), ev('s', 12), ev('p', 13)])).toMatchObject({
      steps: ['b', 's', 'p'],
      window: { start: T0 + 5 * MIN, end: T0 + 13 * MIN },
    });
  });

  it('counts the deadline from the first required event also after dropping leading events', () => {
    // Three leading steps: c (11 min) drops a (0) from [a, b]; s at 12 then sets the deadline (22): p at
    // 22 completes the match (c and b no longer fit), where a deadline from c (21) would have ended it.
    const three: PatternStep[] = [opt('a'), opt('b'), opt('c'), is('s'), is('p')];
    const events = [ev('a', 0), ev('b', 5), ev('c', 11), ev('s', 12), ev('p', 22)];
    expect(derived(three, events)).toEqual(['M[s,p]@22']);
    // p at 13: b still fits (and c): kept, a not.
    const sooner = [ev('a', 0), ev('b', 5), ev('c', 11), ev('s', 12), ev('p', 13)];
    expect(derived(three, sooner)).toEqual(['M[b,c,s,p]@13']);
  });

  it('prefers the later leading events, compared from the last back', () => {
    // [a, b1] and [b2] wait for s: b2 is later. (a's partial match took b1, the first b after it.)
    expect(derived(steps, [ev('a', 0), ev('b1', 1), ev('b2', 2), ev('s', 3), ev('p', 4)])).toEqual([
      'M[b2,s,p]@4',
    ]);
    // b at 0, then a at 1: [b, s] and [a, s] (b skipped: it came before a) both take s; a is later.
    expect(derived(steps, [ev('b', 0), ev('a', 1), ev('s', 2), ev('p', 3)])).toEqual(['M[a,s,p]@3']);
  });

  it('prefers the later last leading event to more leading events that may not fit', () => {
    // Three leading optional steps. At d, [a, c] and [b] (c skipped) both take it: b (6 min) is later
    // than c (5 min), though [a, c] has more; e at 11 min would leave a out of the match anyway.
    const three: PatternStep[] = [opt('a'), opt('b'), opt('c'), is('d'), is('e')];
    const events = [ev('a', 0), ev('c', 5), ev('b', 6), ev('d', 7), ev('e', 11)];
    expect(derived(three, events)).toEqual(['M[b,d,e]@11']);
    // e at 8, where [a, c, d, e] would fit: b still.
    const sooner = [ev('a', 0), ev('c', 5), ev('b', 6), ev('d', 7), ev('e', 8)];
    expect(derived(three, sooner)).toEqual(['M[b,d,e]@8']);
  });

  it('in the middle: each is taken when its event comes', () => {
    const middle: PatternStep[] = [is('s'), opt('a'), opt('b'), is('p')];
    expect(derived(middle, [ev('s', 0), ev('a', 1), ev('b', 2), ev('p', 3)])).toEqual(['M[s,a,b,p]@3']);
    expect(derived(middle, [ev('s', 0), ev('b', 2), ev('p', 3)])).toEqual(['M[s,b,p]@3']);
    expect(derived(middle, [ev('s', 0), ev('p', 3)])).toEqual(['M[s,p]@3']);
  });
});

describe('pattern: an optional step between required ones', () => {
  const steps: PatternStep[] = [is('s'), opt('f'), is('p')];

  it('is taken when its event comes, skipped when it never does', () => {
    expect(derived(steps, [ev('s', 0), ev('f', 1), ev('p', 2)])).toEqual(['M[s,f,p]@2']);
    expect(derived(steps, [ev('s', 0), ev('p', 2)])).toEqual(['M[s,p]@2']);
    // Its wait ends at s + within; expected names the required step after it.
    expect(derived(steps, [ev('s', 0), ev('x', 11)])).toEqual(['T[s]>p:timeout@10']);
  });

  it('completes the partial match further along when one event completes two', () => {
    // [s1, f] and [s2] both complete at p: the one that took f is the match.
    expect(derived(steps, [ev('s1', 0), ev('f', 1), ev('s2', 2), ev('p', 3)])).toEqual(['M[s1,f,p]@3']);
  });

  it('before the last step: the later first event is kept when two take it', () => {
    const last: PatternStep[] = [is('a'), is('b'), opt('f'), is('p')];
    // [a1, b1, f] and [a2, b2] (which skips f) would both wait for p after f2: a2 is later.
    const events = [ev('a1', 0), ev('b1', 1), ev('f1', 2), ev('a2', 3), ev('b2', 4), ev('f2', 5), ev('p', 6)];
    expect(derived(last, events)).toEqual(['M[a2,b2,f2,p]@6']);
  });
});

describe('pattern: ties and bounds', () => {
  it('keeps the newer of two partial matches alike in every respect (events at one time)', () => {
    // a1 and a2 at the same minute wait for b: the newer, a2, is kept.
    expect(derived([is('a'), is('b')], [ev('a1', 0), ev('a2', 0), ev('b', 1)])).toEqual(['M[a2,b]@1']);
  });

  it("ends one key's partial matches due at the same deadline by step", () => {
    // [s1] waits at step 2 (f, or p), [s0, f] at step 3 (p): both started at 0, both end at 10 min.
    const steps: PatternStep[] = [is('s'), opt('f'), is('p')];
    expect(derived(steps, [ev('s0', 0), ev('f', 0), ev('s1', 0), ev('x', 11)])).toEqual([
      'T[s1]>p:timeout@10',
      'T[s0,f]>p:timeout@10',
    ]);
  });

  it('drops a key whose advanced partial match a negation broke: it takes no place among maxKeys', () => {
    const steps: PatternStep[] = [is('a'), is('b'), { notFollowedBy: is('x') }, is('c')];
    const at = (id: string, minutes: number, sessionId: string): Event => ({ ...ev(id, minutes), sessionId });
    // maxKeys 2: B waits; A's [a, b] is broken by x (A has no partial match left); C finds room.
    const events = [at('aB', 0, 'B'), at('aA', 1, 'A'), at('bA', 2, 'A'), at('xA', 3, 'A'), at('aC', 4, 'C')];
    expect(derived(steps, events, 2)).toEqual(['T[aB]>b:flushed@0', 'T[aC]>b:flushed@4']);
  });
});
