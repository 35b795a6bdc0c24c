import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  finalize,
  from,
  lastValueFrom,
  map,
  mergeMap,
  Observable,
  of,
  type SchedulerLike,
  Subject,
  take,
  toArray,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ActivityData,
  bridgeHooks,
  ConfigError,
  type CorrelateOptions,
  type CorrelationErrorData,
  type CorrelationEvent,
  type CorrelationGroup,
  correlate,
  DEFAULT_CORRELATION_GROUPS,
  type Event,
  fromHookFile,
  Priority,
  temporalAggregate,
  toEvents,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { marbles } from '../helpers/marbles.js';
import { atOnceScheduler, thislessScheduler } from '../helpers/schedulers.js';
import { unhandledRejections } from '../helpers/unhandled.js';

const T0 = 1_800_000_000_000;
const MIN = 60_000;
const SEC = 1_000;

/** An event of session `sessionId` at `at` ms after T0, with `id` as its id (so outputs can be read). */
function ev(
  id: string,
  type: string,
  at: number,
  data: Record<string, unknown> = {},
  sessionId: string | undefined = 'A',
): Event {
  return {
    id,
    type,
    timestamp: T0 + at,
    priority: Priority.NORMAL,
    data,
    ...(sessionId === undefined ? {} : { sessionId }),
  };
}
const file = (id: string, at: number, path = `/r/${id}.ts`, session = 'A', type = 'file.modified') =>
  ev(id, type, at, { file_path: path }, session);
const tool = (id: string, at: number, session = 'A') =>
  ev(id, 'tool.used', at, { tool_name: 'Edit' }, session);

const SHORT: Record<string, string> = {
  'activity.detected': 'detected',
  'activity.updated': 'updated',
  'activity.ended': 'ended',
};

/** Input events read as their id; activities as `detected:group:count[:reason]`; errors as `error:group`. */
function label(event: Event): string {
  const kind = SHORT[event.type];
  if (kind !== undefined) {
    const data = event.data as ActivityData;
    return `${kind}:${data.activity_type}:${data.event_count}${data.reason ? `:${data.reason}` : ''}`;
  }
  if (event.type === 'correlation.error') return `error:${(event.data as CorrelationErrorData).group}`;
  return event.id;
}

function run(events: readonly Event[], groups?: readonly CorrelationGroup[], options = {}): Event[] {
  const out: Event[] = [];
  from(events)
    .pipe(correlate(groups, options))
    .subscribe((event) => out.push(event));
  return out;
}
const labels = (events: readonly Event[], groups?: readonly CorrelationGroup[], options = {}) =>
  run(events, groups, options).map(label);
const activities = (out: readonly Event[]) =>
  out.filter((event) => event.type.startsWith('activity.')) as Array<Event<ActivityData>>;

/** 3 file events and 2 tool uses in 2 minutes: a feature-development window. */
const feature = (session = 'A', at = 0, prefix = '') => [
  file(`${prefix}f1`, at, `/r/${prefix}a.ts`, session, 'file.created'),
  tool(`${prefix}t1`, at + 30 * SEC, session),
  file(`${prefix}f2`, at + MIN, `/r/${prefix}b.ts`, session),
  tool(`${prefix}t2`, at + 90 * SEC, session),
  file(`${prefix}f3`, at + 2 * MIN, `/r/${prefix}a.ts`, session),
];

describe('correlate: the standard cases', () => {
  it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
    let pulled = 0;
    // Long, not endless: read to its end (the bug), the test fails rather than hangs.
    function* events(): Generator<Event> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield file(`f${i}`, i);
      }
    }
    const seen: string[] = [];
    from(events())
      .pipe(correlate(), take(1))
      .subscribe((event) => seen.push(label(event)));
    expect(seen).toEqual(['f0']);
    expect(pulled).toBe(1);
  });

  it(
    'passes events through at once and adds the activity after the event that completes it',
    marbles((m) => {
      const [a, b, c, d, e] = feature();
      const source = m.cold('  -a-b-c-d-e---|', { a, b, c, d, e });
      const subs = '           ^------------!';
      const expected = '       -a-b-c-d-(eD)(E|)';
      m.expect(source.pipe(correlate(), map(label))).toBeObservable(expected, {
        a: 'f1',
        b: 't1',
        c: 'f2',
        d: 't2',
        e: 'f3',
        D: 'detected:feature-development:5',
        E: 'ended:feature-development:5:flushed',
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'completes when empty',
    marbles((m) => {
      const source = m.cold<Event>('|');
      const subs = '                (^!)';
      m.expect(source.pipe(correlate())).toBeObservable('|');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<Event>('-');
      const subs = '                ^';
      m.expect(source.pipe(correlate())).toBeObservable('-');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never emits from never, with the live clock on too (no timer without state)',
    marbles((m) => {
      const source = m.cold<Event>('-');
      const subs = '                ^';
      m.expect(source.pipe(correlate(undefined, { liveClock: true, scheduler: m.scheduler }))).toBeObservable(
        '-',
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'ends open episodes, then forwards a source error',
    marbles((m) => {
      const [a, b, c, d, e] = feature();
      const source = m.cold('  -a-b-c-d-e---#', { a, b, c, d, e }, new Error('boom'));
      const subs = '           ^------------!';
      const expected = '       -a-b-c-d-(eD)(E#)';
      m.expect(source.pipe(correlate(), map(label))).toBeObservable(
        expected,
        {
          a: 'f1',
          b: 't1',
          c: 'f2',
          d: 't2',
          e: 'f3',
          D: 'detected:feature-development:5',
          E: 'ended:feature-development:5:flushed',
        },
        new Error('boom'),
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'unsubscribes from the source on early unsubscribe, and emits nothing more',
    marbles((m) => {
      const [a, b, c, d, e] = feature();
      const source = m.hot('   -a-b-c-d-e---|', { a, b, c, d, e });
      const subs = '           ^------!';
      const unsub = '          -------!';
      const expected = '       -a-b-c--';
      m.expect(source.pipe(correlate(), map(label)), unsub).toBeObservable(expected, {
        a: 'f1',
        b: 't1',
        c: 'f2',
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const [a, b, c, d, e] = feature();
      const source = m.hot('   -a-b-c-d-e---|', { a, b, c, d, e });
      const subs = '           ^------!';
      const unsub = '          -------!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        correlate(),
        mergeMap((x) => of(label(x))),
      );
      m.expect(result, unsub).toBeObservable('-a-b-c--', { a: 'f1', b: 't1', c: 'f2' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'follows the diagram of docs/correlate.md and the JSDoc: detected at the match, ended quiet before x, stamped at its last event',
    marbles((m) => {
      // f file.*, t tool.used, x any later event; timestamps in minutes of event time.
      const values = {
        a: file('f1', 0, '/r/a.ts', 'A', 'file.created'),
        b: tool('t1', 1 * MIN),
        c: file('f2', 2 * MIN, '/r/b.ts'),
        d: tool('t2', 3 * MIN),
        e: file('f3', 4 * MIN, '/r/c.ts'),
        g: tool('t3', 5 * MIN),
        h: tool('t4', 6 * MIN),
        i: tool('t5', 7 * MIN),
        x: ev('x', 'prompt.submitted', 13 * MIN),
      };
      const source = m.cold('  -a-b-c-d-e-----g-h-i-------------------x-----|', values);
      const expected = '       -a-b-c-d-(eD)--g-h-i-------------------(Ex)--|';
      const show = (event: Event) => {
        if (!event.type.startsWith('activity.')) return event.id;
        const data = event.data as ActivityData;
        const at = (time: number) => (time - T0) / MIN;
        return `${label(event)} ${at(data.window.start)}-${at(data.window.end)} @${at(event.timestamp)}`;
      };
      m.expect(source.pipe(correlate(), map(show))).toBeObservable(expected, {
        a: 'f1',
        b: 't1',
        c: 'f2',
        d: 't2',
        e: 'f3',
        g: 't3',
        h: 't4',
        i: 't5',
        x: 'x',
        D: 'detected:feature-development:5 0-4 @4',
        E: 'ended:feature-development:8:quiet 0-7 @7',
      });
    }),
  );

  it('handles re-entrant pushes in order: an input, then its activity, then the pushed event', () => {
    const input = new Subject<Event>();
    const seen: string[] = [];
    const late = tool('late', 3 * MIN);
    input.pipe(correlate()).subscribe((event) => {
      seen.push(label(event));
      if (event.type === 'activity.detected') input.next(late);
      // A re-entrant push from a pass-through event, before that event's activity is out.
      if (event.id === 'f3') input.next(tool('inner', 2 * MIN + 1));
    });
    for (const event of feature()) input.next(event);
    input.complete();
    expect(seen).toEqual([
      'f1',
      't1',
      'f2',
      't2',
      'f3',
      'detected:feature-development:5',
      'inner',
      'late',
      'ended:feature-development:7:flushed',
    ]);
  });

  it('completes once the events already pushed re-entrantly are handled', () => {
    const input = new Subject<Event>();
    const seen: string[] = [];
    input.pipe(correlate()).subscribe({
      next: (event) => {
        seen.push(label(event));
        if (event.id === 'f3') {
          input.next(tool('t3', 2 * MIN + 1));
          input.complete();
        }
      },
      complete: () => seen.push('|'),
    });
    for (const event of feature()) input.next(event);
    expect(seen).toEqual([
      'f1',
      't1',
      'f2',
      't2',
      'f3',
      'detected:feature-development:5',
      't3',
      'ended:feature-development:6:flushed',
      '|',
    ]);
  });

  // As RxJS's operators do (mergeMap whose source completes while inners run): the source is left when
  // it ends, not when the output ends after the outputs still owed.
  it.each([
    ['completes', (input: Subject<Event>) => input.complete(), '|'],
    ['errors', (input: Subject<Event>) => input.error(new Error('source')), 'error source'],
  ])('leaves the source as soon as it %s re-entrantly, before the outputs still owed', (_, end, last) => {
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(
        finalize(() => seen.push('source left')),
        correlate(),
      )
      .subscribe({
        next: (event) => {
          seen.push(label(event));
          if (event.id === 'f3') end(input);
        },
        error: (error: Error) => seen.push(`error ${error.message}`),
        complete: () => seen.push('|'),
      });
    for (const event of feature()) input.next(event);
    expect(seen).toEqual([
      'f1',
      't1',
      'f2',
      't2',
      'f3',
      'source left',
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
      last,
    ]);
  });

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const operator = correlate(undefined, { passThrough: false });
      const [a, b, c, d, e] = feature();
      expectObservable(cold('abcde|', { a, b, c, d, e }).pipe(operator, map(label))).toBe('----D(E|)', {
        D: 'detected:feature-development:5',
        E: 'ended:feature-development:5:flushed',
      });
      // The second source alone has 2 file events: nothing to detect, whatever the first one saw.
      expectObservable(cold('-cde|', { c, d, e }).pipe(operator, map(label))).toBe('----|');
    });
  });

  it('passes a value that is not an event, or has no group type, through unreported (not at all without passThrough)', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      // Between the events of an episode, which goes on as if they were not there.
      const [a, b, c, d, e] = feature();
      const n = null as unknown as Event;
      const s = 'file.modified' as unknown as Event;
      const t = { ...c!, id: 'odd', type: 42 } as unknown as Event;
      const input = cold('anbsctde---|', { a, b, c, d, e, n, s, t });
      expectObservable(input.pipe(correlate())).toBe('anbsctd(eD)(E|)', {
        a,
        b,
        c,
        d,
        e,
        n,
        s,
        t,
        D: expect.objectContaining({ type: 'activity.detected' }),
        E: expect.objectContaining({ type: 'activity.ended' }),
      });
      expectObservable(input.pipe(correlate(undefined, { passThrough: false }), map(label))).toBe(
        '-------D---(E|)',
        { D: 'detected:feature-development:5', E: 'ended:feature-development:5:flushed' },
      );
    });
  });

  it('passes undefined and a number through as they are, unreported', () => {
    const odd = [undefined, 5] as unknown as Event[];
    expect(run(odd)).toEqual([undefined, 5]);
    expect(run(odd, undefined, { passThrough: false })).toEqual([]);
  });

  it('drops an event pushed re-entrantly once the consumer has left', () => {
    const input = new Subject<Event>();
    const ruled: string[] = [];
    const spy = group('g', ['e'], (events) => {
      ruled.push(events.at(-1)!.id);
      return null;
    });
    const seen: string[] = [];
    input.pipe(correlate([spy]), take(1)).subscribe((e) => {
      seen.push(label(e));
      input.next(ev('late', 'e', SEC));
    });
    input.next(ev('a', 'e', 0));
    expect(seen).toEqual(['a']);
    expect(ruled).toEqual(['a']);
  });

  it('lets go of an event pushed re-entrantly once it is handled', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const input = new Subject<Event>();
    const held: Array<WeakRef<Event>> = [];
    // Pushed from a function of its own so that no local variable keeps the event alive.
    const push = () => {
      const event = ev('inner', 'p', SEC);
      held.push(new WeakRef(event));
      input.next(event);
    };
    const seen: string[] = [];
    input.pipe(correlate([group('g', ['e'], always)])).subscribe((e) => {
      seen.push(label(e));
      if (e.id === 'a') push();
    });
    input.next(ev('a', 'p', 0));
    expect(seen).toEqual(['a', 'inner']);
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(held[0]!.deref()).toBeUndefined();
  });
});

describe('correlate: configuration', () => {
  const group: CorrelationGroup = { name: 'g', eventTypes: ['x'], windowMs: 1_000, rule: () => null };

  it('types its output as the input events plus its own', () => {
    expectTypeOf(of(feature()[0]!).pipe(correlate())).toEqualTypeOf<Observable<Event | CorrelationEvent>>();
    type FileEvent = Event<{ file_path: string }>;
    expectTypeOf(of({} as FileEvent).pipe(correlate())).toEqualTypeOf<
      Observable<FileEvent | CorrelationEvent>
    >();
  });

  it('accepts the defaults, user groups and every option', () => {
    expect(() => correlate()).not.toThrow();
    expect(() =>
      correlate([group], {
        passThrough: false,
        updateIntervalMs: 10,
        maxSessions: 1,
        maxWindowEvents: 1,
        maxEventIds: 0,
        maxFiles: 0,
        liveClock: true,
        scheduler: new TestScheduler(() => {}),
      }),
    ).not.toThrow();
  });

  it('rejects a group of the wrong shape with a ConfigError', () => {
    expect(() => correlate([{ ...group, rule: 'x' as never }])).toThrow(ConfigError);
    expect(() => correlate([{ ...group, eventTypes: 'x' as never }])).toThrow(ConfigError);
    expect(() => correlate([{ name: 'g', eventTypes: ['x'], rule: () => null } as never])).toThrow(
      ConfigError,
    );
    expect(() => correlate([{ ...group, windowMS: 5 } as never])).toThrow(/windowMS/);
    expect(() => correlate('x' as never)).toThrow(ConfigError);
    expect(() => correlate([group], { scheduler: {} as never })).toThrow(ConfigError);
    expect(() => correlate([group], { passthrough: true } as never)).toThrow(ConfigError);
  });

  it('rejects values out of range with a ConfigError', () => {
    expect(() => correlate([{ ...group, windowMs: 0 }])).toThrow(ConfigError);
    expect(() => correlate([{ ...group, windowMs: Number.POSITIVE_INFINITY }])).toThrow(ConfigError);
    expect(() => correlate([{ ...group, name: '' }])).toThrow(ConfigError);
    expect(() => correlate([{ ...group, eventTypes: [] }])).toThrow(ConfigError);
    expect(() => correlate([])).toThrow(ConfigError);
    expect(() => correlate([group, { ...group }])).toThrow(/duplicate group name "g"/);
    expect(() => correlate([group], { maxSessions: 0 })).toThrow(ConfigError);
    expect(() => correlate([group], { updateIntervalMs: -1 })).toThrow(ConfigError);
  });

  it('names the operator and the field in the message', () => {
    expect(() => correlate([group, { ...group }])).toThrow(
      new ConfigError('correlate: groups[1] name: duplicate group name "g"'),
    );
    expect(() => correlate([group], { scheduler: null as never })).toThrow(
      new ConfigError('correlate: scheduler must be a SchedulerLike (now() and schedule()), got null'),
    );
    expect(() => correlate([{ ...group, windowMs: -5 }])).toThrow(
      new ConfigError('correlate: groups[0] windowMs must be a finite number > 0, got -5'),
    );
    // Every bad field is named, each issue apart from the next.
    expect(() =>
      correlate([
        { ...group, windowMs: -5 },
        { ...group, name: '' },
      ]),
    ).toThrow(
      new ConfigError(
        "correlate: groups[0] windowMs must be a finite number > 0, got -5; groups[1] name must be a non-empty string, got ''",
      ),
    );
  });

  it('names the argument when it is the wrong thing as a whole: options given first, groups not an array', () => {
    expect(() => correlate({ passThrough: false } as never)).toThrow(
      new ConfigError(
        'correlate: groups (the first argument) must be a non-empty array of groups, got { passThrough: false }: the first argument is the groups (an array, one group too: [group]); the options go second',
      ),
    );
    expect(() => correlate([group], 'all' as never)).toThrow(
      new ConfigError("correlate: the options must be an object, got 'all'"),
    );
  });
});

describe('correlate: feature-development', () => {
  it('is detected from 3 file events and 2 tool uses within 5 minutes, with what it touched', () => {
    const out = run(feature());
    const [detected] = activities(out);
    expect(detected!.type).toBe('activity.detected');
    expect(detected!.sessionId).toBe('A');
    expect(detected!.timestamp).toBe(T0 + 2 * MIN);
    expect(detected!.data).toStrictEqual({
      activity_id: detected!.id,
      activity_type: 'feature-development',
      confidence: 0.8,
      files_affected: ['/r/a.ts', '/r/b.ts'],
      files_truncated: false,
      event_count: 5,
      event_ids: ['f1', 't1', 'f2', 't2', 'f3'],
      event_ids_truncated: false,
      window: { start: T0, end: T0 + 2 * MIN },
      details: {},
    });
  });

  it('counts the events inside temporalAggregate windows, so it also works after temporalAggregate', () => {
    const out: Event[] = [];
    from(feature())
      .pipe(temporalAggregate(), correlate())
      .subscribe((event) => out.push(event));
    const [detected] = activities(out);
    expect(detected!.data).toMatchObject({
      activity_type: 'feature-development',
      files_affected: expect.arrayContaining(['/r/a.ts', '/r/b.ts']),
      event_count: 5,
    });
    expect([...detected!.data.event_ids].sort()).toEqual(['f1', 'f2', 'f3', 't1', 't2']);
    // The windows themselves pass through, unchanged.
    expect(out.filter((e) => e.type.endsWith('.aggregated')).map((e) => e.type)).toEqual(
      expect.arrayContaining(['file.modified.aggregated', 'tool.used.aggregated']),
    );
  });

  it('counts a temporalAggregate late event as the event it carries, as it counted it before temporalAggregate', () => {
    const events = [
      file('f1', 0, '/r/a.ts', 'A', 'file.created'),
      tool('t1', 10 * SEC),
      file('f2', 20 * SEC, '/r/b.ts', 'A', 'file.created'),
      tool('t2', 30 * SEC),
      file('m1', 40 * SEC, '/r/c.ts'),
      file('x', 50 * SEC, '/r/d.ts', 'A', 'file.created'),
      // Its file.modified window [40 s, 45 s) was closed at x: temporalAggregate emits file.modified.late.
      file('m2', 42 * SEC, '/r/e.ts'),
    ];
    const after: Event[] = [];
    from(events)
      .pipe(temporalAggregate(), correlate())
      .subscribe((event) => after.push(event));
    expect(after.map((e) => e.type)).toContain('file.modified.late');
    const ended = (out: Event[]) => activities(out).find((e) => e.type === 'activity.ended')!.data;
    const before = ended(run(events));
    expect(before.event_count).toBe(7);
    expect(ended(after).event_count).toBe(before.event_count);
    expect([...ended(after).event_ids].sort()).toEqual([...before.event_ids].sort());
    expect([...ended(after).files_affected].sort()).toEqual([...before.files_affected].sort());
  });

  it('lists the files of its file events only: a file only read is not affected, before or after detection', () => {
    // A Read's tool.used carries the file it read (the bridge sets data.file_path).
    const read = (id: string, at: number) =>
      ev(id, 'tool.used', at, { tool_name: 'Read', file_path: '/r/README.md' });
    const files = (events: Event[]) =>
      activities(run(events)).map((e) => `${SHORT[e.type]}:${[...e.data.files_affected].sort()}`);
    const [f1, t1, f2, t2, f3] = feature();
    expect(files([f1!, t1!, f2!, read('r', 100 * SEC), f3!, tool('t3', 3 * MIN)])).toEqual([
      'detected:/r/a.ts,/r/b.ts',
      'ended:/r/a.ts,/r/b.ts',
    ]);
    expect(files([f1!, t1!, f2!, t2!, f3!, read('r', 3 * MIN)])).toEqual([
      'detected:/r/a.ts,/r/b.ts',
      'ended:/r/a.ts,/r/b.ts',
    ]);
    // A file event's file still counts after detection.
    expect(files([f1!, t1!, f2!, t2!, f3!, file('f4', 3 * MIN, '/r/c.ts')])).toEqual([
      'detected:/r/a.ts,/r/b.ts',
      'ended:/r/a.ts,/r/b.ts,/r/c.ts',
    ]);
  });

  it('counts file events whatever their data, and lists their string paths only', () => {
    const events = [
      { ...ev('f1', 'file.created', 0), data: null as never },
      tool('t1', SEC),
      ev('f2', 'file.modified', 2 * SEC, { file_path: 42 }),
      tool('t2', 3 * SEC),
      ev('f3', 'file.modified', 4 * SEC, { file_path: '' }),
      file('f4', 5 * SEC, '/r/a.ts'),
    ];
    const out = run(events, undefined, { passThrough: false });
    expect(out.map(label)).toEqual(['detected:feature-development:5', 'ended:feature-development:6:flushed']);
    expect((out[1]!.data as ActivityData).files_affected).toEqual(['/r/a.ts']);
    // The rule itself: tool uses are tool.used events only.
    const rule = DEFAULT_CORRELATION_GROUPS[0]!.rule;
    const prompts = [ev('p1', 'prompt.submitted', 0), ev('p2', 'prompt.submitted', 0)];
    expect(rule([file('a', 0), file('b', 0), file('c', 0), tool('t', 0), ...prompts])).toBeNull();
  });

  it('is not detected with 2 file events, however many tool uses', () => {
    const events = [
      file('f1', 0),
      file('f2', SEC),
      ...Array.from({ length: 20 }, (_, i) => tool(`t${i}`, i * SEC)),
    ];
    expect(activities(run(events))).toEqual([]);
  });

  it('is not detected when the events are spread over more than the window', () => {
    const events = [
      file('f1', 0),
      tool('t1', MIN),
      file('f2', 2 * MIN),
      tool('t2', 3 * MIN),
      file('f3', 5 * MIN + 1),
    ];
    expect(activities(run(events))).toEqual([]);
    // At exactly 5 minutes the first event is still in the window.
    events[4] = file('f3', 5 * MIN);
    expect(labels(events)).toContain('detected:feature-development:5');
  });

  it('does not mix two sessions', () => {
    // Together they would make 3 file events and 2 tool uses; apart, neither does.
    const events = [file('a1', 0, '/r/a', 'A'), tool('b1', SEC, 'B'), file('a2', 2 * SEC, '/r/b', 'A')];
    events.push(tool('b2', 3 * SEC, 'B'), file('b3', 4 * SEC, '/r/c', 'B'));
    expect(activities(run(events))).toEqual([]);
    // Each session on its own detects its own activity, with its own events.
    const both = [...feature('A', 0, 'a-'), ...feature('B', SEC, 'b-')].sort(
      (x, y) => x.timestamp - y.timestamp,
    );
    const found = activities(run(both)).filter((e) => e.type === 'activity.detected');
    expect(found.map((e) => [e.sessionId, e.data.event_ids])).toEqual([
      ['A', ['a-f1', 'a-t1', 'a-f2', 'a-t2', 'a-f3']],
      ['B', ['b-f1', 'b-t1', 'b-f2', 'b-t2', 'b-f3']],
    ]);
  });

  it('reports a burst of 100 matching events as one activity', () => {
    const burst = Array.from({ length: 100 }, (_, i) =>
      i % 2 === 0 ? file(`f${i}`, i * SEC, `/r/${i % 7}.ts`) : tool(`t${i}`, i * SEC),
    );
    const out = activities(run(burst));
    expect(out.map(label)).toEqual([
      'detected:feature-development:5',
      'ended:feature-development:100:flushed',
    ]);
    const ended = out[1]!;
    expect(ended.data.activity_id).toBe(out[0]!.id);
    expect(ended.data.event_ids).toHaveLength(100);
    expect(ended.data.files_affected).toHaveLength(7);
    expect(ended.data.window).toStrictEqual({ start: T0, end: T0 + 99 * SEC });
    expect(ended.timestamp).toBe(T0 + 99 * SEC);
  });

  it('starts a new episode once the previous one has been quiet for its window', () => {
    const first = feature('A', 0, 'x');
    const second = feature('A', 2 * MIN + 5 * MIN + 1, 'y');
    expect(labels([...first, ...second])).toEqual([
      ...['xf1', 'xt1', 'xf2', 'xt2', 'xf3', 'detected:feature-development:5'],
      // The quiet end is found by the next event of the session, and precedes it.
      'ended:feature-development:5:quiet',
      ...['yf1', 'yt1', 'yf2', 'yt2', 'yf3', 'detected:feature-development:5'],
      'ended:feature-development:5:flushed',
    ]);
  });

  it('keeps one episode while events keep coming within the window, however long it lasts', () => {
    // An event a minute for an hour: never 5 quiet minutes.
    const events = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? file(`f${i}`, i * MIN) : tool(`t${i}`, i * MIN),
    );
    expect(activities(run(events)).map(label)).toEqual([
      'detected:feature-development:5',
      'ended:feature-development:60:flushed',
    ]);
  });

  it('finds quiet episodes of other sessions as event time moves on', () => {
    const events = [...feature('A'), ev('p', 'prompt.submitted', 10 * MIN, {}, 'B')];
    expect(labels(events)).toEqual([
      ...['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5'],
      'ended:feature-development:5:quiet',
      'p',
    ]);
  });

  it('ends the episodes a jump in event time finds quiet in deadline order, ties by session id, as live', () => {
    const g = { name: 'g', eventTypes: ['e'], windowMs: 10 * MIN, rule: () => ({ confidence: 1 }) };
    // B is tracked first but quiet last: A's deadline is 11 min, B's 15; C and D (in that order) tie at 10.
    const events = [
      ev('b1', 'e', 0, {}, 'B'),
      ev('d1', 'e', 0, {}, 'D'),
      ev('c1', 'e', 0, {}, 'C'),
      ev('a1', 'e', MIN, {}, 'A'),
      ev('b2', 'e', 5 * MIN, {}, 'B'),
      ev('x', 'prompt.submitted', 60 * MIN, {}, 'X'), // one sweep finds them all quiet
    ];
    const ends = (out: readonly Event[]) =>
      out.filter((e) => e.type === 'activity.ended').map((e) => `${e.sessionId} ${label(e)}`);
    const expected = ['C ended:g:1:quiet', 'D ended:g:1:quiet', 'A ended:g:1:quiet', 'B ended:g:2:quiet'];
    expect(ends(run(events, [g], { passThrough: false }))).toEqual(expected);
    // Live, on the scheduler's clock (timestamps from it), sweeps every 2.5 min end them as they go quiet.
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: Event[] = [];
    input
      .pipe(correlate([g], { passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => live.push(e));
    for (const e of events) {
      const at = e.timestamp - T0;
      scheduler.schedule(() => input.next({ ...e, timestamp: at }), at);
    }
    scheduler.schedule(() => input.complete(), 60 * MIN);
    scheduler.flush();
    expect(ends(live)).toEqual(expected);
  });

  it('ends an episode quiet by the newest timestamp before the first event after its deadline, whatever came just before', () => {
    // A's last event is at 2 min: its episode is quiet after 7. B's event at 6.5 min sweeps and finds it
    // not quiet yet; the next one (p2) finds it quiet, however soon after p1 it comes (as the live clock's
    // tick at 7.25 min or p2's own sweep would end it, whichever first: before p2).
    const quiet = (last: number) => [
      ...feature('A'),
      ev('p1', 'prompt.submitted', 6.5 * MIN, {}, 'B'),
      ev('p2', 'prompt.submitted', last, {}, 'B'),
    ];
    const before = ['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5', 'p1'];
    expect(labels(quiet(7.1 * MIN))).toEqual([...before, 'ended:feature-development:5:quiet', 'p2']);
    expect(labels(quiet(7.3 * MIN))).toEqual([...before, 'ended:feature-development:5:quiet', 'p2']);
    // At its deadline exactly it is not quiet yet: the flush ends it.
    expect(labels(quiet(7 * MIN))).toEqual([...before, 'p2', 'ended:feature-development:5:flushed']);
  });
});

describe('correlate: bug-fix', () => {
  const fixSession = (message: string | undefined) => [
    file('m1', 0, '/r/total.test.ts'),
    ev('r', 'test.run', 20 * SEC, { passed: false }),
    file('m2', 30 * SEC, '/r/money.ts'),
    ev('g', 'test.run', 60 * SEC, { passed: true }),
    ev('c', 'git.commit', 80 * SEC, message === undefined ? {} : { message }),
  ];
  const bugFix = (events: Event[]) =>
    activities(
      run(
        events,
        DEFAULT_CORRELATION_GROUPS.filter((g) => g.name === 'bug-fix'),
      ),
    ).filter((e) => e.type === 'activity.detected');

  it('is a modification followed by a commit; a fix message and red-then-green tests raise it', () => {
    const [detected] = bugFix(fixSession('fix(cart): round totals once'));
    expect(detected!.data).toMatchObject({
      activity_type: 'bug-fix',
      confidence: 0.9,
      files_affected: ['/r/total.test.ts', '/r/money.ts'],
      event_ids: ['m1', 'r', 'm2', 'g', 'c'],
      details: {
        evidence: ['modified-then-committed', 'fix-message', 'tests-red-then-green'],
        commit_message: 'fix(cart): round totals once',
      },
    });
  });

  it('scores each piece of evidence', () => {
    expect(bugFix(fixSession(undefined))[0]!.data.confidence).toBe(0.65);
    expect(bugFix(fixSession('Fix the rounding bug'))[0]!.data.confidence).toBe(0.9);
    expect(bugFix([file('m', 0), ev('c', 'git.commit', SEC, { message: 'tidy' })])[0]!.data.confidence).toBe(
      0.5,
    );
    const withAgent = [
      file('m', 0),
      ev('a', 'agent.completed', SEC, { agent: 'debugger' }),
      ev('c', 'git.commit', 2 * SEC, { message: 'fix: x' }),
    ];
    expect(bugFix(withAgent)[0]!.data).toMatchObject({
      confidence: 0.8,
      details: { evidence: ['modified-then-committed', 'fix-message', 'debug-agent'] },
    });
  });

  it('is not a commit of another conventional type, nor a commit without a modification before it', () => {
    expect(bugFix(fixSession('feat(orders): export as CSV'))).toEqual([]);
    expect(bugFix(fixSession('docs: typo'))).toEqual([]);
    expect(bugFix([ev('c', 'git.commit', 0, { message: 'fix: x' }), file('m', SEC)])).toEqual([]);
    // The modification must be within the 3-minute window before the commit.
    expect(bugFix([file('m', 0), ev('c', 'git.commit', 3 * MIN + 1, { message: 'fix: x' })])).toEqual([]);
  });

  /** What a commit with `message` after a modification is: no match, a match with fix evidence, or a plain one. */
  const verdict = (message: unknown) => {
    const [detected] = bugFix([file('m', 0), ev('c', 'git.commit', SEC, { message })]);
    if (detected === undefined) return 'none';
    return (detected.data.details.evidence as string[]).includes('fix-message') ? 'fix' : 'plain';
  };

  it('reads fix words in all their forms in a message that is not a conventional commit', () => {
    const fixes = [
      ...['fix the parser', 'Fixes #12', 'fixed it', 'a bug in totals', 'two bugs', 'bugfix for totals'],
      ...['hotfix', 'a regression', 'resolve the overflow', 'resolves #3', 'resolved', 'repair the cache'],
      ...['repaired', 'repairs the cache', 'crash on load', 'crashes on load'],
      // Not conventional: the colon does not follow the first word.
      'Fix crash: on load',
    ];
    expect(fixes.filter((message) => verdict(message) !== 'fix')).toEqual([]);
    expect(['tidy', 'prefix the ids', 'debugging'].map(verdict)).toEqual(['plain', 'plain', 'plain']);
    // A message that is not a string says nothing.
    expect(verdict(['fix: x'])).toBe('plain');
  });

  it('reads a conventional commit by its type: fix, bugfix, hotfix and the fix words are fixes, the other known types no match', () => {
    expect(['fix: x', 'bugfix: x', 'hotfix(cart): x', 'Fix!: x'].map(verdict)).toEqual([
      'fix',
      'fix',
      'fix',
      'fix',
    ]);
    // A type that is a fix word (`Bug: …`, `Fixes: #12`) says so as the words of another message do.
    const fixTypes = ['Bug: totals off by one', 'Fixes: #12', 'bugs: x', 'Crash(cart): on load'];
    fixTypes.push('regression: x', 'Resolves: #3', 'repair: cache');
    expect(fixTypes.filter((message) => verdict(message) !== 'fix')).toEqual([]);
    // A type that only contains one is not one.
    expect(['prefix: ids', 'debug: x', 'fixture: x'].map(verdict)).toEqual(['plain', 'plain', 'plain']);
    const others = ['feat', 'feature', 'docs', 'doc', 'chore', 'refactor', 'style', 'test', 'tests', 'build'];
    others.push('ci', 'perf', 'revert', 'release', 'wip');
    expect(others.filter((type) => verdict(`${type}: fix the crash`) !== 'none')).toEqual([]);
    // Another type's fix words do not make it a fix.
    expect(verdict('security: fix the overflow')).not.toBe('fix');
  });

  it('counts a passing run as green only after a failing one, and only a debugging agent', () => {
    const evidence = (...between: Event[]) =>
      bugFix([file('m', 0), ...between, ev('c', 'git.commit', MIN, { message: 'tidy' })])[0]!.data.details
        .evidence;
    expect(evidence(ev('g', 'test.run', SEC, { passed: true }))).toEqual(['modified-then-committed']);
    // A run of unknown outcome is neither red nor green.
    expect(
      evidence(
        ev('r', 'test.run', SEC, { passed: false }),
        ev('u', 'test.run', 2 * SEC, { outcome: 'unknown' }),
      ),
    ).toEqual(['modified-then-committed']);
    expect(evidence(ev('a', 'agent.completed', SEC, { agent: 'Explore' }))).toEqual([
      'modified-then-committed',
    ]);
    expect(evidence(ev('a', 'agent.completed', SEC, { agent_type: 'bug-hunter' }))).toEqual([
      'modified-then-committed',
      'debug-agent',
    ]);
  });

  it("counts a Claude Code debugger run by its SubagentStart's type, though its SubagentStop says agent_type ''", () => {
    // As Claude Code sends them (shared fixtures): SubagentStart with the type, SubagentStop with "".
    const base = { session_id: 'A', cwd: '/w', transcript_path: '/w/A.jsonl' };
    const hooks = (agentType: string, otherId = 'a1eb876') => [
      ...toEvents('SubagentStart', { ...base, agent_id: 'a1eb876', agent_type: agentType }, T0),
      ...toEvents(
        'PostToolUse',
        { ...base, tool_name: 'Edit', tool_input: { file_path: '/w/cart.ts' }, tool_response: {} },
        T0 + SEC,
      ),
      ...toEvents(
        'SubagentStop',
        { ...base, stop_hook_active: false, agent_id: otherId, agent_type: '' },
        T0 + 2 * SEC,
      ),
      ev('c', 'git.commit', 3 * SEC, { message: 'fix: round totals once' }),
    ];
    const evidence = (events: Event[]) => bugFix(events)[0]!.data.details.evidence;
    expect(evidence(hooks('debugger'))).toEqual(['modified-then-committed', 'fix-message', 'debug-agent']);
    expect(bugFix(hooks('debugger'))[0]!.data.confidence).toBe(0.8);
    // Another agent's run, or the end of another run than the debugger's, is no debugging agent.
    expect(evidence(hooks('Explore'))).toEqual(['modified-then-committed', 'fix-message']);
    expect(evidence(hooks('debugger', 'acad711'))).toEqual(['modified-then-committed', 'fix-message']);
    // A debugger started but not completed before the commit is not counted either.
    const running = hooks('debugger').filter((e) => e.type !== 'agent.completed');
    expect(evidence(running)).toEqual(['modified-then-committed', 'fix-message']);
  });

  it('matches a debugging run by a string name and the agent_id of its agent.started only', () => {
    const bonus = (...between: Event[]) => {
      const [detected] = bugFix([file('m', 0), ...between, ev('c', 'git.commit', MIN, { message: 'tidy' })]);
      return (detected!.data.details.evidence as string[]).includes('debug-agent');
    };
    const done = (id: unknown) => ev('d', 'agent.completed', 2 * SEC, { agent: 'x1', agent_id: id });
    // A start named by `agent` alone (no agent_type), as a hand-made event may be.
    expect(bonus(ev('s', 'agent.started', SEC, { agent: 'debugger', agent_id: 'x1' }), done('x1'))).toBe(
      true,
    );
    // A name that is no string says nothing, though its text would say debugger.
    expect(bonus(ev('s', 'agent.started', SEC, { agent: ['debugger'], agent_id: 'x1' }), done('x1'))).toBe(
      false,
    );
    expect(bonus(ev('d', 'agent.completed', SEC, { agent: ['debugger'] }))).toBe(false);
    // A start without an id is matched by no end, not even one without an id.
    expect(bonus(ev('s', 'agent.started', SEC, { agent: 'debugger' }), done(undefined))).toBe(false);
    // Only an agent.started starts a run (an earlier commit, no fix, with the same fields does not).
    const earlier = ev('g', 'git.commit', SEC, { message: 'feat: x', agent: 'debugger', agent_id: 'x1' });
    expect(bonus(earlier, done('x1'))).toBe(false);
  });

  it('lists the modifications with a file path only, and a commit without a message as null', () => {
    const events = [
      { ...ev('m0', 'file.modified', 0), data: null as never },
      ev('m1', 'file.modified', SEC, { file_path: 42 }),
      ev('m2', 'file.modified', 2 * SEC, { file_path: '' }),
      file('m3', 3 * SEC, '/r/a.ts'),
      { ...ev('c', 'git.commit', 4 * SEC), data: null as never },
    ];
    const out = run(events, DEFAULT_CORRELATION_GROUPS, { passThrough: false });
    expect(out.map(label)).toEqual(['detected:bug-fix:5', 'ended:bug-fix:5:flushed']);
    expect(out[0]!.data).toMatchObject({ files_affected: ['/r/a.ts'], confidence: 0.5 });
    expect((out[0]!.data as ActivityData).details.commit_message).toBeNull();
  });

  it('counts a modification without a usable timestamp as made when it arrived: before a later commit, not an earlier one', () => {
    const undated = (event: Event) => ({ ...event, timestamp: Number.NaN });
    const before = [
      ev('p', 'test.run', 0, { passed: false }),
      undated(file('m', 0)),
      ev('c', 'git.commit', SEC),
    ];
    expect(bugFix(before).map(label)).toEqual(['detected:bug-fix:3']);
    // The session's first event: it counts as made at the newest timestamp seen (x's).
    const first = [
      ev('x', 'prompt.submitted', 0, {}, 'X'),
      undated(file('m', 0)),
      ev('c', 'git.commit', SEC),
    ];
    expect(bugFix(first).map(label)).toEqual(['detected:bug-fix:2']);
    expect(bugFix([ev('c', 'git.commit', 0, { message: 'fix: x' }), undated(file('m', SEC))])).toEqual([]);
    // Also in a window out of order (a late test run, held up on the way): the modification stays after
    // what arrived before it, before the commit.
    const late = [
      ev('a', 'agent.completed', MIN, { agent: 'Explore' }),
      ev('r', 'test.run', 30 * SEC, { passed: true }),
      undated(file('m', 0)),
      ev('c', 'git.commit', 2 * MIN),
    ];
    expect(bugFix(late).map(label)).toEqual(['detected:bug-fix:4']);
    // Nor before a commit that arrived before it, a late event between them.
    const after = [
      ev('c', 'git.commit', MIN, { message: 'fix: x' }),
      ev('r', 'test.run', 30 * SEC, { passed: true }),
      undated(file('m', 0)),
    ];
    expect(bugFix(after)).toEqual([]);
    // And a modification held up on the way still counts before its commit after an undated event.
    const held = [
      ev('c', 'git.commit', 2 * MIN, { message: 'fix: x' }),
      undated(ev('r', 'test.run', 0, { passed: true })),
      file('m', 90 * SEC),
    ];
    expect(bugFix(held).map(label)).toEqual(['detected:bug-fix:3']);
  });

  it('judges by event time a commit that came before an older modification', () => {
    const events = [ev('c', 'git.commit', 2 * MIN, { message: 'fix: x' }), file('m', MIN)];
    expect(bugFix(events).map(label)).toEqual(['detected:bug-fix:2']);
    // The rule itself, on the window as it arrived: a modification before the commit is required.
    const rule = DEFAULT_CORRELATION_GROUPS[1]!.rule;
    expect(rule([ev('c', 'git.commit', 0, { message: 'fix: x' }), file('m', SEC)])).toBeNull();
    expect(rule(events)).toMatchObject({ confidence: 0.75 });
  });

  it('finds the fix after temporalAggregate too, when the commit overtakes modifications held in a window', () => {
    // The commit passes temporalAggregate at once; the modifications reach correlate only when their
    // 5 s file.modified window closes, after it. What counts is event time: they were made before it.
    const events = [
      file('m1', 0, '/r/money.ts'),
      ev('r', 'test.run', SEC, { passed: false }),
      file('m2', 2 * SEC, '/r/total.ts'),
      ev('g', 'test.run', 3 * SEC, { passed: true }),
      ev('c', 'git.commit', 4 * SEC, { message: 'fix: round totals once' }),
    ];
    const direct = bugFix(events);
    const after: Event[] = [];
    from(events)
      .pipe(temporalAggregate(), correlate(DEFAULT_CORRELATION_GROUPS.filter((g) => g.name === 'bug-fix')))
      .subscribe((event) => after.push(event));
    const detected = activities(after).filter((e) => e.type === 'activity.detected');
    expect(direct).toHaveLength(1);
    expect(detected).toHaveLength(1);
    const { confidence, details } = direct[0]!.data;
    expect(detected[0]!.data).toMatchObject({ confidence, details });
    // Detected as the first held modification arrives, the episode then takes the rest: it ends the same.
    const ended = (out: Event[]) => activities(out).find((e) => e.type === 'activity.ended')!.data;
    const endedDirect = ended(
      run(
        events,
        DEFAULT_CORRELATION_GROUPS.filter((g) => g.name === 'bug-fix'),
      ),
    );
    expect(ended(after).event_count).toBe(endedDirect.event_count);
    expect([...ended(after).files_affected].sort()).toEqual([...endedDirect.files_affected].sort());
    // In event time a modification made after the commit is still not a fix, whatever the arrival order.
    const late = [ev('c', 'git.commit', SEC, { message: 'fix: x' }), file('m', 2 * SEC)];
    const lateAfter: Event[] = [];
    from(late)
      .pipe(temporalAggregate(), correlate())
      .subscribe((event) => lateAfter.push(event));
    expect(activities(lateAfter).filter((e) => e.data.activity_type === 'bug-fix')).toEqual([]);
  });

  it('finds a fix whose commit and modification arrive after a later feat commit, as in time order', () => {
    const bugFixOnly = DEFAULT_CORRELATION_GROUPS.filter((g) => g.name === 'bug-fix');
    const plain = bugFixOnly.map((g) => ({ ...g, rule: (events: readonly Event[]) => g.rule(events) }));
    const events = [
      ev('c1', 'git.commit', 100 * SEC, { message: 'feat: add y' }),
      ev('r1', 'test.run', 200 * SEC, { passed: true }),
      // Held up on the way: a fix commit and its modification, both older than c1, arrive late. The feat
      // commit after them is passed over: it does not hide the fix (it did until it left the window).
      ev('c2', 'git.commit', 50 * SEC, { message: 'fix: x' }),
      file('m', 40 * SEC, '/r/x.ts'),
      ev('r2', 'test.run', 290 * SEC, { passed: true }),
    ];
    const found = activities(run(events, bugFixOnly, { passThrough: false }));
    expect(found.map(label)).toEqual(['detected:bug-fix:4', 'ended:bug-fix:5:flushed']);
    const fix = { evidence: ['modified-then-committed', 'fix-message'], commit_message: 'fix: x' };
    expect(found.map((e) => e.data.details)).toStrictEqual([fix, fix]);
    expect(found.map(label)).toEqual(activities(run(events, plain, { passThrough: false })).map(label));
    // In time order: the same fix.
    const inOrder = [...events].sort((a, b) => a.timestamp - b.timestamp);
    expect(
      activities(run(inOrder, bugFixOnly, { passThrough: false })).map((e) => e.data.details),
    ).toStrictEqual([fix, fix]);
    // The rule itself: a window whose latest commit is a feat, after a fix that followed a modification.
    expect(bugFixOnly[0]!.rule(inOrder)).toMatchObject({ confidence: 0.75, commit_message: 'fix: x' });
    expect(bugFixOnly[0]!.rule(inOrder.filter((e) => e.id !== 'm'))).toBeNull();
  });

  describe('ends with the verdict on all its events, whatever order they arrived in', () => {
    const bugFixOnly = DEFAULT_CORRELATION_GROUPS.filter((g) => g.name === 'bug-fix');
    /** The episodes' ends: confidence, evidence and what they hold (ids and files as sets). */
    const ends = (events: readonly Event[], options: CorrelateOptions = {}) =>
      activities(run(events, bugFixOnly, { ...options, passThrough: false }))
        .filter((e) => e.type === 'activity.ended')
        .map(({ timestamp, data }) => ({
          timestamp,
          confidence: data.confidence,
          details: data.details,
          event_count: data.event_count,
          event_ids: [...data.event_ids].sort(),
          files: [...data.files_affected].sort(),
          end: data.window.end,
          reason: data.reason,
        }));
    const red = ev('r', 'test.run', 10 * SEC, { passed: false });
    const green = ev('g', 'test.run', 20 * SEC, { passed: true });
    const debuggerRun = ev('a', 'agent.completed', 25 * SEC, { agent: 'debugger' });
    const commit = ev('c', 'git.commit', 30 * SEC, { message: 'fix: round totals' });

    it('counts red-then-green tests and a debugging agent that arrive after the commit they came before', () => {
      const inOrder = [file('m', 0), red, green, debuggerRun, commit];
      // The test runs and the agent's end held up on the way (a window of their own, another lane).
      const late = [file('m', 0), commit, red, green, debuggerRun];
      const expected = ends(inOrder);
      expect(expected).toMatchObject([
        {
          confidence: 0.95,
          details: {
            evidence: ['modified-then-committed', 'fix-message', 'tests-red-then-green', 'debug-agent'],
          },
          event_count: 5,
          reason: 'flushed',
        },
      ]);
      expect(ends(late)).toStrictEqual(expected);
      // With updates too: the next update and the end report it.
      expect(ends(late, { updateIntervalMs: MIN })).toStrictEqual(expected);
      // A late event does not move event time on: the next update due reports it.
      const next = ev('n', 'test.run', 40 * SEC, { passed: true });
      const updated = activities(
        run([...late, next], bugFixOnly, { passThrough: false, updateIntervalMs: 5 * SEC }),
      );
      expect(updated.map((e) => `${label(e)} ${e.data.confidence}`)).toEqual([
        'detected:bug-fix:2 0.75',
        'updated:bug-fix:6 0.95',
        'ended:bug-fix:6:flushed 0.95',
      ]);
    });

    it('takes the best-supported commit of the episode, a later one in time order, an earlier one late', () => {
      const plainCommit = ev('p', 'git.commit', 5 * SEC, { message: 'tidy' });
      const inOrder = [file('m', 0), plainCommit, file('m2', 8 * SEC, '/r/b.ts'), commit];
      const expected = ends(inOrder);
      expect(expected).toMatchObject([
        { confidence: 0.75, details: { commit_message: 'fix: round totals' }, files: ['/r/b.ts', '/r/m.ts'] },
      ]);
      expect(ends([file('m', 0), commit, plainCommit, file('m2', 8 * SEC, '/r/b.ts')])).toStrictEqual(
        expected,
      );
      // Of equal confidence, the latest in event time, whichever came first.
      const other = ev('o', 'git.commit', 35 * SEC, { message: 'fix: the other one' });
      const both = ends([file('m', 0), commit, other]);
      expect(both).toMatchObject([{ details: { commit_message: 'fix: the other one' } }]);
      expect(ends([file('m', 0), other, commit])).toStrictEqual(both);
      // A lower verdict never replaces it: a later plain commit keeps the fix's.
      const later = ev('l', 'git.commit', 40 * SEC, { message: 'tidy' });
      expect(ends([file('m', 0), commit, later])).toMatchObject([
        { confidence: 0.75, details: { commit_message: 'fix: round totals' } },
      ]);
    });

    it('lists a modification made after the commit that reached correlate before it', () => {
      const after = file('m2', 40 * SEC, '/r/after.ts');
      const expected = ends([file('m', 0), commit, after]);
      expect(expected).toMatchObject([{ files: ['/r/after.ts', '/r/m.ts'], event_count: 3 }]);
      expect(ends([file('m', 0), after, commit])).toStrictEqual(expected);
    });

    it('runs the rule again only for a commit, or an event made before a commit of the window that came after it', () => {
      // The rule reads each event's data once per run: a modification that counts the reads of its data.
      let reads = 0;
      const probe = { ...file('m', 0) };
      Object.defineProperty(probe, 'data', {
        get: () => {
          reads++;
          return { file_path: '/r/m.ts' };
        },
      });
      const input = new Subject<Event>();
      const out: Event[] = [];
      input.pipe(correlate(bugFixOnly, { passThrough: false })).subscribe((e) => out.push(e));
      const readsFor = (event: Event) => {
        const before = reads;
        input.next(event);
        return reads - before;
      };
      readsFor(probe);
      expect(readsFor(ev('c1', 'git.commit', 30 * SEC, { message: 'tidy' }))).toBeGreaterThan(0);
      expect(out.map(label)).toEqual(['detected:bug-fix:2']);
      // In order, or late but made after the commit: no run.
      expect(readsFor(ev('t1', 'test.run', 40 * SEC, { passed: false }))).toBe(0);
      expect(readsFor(ev('t2', 'test.run', 35 * SEC, { passed: true }))).toBe(0);
      expect(readsFor({ ...ev('t3', 'test.run', 0, { passed: true }), timestamp: Number.NaN })).toBe(0);
      expect(readsFor(ev('t4', 'test.run', 30 * SEC, { passed: true }))).toBe(0);
      // Late, made before the commit: a run. Another commit, in order or late: a run each.
      expect(readsFor(ev('t5', 'test.run', 20 * SEC, { passed: false }))).toBe(1);
      expect(readsFor(ev('c2', 'git.commit', 50 * SEC, { message: 'tidy' }))).toBe(1);
      expect(readsFor(ev('c3', 'git.commit', 10 * SEC, { message: 'tidy' }))).toBe(1);
      // Made before the latest commit (c2), after the first: a run.
      expect(readsFor(ev('t6', 'test.run', 45 * SEC, { passed: true }))).toBe(1);
      input.complete();
      expect(out.map((e) => `${label(e)} ${e.data.confidence}`)).toEqual([
        'detected:bug-fix:2 0.5',
        'ended:bug-fix:10:flushed 0.65',
      ]);
    });

    it('keeps the most confident verdict: one the window lost as it slid is not replaced by a lower one', () => {
      const fixCommit = ev('c1', 'git.commit', 10 * SEC, { message: 'fix: x' });
      // The fix commit leaves the window (3 min) while the episode goes on: a plain commit, or a feat
      // commit (no match at all), then joins it.
      const lower = [
        file('m', 0),
        fixCommit,
        file('m2', 150 * SEC),
        ev('c2', 'git.commit', 200 * SEC, { message: 'tidy' }),
      ];
      const none = [
        file('m', 0),
        fixCommit,
        ev('r', 'test.run', 150 * SEC, { passed: true }),
        ev('c2', 'git.commit', 200 * SEC, { message: 'feat: y' }),
      ];
      for (const events of [lower, none]) {
        expect(ends(events)).toMatchObject([
          { confidence: 0.75, details: { commit_message: 'fix: x' }, event_count: 4, reason: 'flushed' },
        ]);
        let error: unknown;
        from(events)
          .pipe(correlate(bugFixOnly))
          .subscribe({ error: (e) => (error = e) });
        expect(error).toBeUndefined();
      }
      // With updates: an update's fresh verdict too (of equal confidence, the latest commit's details).
      const events = [
        file('m', 0),
        ev('c1', 'git.commit', 10 * SEC, { message: 'tidy' }),
        ev('c2', 'git.commit', 20 * SEC, { message: 'tidy again' }),
        ev('c3', 'git.commit', 30 * SEC, { message: 'fix: x' }),
        file('m2', 200 * SEC),
        ev('c4', 'git.commit', 220 * SEC, { message: 'tidy' }),
      ];
      const out = activities(run(events, bugFixOnly, { passThrough: false, updateIntervalMs: 5 * SEC }));
      expect(out.map((e) => `${label(e)} ${e.data.confidence} ${e.data.details.commit_message}`)).toEqual([
        'detected:bug-fix:2 0.5 tidy',
        'updated:bug-fix:3 0.5 tidy again',
        'updated:bug-fix:4 0.75 fix: x',
        'updated:bug-fix:5 0.75 fix: x',
        'updated:bug-fix:6 0.75 fix: x',
        'ended:bug-fix:6:flushed 0.75 fix: x',
      ]);
    });

    it('calls the rule only when the window can turn into a match, and revises after a late commit by its own time', () => {
      // A test run that counts the reads of its data: the rule reads each event's data once per run.
      let reads = 0;
      const probe = (session: string) => {
        const event = { ...ev(`p${session}`, 'test.run', 0, {}, session) };
        Object.defineProperty(event, 'data', {
          get: () => {
            reads++;
            return { passed: false };
          },
        });
        return event;
      };
      const input = new Subject<Event>();
      const out: string[] = [];
      input.pipe(correlate(bugFixOnly, { passThrough: false })).subscribe((e) => out.push(label(e)));
      const runs = (event: Event) => {
        const before = reads;
        input.next(event);
        return reads - before;
      };
      runs(probe('A'));
      // No modification: a commit is no match.
      expect(runs(ev('c0', 'git.commit', 10 * SEC, { message: 'fix: x' }))).toBe(0);
      // A modification after the commit, in order; then a test run, in order and late: none can match.
      expect(runs(file('m1', 20 * SEC))).toBe(0);
      expect(runs(ev('t1', 'test.run', 30 * SEC, { passed: true }))).toBe(0);
      expect(runs(ev('t2', 'test.run', 15 * SEC, { passed: true }))).toBe(0);
      // A late modification with no commit in the window (session B): none either.
      runs(probe('B'));
      expect(runs(file('b1', 20 * SEC, '/r/b1.ts', 'B'))).toBe(0);
      expect(runs(file('b2', 10 * SEC, '/r/b2.ts', 'B'))).toBe(0);
      expect(out).toEqual([]);
      // A late modification made before the commit: a run, a match.
      expect(runs(file('m0', 5 * SEC))).toBe(1);
      expect(out).toEqual(['detected:bug-fix:6']);
      // A late commit (15 s, arriving at 30 s) is revised by its own time: a test run of 20 s is after it.
      expect(runs(ev('c1', 'git.commit', 15 * SEC, { message: 'tidy' }))).toBe(1);
      expect(runs(ev('t3', 'test.run', 20 * SEC, { passed: true }))).toBe(0);
      expect(runs(ev('t4', 'test.run', 12 * SEC, { passed: true }))).toBe(1);
    });

    it('does not run the rule again for an in-order commit it passes over, unless the window holds a late event', () => {
      // A test run that counts the reads of its data: the rule reads each event's data once per run.
      let reads = 0;
      const probe = { ...ev('p', 'test.run', 0, {}) };
      Object.defineProperty(probe, 'data', {
        get: () => {
          reads++;
          return { passed: false };
        },
      });
      const input = new Subject<Event>();
      const out: Event[] = [];
      input.pipe(correlate(bugFixOnly, { passThrough: false })).subscribe((e) => out.push(e));
      const runs = (event: Event) => {
        const before = reads;
        input.next(event);
        return reads - before;
      };
      runs(probe);
      expect(runs(file('m1', 10 * SEC))).toBe(0);
      expect(runs(ev('c1', 'git.commit', 20 * SEC, { message: 'fix: x' }))).toBe(1);
      // A conventional commit of another type, in order: the verdict cannot change.
      expect(runs(ev('c2', 'git.commit', 30 * SEC, { message: 'feat: y' }))).toBe(0);
      // A commit the rule may take: a run.
      expect(runs(ev('c3', 'git.commit', 40 * SEC, { message: 'tidy' }))).toBe(1);
      // A late test run (before c3): a run; then, with it in the window, a docs: commit runs the rule too.
      expect(runs(ev('t1', 'test.run', 35 * SEC, { passed: true }))).toBe(1);
      expect(runs(ev('c4', 'git.commit', 50 * SEC, { message: 'docs: z' }))).toBe(1);
      input.complete();
      expect(
        activities(out).map((e) => `${label(e)} ${e.data.confidence} ${e.data.details.commit_message}`),
      ).toEqual(['detected:bug-fix:3 0.75 fix: x', 'ended:bug-fix:7:flushed 0.75 fix: x']);
    });

    it('finds the same episodes, with the same verdicts, for any arrival order of events within a window', () => {
      const kinds = fc.constantFrom(
        { type: 'file.modified', data: { file_path: '/r/a.ts' } },
        { type: 'file.modified', data: { file_path: '/r/b.ts' } },
        { type: 'git.commit', data: { message: 'fix: x' } },
        { type: 'git.commit', data: { message: 'feat: y' } },
        { type: 'git.commit', data: { message: 'tidy' } },
        { type: 'git.commit', data: { message: 'Fix bug' } },
        { type: 'test.run', data: { passed: false } },
        { type: 'test.run', data: { passed: true } },
        { type: 'test.run', data: { outcome: 'unknown' } },
        { type: 'agent.started', data: { agent_type: 'debugger', agent_id: 'd1' } },
        { type: 'agent.completed', data: { agent_type: '', agent_id: 'd1' } },
        { type: 'agent.completed', data: { agent: 'Explore' } },
      );
      // Distinct times within one window (3 min): equal ones go by arrival, as documented.
      const sets = fc
        .uniqueArray(fc.integer({ min: 0, max: 179 * SEC }), { minLength: 1, maxLength: 14 })
        .chain((times) =>
          fc.tuple(fc.constant(times), fc.array(kinds, { minLength: times.length, maxLength: times.length })),
        )
        .map(([times, specs]) =>
          times.sort((a, b) => a - b).map((at, i) => ev(`e${i}`, specs[i]!.type, at, specs[i]!.data)),
        );
      fc.assert(
        fc.property(
          sets.chain((events) =>
            fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length })),
          ),
          ([events, shuffled]) => {
            expect(ends(shuffled)).toStrictEqual(ends(events));
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  it('is evaluated again at the next commit when an earlier one was not a fix', () => {
    const events = [
      file('m1', 0),
      ev('c1', 'git.commit', SEC, { message: 'feat: a' }),
      file('m2', 2 * SEC),
      ev('c2', 'git.commit', 3 * SEC, { message: 'fix: b' }),
    ];
    expect(bugFix(events).map((e) => e.data.details)).toEqual([
      { evidence: ['modified-then-committed', 'fix-message'], commit_message: 'fix: b' },
    ]);
  });

  it("reads Claude Code's here-document commits by their message: a feat is no fix, a fix is", async () => {
    // Claude Code commits with -m "$(cat <<'EOF' … EOF )": the bridge reads the message inside.
    const hook = (timestamp: number, output: Record<string, unknown>) => ({
      hook: 'PostToolUse',
      timestamp,
      output: {
        session_id: 's-heredoc',
        transcript_path: '/t',
        cwd: '/r',
        hook_event_name: 'PostToolUse',
        ...output,
      },
    });
    const session = (subject: string) => [
      hook(1_000, { tool_name: 'Edit', tool_input: { file_path: '/r/orders.ts' }, tool_response: {} }),
      hook(2_000, {
        tool_name: 'Bash',
        tool_input: {
          command: `git commit -am "$(cat <<'EOF'\n${subject}\n\nWith a "quoted" word.\nEOF\n)"`,
        },
        tool_response: { stdout: '' },
      }),
    ];
    const found = async (subject: string) =>
      (
        (await lastValueFrom(
          from(session(subject)).pipe(bridgeHooks(), correlate(undefined, { passThrough: false }), toArray()),
        )) as unknown as Array<Event<ActivityData>>
      )
        .filter((e) => e.data.activity_type === 'bug-fix')
        .map((e) => e.data.details.commit_message);
    expect(await found('feat(orders): add CSV export')).toEqual([]);
    const fix = await found('fix(orders): round totals');
    expect(fix.length).toBeGreaterThan(0);
    expect(fix[0]).toBe('fix(orders): round totals\n\nWith a "quoted" word.');
  });

  it('is found in the bundled demo session, beside feature development', async () => {
    const out = await lastValueFrom(
      fromHookFile('demo/sessions.jsonl').pipe(
        bridgeHooks(),
        correlate(undefined, { passThrough: false }),
        toArray(),
      ),
    );
    const summary = (out as Array<Event<ActivityData>>).map(
      (e) =>
        `${e.sessionId?.slice(0, 4)} ${label(e)} ${e.data.confidence} ${e.data.files_affected.map((f) => f.split('/').pop())}`,
    );
    expect(summary).toEqual([
      '3b9e detected:feature-development:12 0.8 csv.ts,csv.test.ts',
      '3b9e ended:feature-development:36:session-ended 0.8 csv.ts,csv.test.ts,OrdersPage.tsx,ExportButton.tsx',
      '8f2d detected:feature-development:10 0.8 total.test.ts,money.ts,total.ts',
      '8f2d detected:bug-fix:6 0.9 total.test.ts,money.ts,total.ts',
      // Both last extended at the same time: bug-fix's 3-min window makes it quiet first.
      '8f2d ended:bug-fix:6:quiet 0.9 total.test.ts,money.ts,total.ts',
      '8f2d ended:feature-development:12:quiet 0.8 total.test.ts,money.ts,total.ts',
    ]);
  });
});

describe('correlate: after temporalAggregate', () => {
  it('finds the episodes of the demo sessions with the same totals as before temporalAggregate', async () => {
    const episodes = async (before: boolean) => {
      const out = await lastValueFrom(
        fromHookFile('demo/sessions.jsonl').pipe(
          bridgeHooks(),
          before ? correlate(undefined, { passThrough: false }) : temporalAggregate(),
          before ? temporalAggregate() : correlate(undefined, { passThrough: false }),
          toArray(),
        ),
      );
      return activities(out)
        .filter((e) => e.type === 'activity.ended')
        .map(
          (e) =>
            `${e.sessionId?.slice(0, 4)} ${label(e)} ${e.data.confidence} ${[...e.data.files_affected].sort()}`,
        );
    };
    const before = await episodes(true);
    expect(before).toHaveLength(3);
    expect(await episodes(false)).toEqual(before);
  });

  it('lets the events of a window that straddles an episode’s quiet time extend it, as before temporalAggregate', () => {
    // f4 comes 4:58 after f3, within the 5 min window; f5 2 s after the quiet time. One 5 s
    // file.modified window holds both, stamped with f5: event time must not reach f5 before f4 is counted.
    const events = [
      ...feature(),
      file('f4', 2 * MIN + 4 * MIN + 58 * SEC, '/r/c.ts'),
      file('f5', 2 * MIN + 5 * MIN + 2 * SEC, '/r/d.ts'),
    ];
    const ended = (out: Event[]) =>
      activities(out)
        .filter((e) => e.type === 'activity.ended')
        .map((e) => `${label(e)} ${[...e.data.event_ids].sort()}`);
    const before = ended(run(events));
    expect(before).toEqual(['ended:feature-development:7:flushed f1,f2,f3,f4,f5,t1,t2']);
    const after: Event[] = [];
    from(events)
      .pipe(temporalAggregate(), correlate())
      .subscribe((event) => after.push(event));
    expect(ended(after)).toEqual(before);
  });

  it('moves event time to the first event of a window it can read, past one that cannot be read or has no time', () => {
    const unreadable = {
      id: 'u',
      type: 'file.modified',
      sessionId: 'C',
      get timestamp(): number {
        throw new Error('no time');
      },
    } as unknown as Event;
    const window = ev('w', 'file.modified.aggregated', 11 * MIN, {
      source_type: 'file.modified',
      events: [
        null,
        unreadable,
        { ...file('n', 0, '/r/n.ts', 'C'), timestamp: Number.NaN },
        file('w1', 9 * MIN, '/r/w1.ts', 'C'),
        file('w0', 8 * MIN, '/r/w0.ts', 'C'),
        file('w2', 11 * MIN, '/r/w2.ts', 'C'),
      ],
    });
    const out = run([...feature('A', 0, 'a'), ...feature('B', 3 * MIN, 'b'), window]).map((e) =>
      e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e),
    );
    // Only A is quiet (after 7 min) by the earliest time among the window's events (8 min); B (after
    // 10 min) ends at w2, the window's unreadable event reported as its events are counted.
    expect(out.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'w',
      'error:null',
      'ended:feature-development:5:quiet:B',
    ]);
  });

  it('moves event time on to the stamp of a window that is later than its events, after them', () => {
    const window = ev('w', 'file.modified.aggregated', 11 * MIN, {
      source_type: 'file.modified',
      events: [file('w0', 8 * MIN, '/r/w0.ts', 'C')],
    });
    const out = run([...feature('A', 0, 'a'), ...feature('B', 3 * MIN, 'b'), window]).map((e) =>
      e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e),
    );
    expect(out.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'w',
      'ended:feature-development:5:quiet:B',
    ]);
    // A window of no event with a time moves it on to its own stamp before it passes.
    const undated = ev('u', 'file.modified.aggregated', 11 * MIN, {
      source_type: 'file.modified',
      events: [{ ...file('n', 0, '/r/n.ts', 'C'), timestamp: -1 }],
    });
    const both = run([...feature('A', 0, 'a'), ...feature('B', 3 * MIN, 'b'), undated]).map((e) =>
      e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e),
    );
    expect(both.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'ended:feature-development:5:quiet:B',
      'u',
    ]);
  });

  it('ends the output with the consumer’s exception on an end found at a window’s stamp, after its events', () => {
    const window = ev('w', 'file.modified.aggregated', 11 * MIN, {
      source_type: 'file.modified',
      events: [file('w0', 8 * MIN, '/r/w0.ts', 'C')],
    });
    const consumer = new ThrowingConsumer<Event>(
      (e) => e.type === 'activity.ended' && e.sessionId === 'B',
      (e) => `${label(e)}:${e.sessionId}`,
    );
    from([...feature('A', 0, 'a'), ...feature('B', 3 * MIN, 'b'), window])
      .pipe(correlate())
      .subscribe(consumer);
    const got = consumer.got.map((e) =>
      typeof e === 'string' ? e : e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e),
    );
    expect(got.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'w',
      'ended:feature-development:5:quiet:B',
      'error consumer on ended:feature-development:5:quiet:B',
    ]);
  });

  it('counts an aggregate a group watches as itself, moving event time to its own stamp', () => {
    const watcher = group('windows', ['file.modified.aggregated'], () => null);
    const window = ev('w', 'file.modified.aggregated', 11 * MIN, {
      source_type: 'file.modified',
      events: [file('w0', 8 * MIN, '/r/w0.ts', 'C')],
    });
    const out = run(
      [...feature('A', 0, 'a'), ...feature('B', 3 * MIN, 'b'), window],
      [...DEFAULT_CORRELATION_GROUPS, watcher],
    ).map((e) => (e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e)));
    // Both A (quiet after 7 min) and B (after 10 min) end before it; its events are not counted.
    expect(out.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'ended:feature-development:5:quiet:B',
      'w',
    ]);
  });

  it('ends the episodes quiet before a window’s first event before the window, those quiet within it as its events come', () => {
    const windowOf = (id: string, session: string, ats: number[]) =>
      ev(id, 'file.modified.aggregated', ats[ats.length - 1]!, {
        source_type: 'file.modified',
        events: ats.map((at, i) => file(`${id}${i}`, at, `/r/${id}${i}.ts`, session)),
      });
    const out = run([
      ...feature('A', 0, 'a'), // quiet after 7 min
      ...feature('B', 3 * MIN, 'b'), // quiet after 10 min
      windowOf('w', 'C', [8 * MIN, 11 * MIN]),
    ]).map((e) => (e.type === 'activity.ended' ? `${label(e)}:${e.sessionId}` : label(e)));
    // A's end (quiet after 7 min) before the window from 8 min, B's (after 10 min) at its event of 11 min.
    expect(out.slice(12)).toEqual([
      'ended:feature-development:5:quiet:A',
      'w',
      'ended:feature-development:5:quiet:B',
    ]);
  });
});

describe('correlate: user groups, errors and bounds', () => {
  const deploy: CorrelationGroup = {
    name: 'deploy',
    eventTypes: ['tool.used'],
    windowMs: MIN,
    rule: (events) =>
      events.length >= 2 ? { confidence: 1, files_affected: ['/deploy.yml'], target: 'prod' } : null,
  };

  it('calls a user rule with the window only, and carries its extra fields in details', () => {
    const seen: string[][] = [];
    const spy: CorrelationGroup = {
      ...deploy,
      rule: (events) => {
        seen.push(events.map((e) => e.id));
        return deploy.rule(events);
      },
    };
    const out = run(
      [
        tool('a', 0),
        file('x', SEC),
        tool('b', 2 * MIN),
        tool('c', 2 * MIN + SEC),
        tool('d', 2 * MIN + 2 * SEC),
      ],
      [spy],
    );
    // Not called for other types, not called while the episode is open.
    expect(seen).toEqual([['a'], ['b'], ['b', 'c']]);
    expect(activities(out)[0]!.data).toMatchObject({
      files_affected: ['/deploy.yml'],
      details: { target: 'prod' },
      event_ids: ['b', 'c'],
    });
  });

  it('reports a throwing rule as a correlation.error event and keeps going', () => {
    let calls = 0;
    const flaky: CorrelationGroup = {
      ...deploy,
      rule: (events) => {
        calls++;
        if (calls <= 3) throw new Error(`boom ${calls}`);
        return deploy.rule(events);
      },
    };
    const out = run(
      [tool('a', 0), tool('b', SEC), tool('c', 2 * SEC), tool('d', 2 * MIN), tool('e', 2 * MIN + SEC)],
      [flaky],
    );
    expect(out.map(label)).toEqual([
      'a',
      'error:deploy',
      'b',
      'c',
      // Reported at most once per group, session and window: the second and third were suppressed.
      'd',
      'e',
      'detected:deploy:2',
      'ended:deploy:2:flushed',
    ]);
    const error = out[1] as Event<CorrelationErrorData>;
    expect(error.priority).toBe(Priority.HIGH);
    expect(error.sessionId).toBe('A');
    expect(error.data).toStrictEqual({
      group: 'deploy',
      error: { name: 'Error', message: 'boom 1' },
      trigger_event_id: 'a',
      suppressed: 0,
    });
  });

  it('reports a throwing rule on events without a session with no sessionId, and keeps going', () => {
    const broken: CorrelationGroup = {
      ...deploy,
      rule: () => {
        throw new Error('always');
      },
    };
    const events = [tool('a', 0, ''), tool('b', SEC, '')];
    const out = run(events, [broken]);
    expect(out.map(label)).toEqual(['a', 'error:deploy', 'b']);
    const error = out[1] as Event<CorrelationErrorData>;
    expect('sessionId' in error).toBe(false);
    expect(error.priority).toBe(Priority.HIGH);
    expect(error.data).toStrictEqual({
      group: 'deploy',
      error: { name: 'Error', message: 'always' },
      trigger_event_id: 'a',
      suppressed: 0,
    });
  });

  it('counts the suppressed errors in the next report', () => {
    const broken: CorrelationGroup = {
      ...deploy,
      rule: () => {
        throw new Error('always');
      },
    };
    const out = run([tool('a', 0), tool('b', SEC), tool('c', 2 * SEC), tool('d', 2 * MIN)], [broken]);
    const errors = out.filter((e) => e.type === 'correlation.error') as Array<Event<CorrelationErrorData>>;
    expect(errors.map((e) => [e.data.trigger_event_id, e.data.suppressed])).toEqual([
      ['a', 0],
      ['d', 2],
    ]);
  });

  it('reports an invalid rule result as an error', () => {
    for (const result of [
      { confidence: 2 },
      { confidence: Number.NaN },
      { confidence: 'high' },
      1,
      [],
      { confidence: 1, files_affected: [1] },
    ]) {
      const bad: CorrelationGroup = { ...deploy, rule: () => result as never };
      const out = run([tool('a', 0)], [bad]);
      expect(out.map(label)).toEqual(['a', 'error:deploy']);
      expect((out[1]!.data as CorrelationErrorData).error.name).toBe('TypeError');
    }
  });

  it('reports a rule result whose fields cannot be read as an error and keeps going', () => {
    const lazy = (field: string) =>
      Object.defineProperty({ confidence: 1 }, field, {
        enumerable: true,
        get() {
          throw new Error(`lazy ${field}`);
        },
      });
    for (const field of ['confidence', 'files_affected', 'extra']) {
      const bad: CorrelationGroup = { ...deploy, rule: () => lazy(field) as never };
      let error: unknown;
      let completed = false;
      const out: Event[] = [];
      from([tool('a', 0), tool('b', SEC)])
        .pipe(correlate([bad]))
        .subscribe({
          next: (e) => out.push(e),
          error: (e) => (error = e),
          complete: () => (completed = true),
        });
      expect(error).toBeUndefined();
      expect(completed).toBe(true);
      expect(out.map(label)).toEqual(['a', 'error:deploy', 'b']);
      expect((out[1]!.data as CorrelationErrorData).error.message).toBe(`lazy ${field}`);
    }
  });

  it('reports an unreadable event as an error and passes it through', () => {
    const hostile = {
      get type(): string {
        throw new Error('getter');
      },
    } as unknown as Event;
    const out = run([hostile, ...feature()]);
    expect(out[0]!.type).toBe('correlation.error');
    expect(out[0]!.data).toMatchObject({ group: null, error: { message: 'getter' } });
    expect(out[1]).toBe(hostile);
    expect(out.slice(2).map(label)).toContain('detected:feature-development:5');
  });

  it('reports a temporalAggregate output whose data cannot be read, passes it through and keeps going', () => {
    const hostile = {
      id: 'bad',
      type: 'file.modified.aggregated',
      timestamp: T0,
      priority: Priority.NORMAL,
      sessionId: 'A',
      get data(): unknown {
        throw new Error('unreadable');
      },
    } as unknown as Event;
    let error: unknown;
    let completed = false;
    const out: Event[] = [];
    from([hostile, file('f', SEC)])
      .pipe(correlate())
      .subscribe({ next: (e) => out.push(e), error: (e) => (error = e), complete: () => (completed = true) });
    expect(error).toBeUndefined();
    expect(completed).toBe(true);
    expect(out[0]).toBe(hostile);
    expect(out.slice(1).map(label)).toEqual(['error:null', 'f']);
    expect(out[1]!.data).toMatchObject({ group: null, error: { message: 'unreadable' } });
  });

  it('emits bounded, rate-limited activity.updated events when asked', () => {
    const events = Array.from({ length: 40 }, (_, i) =>
      i % 2 ? tool(`t${i}`, i * 10 * SEC) : file(`f${i}`, i * 10 * SEC, `/r/${i}.ts`),
    );
    const out = activities(run(events, undefined, { updateIntervalMs: 2 * MIN }));
    expect(out.map(label)).toEqual([
      'detected:feature-development:5', // 40 s
      'updated:feature-development:17', // 160 s: 2 min later
      'updated:feature-development:29', // 280 s
      'ended:feature-development:40:flushed',
    ]);
    expect(new Set(out.map((e) => e.data.activity_id)).size).toBe(1);
    expect(out[1]!.data.files_affected).toHaveLength(9);
  });

  it('still emits the activity.updated of an event whose rule error report the consumer throws on', () => {
    // The rule is called again for the update; it throws, and the consumer throws on that report: the
    // update the event was due was skipped (the flush's end followed), its report mark left behind.
    let calls = 0;
    const g: CorrelationGroup = {
      name: 'g',
      eventTypes: ['step.a'],
      windowMs: MIN,
      rule: () => {
        if (++calls > 1) throw new Error('rule');
        return { confidence: 1 };
      },
    };
    const events = [ev('a1', 'step.a', 0), ev('a2', 'step.a', 10 * SEC)];
    /** What a consumer gets, and how the output ends, when it throws on the outputs labelled `throwOn`. */
    const outputs = (...throwOn: string[]) => {
      calls = 0;
      const consumer = new ThrowingConsumer<Event>((event) => throwOn.includes(label(event)), label);
      const input = new Subject<Event>();
      input.pipe(correlate([g], { updateIntervalMs: SEC })).subscribe(consumer);
      for (const event of events) input.next(event);
      input.complete();
      return consumer.got.map((value) => (typeof value === 'string' ? value : label(value)));
    };
    const calm = outputs();
    expect(calm).toEqual([
      'a1',
      'detected:g:1',
      'a2',
      'error:g',
      'updated:g:2',
      'ended:g:2:flushed',
      'complete',
    ]);
    expect(outputs('error:g')).toEqual([...calm.slice(0, -1), 'error consumer on error:g']);
    // Also when it throws on the update too: the first exception ends the output.
    expect(outputs('error:g', 'updated:g:2')).toEqual([...calm.slice(0, -1), 'error consumer on error:g']);
  });

  it('bounds event ids and files per activity', () => {
    const events = Array.from({ length: 30 }, (_, i) =>
      i % 2 ? tool(`t${i}`, i * SEC) : file(`f${i}`, i * SEC, `/r/${i}.ts`),
    );
    const [detected, ended] = activities(run(events, undefined, { maxEventIds: 3, maxFiles: 2 }));
    expect(detected!.data).toMatchObject({
      event_ids: ['f0', 't1', 'f2'],
      event_ids_truncated: true,
      files_truncated: true,
    });
    expect(ended!.data).toMatchObject({
      event_count: 30,
      event_ids: ['f0', 't1', 'f2'],
      event_ids_truncated: true,
      files_affected: ['/r/0.ts', '/r/2.ts'],
      files_truncated: true,
    });
  });

  it('holds at most maxWindowEvents per session and group', () => {
    const seen: number[] = [];
    const spy: CorrelationGroup = {
      ...deploy,
      rule: (events) => {
        seen.push(events.length);
        return null;
      },
    };
    run(
      Array.from({ length: 10 }, (_, i) => tool(`t${i}`, i)),
      [spy],
      { maxWindowEvents: 4 },
    );
    expect(seen).toEqual([1, 2, 3, 4, 4, 4, 4, 4, 4, 4]);
  });

  it('lets go of the events that left the window, not only of the window', async () => {
    // A window that moves on keeps a few recent events while older ones drop out. The dropped ones
    // used to stay referenced until the buffer was compacted (32 of them per session and group): with
    // 10,000 sessions, ~300,000 events held after they could no longer take part in a match.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const never: CorrelationGroup = { ...deploy, rule: () => null };
    const input = new Subject<Event>();
    let passed = 0;
    input.pipe(correlate([never], { passThrough: true })).subscribe(() => passed++);
    const dropped: Array<WeakRef<Event>> = [];
    // Pushed from a function of its own so that no local variable keeps an event alive.
    const push = (event: Event, track: boolean) => {
      if (track) dropped.push(new WeakRef(event));
      input.next(event);
    };
    for (let i = 0; i < 10; i++) push(tool(`t${i}`, i * SEC), i < 5);
    // A minute after t5: t0 … t4 are out of the window; t5 … t9 and this one are in it.
    push(tool('t65', MIN + 5 * SEC), false);
    expect(passed).toBe(11);
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(dropped.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });

  it('holds no event of an open episode without updates: its window goes when it opens', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const input = new Subject<Event>();
    const out: string[] = [];
    input
      .pipe(correlate([{ ...deploy, rule: () => ({ confidence: 1 }) }]))
      .subscribe((e) => out.push(label(e)));
    const held: Array<WeakRef<Event>> = [];
    // Pushed from a function of its own so that no local variable keeps an event alive.
    const push = (id: string, at: number) => {
      const event = tool(id, at);
      held.push(new WeakRef(event));
      input.next(event);
    };
    for (let i = 0; i < 5; i++) push(`t${i}`, i * SEC);
    // The episode is still open: it lists the ids, not the events.
    expect(out).toEqual(['t0', 'detected:deploy:1', 't1', 't2', 't3', 't4']);
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(held.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    input.complete();
    expect(out.at(-1)).toBe('ended:deploy:5:flushed');
  });

  it('lets go of what a rule reported once its episode has ended, while its session goes on', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const input = new Subject<Event>();
    const out: string[] = [];
    // deploy reports the events it matched; a 10-minute group keeps the session tracked after its end.
    const groups = [
      { ...deploy, rule: (events: readonly Event[]) => ({ confidence: 1, matched: [...events] }) },
      { name: 'slow', eventTypes: ['prompt.submitted'], windowMs: 10 * MIN, rule: () => null },
    ];
    input.pipe(correlate(groups)).subscribe((e) => out.push(label(e)));
    const held: Array<WeakRef<Event>> = [];
    // Pushed from a function of its own so that no local variable keeps an event alive.
    const push = (event: Event, track: boolean) => {
      if (track) held.push(new WeakRef(event));
      input.next(event);
    };
    push(ev('p', 'prompt.submitted', 0), false);
    push(tool('t0', 0), true);
    push(ev('p2', 'prompt.submitted', 2 * MIN), false);
    expect(out).toEqual(['p', 't0', 'detected:deploy:1', 'ended:deploy:1:quiet', 'p2']);
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(held.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });

  it('evicts the least recently active sessions beyond maxSessions, ending their episodes', () => {
    const events = [...feature('A', 0, 'a'), ...feature('B', 0, 'b'), ...feature('C', 0, 'c')];
    const out = activities(run(events, undefined, { maxSessions: 2, passThrough: false }));
    expect(out.map((e) => `${e.sessionId} ${label(e)}`)).toEqual([
      'A detected:feature-development:5',
      'B detected:feature-development:5',
      'A ended:feature-development:5:evicted',
      'C detected:feature-development:5',
      'B ended:feature-development:5:flushed',
      'C ended:feature-development:5:flushed',
    ]);
  });

  it('does not scan every session for each new one when a full map frees one idle session at a time', () => {
    // One new session per ms, a 1 s window and room for 1,001: every new session finds the map full and
    // one session idle, so a sweep of the whole map per new session would visit ~1,000 per event.
    const g = { name: 'g', eventTypes: ['e'], windowMs: SEC, rule: () => ({ confidence: 1 }) };
    const events = Array.from({ length: 4_000 }, (_, i) => ev(`e${i}`, 'e', i, {}, `S${i}`));
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
    let out: Event[];
    try {
      out = run(events, [g], { maxSessions: 1_001, passThrough: false });
    } finally {
      Map.prototype[Symbol.iterator] = iterate;
    }
    // Every session's episode ends quiet, none is evicted, and the maps were not scanned per session.
    const ends = out.filter((e) => e.type === 'activity.ended') as Array<Event<ActivityData>>;
    expect(ends).toHaveLength(4_000);
    expect(ends.filter((e) => e.data.reason === 'quiet')).toHaveLength(4_000 - 1_001);
    expect(ends.filter((e) => e.data.reason === 'evicted')).toHaveLength(0);
    expect(visits).toBeLessThan(events.length);
  });

  it('ends an episode already quiet by the event that evicts its session as quiet, not evicted', () => {
    // x's sweep at 7 min finds A (last event at 2 min) not yet quiet (exactly 5 min); B's event at 7:20,
    // which evicts A, comes when A has been quiet for more than 5 min.
    const events = [
      ...feature('A'),
      ev('x', 'prompt.submitted', 7 * MIN, {}, 'X'),
      file('b', 7 * MIN + 20 * SEC, undefined, 'B'),
    ];
    const out = activities(run(events, undefined, { maxSessions: 1, passThrough: false }));
    expect(out.map((e) => `${e.sessionId} ${label(e)}`)).toEqual([
      'A detected:feature-development:5',
      'A ended:feature-development:5:quiet',
    ]);
  });

  it('forgets at its session.ended the events its windows held, not only its episodes', () => {
    // f1 … t2 are one file event short of a feature; after the session.ended, f3 starts afresh.
    const [f1, t1, f2, t2, f3] = feature('A');
    const events = [
      f1!,
      t1!,
      f2!,
      t2!,
      ev('end', 'session.ended', 2 * MIN),
      { ...f3!, timestamp: T0 + 2 * MIN },
    ];
    expect(labels(events)).toEqual(['f1', 't1', 'f2', 't2', 'end', 'f3']);
  });

  it('ends an episode already quiet at its session.ended as quiet, whatever came just before', () => {
    const end = ev('end', 'session.ended', 7 * MIN + 10 * SEC); // 5:10 after A's last event
    const expected = [...['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5']];
    // The sweep at the session.ended itself finds the episode quiet …
    expect(labels([...feature('A'), end])).toEqual([...expected, 'ended:feature-development:5:quiet', 'end']);
    // … and so does it after x (at 7 min), whose sweep found the episode not yet quiet.
    expect(labels([...feature('A'), ev('x', 'prompt.submitted', 7 * MIN, {}, 'X'), end])).toEqual([
      ...expected,
      'x',
      'ended:feature-development:5:quiet',
      'end',
    ]);
  });

  it('ends a session’s episodes at its session.ended, before passing it on', () => {
    const events = [...feature('A'), ev('end', 'session.ended', 3 * MIN), ...feature('A', 3 * MIN + 1, 'n')];
    expect(labels(events)).toEqual([
      ...['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5'],
      'ended:feature-development:5:session-ended',
      'end',
      // The session's state is gone: a resumed session starts afresh.
      ...['nf1', 'nt1', 'nf2', 'nt2', 'nf3', 'detected:feature-development:5'],
      'ended:feature-development:5:flushed',
    ]);
  });

  it('correlates events without a session together, and reports them without a session', () => {
    const events = feature().map(({ sessionId: _, ...event }) => event);
    const [detected] = activities(run(events));
    expect(detected!.data.event_count).toBe(5);
    expect('sessionId' in detected!).toBe(false);
  });

  it('treats a late event as arriving at its session’s latest time', () => {
    const events = [
      file('f1', 10 * MIN),
      tool('t1', 10 * MIN),
      file('f2', 10 * MIN),
      tool('t2', 10 * MIN),
      file('late', 0),
    ];
    const [detected] = activities(run(events));
    expect(detected!.data.window).toStrictEqual({ start: T0 + 10 * MIN, end: T0 + 10 * MIN });
  });

  it('emits derived events only with passThrough: false', () => {
    expect(labels(feature(), undefined, { passThrough: false })).toEqual([
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
    ]);
  });

  it('keeps the incremental default rule when a default group is spread with a new window', () => {
    const shorter = DEFAULT_CORRELATION_GROUPS.map((g) => ({ ...g, windowMs: MIN }));
    // f1 and t1 have left the 1-minute window when f3 arrives.
    expect(activities(run(feature(), shorter))).toEqual([]);
    const events = [file('f1', 0), tool('t1', 1), file('f2', 2), tool('t2', 3), file('f3', 4)];
    expect(labels(events, shorter)).toContain('detected:feature-development:5');
  });
});

describe('correlate: the live clock', () => {
  it('ends quiet episodes on the scheduler clock while the input is silent', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      // Timestamps from the scheduler's clock (virtual time starts at 0), as the bridge stamps live hooks.
      const at = (event: Event, t: number) => ({ ...event, timestamp: t });
      const [a, b, c, d, e] = feature();
      const source = cold('a 9ms b 9ms c 9ms d 9ms e 10m |', {
        a: at(a!, 0),
        b: at(b!, 10),
        c: at(c!, 20),
        d: at(d!, 30),
        e: at(e!, 40),
      });
      // Sweeps run every 45 s (a quarter of the shortest window, bug-fix's 3 min): the first one more
      // than 5 min after the last event (40 ms) is at 315 s.
      const expected = '40ms D 314959ms E 285040ms |';
      expectObservable(
        source.pipe(correlate(undefined, { passThrough: false, liveClock: true, scheduler }), map(label)),
      ).toBe(expected, {
        D: 'detected:feature-development:5',
        E: 'ended:feature-development:5:quiet',
      });
    });
  });

  it('refuses a scheduler that runs its sweep at once (a timer of 45 s inside schedule()): its sweeps looped forever', () => {
    // A user scheduler that drains its queue inside schedule(), every delay at once: the sweep re-armed
    // itself at once while the session stayed open, and the process hung.
    const scheduler = atOnceScheduler();
    const input = new Subject<Event>();
    const out: string[] = [];
    let failure: unknown;
    input.pipe(correlate(undefined, { passThrough: false, liveClock: true, scheduler })).subscribe({
      next: (e) => out.push(label(e)),
      error: (error: unknown) => {
        failure = error;
      },
    });
    for (const e of feature()) input.next(e);
    expect(failure).toBeInstanceOf(ConfigError);
    // It named the option only ('liveClock: …'), not which operator's.
    expect((failure as Error).message).toMatch(
      /^correlate: liveClock: the scheduler ran a timer of 45000 ms at once/,
    );
    // At the first event, which started the sweep: its one run threw, and nothing else ran.
    expect(scheduler.ran()).toBe(1);
    expect(out).toEqual([]);
  });

  it('ends a quiet episode by the clock on a user scheduler that calls the work without its action as this', () => {
    // The sweep re-armed itself with this.schedule: a TypeError there, which errored the output.
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const scheduler = thislessScheduler(clock);
    const input = new Subject<Event>();
    const out: string[] = [];
    input.pipe(correlate(undefined, { passThrough: false, liveClock: true, scheduler })).subscribe({
      next: (e) => out.push(label(e)),
      error: (error: unknown) => out.push(`error: ${String(error)}`),
    });
    for (const e of feature()) {
      const at = e.timestamp - T0;
      clock.schedule(() => input.next({ ...e, timestamp: at }), at);
    }
    clock.flush();
    expect(out).toEqual(['detected:feature-development:5', 'ended:feature-development:5:quiet']);
    // The sweeps stopped with the session: nothing left pending.
    expect(scheduler.pending()).toBe(0);
  });

  it('ends an episode quiet before its session.ended the same live and replayed', () => {
    const at = (event: Event, t: number): Event => ({ ...event, timestamp: t });
    // Timestamps from the scheduler's clock; A's last group event at 40 s, x's sweep at 339 s finds it
    // not yet quiet, the session.ended at 370 s comes after it has been quiet for 5 min (since 340 s).
    const events = [
      ...feature('A').map((e, i) => at(e, i * 10 * SEC)),
      at(ev('x', 'prompt.submitted', 0, {}, 'B'), 339 * SEC),
      at(ev('end', 'session.ended', 0), 370 * SEC),
    ];
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(correlate(undefined, { passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => live.push(label(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 370 * SEC);
    scheduler.flush();
    const replay = labels(events, undefined, { passThrough: false });
    expect(replay).toEqual(['detected:feature-development:5', 'ended:feature-development:5:quiet']);
    expect(live).toEqual(replay);
  });

  it('evicts the same sessions whether or not a live sweep ran in between (maxSessions full)', () => {
    // The same events and the same watermark at every step; only a live sweep between x and n differs.
    // S0 has been idle for more than the longest window by the watermark: which sessions a full map
    // evicts must not depend on whether a sweep has already dropped it.
    const run = (sweepAfter: number | undefined) => {
      const scheduler = new VirtualTimeScheduler();
      const input = new Subject<Event>();
      const out: string[] = [];
      input
        .pipe(correlate(undefined, { maxSessions: 9, passThrough: false, liveClock: true, scheduler }))
        .subscribe((e) => out.push(`${e.sessionId} ${label(e)}`));
      const events = [
        file('s0', 0, '/r/z.ts', 'S0'),
        // S1: 3 file events and a tool use, one tool use short of feature development. The sweeps at
        // 280 … 290 s find S0 not yet idle.
        file('f1', 280 * SEC, '/r/a.ts', 'S1'),
        tool('t1', 281 * SEC, 'S1'),
        file('f2', 282 * SEC, '/r/b.ts', 'S1'),
        file('f3', 283 * SEC, '/r/c.ts', 'S1'),
        ...[2, 3, 4, 5, 6, 7, 8].map((s) => file(`s${s}`, 290 * SEC, '/r/z.ts', `S${s}`)),
        ev('x', 'prompt.submitted', 301 * SEC, {}, 'X'), // S0 idle for more than 5 min
        file('n', 302 * SEC, '/r/z.ts', 'S9'), // a tenth session, the map full
        tool('t2', 303 * SEC, 'S1'), // S1's second tool use: feature development, if S1 is still there
      ];
      events.forEach((event, i) => {
        input.next(event);
        if (i === sweepAfter) {
          scheduler.maxFrames = scheduler.frame + 5 * MIN;
          scheduler.flush();
        }
      });
      input.complete();
      return out;
    };
    expect(run(12)).toContain('S1 detected:feature-development:5');
    expect(run(undefined)).toEqual(run(12));
  });

  it('flushes the episodes left open in the same order live and replayed: by deadline, then session id', () => {
    // Window 10 s, live sweeps every 2.5 s. The live sweep at 12.5 s drops A (idle since 2 s); replayed,
    // a3's own sweep at 13 s does. A comes back at 13 s and is tracked anew after B, either way. B's open
    // episode is due first (21.9 s, A's 23 s): the flush ends it first, whatever the map's order.
    const g = { name: 'g', eventTypes: ['e'], windowMs: 10 * SEC, rule: () => ({ confidence: 1 }) };
    const at = (id: string, t: number, session: string): Event => ({
      ...ev(id, 'e', 0, {}, session),
      timestamp: t,
    });
    const events = [
      at('a1', 0, 'A'),
      at('a2', 2 * SEC, 'A'),
      at('b1', 2100, 'B'),
      at('b2', 11_900, 'B'),
      at('a3', 13 * SEC, 'A'),
    ];
    const show = (e: Event) => `${e.sessionId} ${label(e)}`;
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(correlate([g], { passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => live.push(show(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 13 * SEC);
    scheduler.flush();
    const replay = run(events, [g], { passThrough: false }).map(show);
    expect(replay).toEqual([
      'A detected:g:1',
      'B detected:g:1',
      'A ended:g:2:quiet',
      'A detected:g:1',
      'B ended:g:2:flushed',
      'A ended:g:1:flushed',
    ]);
    expect(live).toEqual(replay);
  });

  it('ends the episodes an event proves quiet in deadline order, as a live sweep between would', () => {
    // F (10 s) and G (5 s) both take e; live sweeps every 1.25 s. F is quiet after 10 s, G after 9 s.
    // Replayed, e's sweep at 10.1 s finds both quiet, and ends them in deadline order. Live, the sweep at
    // 10 s ends G first.
    const rule = () => ({ confidence: 1 });
    const F = { name: 'F', eventTypes: ['e', 'f'], windowMs: 10 * SEC, rule };
    const G = { name: 'G', eventTypes: ['e', 'g'], windowMs: 5 * SEC, rule };
    const at = (id: string, type: string, t: number, session = 'S'): Event => ({
      ...ev(id, type, 0, {}, session),
      timestamp: t,
    });
    const events = [
      at('x', 'x', 0, 'X'),
      at('f', 'f', 0),
      at('g', 'g', 4 * SEC),
      at('y', 'x', 8_900, 'X'),
      at('e', 'e', 10_100),
    ];
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input
      .pipe(correlate([F, G], { passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => live.push(label(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 10_100);
    scheduler.flush();
    const replay = labels(events, [F, G], { passThrough: false });
    expect(replay).toEqual([
      'detected:F:1',
      'detected:G:1',
      'ended:G:1:quiet',
      'ended:F:1:quiet',
      'detected:F:1',
      'detected:G:1',
      'ended:G:1:flushed',
      'ended:F:1:flushed',
    ]);
    expect(live).toEqual(replay);
  });

  it('ends an episode quiet between two events at the same place among the outputs live and replayed', () => {
    // Window 100 s: the live clock ticks every 25 s from C's event at 0 (25, 50 … 125 s). A's episode is
    // quiet after 105 s. Live, the tick at 125 s ends it, before b6 at 126 s. Replayed, every event after
    // 105 s finds it quiet: the first one, b6 (b4 at 104 s and b5 at 105 s come before its deadline
    // passes), must end it before itself too, whenever the previous sweep ran (at b4, 22 s earlier).
    const g = { name: 'g', eventTypes: ['x'], windowMs: 100 * SEC, rule: () => ({ confidence: 1 }) };
    const at = (id: string, type: string, t: number, session: string): Event => ({
      ...ev(id, type, 0, {}, session),
      timestamp: t * SEC,
    });
    const events = [
      at('c', 'x', 0, 'C'),
      at('a', 'x', 5, 'A'),
      ...[10, 40, 70, 104, 105, 126].map((t, i) => at(`b${i + 1}`, 'y', t, 'B')),
    ];
    const show = (e: Event) => (e.type.startsWith('activity.') ? `${e.sessionId} ${label(e)}` : e.id);
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const live: string[] = [];
    input.pipe(correlate([g], { liveClock: true, scheduler })).subscribe((e) => live.push(show(e)));
    for (const e of events) scheduler.schedule(() => input.next(e), e.timestamp);
    scheduler.schedule(() => input.complete(), 126 * SEC);
    scheduler.flush();
    const replay = run(events, [g]).map(show);
    expect(replay).toEqual([
      'c',
      'C detected:g:1',
      'a',
      'A detected:g:1',
      'b1',
      'b2',
      'b3',
      'C ended:g:1:quiet',
      'b4',
      'b5',
      'A ended:g:1:quiet',
      'b6',
    ]);
    expect(live).toEqual(replay);
  });

  it('keeps its live timer when the consumer feeds an event back as a sweep drops the last session', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const seen: string[] = [];
    scheduler.run(() => {
      const input = new Subject<Event>();
      // Sweeps every 2.5 ms; an episode is quiet 10 ms after its last event.
      const group = { name: 'g', eventTypes: ['e'], windowMs: 10, rule: () => ({ confidence: 1 }) };
      const at = (id: string, t: number): Event => ({ ...ev(id, 'e', 0, {}, 'S'), timestamp: t });
      input.pipe(correlate([group], { liveClock: true, scheduler, passThrough: false })).subscribe((out) => {
        seen.push(`${label(out)}@${scheduler.now()}`);
        // A consumer re-publishing into the same bus: a new event, stamped now, while the sweep that
        // ended the first episode (and dropped the last session) is still running.
        if (seen.length === 2) input.next(at('e2', scheduler.now()));
      });
      input.next(at('e1', 0));
    });
    expect(seen).toEqual([
      'detected:g:1@0',
      'ended:g:1:quiet@12.5',
      'detected:g:1@12.5',
      'ended:g:1:quiet@25',
    ]);
  });

  it('leaves no timer behind when the consumer unsubscribes on the pass-through of the first event', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const input = new Subject<Event>();
    const seen: string[] = [];
    const group = { name: 'g', eventTypes: ['e'], windowMs: 10, rule: () => ({ confidence: 1 }) };
    input
      .pipe(correlate([group], { liveClock: true, scheduler }), take(1))
      .subscribe((event) => seen.push(label(event)));
    // A window is passed through before the events it carries are counted: take(1) unsubscribes in
    // between.
    input.next(ev('w', 'e.aggregated', 0, { source_type: 'e', events: [ev('e1', 'e', 0)] }));
    expect(seen).toEqual(['w']);
    expect(input.observed).toBe(false);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('sweeps at most every 2,147,483,647 ms, setTimeout’s limit, however long the windows are', () => {
    // A quarter of 100 days is beyond the limit: Node would run such a timer every millisecond.
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    const input = new Subject<Event>();
    const group = {
      name: 'g',
      eventTypes: ['e'],
      windowMs: 100 * 24 * 60 * MIN,
      rule: () => ({ confidence: 1 }),
    };
    input.pipe(correlate([group], { liveClock: true, scheduler })).subscribe();
    input.next(ev('e1', 'e', 0));
    expect(scheduler.actions.map((action) => action.delay)).toEqual([2_147_483_647]);
  });

  it('queues an event pushed from a sweep’s output behind the rest of that sweep', () => {
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const seen: string[] = [];
    // An event older than the newest time seen: it runs no sweep of its own, it only passes through.
    const x = { ...ev('x', 'p', 0, {}, 'C'), timestamp: 0 };
    input.pipe(correlate([group('g', ['e'], always)], { liveClock: true, scheduler })).subscribe((e) => {
      seen.push(`${e.sessionId} ${label(e)}`);
      if (e.type === 'activity.ended' && e.sessionId === 'A') input.next(x);
    });
    scheduler.schedule(() => {
      input.next({ ...ev('a', 'e', 0, {}, 'A'), timestamp: 0 });
      input.next({ ...ev('b', 'e', 0, {}, 'B'), timestamp: 0 });
    }, 0);
    scheduler.schedule(() => input.complete(), 10 * MIN);
    scheduler.flush();
    expect(seen).toEqual([
      'A a',
      'A detected:g:1',
      'B b',
      'B detected:g:1',
      'A ended:g:1:quiet',
      'B ended:g:1:quiet',
      'C x',
    ]);
  });

  it('keeps one sweep timer, however many inputs arrive', () => {
    const virtual = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    let timers = 0;
    const scheduler: SchedulerLike = {
      now: () => virtual.now(),
      schedule: (work: never, delay?: number, state?: never) => {
        timers++;
        return virtual.schedule(work, delay, state);
      },
    };
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(correlate([group('g', ['e'], always)], { passThrough: false, liveClock: true, scheduler }))
      .subscribe((e) => seen.push(label(e)));
    for (const id of ['a', 'b', 'c']) input.next({ ...ev(id, 'e', 0), timestamp: 0 });
    virtual.flush();
    expect(seen).toEqual(['detected:g:1', 'ended:g:3:quiet']);
    expect(timers).toBe(1);
  });
});

describe('correlate: properties', () => {
  const TYPES = [
    'file.created',
    'file.modified',
    'tool.used',
    'git.commit',
    'agent.completed',
    'test.run',
    'session.ended',
    'prompt.submitted',
  ];
  const data = fc.oneof(
    fc.record(
      {
        file_path: fc.oneof(fc.constantFrom('/a.ts', '/b.ts', '/c.ts'), fc.anything()),
        message: fc.oneof(fc.constantFrom('fix: x', 'feat: y', 'Fix bug'), fc.anything()),
        passed: fc.oneof(fc.boolean(), fc.anything()),
        agent: fc.oneof(fc.constantFrom('debugger', 'Explore'), fc.anything()),
      },
      { requiredKeys: [] },
    ),
    fc.anything(),
  );
  const event = fc.record(
    {
      id: fc.oneof(fc.uuid(), fc.anything()),
      type: fc.oneof(fc.constantFrom(...TYPES), fc.anything()),
      timestamp: fc.oneof(fc.integer({ min: 0, max: 30 * MIN }), fc.double(), fc.anything()),
      priority: fc.constantFrom(0, 1, 2, 3),
      data,
      sessionId: fc.oneof(fc.constantFrom('a', 'b', 'c', ''), fc.anything()),
    },
    { requiredKeys: ['id', 'type', 'timestamp'] },
  );
  const input = fc.array(fc.oneof({ weight: 9, arbitrary: event }, { weight: 1, arbitrary: fc.anything() }), {
    maxLength: 60,
  });

  it('never errors, passes every input through once, and references only input ids', () => {
    const groups = [
      ...DEFAULT_CORRELATION_GROUPS,
      {
        name: 'any-two',
        eventTypes: TYPES,
        windowMs: MIN,
        rule: (e: readonly Event[]) => (e.length >= 2 ? { confidence: 0.5 } : null),
      },
    ];
    fc.assert(
      fc.property(input, fc.boolean(), (inputs, updates) => {
        const out: Event[] = [];
        let error: unknown;
        let completed = false;
        new Observable<Event>((subscriber) => {
          for (const value of inputs) subscriber.next(value as Event);
          subscriber.complete();
        })
          .pipe(
            correlate(groups, updates ? { updateIntervalMs: 10 * SEC, maxSessions: 2 } : { maxSessions: 2 }),
          )
          .subscribe({
            next: (e) => out.push(e),
            error: (e) => (error = e),
            complete: () => (completed = true),
          });
        expect(error).toBeUndefined();
        expect(completed).toBe(true);
        const inputSet = new Set<unknown>(inputs);
        const passed = out.filter((e) => inputSet.has(e));
        expect(passed).toEqual(inputs);
        const ids = new Set(
          inputs.map((i) => (typeof i === 'object' && i !== null ? (i as Event).id : undefined)),
        );
        const derived = out.filter((e) => !inputSet.has(e));
        const opened = new Map<string, number>();
        for (const e of derived) {
          expect(['activity.detected', 'activity.updated', 'activity.ended', 'correlation.error']).toContain(
            e.type,
          );
          expect(Number.isFinite(e.timestamp)).toBe(true);
          if (e.type === 'correlation.error') continue;
          const d = e.data as ActivityData;
          for (const id of d.event_ids) expect(ids.has(id)).toBe(true);
          expect(d.event_ids.length).toBeLessThanOrEqual(d.event_count);
          if (e.type === 'activity.detected') opened.set(d.activity_id, 1);
          if (e.type === 'activity.ended') {
            expect(opened.get(d.activity_id)).toBe(1);
            opened.set(d.activity_id, 2);
          }
        }
        // Every episode detected has ended by completion, exactly once.
        expect([...opened.values()].every((state) => state === 2)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same activities with the incremental default rules as with the rules run on every event', () => {
    const plain = DEFAULT_CORRELATION_GROUPS.map((g) => ({
      ...g,
      rule: (events: readonly Event[]) => g.rule(events),
    }));
    const realistic = fc
      .array(
        fc.record({
          type: fc.constantFrom(
            'file.created',
            'file.modified',
            'tool.used',
            'git.commit',
            'agent.completed',
            'test.run',
          ),
          gap: fc.integer({ min: 0, max: 2 * MIN }),
          session: fc.constantFrom('a', 'b'),
          path: fc.constantFrom('/a.ts', '/b.ts', '/c.ts', '/d.ts'),
          message: fc.constantFrom('fix: x', 'feat: y', 'Fix bug', 'wip'),
          passed: fc.boolean(),
        }),
        { maxLength: 80 },
      )
      .map((specs) => {
        let t = 0;
        return specs.map((s, i) => {
          t += s.gap;
          // Only file events carry a file here: a built-in rule's episode lists the files of its file
          // events only, while a plain rule's lists every event's (see the feature-development tests).
          const path = s.type.startsWith('file.') ? { file_path: s.path } : {};
          return ev(
            `e${i}`,
            s.type,
            t,
            { ...path, message: s.message, passed: s.passed, agent: 'debugger' },
            s.session,
          );
        });
      });
    // The bug-fix episode revises its verdict as it grows (a further commit, late evidence: see the
    // order tests), which a plain rule's does not: only its detection is compared here.
    const strip = (e: Event) => {
      if (!e.type.startsWith('activity.')) return e.id;
      const { activity_id: _, ...rest } = e.data as ActivityData;
      const revised = e.type !== 'activity.detected' && rest.activity_type === 'bug-fix';
      const { confidence: _c, details: _d, ...kept } = rest;
      return { type: e.type, timestamp: e.timestamp, session: e.sessionId, ...(revised ? kept : rest) };
    };
    fc.assert(
      fc.property(
        realistic,
        fc.constantFrom(undefined, 30 * SEC),
        fc.constantFrom(3, 1_000),
        (events, updateIntervalMs, maxWindowEvents) => {
          const options =
            updateIntervalMs === undefined ? { maxWindowEvents } : { updateIntervalMs, maxWindowEvents };
          expect(run(events, DEFAULT_CORRELATION_GROUPS, options).map(strip)).toEqual(
            run(events, plain, options).map(strip),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * What a consumer gets (as `show` reads it) and how the output ends (`complete`, `error <message>`) when
 * it throws on the outputs labelled `throwOn`.
 */
function consume(
  events: readonly Event[],
  groups: readonly CorrelationGroup[] | undefined,
  options: CorrelateOptions,
  throwOn: readonly string[] = [],
  show: (event: Event) => string = label,
): string[] {
  const consumer = new ThrowingConsumer<Event>((event) => throwOn.includes(label(event)), label);
  from(events).pipe(correlate(groups, options)).subscribe(consumer);
  return consumer.got.map((value) => (typeof value === 'string' ? value : show(value)));
}

/** A group on `types` (window 1 min by default) whose rule is `rule`. */
const group = (
  name: string,
  types: readonly string[],
  rule: CorrelationGroup['rule'],
  windowMs = MIN,
): CorrelationGroup => ({ name, eventTypes: types, windowMs, rule });
const always: CorrelationGroup['rule'] = () => ({ confidence: 1 });
const atLeast =
  (n: number): CorrelationGroup['rule'] =>
  (events) =>
    events.length >= n ? { confidence: 1 } : null;

describe('correlate: a session whose clock lags the newest timestamp seen', () => {
  // B moves event time to 10 min; A's events come after it, stamped 0 to 2 min. A's episode is quiet by
  // the newest timestamp (last event at 2 min, window 5 min), though no advance of event time ran a
  // sweep after it opened: what comes next must still find it quiet.
  const lagging = [ev('b', 'prompt.submitted', 10 * MIN, {}, 'B'), ...feature('A')];
  const opened = ['b', 'f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5'];
  const quiet = 'ended:feature-development:5:quiet';
  const cases: Array<[string, Event[], string[]]> = [
    ['its next event of the group', [file('f4', 8 * MIN)], [quiet, 'f4']],
    ['its session.ended', [ev('end', 'session.ended', 3 * MIN)], [quiet, 'end']],
    ['the completion', [], [quiet]],
    // A new session's event moves no event time on: it runs no sweep (the map has room).
    ['the completion, not at a new session’s event', [file('c', 10 * MIN, undefined, 'C')], ['c', quiet]],
  ];

  it.each(cases)(
    'ends its quiet episode as quiet at %s, also when the consumer throws on that end',
    (_, then, after) => {
      const events = [...lagging, ...then];
      expect(consume(events, undefined, {})).toEqual([...opened, ...after, 'complete']);
      // The rest of the input is still handled, then the output errors with the consumer's exception.
      expect(consume(events, undefined, {}, [quiet])).toEqual([
        ...opened,
        ...after,
        `error consumer on ${quiet}`,
      ]);
    },
  );

  it('counts none of the events of an episode a sweep ended in its next one, with updates or without', () => {
    // A's test.run (4 min) keeps it tracked; B's event at 7:30 ends A's episode (last event 2 min) by a
    // sweep; A's tool use stamped 4:30 comes after. Its window holds no event of the ended episode.
    const events = [
      ...feature('A'),
      ev('r', 'test.run', 4 * MIN, { passed: false }),
      ev('b', 'prompt.submitted', 7 * MIN + 30 * SEC, {}, 'B'),
      tool('t3', 4 * MIN + 30 * SEC),
    ];
    const expected = ['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5', 'r', quiet, 'b', 't3'];
    expect(labels(events)).toEqual(expected);
    expect(labels(events, undefined, { updateIntervalMs: 30 * SEC })).toEqual(expected);
  });

  it('ends an episode by another session’s later event delivered first, where a replay in time order extends it', () => {
    // docs/correlate.md#time: the store keeps each session's order, not the order across sessions, so a
    // replay merged in timestamp order cannot reproduce this live run (two activities of A, one replayed).
    const G: CorrelationGroup[] = [
      { name: 'G', eventTypes: ['x'], windowMs: 65, rule: () => ({ confidence: 1 }) },
    ];
    const live = [ev('a1', 'x', 40), ev('b1', 'x', 120, {}, 'B'), ev('a2', 'x', 100)];
    const replayed = [...live].sort((x, y) => x.timestamp - y.timestamp);
    expect(labels(live, G)).toEqual([
      ...['a1', 'detected:G:1', 'ended:G:1:quiet', 'b1', 'detected:G:1', 'a2', 'detected:G:1'],
      ...['ended:G:1:flushed', 'ended:G:1:flushed'],
    ]);
    expect(labels(replayed, G)).toEqual([
      ...['a1', 'detected:G:1', 'a2', 'b1', 'detected:G:1'],
      ...['ended:G:2:flushed', 'ended:G:1:flushed'],
    ]);
  });

  it('drops it, rather than evicting another session, when a new session finds the map full', () => {
    // B's episode (8 to 10 min) is still open; A, quiet and idle by 10 min, is what a sweep drops.
    const events = [...feature('B', 8 * MIN, 'b'), ...feature('A'), file('c', 10 * MIN, undefined, 'C')];
    const show = (e: Event) => `${e.sessionId} ${label(e)}`;
    const options = { maxSessions: 2, passThrough: false };
    const before = ['B detected:feature-development:5', 'A detected:feature-development:5'];
    expect(consume(events, undefined, options, [], show)).toEqual([
      ...before,
      `A ${quiet}`,
      'B ended:feature-development:5:flushed',
      'complete',
    ]);
    // C is still tracked (its file counts in the flush's episodes: none here), then the output errors.
    expect(consume(events, undefined, options, [quiet], show)).toEqual([
      ...before,
      `A ${quiet}`,
      'B ended:feature-development:5:flushed',
      `error consumer on ${quiet}`,
    ]);
  });
});

describe('correlate: event time', () => {
  it('keeps sweeping after an event without a usable timestamp', () => {
    const undated = { ...ev('x', 'prompt.submitted', 0, {}, 'X'), timestamp: Number.NaN };
    expect(labels([...feature('A'), undated, ev('y', 'prompt.submitted', 10 * MIN, {}, 'Y')])).toEqual([
      ...['f1', 't1', 'f2', 't2', 'f3', 'detected:feature-development:5'],
      'x',
      'ended:feature-development:5:quiet',
      'y',
    ]);
  });

  it('puts a new session’s event without a usable timestamp at the newest timestamp seen, an older event after it', () => {
    const events = [
      ev('b', 'prompt.submitted', 10 * MIN, {}, 'B'),
      ev('c', 'prompt.submitted', 0, {}, 'C'),
      { ...ev('a', 'e', 0, {}, 'A'), timestamp: Number.NaN },
    ];
    const [detected] = activities(run(events, [group('g', ['e'], always)]));
    expect(detected!.timestamp).toBe(T0 + 10 * MIN);
    expect(detected!.data.window).toStrictEqual({ start: T0 + 10 * MIN, end: T0 + 10 * MIN });
  });

  it('ends a short group’s episode at the first event after its quiet time, beside a longer one of its session', () => {
    // Two groups, windows 1 and 10 min: the short episode opens after a sweep read the session's idle
    // time (10 min on), the long one opens after it. x, 3 min on, is after the short one's quiet time.
    const groups = [group('short', ['s'], atLeast(2)), group('long', ['l'], always, 10 * MIN)];
    const events = [
      ev('s1', 's', 0),
      ev('s2', 's', SEC),
      ev('l1', 'l', 2 * SEC),
      ev('x', 'p', 3 * MIN, {}, 'B'),
    ];
    expect(labels(events, groups)).toEqual([
      's1',
      's2',
      'detected:short:2',
      'l1',
      'detected:long:1',
      'ended:short:2:quiet',
      'x',
      'ended:long:1:flushed',
    ]);
  });

  it('ends equal deadlines by session id, then group, whatever order the sessions came in', () => {
    const groups = [group('g1', ['e'], always), group('g2', ['e'], always)];
    const show = (e: Event) => `${e.sessionId} ${label(e)}`;
    const events = [ev('b', 'e', 0, {}, 'B'), ev('a', 'e', 0, {}, 'A')];
    const detected = ['B detected:g1:1', 'B detected:g2:1', 'A detected:g1:1', 'A detected:g2:1'];
    const ends = (reason: string) => [
      `A ended:g1:1:${reason}`,
      `A ended:g2:1:${reason}`,
      `B ended:g1:1:${reason}`,
      `B ended:g2:1:${reason}`,
    ];
    // Found quiet by a jump in event time, and flushed.
    const x = ev('x', 'p', 2 * MIN, {}, 'X');
    expect(run([...events, x], groups, { passThrough: false }).map(show)).toEqual([
      ...detected,
      ...ends('quiet'),
    ]);
    expect(run(events, groups, { passThrough: false }).map(show)).toEqual([...detected, ...ends('flushed')]);
  });

  it('leaves the scheduler alone without liveClock, even given one', () => {
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const seen: string[] = [];
    input.pipe(correlate([group('g', ['e'], always)], { scheduler })).subscribe((e) => seen.push(label(e)));
    input.next({ ...ev('e1', 'e', 0), timestamp: 0 });
    expect(scheduler.actions).toHaveLength(0);
    scheduler.flush();
    expect(seen).toEqual(['e1', 'detected:g:1']);
  });

  it('takes 0 as an event time, an infinite timestamp as none, and a session’s own time for a later one without', () => {
    const b = ev('b', 'p', 10 * MIN, {}, 'B');
    const g = [group('g', ['e'], always)];
    const window = (events: Event[]) => activities(run(events, g, { passThrough: false }))[0]!.data.window;
    // Session A lags B's 10 min: its events keep their own times, not the newest seen.
    expect(window([b, { ...ev('a', 'e', 0), timestamp: 0 }])).toStrictEqual({ start: 0, end: 0 });
    expect(window([b, { ...ev('a', 'e', 0), timestamp: Number.POSITIVE_INFINITY }])).toStrictEqual({
      start: T0 + 10 * MIN,
      end: T0 + 10 * MIN,
    });
    // Without a usable timestamp, at its session's latest time (0 here), not at B's: in a1's episode.
    const undated = { ...ev('a2', 'e', 0), timestamp: Number.NaN };
    expect(labels([b, ev('a1', 'e', 0), undated], g, { passThrough: false })).toEqual([
      'detected:g:1',
      'ended:g:2:quiet',
    ]);
  });

  it('stamps an unreadable event’s report with its own timestamp when that one could be read', () => {
    const hostile = (timestamp: number): Event =>
      ({
        type: 'p',
        timestamp,
        get id(): string {
          throw new Error('getter');
        },
      }) as unknown as Event;
    const report = (timestamp: number) =>
      run([ev('b', 'p', 10 * MIN, {}, 'B'), hostile(timestamp)], undefined, { passThrough: false })[0]!;
    expect(report(0).timestamp).toBe(0);
    expect(report(Number.POSITIVE_INFINITY).timestamp).toBe(T0 + 10 * MIN);
  });
});

describe('correlate: what an episode lists', () => {
  it('lists the files of the window’s events when the rule names none, each once, and [] when none', () => {
    const g = group('g', ['e'], atLeast(3));
    const events = [
      ev('e1', 'e', 0, { file_path: '/a.ts' }),
      ev('e2', 'e', SEC),
      ev('e3', 'e', 2 * SEC, { file_path: '/b.ts' }),
      ev('e4', 'e', 3 * SEC, { file_path: '/a.ts' }),
    ];
    const [detected, ended] = activities(run(events, [g], { maxFiles: 2 }));
    expect(detected!.data).toMatchObject({ files_affected: ['/a.ts', '/b.ts'], files_truncated: false });
    // /a.ts again: already listed, so nothing was left out.
    expect(ended!.data).toMatchObject({ files_affected: ['/a.ts', '/b.ts'], files_truncated: false });
    const [bare] = activities(run([ev('e1', 'e', 0)], [group('g', ['e'], always)]));
    expect(bare!.data.files_affected).toStrictEqual([]);
    // A user rule that names files: those alone at detection, not the window's events' too.
    const named = group('g', ['e'], (window) =>
      window.length >= 3 ? { confidence: 1, files_affected: ['/x.ts'] } : null,
    );
    expect(activities(run(events.slice(0, 3), [named]))[0]!.data.files_affected).toStrictEqual(['/x.ts']);
  });

  it('lists only string ids, and names no trigger for an event without one', () => {
    const groups = [
      group('g', ['e'], atLeast(2)),
      group('broken', ['e'], () => {
        throw new Error('rule');
      }),
    ];
    const events = [
      { ...ev('x', 'e', 0), id: 7 as unknown as string },
      ev('a', 'e', SEC),
      { ...ev('y', 'e', 2 * SEC), id: 8 as unknown as string },
      ev('b', 'e', 3 * SEC),
    ];
    const out = run(events, groups, { passThrough: false });
    const [detected, ended] = activities(out);
    expect(detected!.data).toMatchObject({ event_count: 2, event_ids: ['a'] });
    expect(ended!.data).toMatchObject({ event_count: 4, event_ids: ['a', 'b'], event_ids_truncated: true });
    const error = out.find((e) => e.type === 'correlation.error') as Event<CorrelationErrorData>;
    expect(error.data.trigger_event_id).toBeNull();
  });

  it('calls the rule again for an update on the window of the last windowMs, events before the detection included', () => {
    // Confidence: a tenth per event in the window; no files named, so the events' files are listed.
    const g = group('g', ['e'], (events) => (events.length >= 2 ? { confidence: events.length / 10 } : null));
    const events = [
      ev('e1', 'e', 0, { file_path: '/a.ts' }),
      ev('e2', 'e', 10 * SEC, { file_path: '/b.ts' }),
      ev('e3', 'e', 20 * SEC, { file_path: '/c.ts' }),
      ev('e4', 'e', 30 * SEC),
      ev('e5', 'e', 80 * SEC), // the window: e3 (80 s - 1 min exactly), e4, e5
    ];
    const out = activities(run(events, [g], { updateIntervalMs: 15 * SEC }));
    expect(out.map((e) => [label(e), e.data.confidence, e.data.files_affected])).toEqual([
      ['detected:g:2', 0.2, ['/a.ts', '/b.ts']],
      ['updated:g:4', 0.4, ['/a.ts', '/b.ts', '/c.ts']],
      ['updated:g:5', 0.3, ['/a.ts', '/b.ts', '/c.ts']],
      ['ended:g:5:flushed', 0.3, ['/a.ts', '/b.ts', '/c.ts']],
    ]);
    // A consumer that throws on an update ends the output with its exception, after the flush.
    expect(consume(events, [g], { updateIntervalMs: 15 * SEC, passThrough: false }, ['updated:g:4'])).toEqual(
      ['detected:g:2', 'updated:g:4', 'ended:g:4:flushed', 'error consumer on updated:g:4'],
    );
  });

  it('keeps its window right when many events leave it at once (the buffer compacted)', () => {
    // 34 events within 34 ms; all leave the 10 s window at 10.5 s, while e9 keeps the session going.
    const burst = Array.from({ length: 34 }, (_, i) => ev(`b${i}`, 'e', i));
    const later = [9_000, 10_500, 12_000, 19_600].map((t) => ev(`e${t}`, 'e', t));
    const windows: string[][] = [];
    const g = group(
      'g',
      ['e'],
      (events) => {
        windows.push(events.map((e) => e.id));
        return null;
      },
      10 * SEC,
    );
    run([...burst, ...later], [g]);
    expect(windows.slice(-3)).toEqual([
      ['e9000', 'e10500'],
      ['e9000', 'e10500', 'e12000'],
      ['e10500', 'e12000', 'e19600'],
    ]);
    // A default rule's counts too: 34 tool uses leave at f2, then f1 and u1 at u2; f2 … f4 and u2, u3 match.
    const shorter = { ...DEFAULT_CORRELATION_GROUPS[0]!, windowMs: 10 * SEC };
    const tools = Array.from({ length: 34 }, (_, i) => tool(`u${i}-`, i));
    const rest = [
      file('f1', 9_000),
      tool('u1', 9_500),
      file('f2', 10_500),
      tool('u2', 19_600),
      file('f3', 19_700),
      tool('u3', 19_800),
      file('f4', 19_900),
    ];
    expect(activities(run([...tools, ...rest], [shorter])).map(label)).toEqual([
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
    ]);
  });
});

describe('correlate: groups that watch session.ended', () => {
  it('ends the session’s episodes after its session.ended joins them, and drops the session', () => {
    const g = group('g', ['step', 'session.ended'], always);
    const events = [ev('s1', 'step', 0), ev('end', 'session.ended', SEC), ev('s2', 'step', 2 * SEC)];
    expect(labels(events, [g])).toEqual([
      's1',
      'detected:g:1',
      'end',
      'ended:g:2:session-ended',
      // A new session: a new episode.
      's2',
      'detected:g:1',
      'ended:g:1:flushed',
    ]);
    // A consumer that throws on that end ends the output with its exception.
    expect(consume(events, [g], {}, ['ended:g:2:session-ended'])).toEqual([
      's1',
      'detected:g:1',
      'end',
      'ended:g:2:session-ended',
      'error consumer on ended:g:2:session-ended',
    ]);
  });

  it('makes no room in a full map for a session.ended of an untracked session: no other session is evicted', () => {
    const g = group('g', ['step', 'session.ended'], always);
    // Eight sessions, each with an episode open: the map is full.
    const sessions = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    const events = sessions.map((s, i) => ev(`${s}1`, 'step', i, {}, s));
    // The session.ended of a session never seen (or already dropped), then A's next step.
    events.push(ev('end', 'session.ended', SEC, {}, 'Z'), ev('A2', 'step', 2 * SEC, {}, 'A'));
    const out = activities(run(events, [g], { maxSessions: 8, passThrough: false }));
    const show = (e: Event) => `${e.sessionId} ${label(e)}`;
    expect(out.filter((e) => e.sessionId === 'Z').map(show)).toEqual([
      'Z detected:g:1',
      'Z ended:g:1:session-ended',
    ]);
    // A's episode was not ended as evicted (split in two): its next step joins it.
    expect(out.filter((e) => e.sessionId === 'A').map(show)).toEqual([
      'A detected:g:1',
      'A ended:g:2:flushed',
    ]);
    expect(out.filter((e) => label(e).endsWith(':evicted'))).toEqual([]);
  });

  it('leaves no live timer when a session.ended is all its session had', () => {
    const scheduler = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const g = group('g', ['step', 'session.ended'], always);
    input.pipe(correlate([g], { liveClock: true, scheduler })).subscribe();
    input.next({ ...ev('end', 'session.ended', 0), timestamp: 0 });
    expect(scheduler.actions).toHaveLength(0);
  });
});

describe('correlate: results, inputs and reports at their edges', () => {
  it('reports an async rule as one, and leaves no rejection of it unhandled to end the process', async () => {
    const unhandled = await unhandledRejections(() => {
      for (const rule of [
        async () => ({ confidence: 1 }),
        async () => {
          throw new Error('rejected');
        },
      ]) {
        const out = run([ev('a', 'e', 0)], [group('g', ['e'], rule as never)], { passThrough: false });
        expect(out.map(label)).toEqual(['error:g']);
        expect((out[0]!.data as CorrelationErrorData).error.message).toBe(
          'rule returned a Promise (a rule is synchronous), expected { confidence } or null',
        );
      }
    });
    expect(unhandled).toEqual([]);
  });

  it('accepts confidences 0 and 1 and a rule giving undefined, refuses a numeric string, -0.1 and files not all strings', () => {
    const outcome = (result: unknown) =>
      labels([ev('a', 'e', 0)], [group('g', ['e'], () => result as never)], { passThrough: false });
    expect(outcome({ confidence: 0 })).toEqual(['detected:g:1', 'ended:g:1:flushed']);
    expect(outcome({ confidence: 1 })).toEqual(['detected:g:1', 'ended:g:1:flushed']);
    expect(outcome(undefined)).toEqual([]);
    for (const bad of [
      { confidence: '0.5' },
      { confidence: -0.1 },
      { confidence: 1, files_affected: ['/a.ts', 1] },
    ]) {
      expect(outcome(bad)).toEqual(['error:g']);
    }
  });

  it('stamps an unreadable event’s report with the newest timestamp seen, and reports it once per window like a rule', () => {
    const hostile = (): Event =>
      ({
        get type(): string {
          throw new Error('getter');
        },
      }) as unknown as Event;
    const [h1, h2] = [hostile(), hostile()];
    const out = run([ev('a', 'p', 10 * MIN), h1, h2]);
    expect(out.map((e) => (e === h1 ? 'h1' : e === h2 ? 'h2' : label(e)))).toEqual([
      'a',
      'error:null',
      'h1',
      'h2',
    ]);
    expect(out[1]!.timestamp).toBe(T0 + 10 * MIN);
    // Before any event time is known too: the first is reported (at 0), the second within its window.
    const first = run([h1, h2]);
    expect(first.map((e) => (e === h1 ? 'h1' : e === h2 ? 'h2' : label(e)))).toEqual([
      'error:null',
      'h1',
      'h2',
    ]);
    expect(first[0]!.timestamp).toBe(0);
  });

  it('emits a value that is not an event only with passThrough', () => {
    const values = [null, 5, 'x'] as unknown as Event[];
    expect(run(values)).toEqual(values);
    expect(run(values, undefined, { passThrough: false })).toEqual([]);
  });

  it('passes on once, and counts, the events a temporalAggregate window carries', () => {
    const w = ev('w', 'file.modified.aggregated', 2 * MIN, {
      source_type: 'file.modified',
      events: feature(),
    });
    expect(labels([w])).toEqual([
      'w',
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
    ]);
    // A consumer that throws on what one of them derives ends the output with its exception.
    expect(consume([w], undefined, {}, ['detected:feature-development:5'])).toEqual([
      'w',
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
      'error consumer on detected:feature-development:5',
    ]);
  });

  it('reads only .aggregated and .late events as carrying events, and one without them as carrying none', () => {
    const g = group('g', ['e'], always);
    const events = [
      ev('p', 'prompt.submitted', 0, { event: ev('inner', 'e', 0), events: [ev('inner2', 'e', 0)] }),
      { ...ev('w', 'e.aggregated', 0), data: undefined as never },
      { ...ev('l', 'e.late', 0), data: undefined as never },
    ];
    expect(labels(events, [g])).toEqual(['p', 'w', 'l']);
  });

  it('counts an event as what it carries only when its name says it carries that: <type>.late, <source_type>.aggregated', () => {
    const g = group('g', ['e'], always);
    const e = (id: string) => ev(id, 'e', 0);
    // Inputs of their own that are named like the operators' outputs: each passes through and is no e
    // (they were counted as the e events they hold, and the group matched).
    const own = [
      ev('notes', 'notes.late', 0, { event: e('n'), reason: 'window_closed', watermark: 0 }),
      ev('report', 'report.aggregated', 0, { events: [e('r')] }),
      ev('other', 'other.aggregated', 0, { source_type: 'e', events: [e('o')] }),
      ev('boxed', 'e.aggregated', 0, { source_type: { toString: () => 'e' }, events: [e('b')] }),
    ];
    expect(labels(own, [g])).toEqual(['notes', 'report', 'other', 'boxed']);
    // What it holds is not read unless the name says it carries it: no report of an unreadable input.
    const unread = [
      ev('getter', 'x', 0, {
        get event(): never {
          throw new Error('not read');
        },
      }),
      ev('null', 'e.late', 0, { event: null }),
      ev('boxedType', 'e.late', 0, { event: { ...e('x'), type: { toString: () => 'e' } } }),
    ];
    expect(labels(unread, [g])).toEqual(['getter', 'null', 'boxedType']);
    // What temporalAggregate and sessionWindows make is counted as what it carries.
    const carriers = [
      ev('late', 'e.late', 0, { event: e('l'), reason: 'window_closed', watermark: 0 }),
      ev('window', 'session.window.late', 0, { event: e('s'), reason: 'window_closed', watermark: 0 }),
      ev('agg', 'e.aggregated', 0, { source_type: 'e', events: [e('a')] }),
    ];
    for (const carrier of carriers)
      expect(labels([carrier], [g])).toEqual([carrier.id, 'detected:g:1', 'ended:g:1:flushed']);
  });

  it('describes what a rule throws: its string code, a value that is not an Error, one that cannot be printed', () => {
    const unprintable = {
      toString(): string {
        throw new Error('no text');
      },
    };
    const cases: Array<[unknown, object]> = [
      [
        Object.assign(new Error('coded'), { code: 'E_RULE' }),
        { name: 'Error', message: 'coded', code: 'E_RULE' },
      ],
      [Object.assign(new TypeError('numbered'), { code: 42 }), { name: 'TypeError', message: 'numbered' }],
      ['plain', { name: 'Error', message: 'plain' }],
      [unprintable, { name: 'Error', message: 'unprintable error' }],
    ];
    for (const [thrown, described] of cases) {
      const rule = () => {
        throw thrown;
      };
      const out = run([ev('a', 'e', 0)], [group('g', ['e'], rule)], { passThrough: false });
      expect(out.map(label)).toEqual(['error:g']);
      expect((out[0]!.data as CorrelationErrorData).error).toStrictEqual(described);
    }
  });

  it('passes an unreadable event on only with passThrough, and ends with the consumer’s exception on it', () => {
    const hostile = {
      get type(): string {
        throw new Error('getter');
      },
    } as unknown as Event;
    const show = (e: Event) => (e === hostile ? 'hostile' : label(e));
    expect(run([hostile, ...feature()], undefined, { passThrough: false }).map(show)).toEqual([
      'error:null',
      'detected:feature-development:5',
      'ended:feature-development:5:flushed',
    ]);
    // The report went out, then the event: the consumer's exception on it ends the output.
    const consumer = new ThrowingConsumer<Event>((e) => e === hostile, show);
    from([hostile, ...feature()])
      .pipe(correlate())
      .subscribe(consumer);
    expect(consumer.got.map((e) => (typeof e === 'string' ? e : show(e)))).toEqual([
      'error:null',
      'hostile',
      'error consumer on hostile',
    ]);
  });

  it('reports a rule error again exactly one window after the last report', () => {
    const broken = group('g', ['e'], () => {
      throw new Error('always');
    });
    const out = run([ev('a', 'e', 0), ev('b', 'e', MIN - 1), ev('c', 'e', MIN)], [broken], {
      passThrough: false,
    });
    expect(
      out.map((e) => [
        (e.data as CorrelationErrorData).trigger_event_id,
        (e.data as CorrelationErrorData).suppressed,
      ]),
    ).toEqual([
      ['a', 0],
      ['c', 1],
    ]);
  });

  it('groups the events without a string session id under one key, and reports theirs without one', () => {
    const events = [
      { ...ev('a', 'e', 0), sessionId: undefined },
      { ...ev('b', 'e', SEC), sessionId: null },
      { ...ev('c', 'e', 2 * SEC), sessionId: 7 },
      ev('d', 'e', 3 * SEC, {}, ''),
    ] as unknown as Event[];
    const out = activities(run(events, [group('g', ['e'], atLeast(2))], { passThrough: false }));
    expect(out.map(label)).toEqual(['detected:g:2', 'ended:g:4:flushed']);
    expect(out.map((e) => 'sessionId' in e)).toEqual([false, false]);
  });
});
