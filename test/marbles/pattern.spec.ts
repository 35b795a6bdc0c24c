import fc from 'fast-check';
import { from, map, mergeMap, Observable, of, Subject, take, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  type Event,
  type PatternErrorData,
  type PatternEvent,
  type PatternMatchData,
  type PatternOptions,
  type PatternStep,
  type PatternTimeoutData,
  Priority,
  pattern,
} from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';
import { unhandledRejections } from '../helpers/unhandled.js';

const T0 = 1_800_000_000_000;
const MIN = 60_000;

function ev(
  id: string,
  type: string,
  minutes: number,
  data: Record<string, unknown> = {},
  sessionId?: string,
): Event {
  return {
    id,
    type,
    timestamp: T0 + minutes * MIN,
    priority: Priority.NORMAL,
    data,
    ...(sessionId === undefined ? { sessionId: 'A' } : sessionId === '' ? {} : { sessionId }),
  };
}
const testEdit = (id: string, at: number, session?: string) =>
  ev(id, 'file.modified', at, { file_path: '/r/cart.test.ts' }, session);
const sourceEdit = (id: string, at: number, session?: string) =>
  ev(id, 'file.modified', at, { file_path: '/r/cart.ts' }, session);
const testRun = (id: string, at: number, passed: boolean, session?: string) =>
  ev(id, 'test.run', at, { passed }, session);
const other = (id: string, at: number, session?: string) => ev(id, 'tool.used', at, {}, session);

const isTestEdit = (e: Event) => e.type === 'file.modified' && String(e.data.file_path).includes('.test.');
const isSourceEdit = (e: Event) => e.type === 'file.modified' && !String(e.data.file_path).includes('.test.');
const isPassingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === true;
const isFailingTestRun = (e: Event) => e.type === 'test.run' && e.data.passed === false;

const TDD: PatternStep[] = [isTestEdit, isSourceEdit, isPassingTestRun];
const TEN = { within: 10 * MIN };

/** Inputs read as their id; matches as `M[ids]`, timeouts as `T[ids]>expected:reason`, errors as `E:step`. */
function label(event: Event): string {
  if (event.type === 'pattern.matched') {
    return `M[${(event.data as PatternMatchData).events.map((e) => e.id)}]`;
  }
  if (event.type === 'pattern.timeout') {
    const data = event.data as PatternTimeoutData;
    return `T[${data.events.map((e) => e.id)}]>${data.expected}:${data.reason}`;
  }
  if (event.type === 'pattern.error') return `E:${(event.data as PatternErrorData).step}`;
  return event.id;
}

function run(events: readonly Event[], steps: readonly PatternStep[] = TDD, options: PatternOptions = TEN) {
  const out: Event[] = [];
  from(events)
    .pipe(pattern(steps, options))
    .subscribe((event) => out.push(event));
  return out;
}
const labels = (events: readonly Event[], steps?: readonly PatternStep[], options?: PatternOptions) =>
  run(events, steps, options).map(label);

/** What `fn` returns, and how many entries were visited by iterating Maps (`for … of map`) meanwhile. */
function countMapVisits<R>(fn: () => R): { result: R; visits: number } {
  const iterate = Map.prototype[Symbol.iterator];
  let visits = 0;
  Map.prototype[Symbol.iterator] = function (this: Map<unknown, unknown>) {
    const inner = iterate.call(this);
    return {
      next: () => {
        visits++;
        return inner.next();
      },
      [Symbol.iterator]() {
        return this;
      },
    } as MapIterator<[unknown, unknown]>;
  };
  try {
    return { result: fn(), visits };
  } finally {
    Map.prototype[Symbol.iterator] = iterate;
  }
}

describe('pattern: the standard cases', () => {
  it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
    let pulled = 0;
    // Long, not endless: read to its end (the bug), the test fails rather than hangs.
    function* events(): Generator<Event> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield testEdit(`t${i}`, i);
      }
    }
    const seen: string[] = [];
    from(events())
      .pipe(pattern(TDD, TEN), take(1))
      .subscribe((event) => seen.push(label(event)));
    expect(seen).toEqual(['t0']);
    expect(pulled).toBe(1);
  });

  it(
    'passes events through and emits one match after the event that completes it',
    marbles((m) => {
      const values = {
        t: testEdit('t', 0),
        x: other('x', 1),
        s: sourceEdit('s', 2),
        p: testRun('p', 3, true),
      };
      const source = m.cold('  -t-x-s-p---|', values);
      const subs = '           ^----------!';
      const expected = '       -t-x-s-(pM)|';
      m.expect(source.pipe(pattern(TDD, TEN), map(label))).toBeObservable(expected, {
        t: 't',
        x: 'x',
        s: 's',
        p: 'p',
        M: 'M[t,s,p]',
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'follows the diagram of docs/pattern.md and the JSDoc: a match, then a timeout stamped at its deadline, found by y',
    marbles((m) => {
      const values = {
        t: testEdit('t1', 0),
        x: other('x', 1),
        s: sourceEdit('s1', 2),
        p: testRun('p1', 3, true),
        u: testEdit('t2', 20),
        v: sourceEdit('s2', 21),
        y: other('y', 40),
      };
      const source = m.cold('  -t--x--s----p----------u-----v--------------y---|', values);
      const expected = '       -t--x--s----(pM)-------u-----v--------------(Ty)|';
      const show = (event: Event) => {
        const at = (time: number) => (time - T0) / MIN;
        if (event.type === 'pattern.matched') {
          const data = event.data as PatternMatchData;
          return `${label(event)} ${at(data.window.start)}-${at(data.window.end)}`;
        }
        if (event.type === 'pattern.timeout') {
          const data = event.data as PatternTimeoutData;
          return `${label(event)} @${at(event.timestamp)} deadline ${at(data.deadline)}`;
        }
        return event.id;
      };
      const steps = [isTestEdit, isSourceEdit, isPassingTestRun];
      m.expect(
        source.pipe(pattern(steps, { ...TEN, key: (e) => e.sessionId, name: 'tdd' }), map(show)),
      ).toBeObservable(expected, {
        t: 't1',
        x: 'x',
        s: 's1',
        p: 'p1',
        M: 'M[t1,s1,p1] 0-3',
        u: 't2',
        v: 's2',
        y: 'y',
        T: 'T[t2,s2]>isPassingTestRun:timeout @30 deadline 30',
      });
    }),
  );

  it(
    'completes when empty',
    marbles((m) => {
      const source = m.cold<Event>('|');
      const subs = '                (^!)';
      m.expect(source.pipe(pattern(TDD, TEN))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never emits from never, with or without the live clock',
    marbles((m) => {
      const source = m.cold<Event>('-');
      const subs = ['               ^', '^'];
      m.expect(source.pipe(pattern(TDD, TEN))).toBeObservable('-');
      m.expect(source.pipe(pattern(TDD, { ...TEN, liveClock: true, scheduler: m.scheduler }))).toBeObservable(
        '-',
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'gives up partial matches as flushed timeouts, then forwards a source error',
    marbles((m) => {
      const source = m.cold('  -t-s-#', { t: testEdit('t', 0), s: sourceEdit('s', 1) }, new Error('boom'));
      const subs = '           ^----!';
      const expected = '       -t-s-(T#)';
      m.expect(source.pipe(pattern(TDD, TEN), map(label))).toBeObservable(
        expected,
        { t: 't', s: 's', T: 'T[t,s]>isPassingTestRun:flushed' },
        new Error('boom'),
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'unsubscribes from the source on early unsubscribe',
    marbles((m) => {
      const values = { t: testEdit('t', 0), s: sourceEdit('s', 1), p: testRun('p', 2, true) };
      const source = m.hot('   -t-s-p-|', values);
      const subs = '           ^---!';
      const unsub = '          ----!';
      m.expect(source.pipe(pattern(TDD, TEN), map(label)), unsub).toBeObservable('-t-s-', { t: 't', s: 's' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const values = { t: testEdit('t', 0), s: sourceEdit('s', 1), p: testRun('p', 2, true) };
      const source = m.hot('   -t-s-p-|', values);
      const subs = '           ^---!';
      const unsub = '          ----!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        pattern(TDD, TEN),
        mergeMap((x) => of(label(x))),
      );
      m.expect(result, unsub).toBeObservable('-t-s-', { t: 't', s: 's' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it('handles re-entrant pushes in order: an input, then its match, then the pushed event', () => {
    const input = new Subject<Event>();
    const seen: string[] = [];
    input.pipe(pattern(TDD, TEN)).subscribe((event) => {
      seen.push(label(event));
      if (event.type === 'pattern.matched') input.next(testEdit('t2', 4));
      if (event.id === 'p') input.next(other('inner', 3));
    });
    for (const event of [testEdit('t', 0), sourceEdit('s', 1), testRun('p', 3, true)]) input.next(event);
    input.complete();
    expect(seen).toEqual(['t', 's', 'p', 'M[t,s,p]', 'inner', 't2', 'T[t2]>isSourceEdit:flushed']);
  });

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const operator = pattern(TDD, { ...TEN, passThrough: false, timeouts: false });
      const values = { t: testEdit('t', 0), s: sourceEdit('s', 1), p: testRun('p', 2, true) };
      expectObservable(cold('ts|', values).pipe(operator, map(label))).toBe('--|');
      // The second source starts afresh: its pass alone completes nothing.
      expectObservable(cold('p|', values).pipe(operator, map(label))).toBe('-|');
      expectObservable(cold('tsp|', values).pipe(operator, map(label))).toBe('--M|', { M: 'M[t,s,p]' });
    });
  });
});

describe('pattern: configuration', () => {
  it('types its output as the input events plus its own', () => {
    expectTypeOf(of(testEdit('t', 0)).pipe(pattern(TDD, TEN))).toEqualTypeOf<
      Observable<Event | PatternEvent>
    >();
  });

  it('accepts predicates, step objects and every option', () => {
    expect(() =>
      pattern(
        [
          isTestEdit,
          { match: isSourceEdit, optional: true, name: 'src' },
          isSourceEdit,
          { notFollowedBy: isFailingTestRun },
          isPassingTestRun,
        ],
        {
          within: 1,
          key: (e) => e.sessionId,
          name: 'tdd',
          passThrough: false,
          timeouts: false,
          maxKeys: 1,
          liveClock: true,
          scheduler: new TestScheduler(() => {}),
        },
      ),
    ).not.toThrow();
  });

  it('names the argument when it is the wrong thing as a whole', () => {
    expect(() => pattern({ withinMs: 10 } as never, TEN)).toThrow(
      'pattern: steps (the first argument) must be a non-empty array of steps, got { withinMs: 10 }: the first argument is the steps (an array, one step too: [step]); the options ({ within }) go second',
    );
    expect(() => pattern([isTestEdit, isSourceEdit], undefined as never)).toThrow(
      'pattern: the options must be an object, got undefined',
    );
  });

  it('rejects steps and options of the wrong shape with a ConfigError', () => {
    expect(() => pattern([], TEN)).toThrow(ConfigError);
    expect(() => pattern(['x' as never], TEN)).toThrow(ConfigError);
    expect(() => pattern([{ match: isTestEdit, notFollowedBy: isSourceEdit } as never], TEN)).toThrow(
      ConfigError,
    );
    expect(() => pattern([{ notFollowedBy: isTestEdit }, isSourceEdit], TEN)).toThrow(
      /cannot start with notFollowedBy/,
    );
    expect(() => pattern([isTestEdit, { match: isSourceEdit, optional: true }], TEN)).toThrow(
      /last step cannot be optional/,
    );
    expect(() =>
      pattern(
        [isTestEdit, { match: isSourceEdit, optional: true }, { notFollowedBy: isFailingTestRun }],
        TEN,
      ),
    ).toThrow(ConfigError);
    expect(() =>
      pattern(
        [
          isTestEdit,
          { match: isSourceEdit, optional: true },
          { notFollowedBy: isFailingTestRun },
          isPassingTestRun,
        ],
        TEN,
      ),
    ).toThrow(/next to an optional step/);
    expect(() => pattern(TDD, {} as never)).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: 1, key: 'sessionId' as never })).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: 1, keys: () => 'x' } as never)).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: 1, scheduler: {} as never })).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: 1, scheduler: null as never })).toThrow(ConfigError);
  });

  it('says what is wrong with a step of the wrong shape: the field, not only the index', () => {
    const message = (steps: unknown[]) => {
      try {
        pattern(steps as PatternStep[], TEN);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message.replace('pattern: ', '');
      }
      throw new Error('accepted');
    };
    expect(message([isTestEdit, { match: isSourceEdit, optinal: true }])).toBe(
      'steps[1]: unknown field "optinal" (did you mean "optional"?); known: name, match, optional',
    );
    expect(message([isTestEdit, { match: 'isSourceEdit' }])).toBe(
      "steps[1] match must be a function (event) => boolean, got 'isSourceEdit'",
    );
    expect(message([isTestEdit, { notFollowedBy: isSourceEdit, name: '' }])).toBe(
      "steps[1] name must be a non-empty string, got ''",
    );
    expect(message([{ match: isTestEdit, optional: 'yes' }, isSourceEdit])).toBe(
      "steps[0] optional must be a boolean, got 'yes'",
    );
    // Both shapes at once: the notFollowedBy step has no `match`. The order rules are not checked on a
    // step of no known shape (first, it would read as a pattern starting with notFollowedBy).
    expect(message([isTestEdit, { match: isSourceEdit, notFollowedBy: isTestEdit }])).toBe(
      'steps[1]: unknown field "match"; known: name, notFollowedBy',
    );
    expect(message([{ match: isTestEdit, notFollowedBy: isSourceEdit }, isPassingTestRun])).toBe(
      'steps[0]: unknown field "match"; known: name, notFollowedBy',
    );
    // Neither a function nor an object (a predicate's name given as a string, say): the three shapes.
    const shapes =
      'must be a function (event) => boolean, { match, name?, optional? } or { notFollowedBy, name? }';
    expect(message([isTestEdit, null])).toBe(`steps[1] ${shapes}, got null`);
    expect(message(['isTestEdit', isSourceEdit])).toBe(`steps[0] ${shapes}, got 'isTestEdit'`);
    const thrown = (() => {
      try {
        pattern([isTestEdit, 7 as never], TEN);
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error('accepted');
    })();
    const { issues } = thrown.cause as { issues: Array<{ code: string; path: unknown[] }> };
    expect(issues.map(({ code, path }) => ({ code, path }))).toEqual([{ code: 'custom', path: [1] }]);
  });

  it('says what is wrong with a key function or a scheduler of the wrong type', () => {
    expect(() => pattern(TDD, { within: 1, key: 'sessionId' as never })).toThrow(
      "pattern: key must be a function (event) => key, got 'sessionId'",
    );
    expect(() => pattern(TDD, { within: 1, scheduler: {} as never })).toThrow(
      'pattern: scheduler must be a SchedulerLike (now() and schedule()), got {}',
    );
  });

  it('points a misplaced step out by its index', () => {
    const issues = (steps: PatternStep[]) => {
      try {
        pattern(steps, TEN);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        const { issues } = (error as ConfigError).cause as {
          issues: Array<{ code: string; path: unknown[] }>;
        };
        return issues.map(({ code, path }) => ({ code, path }));
      }
      throw new Error('accepted');
    };
    expect(issues([{ notFollowedBy: isTestEdit }, isSourceEdit])).toEqual([{ code: 'custom', path: [0] }]);
    expect(issues([isTestEdit, isSourceEdit, { match: isPassingTestRun, optional: true }])).toEqual([
      { code: 'custom', path: [2] },
    ]);
    // An optional step after a notFollowedBy, as well as before it.
    expect(
      issues([
        isTestEdit,
        { notFollowedBy: isFailingTestRun },
        { match: isSourceEdit, optional: true },
        isPassingTestRun,
      ]),
    ).toEqual([{ code: 'custom', path: [1] }]);
    // The last required step is the last step that is not a notFollowedBy: an optional one before a
    // trailing notFollowedBy is both the last (optional) step and next to the notFollowedBy.
    expect(
      issues([isTestEdit, { match: isSourceEdit, optional: true }, { notFollowedBy: isFailingTestRun }]),
    ).toEqual([
      { code: 'custom', path: [1] },
      { code: 'custom', path: [2] },
    ]);
  });

  it('rejects values out of range with a ConfigError', () => {
    expect(() => pattern(TDD, { within: 0 })).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: Number.POSITIVE_INFINITY })).toThrow(ConfigError);
    expect(() => pattern(TDD, { within: 1, maxKeys: 0 })).toThrow(ConfigError);
  });
});

describe('pattern: matching', () => {
  it('emits one match with the matched events, step names, window and session', () => {
    const out = run([
      testEdit('t', 0),
      other('x', 1),
      sourceEdit('s', 2),
      testRun('f', 3, false),
      testRun('p', 4, true),
    ]);
    const match = out.find((e) => e.type === 'pattern.matched')!;
    expect(match.timestamp).toBe(T0 + 4 * MIN);
    expect(match.sessionId).toBe('A');
    expect(match.priority).toBe(Priority.NORMAL);
    const data = match.data as PatternMatchData;
    expect(data.events).toEqual([out[0], out[2], out[4]]);
    expect({ ...data, events: undefined }).toStrictEqual({
      pattern: 'pattern',
      key: 'A',
      events: undefined,
      steps: ['isTestEdit', 'isSourceEdit', 'isPassingTestRun'],
      window: { start: T0, end: T0 + 4 * MIN },
    });
  });

  it('needs the steps in order', () => {
    expect(
      labels([sourceEdit('s', 0), testEdit('t', 1), testRun('p', 2, true)], TDD, { ...TEN, timeouts: false }),
    ).toEqual(['s', 't', 'p']);
  });

  it('matches within `within` only, and reports the partial match that timed out at its deadline', () => {
    const out = run([testEdit('t', 0), sourceEdit('s', 5), testRun('p', 10.5, true), other('x', 30)]);
    expect(out.map(label)).toEqual(['t', 's', 'T[t,s]>isPassingTestRun:timeout', 'p', 'x']);
    const timeout = out[2]!;
    expect(timeout.timestamp).toBe(T0 + 10 * MIN);
    expect(timeout.data).toMatchObject({
      deadline: T0 + 10 * MIN,
      window: { start: T0, end: T0 + 5 * MIN },
      steps: ['isTestEdit', 'isSourceEdit'],
    });
    // Exactly at the deadline still matches.
    expect(labels([testEdit('t', 0), sourceEdit('s', 5), testRun('p', 10, true)])).toContain('M[t,s,p]');
  });

  it('finds timeouts of other keys as event time moves on, and flushes the rest on complete', () => {
    expect(labels([testEdit('a', 0, 'A'), testEdit('b', 5, 'B'), other('c', 12, 'C')])).toEqual([
      'a',
      'b',
      'T[a]>isSourceEdit:timeout',
      'c',
      'T[b]>isSourceEdit:flushed',
    ]);
  });

  it('ends what the watermark decided before the first event after the deadline, whatever came just before', () => {
    // within 10 min. x at 9 finds A's partial match (from 0) before its deadline (10); the next event,
    // y, finds it past, however soon after x it comes (as the live clock's tick at 10.x or y's own sweep
    // would end it, whichever first: before y).
    const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun, name: 'green' }];
    const quiet = (first: Event, last = 11) => [first, other('x', 9, 'B'), other('y', last, 'B')];
    expect(labels(quiet(testRun('f', 0, false, 'A')), red)).toEqual(['f', 'x', 'M[f]', 'y']);
    expect(labels(quiet(testEdit('t', 0, 'A')))).toEqual(['t', 'x', 'T[t]>isSourceEdit:timeout', 'y']);
    expect(labels(quiet(testRun('f', 0, false, 'A'), 11.6), red)).toEqual(['f', 'x', 'M[f]', 'y']);
    // At its deadline exactly it has not passed yet: the flush ends it.
    expect(labels(quiet(testEdit('t', 0, 'A'), 10))).toEqual(['t', 'x', 'y', 'T[t]>isSourceEdit:flushed']);
  });

  it('times out by another key’s later event delivered first what a replay in time order matches', () => {
    // docs/pattern.md#semantics: the store keeps each session's order, not the order across sessions, so
    // a replay merged in timestamp order cannot reproduce this live run.
    const at = (id: string, type: string, ms: number, key: string) => ({
      ...ev(id, type, 0, {}, key),
      timestamp: ms,
    });
    const is = (type: string) => (e: Event) => e.type === type;
    const live = [at('a1', 'x', 40, 'A'), at('b1', 'z', 120, 'B'), at('a2', 'y', 100, 'A')];
    const replayed = [...live].sort((x, y) => x.timestamp - y.timestamp);
    expect(labels(live, [is('x'), is('y')], { within: 65 })).toEqual([
      'a1',
      'T[a1]>step 2:timeout',
      'b1',
      'a2',
    ]);
    expect(labels(replayed, [is('x'), is('y')], { within: 65 })).toEqual(['a1', 'a2', 'M[a1,a2]', 'b1']);
  });

  it("ends on complete, as a sweep, a partial match that started past its deadline (a new key's late event)", () => {
    // x moves event time to 100; t (key C, new: no latest time) starts a partial match at 5, its deadline
    // (15) long passed, and no later event sweeps. The flush still ends it as the watermark decides: a
    // timeout at its deadline (a trailing negation: a match), not `flushed` at its last event.
    const late = (first: Event, steps?: PatternStep[]) => {
      const outs = run([other('x', 100, 'A'), first], steps);
      return outs.map((e) => `${label(e)}@${(e.timestamp - T0) / MIN}`);
    };
    expect(late(testEdit('t', 5, 'C'))).toEqual(['x@100', 't@5', 'T[t]>isSourceEdit:timeout@15']);
    const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun, name: 'green' }];
    expect(late(testRun('f', 5, false, 'C'), red)).toEqual(['x@100', 'f@5', 'M[f]@15']);
  });

  it("keeps a later partial match due when a negation dropped the key's earliest one", () => {
    // within 10 min. t1, s wait at `no red` (due at 10); t2 waits for a source edit (from 3). f drops the
    // first, not the second: the key's due time (10) is then before any deadline left. x at 11 finds
    // nothing past it and puts the key back due at 13; y at 14 finds t2's partial match past it.
    const steps: PatternStep[] = [
      isTestEdit,
      isSourceEdit,
      { notFollowedBy: isFailingTestRun, name: 'no red' },
      isPassingTestRun,
    ];
    const events = [
      testEdit('t1', 0, 'A'),
      sourceEdit('s', 1, 'A'),
      testEdit('t2', 3, 'A'),
      testRun('f', 4, false, 'A'),
      other('x', 11, 'B'),
      other('y', 14, 'B'),
    ];
    expect(labels(events, steps)).toEqual(['t1', 's', 't2', 'f', 'x', 'T[t2]>isSourceEdit:timeout', 'y']);
  });

  it("ends a key's due partial match and keeps its later one due, to end before the first event after it", () => {
    // within 10 min. A waits for a passing run (t1, s from 0) and for a source edit (t2 from 5). x at 11
    // finds only the first past its deadline (10): the key keeps the second, due at 15, which y at 16
    // then finds past (not the flush: x and y are another key's).
    const events = [
      testEdit('t1', 0, 'A'),
      sourceEdit('s', 2, 'A'),
      testEdit('t2', 5, 'A'),
      other('x', 11, 'B'),
      other('y', 16, 'B'),
    ];
    expect(labels(events)).toEqual([
      ...['t1', 's', 't2', 'T[t1,s]>isPassingTestRun:timeout', 'x'],
      ...['T[t2]>isSourceEdit:timeout', 'y'],
    ]);
  });

  it('emits the timeouts a jump in event time finds in deadline order across keys, ties by key, as live', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    // B is tracked first, but its partial match restarts at 2 (deadline 12); A's deadline is 11; D and C
    // (tracked in that order) tie at 10.
    const events = [
      ev('b1', 'a', 0, {}, 'B'),
      ev('d1', 'a', 0, {}, 'D'),
      ev('c1', 'a', 0, {}, 'C'),
      ev('a1', 'a', 1, {}, 'A'),
      ev('b2', 'a', 2, {}, 'B'),
      ev('x', 'x', 30, {}, 'X'), // one sweep finds them all timed out
    ];
    const expected = [
      'T[c1]>step 2:timeout',
      'T[d1]>step 2:timeout',
      'T[a1]>step 2:timeout',
      'T[b2]>step 2:timeout',
    ];
    const timeouts = (out: readonly Event[]) => out.filter((e) => e.type === 'pattern.timeout').map(label);
    expect(timeouts(run(events, steps, { ...TEN, passThrough: false }))).toEqual(expected);
    // Live, on the scheduler's clock (timestamps from it): sweeps every 2.5 min.
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: Event[] = [];
    input
      .pipe(pattern(steps, { ...TEN, passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => live.push(e));
    for (const e of events) {
      const at = e.timestamp - T0;
      scheduler.schedule(() => input.next({ ...e, timestamp: at }), at);
    }
    scheduler.schedule(() => input.complete(), 30 * MIN);
    scheduler.flush();
    expect(timeouts(live)).toEqual(expected);
  });

  it("ends a key's partial match past its deadline before the key's next event, a late one too", () => {
    // a (late, at 0 min once event time is at 20) starts a partial match already past its deadline; b,
    // late as well, counts at 12 min: more than `within` after a.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [ev('x', 'x', 20, {}, 'X'), ev('a', 'a', 0), ev('b', 'b', 12)];
    expect(labels(events, steps)).toEqual(['x', 'a', 'T[a]>step 2:timeout', 'b']);
  });

  it('ends a partial match started past its deadline at the next newer timestamp, not at one equal to the newest', () => {
    // a (late) starts a partial match whose deadline (10 min) event time (20 min) has passed: the
    // events at 20 min (one of them a new key) do not advance event time, z at 21 min does.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [
      ev('x', 'x', 20, {}, 'X'),
      ev('a', 'a', 0),
      ev('aB', 'a', 20, {}, 'B'),
      ev('y', 'x', 20, {}, 'Y'),
      ev('z', 'x', 21, {}, 'Z'),
    ];
    expect(labels(events, steps)).toEqual([
      ...['x', 'a', 'aB', 'y', 'T[a]>step 2:timeout', 'z'],
      'T[aB]>step 2:flushed',
    ]);
  });

  it('counts an event without a valid timestamp at its key’s latest time, else at the newest timestamp seen', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [
      ev('x', 'x', 10, {}, 'X'),
      { ...ev('a', 'a', 0), timestamp: Number.NaN },
      ev('b', 'b', 15),
    ];
    const out = run(events, steps, { ...TEN, passThrough: false });
    expect(out.map(label)).toEqual(['M[a,b]']);
    expect(out[0]!.data).toMatchObject({ window: { start: T0 + 10 * MIN, end: T0 + 15 * MIN } });
  });

  it('keeps keys apart', () => {
    const events = [
      testEdit('a1', 0, 'A'),
      sourceEdit('b1', 1, 'B'),
      sourceEdit('a2', 2, 'A'),
      testEdit('b2', 3, 'B'),
    ];
    events.push(testRun('b3', 4, true, 'B'), testRun('a3', 5, true, 'A'));
    const out = run(events, TDD, { ...TEN, timeouts: false });
    expect(out.map(label)).toEqual(['a1', 'b1', 'a2', 'b2', 'b3', 'a3', 'M[a1,a2,a3]']);
    expect(out.at(-1)!.data).toMatchObject({ key: 'A' });
  });

  it('matches by a custom key', () => {
    const byFile = { ...TEN, key: (e: Event) => e.data.file_path };
    const edits = [
      ev('a', 'file.created', 0, { file_path: '/x' }),
      ev('b', 'file.created', 1, { file_path: '/y' }),
    ];
    edits.push(
      ev('c', 'file.modified', 2, { file_path: '/y' }),
      ev('d', 'file.modified', 3, { file_path: '/x' }),
    );
    const steps = [(e: Event) => e.type === 'file.created', (e: Event) => e.type === 'file.modified'];
    expect(labels(edits, steps, byFile)).toEqual(['a', 'b', 'c', 'M[b,c]', 'd', 'M[a,d]']);
  });

  it('reads a number key as its string: 1 and "1" are one key, reported as "1"', () => {
    // The output's key is a string: two partial matches both reported as key "1" could not be told apart.
    const byPid = { ...TEN, key: (e: Event) => e.data.pid };
    const events = [
      ev('t', 'file.modified', 0, { file_path: '/r/a.test.ts', pid: 1 }),
      ev('s', 'file.modified', 1, { file_path: '/r/a.ts', pid: '1' }),
      ev('p', 'test.run', 2, { passed: true, pid: 1 }),
    ];
    const out = run(events, TDD, byPid);
    expect(out.map(label)).toEqual(['t', 's', 'p', 'M[t,s,p]']);
    expect(out.at(-1)!.data).toMatchObject({ key: '1' });
  });

  it('gives a match the session of its events only when they all have the same one', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const byPid = { ...TEN, key: (e: Event) => e.data.pid, passThrough: false };
    const [sameA, across] = [
      [ev('a1', 'a', 0, { pid: 1 }, 'A'), ev('b1', 'b', 1, { pid: 1 }, 'A')],
      [ev('a2', 'a', 0, { pid: 2 }, 'A'), ev('b2', 'b', 1, { pid: 2 }, 'B')],
    ].map((events) => run(events, steps, byPid));
    expect(sameA!.map(label)).toEqual(['M[a1,b1]']);
    expect(sameA![0]!.sessionId).toBe('A');
    expect(across!.map(label)).toEqual(['M[a2,b2]']);
    expect('sessionId' in across![0]!).toBe(false);
    // Nor when reading one throws.
    const hostile = Object.defineProperty(ev('b3', 'b', 1, { pid: 3 }), 'sessionId', {
      get: () => {
        throw new Error('no session');
      },
    });
    const out = run([ev('a3', 'a', 0, { pid: 3 }), hostile], steps, byPid);
    expect(out.map(label)).toEqual(['M[a3,b3]']);
    expect('sessionId' in out[0]!).toBe(false);
  });

  it('matches events without a key together under the key null', () => {
    const out = run([testEdit('t', 0, ''), sourceEdit('s', 1, ''), testRun('p', 2, true, '')]);
    const match = out.at(-1)!;
    expect(match.data).toMatchObject({ key: null });
    expect('sessionId' in match).toBe(false);
  });

  it('keeps one partial match per step: the later-started one wins, the other is dropped silently', () => {
    expect(labels([testEdit('t1', 0), testEdit('t2', 1), sourceEdit('s', 2), testRun('p', 3, true)])).toEqual(
      ['t1', 't2', 's', 'p', 'M[t2,s,p]'],
    );
  });

  it('lets an older partial match complete while a newer one waits at an earlier step', () => {
    const events = [testEdit('t1', 0), sourceEdit('s1', 1), testEdit('t2', 2), testRun('p', 3, true)];
    // t1 s1 is waiting for a pass; t2 waits for a source edit; the pass completes t1 s1 and clears t2.
    expect(labels(events)).toEqual(['t1', 's1', 't2', 'p', 'M[t1,s1,p]']);
  });

  it('never shares events between matches (skip past the last matched event)', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [
      ev('a1', 'a', 0),
      ev('a2', 'a', 1),
      ev('b1', 'b', 2),
      ev('b2', 'b', 3),
      ev('a3', 'a', 4),
      ev('b3', 'b', 5),
    ];
    expect(labels(events, steps).filter((l) => l.startsWith('M'))).toEqual(['M[a2,b1]', 'M[a3,b3]']);
  });

  it('matches a single-step pattern on every matching event', () => {
    expect(labels([testRun('p1', 0, true), testRun('p2', 1, true)], [isPassingTestRun])).toEqual([
      'p1',
      'M[p1]',
      'p2',
      'M[p2]',
    ]);
  });

  it('lets one event advance one step only', () => {
    const any = () => true;
    expect(labels([other('a', 0), other('b', 1), other('c', 2)], [any, any, any])).toEqual([
      'a',
      'b',
      'c',
      'M[a,b,c]',
    ]);
  });

  it('skips an optional step, or takes it when an event matches it', () => {
    const steps: PatternStep[] = [
      isTestEdit,
      { match: isFailingTestRun, optional: true, name: 'red' },
      isPassingTestRun,
    ];
    expect(labels([testEdit('t', 0), testRun('p', 1, true)], steps)).toEqual(['t', 'p', 'M[t,p]']);
    const out = run([testEdit('t', 0), testRun('f', 1, false), testRun('p', 2, true)], steps);
    expect(out.map(label)).toEqual(['t', 'f', 'p', 'M[t,f,p]']);
    expect(out.at(-1)!.data).toMatchObject({ steps: ['isTestEdit', 'red', 'isPassingTestRun'] });
  });

  it('names the next required step as expected when a partial match waiting at an optional one times out', () => {
    const steps: PatternStep[] = [
      isSourceEdit,
      { match: isFailingTestRun, optional: true, name: 'red' },
      isPassingTestRun,
    ];
    // s waits at the optional red run, but a passing run alone would have completed it: that is the
    // step it lacked. After red it waits for the passing run as well.
    expect(labels([sourceEdit('s', 0), other('x', 11)], steps)).toEqual([
      's',
      'T[s]>isPassingTestRun:timeout',
      'x',
    ]);
    expect(labels([sourceEdit('s', 0), testRun('f', 1, false)], steps)).toEqual([
      's',
      'f',
      'T[s,f]>isPassingTestRun:flushed',
    ]);
  });

  it("names a step by its name, else its predicate's function name, else `step <n>`", () => {
    const isA = (e: Event) => e.type === 'a';
    const unnamed = (predicate: (e: Event) => boolean) => predicate;
    const steps: PatternStep[] = [
      unnamed((e) => e.type === 'x'),
      isA,
      { match: unnamed((e) => e.type === 'b') },
      { match: isA },
      { match: isA, name: 'again' },
    ];
    const events = ['x', 'a', 'b', 'a', 'a'].map((type, i) => ev(`${type}${i}`, type, i));
    const out = run(events, steps, { ...TEN, passThrough: false });
    expect(out.map((e) => e.data.steps)).toEqual([['step 1', 'isA', 'step 3', 'isA', 'again']]);
    // A notFollowedBy: `not <function name>`, else `step <n>`.
    const waits: PatternStep[] = [
      isA,
      { notFollowedBy: isA },
      { notFollowedBy: unnamed((e) => e.type === 'b') },
    ];
    const flushed = run([ev('a', 'a', 0)], waits, { ...TEN, passThrough: false });
    expect(flushed.map((e) => e.data.forbidden)).toEqual([['not isA', 'step 3']]);
  });

  it('takes only `true` from a predicate as a match, not another truthy value', () => {
    const truthy = (e: Event) => (e.type === 'tool.used' ? 1 : 0) as unknown as boolean;
    expect(labels([other('x', 0)], [truthy])).toEqual(['x']);
    // Nor does a truthy notFollowedBy break a partial match.
    const steps: PatternStep[] = [isTestEdit, { notFollowedBy: truthy }, isPassingTestRun];
    expect(labels([testEdit('t', 0), other('x', 1), testRun('p', 2, true)], steps)).toEqual([
      't',
      'x',
      'p',
      'M[t,p]',
    ]);
  });

  it('completes a match at once on a last step given as { match }', () => {
    const steps: PatternStep[] = [isTestEdit, { match: isPassingTestRun }];
    const out = run([testEdit('t', 0), testRun('p', 1, true), other('x', 2)], steps);
    expect(out.map(label)).toEqual(['t', 'p', 'M[t,p]', 'x']);
    expect(out[2]!.timestamp).toBe(T0 + MIN);
  });

  it('may start at an optional first step or after it', () => {
    const steps: PatternStep[] = [{ match: isTestEdit, optional: true }, isPassingTestRun];
    expect(labels([testRun('p', 0, true)], steps)).toEqual(['p', 'M[p]']);
    expect(labels([testEdit('t', 0), testRun('p', 1, true)], steps)).toEqual(['t', 'p', 'M[t,p]']);
  });

  it('drops a partial match that a notFollowedBy between its steps breaks, silently', () => {
    const steps: PatternStep[] = [isTestEdit, { notFollowedBy: isFailingTestRun }, isPassingTestRun];
    expect(labels([testEdit('t', 0), testRun('f', 1, false), testRun('p', 2, true)], steps)).toEqual([
      't',
      'f',
      'p',
    ]);
    expect(labels([testEdit('t', 0), other('x', 1), testRun('p', 2, true)], steps)).toEqual([
      't',
      'x',
      'p',
      'M[t,p]',
    ]);
    // A new first step after the break starts again.
    expect(
      labels([testEdit('t', 0), testRun('f', 1, false), testEdit('t2', 2), testRun('p', 3, true)], steps),
    ).toEqual(['t', 'f', 't2', 'p', 'M[t2,p]']);
  });

  it('matches a trailing notFollowedBy at the deadline when no breaking event came', () => {
    const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun, name: 'green' }];
    const options = { within: 15 * MIN, name: 'left-red' };
    const out = run([testRun('f', 0, false), other('x', 5), other('y', 20)], red, options);
    expect(out.map(label)).toEqual(['f', 'x', 'M[f]', 'y']);
    expect(out[2]!.timestamp).toBe(T0 + 15 * MIN);
    expect(out[2]!.data).toMatchObject({ pattern: 'left-red', window: { start: T0, end: T0 } });
    // Fixed in time: nothing.
    expect(labels([testRun('f', 0, false), testRun('p', 5, true), other('y', 20)], red, options)).toEqual([
      'f',
      'p',
      'y',
    ]);
    // The input ended before the deadline: not a match, a flushed partial one.
    expect(labels([testRun('f', 0, false)], red, options)).toEqual(['f', 'T[f]>green:flushed']);
  });

  it('names every trailing notFollowedBy a partial match still waited out when it is flushed or evicted', () => {
    // Left red and untouched: no passing run and no source edit for 15 minutes. A wait cut short waits
    // out both, not only the first: `expected` names that one, as for a single trailing negation, and
    // `forbidden` lists them all.
    const steps: PatternStep[] = [
      isFailingTestRun,
      { notFollowedBy: isPassingTestRun, name: 'green' },
      { notFollowedBy: isSourceEdit, name: 'untouched' },
    ];
    const options = { within: 15 * MIN, maxKeys: 1 };
    const timeouts = (events: readonly Event[]) =>
      run(events, steps, options)
        .filter((e) => e.type === 'pattern.timeout')
        .map((e) => e.data as PatternTimeoutData);
    const [flushed] = timeouts([testRun('f', 0, false)]);
    expect(flushed).toMatchObject({
      reason: 'flushed',
      expected: 'green',
      forbidden: ['green', 'untouched'],
    });
    const [evicted] = timeouts([testRun('f', 0, false, 'A'), testRun('g', 1, false, 'B')]);
    expect(evicted).toMatchObject({
      reason: 'evicted',
      expected: 'green',
      forbidden: ['green', 'untouched'],
    });
    // Either one still breaks the wait; neither: a match at the deadline.
    expect(timeouts([testRun('f', 0, false), sourceEdit('s', 1)])).toEqual([]);
    expect(timeouts([testRun('f', 0, false), testRun('p', 1, true)])).toEqual([]);
    expect(labels([testRun('f', 0, false), other('x', 16)], steps, options)).toEqual(['f', 'M[f]', 'x']);
    // Each timeout its own list: one the consumer changes is not the next one's.
    const lists: string[][] = [];
    from([testRun('f', 0, false, 'A'), testRun('g', 1, false, 'B')])
      .pipe(pattern(steps, { within: 15 * MIN }))
      .subscribe((e) => {
        if (e.type !== 'pattern.timeout') return;
        const { forbidden } = e.data as PatternTimeoutData;
        lists.push([...forbidden!]);
        forbidden!.pop();
      });
    expect(lists).toEqual([
      ['green', 'untouched'],
      ['green', 'untouched'],
    ]);
    // A partial match waiting for a required step is not waiting out a trailing negation.
    const waiting = run([testEdit('t', 0)]).find((e) => e.type === 'pattern.timeout')!.data;
    expect(waiting).toMatchObject({ reason: 'flushed', expected: 'isSourceEdit' });
    expect(waiting).not.toHaveProperty('forbidden');
  });

  it('reports a throwing predicate as pattern.error, at most once per `within`, and keeps matching', () => {
    const fragile = (e: Event) => {
      if (e.id.startsWith('bad')) throw new Error('fragile');
      return isSourceEdit(e);
    };
    const events = [
      testEdit('t', 0),
      ev('bad1', 'x', 1),
      ev('bad2', 'x', 2),
      sourceEdit('s', 3),
      testRun('p', 4, true),
    ];
    events.push(testEdit('t2', 20), ev('bad3', 'x', 21));
    const out = run(events, [isTestEdit, fragile, isPassingTestRun]);
    // An error follows the event whose matching raised it.
    expect(out.map(label)).toEqual([
      't',
      'bad1',
      'E:fragile',
      'bad2',
      's',
      'p',
      'M[t,s,p]',
      't2',
      'bad3',
      'E:fragile',
      'T[t2]>fragile:flushed',
    ]);
    const errors = out.filter((e) => e.type === 'pattern.error');
    expect(errors[0]!.priority).toBe(Priority.HIGH);
    expect(errors.map((e) => (e.data as PatternErrorData).suppressed)).toEqual([0, 1]);
    expect(errors[0]!.data).toMatchObject({ error: { message: 'fragile' }, trigger_event_id: 'bad1' });
  });

  it('reports an async predicate as pattern.error, and leaves no rejection of it unhandled to end the process', async () => {
    const unhandled = await unhandledRejections(() => {
      for (const isSourceEditLater of [
        async (e: Event) => isSourceEdit(e),
        async () => {
          throw new Error('rejected');
        },
      ]) {
        const out = run([testEdit('t', 0), sourceEdit('s', 1)], [isTestEdit, isSourceEditLater as never]);
        expect(out.map(label)).toEqual(['t', 's', 'E:step 2', 'T[t]>step 2:flushed']);
        const error = out.find((e) => e.type === 'pattern.error')!.data as PatternErrorData;
        expect(error).toMatchObject({
          error: {
            message: 'predicate returned a Promise (a predicate is synchronous: it returns true or false)',
          },
          trigger_event_id: 's',
        });
      }
    });
    expect(unhandled).toEqual([]);
  });

  it('takes an object answer that is no Promise (a thenable without then, a plain object) for no match, without a report', () => {
    // biome-ignore lint/suspicious/noThenProperty: an object with a `then` that is no function is no Promise
    const objects = (e: Event) => (e.type === 'file.modified' ? ({ then: 1 } as never) : ({} as never));
    expect(labels([testEdit('t', 0), sourceEdit('s', 1)], [isTestEdit, objects])).toEqual([
      't',
      's',
      'T[t]>objects:flushed',
    ]);
  });

  it("gives trigger_event_id null when the failing event's id is not a string or cannot be read", () => {
    const fragile = (e: Event) => {
      if (e.type === 'bad') throw new Error('fragile');
      return isSourceEdit(e);
    };
    const numbered = { ...ev('n', 'bad', 1), id: 7 } as unknown as Event;
    const unreadable = { ...ev('u', 'bad', 20) } as Event;
    Object.defineProperty(unreadable, 'id', {
      enumerable: true,
      get() {
        throw new Error('no id');
      },
    });
    const out = run([testEdit('t', 0), numbered, testEdit('t2', 19), unreadable], [isTestEdit, fragile]);
    const errors = out.filter((e) => e.type === 'pattern.error') as Array<Event<PatternErrorData>>;
    expect(errors.map((e) => [e.data.step, e.data.trigger_event_id, e.data.suppressed])).toEqual([
      ['fragile', null, 0],
      ['fragile', null, 0],
    ]);
  });

  it('reports a throwing key function as pattern.error with step null, and passes the event on', () => {
    const key = (e: Event) => {
      if (e.id === 'bad') throw new Error('no key');
      return e.sessionId;
    };
    expect(labels([ev('bad', 'x', 0), testEdit('t', 1)], TDD, { ...TEN, key, timeouts: false })).toEqual([
      'E:null',
      'bad',
      't',
    ]);
  });

  it("stamps a key function's error report at the event's time, else at the newest timestamp seen", () => {
    const key = (e: Event) => {
      if (e.type === 'bad') throw new Error('no key');
      return e.sessionId;
    };
    const errorAt = (bad: Event) =>
      run([other('x', 10), bad], TDD, { ...TEN, key }).find((e) => e.type === 'pattern.error')!.timestamp;
    expect(errorAt(ev('late', 'bad', 5))).toBe(T0 + 5 * MIN);
    expect(errorAt({ ...ev('untimed', 'bad', 0), timestamp: Number.NaN })).toBe(T0 + 10 * MIN);
  });

  it('passes an input that is not an object through untouched (with passThrough), and takes no part', () => {
    // Steps that read `data`: given a number or null, they would throw (and be reported).
    const steps = [(e: Event) => e.data.step === 1, (e: Event) => e.data.step === 2];
    const inputs = [null, 7, ev('a', 'x', 0, { step: 1 }), ev('b', 'x', 1, { step: 2 })] as Event[];
    const out = run(inputs, steps);
    expect(out.slice(0, 2)).toEqual([null, 7]);
    expect(out.slice(2).map(label)).toEqual(['a', 'b', 'M[a,b]']);
    expect(run(inputs, steps, { ...TEN, passThrough: false }).map(label)).toEqual(['M[a,b]']);
  });

  it('emits no timeouts with timeouts: false, and derived events only with passThrough: false', () => {
    expect(labels([testEdit('t', 0), other('x', 30)], TDD, { ...TEN, timeouts: false })).toEqual(['t', 'x']);
    expect(
      labels([testEdit('t', 0), sourceEdit('s', 1), testRun('p', 2, true)], TDD, {
        ...TEN,
        passThrough: false,
      }),
    ).toEqual(['M[t,s,p]']);
  });

  it('evicts the least recently active keys beyond maxKeys, reporting their partial matches', () => {
    const events = [testEdit('a', 0, 'A'), testEdit('b', 1, 'B'), testEdit('c', 2, 'C')];
    expect(labels(events, TDD, { ...TEN, maxKeys: 2, passThrough: false })).toEqual([
      'T[a]>isSourceEdit:evicted',
      'T[b]>isSourceEdit:flushed',
      'T[c]>isSourceEdit:flushed',
    ]);
  });

  it('evicts the key least recently active, counting every event of a key with partial matches', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [ev('aA', 'a', 0, {}, 'A'), ev('aB', 'a', 1, {}, 'B'), ev('xA', 'x', 2, {}, 'A')];
    events.push(ev('aC', 'a', 3, {}, 'C'));
    expect(labels(events, steps, { ...TEN, maxKeys: 2, passThrough: false })).toEqual([
      'T[aB]>step 2:evicted',
      'T[aA]>step 2:flushed',
      'T[aC]>step 2:flushed',
    ]);
  });

  it('evicts no key for a new key whose event completes a match at once (it keeps no partial match)', () => {
    // maxKeys 1, A waits at the optional red run; B's pass is a whole match by itself (red skipped).
    const steps: PatternStep[] = [{ match: isFailingTestRun, optional: true, name: 'red' }, isPassingTestRun];
    const events = [testRun('fA', 0, false, 'A'), testRun('pB', 1, true, 'B'), testRun('pA', 2, true, 'A')];
    expect(labels(events, steps, { ...TEN, maxKeys: 1, passThrough: false })).toEqual(['M[pB]', 'M[fA,pA]']);
    // A single step followed by a notFollowedBy waits out the negation: the new key needs room then.
    const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun, name: 'green' }];
    const single = [testRun('fA', 0, false, 'A'), testRun('fB', 1, false, 'B')];
    expect(labels(single, red, { ...TEN, maxKeys: 1, passThrough: false })).toEqual([
      'T[fA]>green:evicted',
      'T[fB]>green:flushed',
    ]);
  });

  it('makes room for a new key by ending the partial matches event time has passed, before evicting', () => {
    // aB (late) starts a partial match past its deadline; aC finds the map full: that one ends, and A stays.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = [ev('aA', 'a', 20, {}, 'A'), ev('aB', 'a', 0, {}, 'B'), ev('aC', 'a', 20, {}, 'C')];
    expect(labels(events, steps, { ...TEN, maxKeys: 2, passThrough: false })).toEqual([
      'T[aB]>step 2:timeout',
      'T[aA]>step 2:flushed',
      'T[aC]>step 2:flushed',
    ]);
  });

  it('does not scan every key for each new one when a full map frees one timed-out key at a time', () => {
    // One new key per ms, `within` 1 s and room for 1,001: every new key finds the map full and one
    // partial match timed out, so a sweep of the whole map per new key would visit ~1,000 per event.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = Array.from({ length: 4_000 }, (_, i) => ({
      ...ev(`a${i}`, 'a', 0, {}, `K${i}`),
      timestamp: T0 + i,
    }));
    const { result: out, visits } = countMapVisits(() =>
      run(events, steps, { within: 1_000, maxKeys: 1_001, passThrough: false }),
    );
    const reasons = out.map((e) => (e.data as PatternTimeoutData).reason);
    expect(reasons.filter((r) => r === 'timeout')).toHaveLength(4_000 - 1_001);
    expect(reasons.filter((r) => r === 'evicted')).toHaveLength(0);
    // The sweeps (one per advance of event time) take what is due from the queue: no scan of the map.
    expect(visits).toBeLessThan(2 * events.length);
  });

  it('does not scan every kept latest time for each new key when they are full and one stops counting at a time', () => {
    // One new key per ms, none starting a partial match: their latest times are kept (room for 1,001,
    // `within` 1 s), and every new one finds them full and one no longer counting.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const events = Array.from({ length: 4_000 }, (_, i) => ({
      ...ev(`x${i}`, 'x', 0, {}, `K${i}`),
      timestamp: T0 + i,
    }));
    const { result: out, visits } = countMapVisits(() =>
      run(events, steps, { within: 1_000, maxKeys: 1_001, passThrough: false }),
    );
    expect(out).toEqual([]);
    // The sweeps (one per advance of event time) take the kept latest times that stop counting from the
    // top of their heap: no scan.
    expect(visits).toBeLessThan(5 * events.length);
  });

  it('on eviction, ends what the watermark already decided as a sweep would, the rest as evicted', () => {
    const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun, name: 'green' }];
    const events = [
      testRun('fA', 0, false, 'A'), // deadline 10 min
      other('x', 10, 'X'), // its sweep at 10 min: not yet past (needs more than 10 min)
      testRun('fB', 11, false, 'B'), // A's deadline has passed: a match; B evicts A (maxKeys 1)
    ];
    const out = run(events, red, { ...TEN, maxKeys: 1, passThrough: false });
    expect(out.map(label)).toEqual(['M[fA]', 'T[fB]>green:flushed']);
    expect(out[0]!.timestamp).toBe(T0 + 10 * MIN);
  });

  it('treats a late event as arriving at its key’s latest time', () => {
    const out = run([testEdit('t', 5), sourceEdit('s', 6), testRun('p', 0, true)]);
    expect(out.at(-1)!.data).toMatchObject({ window: { start: T0 + 5 * MIN, end: T0 + 6 * MIN } });
  });

  it('treats a late event as arriving at its key’s latest time after a match cleared the key', () => {
    const isA = (e: Event) => e.type === 'a';
    const isB = (e: Event) => e.type === 'b';
    const events = [
      ev('a1', 'a', 0),
      ev('b1', 'b', 5), // a match: key A has no partial match left; its latest time is 5 min
      ev('a2', 'a', 1), // late: counts as arriving at 5 min
      ev('b2', 'b', 12), // 7 min after a2's time: within 10 min
    ];
    const out = run(events, [isA, isB], { ...TEN, passThrough: false });
    expect(out.map(label)).toEqual(['M[a1,b1]', 'M[a2,b2]']);
    expect(out[1]!.data).toMatchObject({ window: { start: T0 + 5 * MIN, end: T0 + 12 * MIN } });
    // So does a late event after events that started nothing.
    expect(labels([other('x', 5), testEdit('t', 1), sourceEdit('s', 8), testRun('p', 12, true)])).toContain(
      'M[t,s,p]',
    );
  });

  it('stops counting a key’s kept latest time once it is more than `within` behind the newest timestamp', () => {
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const options = { ...TEN, passThrough: false };
    // Exactly `within` behind (20 − 10 min): A's late a counts at 10 min, b at 20 is within 10 of it.
    const atBound = [ev('x', 'x', 10), ev('y', 'x', 20, {}, 'B'), ev('a', 'a', 5), ev('b', 'b', 20)];
    expect(labels(atBound, steps, options)).toEqual(['M[a,b]']);
    // More than `within` behind (21 − 10 min), though no sweep has dropped it yet: a counts at its own 8 min.
    const beyond = [
      ev('x', 'x', 10),
      ev('y', 'x', 19.9, {}, 'B'),
      ev('z', 'x', 21, {}, 'C'),
      ev('a', 'a', 8),
      ev('b', 'b', 18.5),
    ];
    expect(labels(beyond, steps, options)).toEqual(['T[a]>step 2:timeout']);
  });

  it('remembers the latest time of at most maxKeys keys without partial matches', () => {
    // B's event pushes A's latest time (5 min) out: A's late event then counts at its own time.
    const events = [
      other('x', 5, 'A'),
      other('y', 5, 'B'),
      testEdit('t', 1, 'A'),
      sourceEdit('s', 8, 'A'),
      testRun('p', 12, true, 'A'),
    ];
    expect(labels(events, TDD, { ...TEN, maxKeys: 1, passThrough: false })).toEqual([
      'T[t,s]>isPassingTestRun:timeout',
    ]);
    expect(labels(events, TDD, { ...TEN, maxKeys: 2, passThrough: false })).toEqual(['M[t,s,p]']);
  });
});

/**
 * Runs `pattern([a, b])` on the live clock over `events` (labels out), with a live sweep (10 min of the
 * scheduler) after event `sweepAfter` if given: the watermark is the same at every step either way.
 */
function runWithSweep(maxKeys: number, events: Event[], sweepAfter: number | undefined): string[] {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<Event>();
  const out: string[] = [];
  input
    .pipe(
      pattern([(e) => e.type === 'a', (e) => e.type === 'b'], {
        within: 10 * MIN,
        maxKeys,
        passThrough: false,
        liveClock: true,
        scheduler,
      }),
    )
    .subscribe((e) => out.push(label(e)));
  events.forEach((event, i) => {
    input.next(event);
    if (i === sweepAfter) {
      scheduler.maxFrames = scheduler.frame + 10 * MIN;
      scheduler.flush();
    }
  });
  input.complete();
  return out;
}

describe('pattern: the live clock', () => {
  it('forgets the same kept latest times whether or not a live sweep ran in between (maxKeys full)', () => {
    // The same events and the same watermark at every step; only a live sweep between x2 and x3 differs.
    // Which key's latest time is forgotten when maxKeys are kept must not depend on it.
    const events = [
      ev('a0', 'a', 49, {}, 'K0'), // a partial match, which keeps the live timer going
      ev('x1', 'x', 50, {}, 'K1'), // K1's latest time: 50
      ev('x2', 'x', 1, {}, 'K2'), // late, and already too old to count
      ev('x3', 'x', 50.5, {}, 'K3'), // two kept: one must go
      ev('a4', 'a', 45, {}, 'K1'), // late: at 50 if K1's time is still kept, else at 45
      ev('b5', 'b', 57, {}, 'K1'), // 7 min after 50 (a match) or 12 after 45 (a timeout)
    ];
    const run = (sweepAfter: number | undefined) => runWithSweep(2, events, sweepAfter);
    expect(run(1)).toEqual(run(undefined));
    expect(run(undefined)).toContain('M[a4,b5]');
  });

  it('evicts the same keys whether or not a live sweep ran in between (maxKeys full)', () => {
    // The same events and the same watermark at every step; only a live sweep between x and a9 differs.
    // K0's partial match has timed out by the watermark: which keys a full map evicts must not depend on
    // whether a sweep has already dropped it.
    const events = [
      ev('a0', 'a', 0, {}, 'K0'), // deadline 10 min
      // K1 … K8: their sweep at 9 min finds nothing past
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((k) => ev(`a${k}`, 'a', 9, {}, `K${k}`)),
      ev('x', 'x', 10.5, {}, 'X'), // K0's deadline has passed
      ev('a9', 'a', 10.6, {}, 'K9'), // a tenth key, the map full
      ev('b1', 'b', 11, {}, 'K1'), // completes K1's partial match, if K1 is still there
    ];
    const run = (sweepAfter: number | undefined) => runWithSweep(9, events, sweepAfter);
    expect(run(9)).toContain('M[a1,b1]');
    expect(run(undefined)).toEqual(run(9));
  });

  it('emits a trailing-negation match at its deadline on the scheduler clock, without further input', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const f = { ...testRun('f', 0, false), timestamp: 0 };
      const source = cold('f 20m |', { f });
      // within 4 min → sweeps every minute; the first one past the 4-minute deadline is at 5 min.
      const expected = '5m M 15m |';
      const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun }];
      expectObservable(
        source.pipe(
          pattern(red, { within: 4 * MIN, passThrough: false, liveClock: true, scheduler }),
          map(label),
        ),
      ).toBe(expected, { M: 'M[f]' });
    });
  });

  it('flushes the partial matches left in the same order live and replayed: by deadline, then key', () => {
    // within 10 s, live sweeps every 2.5 s. The live sweep at 12.5 s times A out (started at 2 s) and
    // drops the key; replayed, a3's own sweep at 13 s does. A comes back at 13 s and is tracked anew after
    // B, either way. B's partial match is due first (21.9 s, A's 23 s): the flush ends it first.
    const steps = [(e: Event) => e.type === 'a', (e: Event) => e.type === 'b'];
    const at = (id: string, t: number, key: string): Event => ({ ...ev(id, 'a', 0, {}, key), timestamp: t });
    const events = [
      at('a1', 0, 'A'),
      at('a2', 2_000, 'A'),
      at('b1', 2_100, 'B'),
      at('b2', 11_900, 'B'),
      at('a3', 13_000, 'A'),
    ];
    const options = { within: 10_000, passThrough: false };
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(pattern(steps, { ...options, liveClock: true, scheduler }))
      .subscribe((e) => live.push(label(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 13_000);
    scheduler.flush();
    const replay = labels(events, steps, options);
    expect(replay).toEqual(['T[a2]>step 2:timeout', 'T[b2]>step 2:flushed', 'T[a3]>step 2:flushed']);
    expect(live).toEqual(replay);
  });

  it('flushes by deadline, not in the order the keys were first seen', () => {
    // B's late event comes after A's but starts the partial match due first (at 10 min; A's at 15).
    expect(labels([testEdit('a', 5, 'A'), testEdit('b', 0, 'B')])).toEqual([
      'a',
      'b',
      'T[b]>isSourceEdit:flushed',
      'T[a]>isSourceEdit:flushed',
    ]);
  });

  it('flushes partial matches with the same deadline by key: strings in order, then null', () => {
    const events = [testEdit('n', 0, ''), testEdit('d', 0, 'D'), testEdit('c', 0, 'C')];
    expect(labels(events, TDD, { ...TEN, passThrough: false })).toEqual([
      'T[c]>isSourceEdit:flushed',
      'T[d]>isSourceEdit:flushed',
      'T[n]>isSourceEdit:flushed',
    ]);
  });

  it('lets the scheduler end nothing without liveClock: only event time does', () => {
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const out: string[] = [];
    input.pipe(pattern(TDD, { within: 100, scheduler })).subscribe((e) => out.push(label(e)));
    input.next({ ...testEdit('t', 0), timestamp: 0 });
    scheduler.flush();
    expect(out).toEqual(['t']);
  });

  it('times out a partial match between two events at the same place among the outputs live and replayed', () => {
    // within 100 s: the live clock ticks every 25 s from C's x at 0 (25, 50 … 125 s). A's partial match
    // (x at 5 s) times out after 105 s. Live, the tick at 125 s ends it, before b6 at 126 s. Replayed,
    // every event after 105 s finds it past its deadline: the first one, b6 (b4 at 104 s and b5 at 105 s
    // come before it passes), must end it before itself too, whenever the previous sweep ran (at b4).
    const steps = [(e: Event) => e.type === 'x', (e: Event) => e.type === 'z'];
    const at = (id: string, type: string, t: number, key: string): Event => ({
      ...ev(id, type, 0, {}, key),
      timestamp: t * 1_000,
    });
    const events = [
      at('c', 'x', 0, 'C'),
      at('a', 'x', 5, 'A'),
      ...[10, 40, 70, 104, 105, 126].map((t, i) => at(`b${i + 1}`, 'y', t, 'B')),
    ];
    const options = { within: 100_000 };
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(pattern(steps, { ...options, liveClock: true, scheduler }))
      .subscribe((e) => live.push(label(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 126_000);
    scheduler.flush();
    const replay = labels(events, steps, options);
    expect(replay).toEqual([
      ...['c', 'a', 'b1', 'b2', 'b3', 'T[c]>step 2:timeout', 'b4', 'b5'],
      ...['T[a]>step 2:timeout', 'b6'],
    ]);
    expect(live).toEqual(replay);
  });

  it('keeps its live timer when the consumer feeds an event back as a sweep drops the last key', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const seen: string[] = [];
    scheduler.run(() => {
      const input = new Subject<Event>();
      const at = (id: string, t: number): Event => ({ ...testRun(id, 0, false), timestamp: t });
      // within 10 ms: sweeps every 2.5 ms; a trailing negation matches once 10 ms have passed.
      const red: PatternStep[] = [isFailingTestRun, { notFollowedBy: isPassingTestRun }];
      input
        .pipe(pattern(red, { within: 10, passThrough: false, liveClock: true, scheduler }))
        .subscribe((out) => {
          seen.push(`${label(out)}@${scheduler.now()}`);
          // A new failing run, stamped now, while the sweep that matched f1 (and dropped its key) runs.
          if (seen.length === 1) input.next(at('f2', scheduler.now()));
        });
      input.next(at('f1', 0));
    });
    expect(seen).toEqual(['M[f1]@12.5', 'M[f2]@25']);
  });

  it('leaves no timer behind when the consumer unsubscribes on the pass-through of the first event', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(pattern(TDD, { within: 100, liveClock: true, scheduler }), take(1))
      .subscribe((event) => seen.push(label(event)));
    // t is passed through before its partial match is made: take(1) unsubscribes in between.
    input.next(testEdit('t', 0));
    expect(seen).toEqual(['t']);
    expect(input.observed).toBe(false);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('sweeps at most every 2,147,483,647 ms, setTimeout’s limit, however long `within` is', () => {
    // A quarter of 100 days is beyond the limit: Node would run such a timer every millisecond.
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const input = new Subject<Event>();
    input.pipe(pattern(TDD, { within: 100 * 24 * 60 * MIN, liveClock: true, scheduler })).subscribe();
    input.next(testEdit('t', 0));
    expect(scheduler.actions.map((action) => action.delay)).toEqual([2_147_483_647]);
  });
});

describe('pattern: properties', () => {
  const TYPES = ['file.modified', 'test.run', 'tool.used'];
  const event = fc.record(
    {
      id: fc.oneof(fc.uuid(), fc.anything()),
      type: fc.oneof(fc.constantFrom(...TYPES), fc.anything()),
      timestamp: fc.oneof(fc.integer({ min: 0, max: 30 * MIN }), fc.double(), fc.anything()),
      priority: fc.constantFrom(0, 1, 2, 3),
      data: fc.oneof(
        fc.record({ file_path: fc.constantFrom('/a.test.ts', '/a.ts'), passed: fc.boolean() }),
        fc.anything(),
      ),
      sessionId: fc.oneof(fc.constantFrom('a', 'b', ''), fc.anything()),
    },
    { requiredKeys: ['id', 'type', 'timestamp'] },
  );
  const input = fc.array(fc.oneof({ weight: 9, arbitrary: event }, { weight: 1, arbitrary: fc.anything() }), {
    maxLength: 60,
  });
  const guarded = (f: (e: Event) => boolean) => (e: Event) =>
    typeof e.data === 'object' && e.data !== null && f(e);
  const shapes: PatternStep[][] = [
    TDD.map((step) => guarded(step as (e: Event) => boolean)),
    // Unguarded predicates throw on odd data: that must not break the stream either.
    [isTestEdit, { match: isFailingTestRun, optional: true }, isPassingTestRun],
    [isFailingTestRun, { notFollowedBy: isPassingTestRun }],
    [isTestEdit, { notFollowedBy: isFailingTestRun }, isSourceEdit],
  ];

  it('never errors, passes every input through once, and matches only input events, in time', () => {
    fc.assert(
      fc.property(input, fc.constantFrom(...shapes), fc.constantFrom(2, 100), (inputs, steps, maxKeys) => {
        const out: Event[] = [];
        let error: unknown;
        let completed = false;
        new Observable<Event>((subscriber) => {
          for (const value of inputs) subscriber.next(value as Event);
          subscriber.complete();
        })
          .pipe(pattern(steps, { within: 5 * MIN, maxKeys }))
          .subscribe({
            next: (e) => out.push(e),
            error: (e) => (error = e),
            complete: () => (completed = true),
          });
        expect(error).toBeUndefined();
        expect(completed).toBe(true);
        const inputSet = new Set<unknown>(inputs);
        expect(out.filter((e) => inputSet.has(e))).toEqual(inputs);
        for (const e of out.filter((o) => !inputSet.has(o))) {
          expect(['pattern.matched', 'pattern.timeout', 'pattern.error']).toContain(e.type);
          expect(Number.isFinite(e.timestamp)).toBe(true);
          if (e.type === 'pattern.error') continue;
          const data = e.data as PatternMatchData;
          for (const matched of data.events) expect(inputSet.has(matched)).toBe(true);
          expect(data.events).toHaveLength(data.steps.length);
          expect(data.window.end - data.window.start).toBeLessThanOrEqual(5 * MIN);
        }
      }),
      { numRuns: 300 },
    );
  });
});
