import { from, map, mergeMap, of, Subject, take, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError, createEvent, type Event, EventFlowMetrics, measure } from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';

const ev = (type: string): Event => createEvent({ type, timestamp: 0, id: type });
const a = ev('file.modified');
const b = ev('tool.used');
const c = ev('file.modified');

/** A clock the test moves by hand: the "work" downstream of `measure` advances it. */
function fakeClock() {
  const clock = { t: 0, now: () => clock.t };
  return clock;
}

describe('measure', () => {
  it(
    'passes the stream through unchanged and times the synchronous downstream stage',
    marbles((m) => {
      const clock = fakeClock();
      const metrics = new EventFlowMetrics({ now: clock.now });
      const source = m.cold('  -a--b--c--|', { a, b, c });
      const subs = '           ^---------!';
      const expected = '       -a--b--c--|';
      const cost = new Map([
        [a, 4],
        [b, 10],
        [c, 2],
      ]);
      const result = source.pipe(
        measure(metrics),
        tap((event) => {
          clock.t += cost.get(event)!;
        }),
      );
      m.expect(result).toBeObservable(expected, { a, b, c });
      m.expect(source).toHaveSubscriptions(subs);
      m.flush();
      const summary = metrics.summary();
      expect(summary['file.modified']).toMatchObject({
        count: 2,
        min_processing_time_ms: 2,
        max_processing_time_ms: 4,
        avg_processing_time_ms: 3,
      });
      expect(summary['tool.used']).toMatchObject({ count: 1, p95_processing_time_ms: 10 });
    }),
  );

  it(
    'completes when empty and records nothing',
    marbles((m) => {
      const metrics = new EventFlowMetrics();
      const source = m.cold<Event>('|');
      m.expect(source.pipe(measure(metrics))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions('(^!)');
      m.flush();
      expect(metrics.summary()).toEqual({});
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<Event>('-');
      m.expect(source.pipe(measure(new EventFlowMetrics()))).toBeObservable('-');
      m.expect(source).toHaveSubscriptions('^');
    }),
  );

  it(
    'forwards errors after the values before them',
    marbles((m) => {
      const metrics = new EventFlowMetrics();
      const source = m.cold('  -a-#', { a }, new Error('boom'));
      m.expect(source.pipe(measure(metrics))).toBeObservable('-a-#', { a }, new Error('boom'));
      m.expect(source).toHaveSubscriptions('^--!');
      m.flush();
      expect(metrics.summary()['file.modified']?.count).toBe(1);
    }),
  );

  it(
    'unsubscribes from the source on early unsubscribe',
    marbles((m) => {
      const source = m.hot('   -a--b--c--|', { a, b, c });
      const subs = '           ^---!';
      const unsub = '          ----!';
      m.expect(source.pipe(measure(new EventFlowMetrics())), unsub).toBeObservable('-a---', { a });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const source = m.hot('   -a--b--c--|', { a, b, c });
      const subs = '           ^----!';
      const unsub = '          -----!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        measure(new EventFlowMetrics()),
        mergeMap((x) => of(x.type)),
      );
      m.expect(result, unsub).toBeObservable('-a--b-', { a: a.type, b: b.type });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
    const metrics = new EventFlowMetrics();
    let pulled = 0;
    // Long, not endless: read to its end (the bug), the test fails rather than hangs.
    function* events(): Generator<Event> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield ev('file.modified');
      }
    }
    const seen: Event[] = [];
    from(events())
      .pipe(measure(metrics), take(1))
      .subscribe((event) => seen.push(event));
    expect(seen).toHaveLength(1);
    expect(pulled).toBe(1);
    // Only what went downstream is recorded.
    expect(metrics.summary()['file.modified']?.count).toBe(1);
  });

  it('handles re-entrant values in order and records each one', () => {
    const metrics = new EventFlowMetrics();
    const input = new Subject<Event>();
    const seen: string[] = [];
    input.pipe(measure(metrics)).subscribe((event) => {
      seen.push(event.id);
      if (event === a) input.next(b);
    });
    input.next(a);
    input.next(c);
    expect(seen).toEqual([a.id, b.id, c.id]);
    expect(metrics.summary()['file.modified']?.count).toBe(2);
    expect(metrics.summary()['tool.used']?.count).toBe(1);
  });

  it(
    'records under a fixed or computed type, and `value` for non-events',
    marbles((m) => {
      const metrics = new EventFlowMetrics();
      const numbers = m.cold('-1-2|', { 1: 1, 2: 2 });
      m.expect(numbers.pipe(measure(metrics))).toBeObservable('-1-2|', { 1: 1, 2: 2 });
      m.expect(numbers.pipe(measure(metrics, { type: 'stage' }))).toBeObservable('-1-2|', { 1: 1, 2: 2 });
      m.expect(numbers.pipe(measure(metrics, { type: (n) => `n${n}` }))).toBeObservable('-1-2|', {
        1: 1,
        2: 2,
      });
      m.flush();
      const summary = metrics.summary();
      expect(Object.keys(summary).sort()).toEqual(['n1', 'n2', 'stage', 'value']);
      expect(summary.value?.count).toBe(2);
    }),
  );

  it(
    'passes the value through, then errors the stream, when the type callback throws',
    marbles((m) => {
      const source = m.cold('  -a-b|', { a, b });
      const boom = new Error('type');
      const result = source.pipe(
        measure(new EventFlowMetrics(), {
          type: (e) => {
            if (e === b) throw boom;
            return e.type;
          },
        }),
      );
      // Nothing is lost: b goes downstream (unrecorded, it has no type), then the stream errors.
      m.expect(result).toBeObservable('-a-(b#)', { a, b }, boom);
      m.expect(source).toHaveSubscriptions('^--!');
    }),
  );

  it(
    'errors the stream, never throws out of next, when the clock fails',
    marbles((m) => {
      // A `now` that returns NaN (which `record` refuses) or throws — before or after the value went
      // downstream — is a user callback failing: the value still goes through, then the stream errors;
      // nothing is thrown at the source.
      const failingAfter = (calls: number) => {
        let made = 0;
        return () => {
          if (++made > calls) throw new Error('clock');
          return 0;
        };
      };
      // A time that is not a finite number is refused as well, at either reading: Infinity - 5 used to
      // record 0 (`Math.max(0, -Infinity)`).
      const readings =
        (...times: unknown[]) =>
        () =>
          (times.length > 0 ? times.shift() : 0) as number;
      const refused = (time: string) =>
        new RangeError(`measure: the clock (metrics.now) must give a finite number, got ${time}`);
      const cases: Array<[() => number, Error]> = [
        [() => Number.NaN, refused('NaN')],
        [readings(0, Number.POSITIVE_INFINITY, 5), refused('Infinity')],
        [readings(0, 5, Number.POSITIVE_INFINITY), refused('Infinity')],
        [readings(0, 5, Number.NEGATIVE_INFINITY), refused('-Infinity')],
        [failingAfter(1), new Error('clock')],
        [failingAfter(2), new Error('clock')],
      ];
      const all: EventFlowMetrics[] = [];
      for (const [now, error] of cases) {
        const source = m.cold('-a-b|', { a, b });
        const metrics = new EventFlowMetrics({ now });
        if (error instanceof RangeError) all.push(metrics); // the others' clock throws in summary() too
        m.expect(source.pipe(measure(metrics))).toBeObservable('-(a#)', { a }, error);
        m.expect(source).toHaveSubscriptions('^!');
      }
      m.flush();
      // Nothing recorded: a time that is not a number is no time.
      for (const metrics of all) expect(metrics.summary()).toEqual({});
    }),
  );

  it('refuses a type that is neither a string nor a function, and null options, at construction', () => {
    // Otherwise the stream errored with a TypeError at its first value.
    expect(() => measure(new EventFlowMetrics(), { type: 5 as never })).toThrow(ConfigError);
    expect(() => measure(new EventFlowMetrics(), { type: 5 as never })).toThrow(
      'measure: type must be a string or a function, got 5',
    );
    expect(() => measure(new EventFlowMetrics(), null as never)).toThrow(ConfigError);
    expect(() => measure(new EventFlowMetrics(), null as never)).toThrow(
      'measure: the config must be an object',
    );
    expect(() => measure(new EventFlowMetrics(), { type: () => 'x' })).not.toThrow();
  });

  it('refuses, at construction, metrics without a clock', () => {
    // Otherwise a TypeError at the first value.
    expect(() => measure({ record: () => undefined } as never)).toThrow(ConfigError);
    // Nor without record, or none at all (a TypeError at the first value, or at once for null).
    expect(() => measure({ now: () => 0 } as never)).toThrow(ConfigError);
    expect(() => measure(null as never)).toThrow('measure: metrics must be an EventFlowMetrics, got null');
    expect(() => measure({ record: () => undefined, now: () => 0 } as never)).not.toThrow();
  });

  it('records a value without a string type (null and undefined included) under "value"', () => {
    const metrics = new EventFlowMetrics();
    const seen: unknown[] = [];
    let completed = false;
    of(null, undefined, 5, { type: 7 }, { type: 'x' })
      .pipe(measure<unknown>(metrics))
      .subscribe({ next: (value) => seen.push(value), complete: () => (completed = true) });
    expect(seen).toEqual([null, undefined, 5, { type: 7 }, { type: 'x' }]);
    expect(completed).toBe(true);
    expect(Object.entries(metrics.summary()).map(([type, s]) => [type, s.count])).toEqual([
      ['value', 4],
      ['x', 1],
    ]);
  });

  it('can be reused on two sources', () => {
    const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
    const metrics = new EventFlowMetrics({ scheduler });
    scheduler.run(({ cold, expectObservable }) => {
      const operator = measure<Event>(metrics);
      expectObservable(
        cold('a|', { a }).pipe(
          operator,
          map((e) => e.id),
        ),
      ).toBe('a|', { a: a.id });
      expectObservable(
        cold('-b|', { b }).pipe(
          operator,
          map((e) => e.id),
        ),
      ).toBe('-b|', { b: b.id });
    });
    expect(metrics.summary()['file.modified']?.count).toBe(1);
    expect(metrics.summary()['tool.used']?.count).toBe(1);
  });
});
