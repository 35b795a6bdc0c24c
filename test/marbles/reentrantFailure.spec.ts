/**
 * `correlate` and `pattern` (their shell, `serializedOperator` and `TaskSerializer` in
 * `src/operators/internal/keyed.ts`) when a consumer pushes events into the source from its `next`
 * (re-entrantly: they wait behind the event being handled) and then throws.
 */
import { type OperatorFunction, Subject, Subscriber, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { correlate, type Event, type PatternTimeoutData, Priority, pattern } from '../../src/index.js';

const T0 = 1_800_000_000_000;

function ev(id: string, type: string, at: number): Event {
  return { id, type, timestamp: T0 + at, priority: Priority.NORMAL, data: {}, sessionId: 'A' };
}

/** Input events read as their id; a pattern timeout as `T[ids]:reason`; anything else as its type. */
function label(event: Event): string {
  if (event.type === 'pattern.timeout') {
    const data = event.data as PatternTimeoutData;
    return `T[${data.events.map((e) => e.id)}]:${data.reason}`;
  }
  return event.type.includes('.') ? event.type : event.id;
}

/**
 * A consumer that calls `react` on each output and throws when it returns true (a `Subscriber` of its
 * own, which `subscribe` uses as it is, so the exception reaches the operator); records every output and
 * how the output ended, and then unsubscribes, as RxJS's subscribers do.
 */
class Consumer extends Subscriber<Event> {
  readonly got: string[] = [];
  /** The outputs themselves. */
  readonly events: Event[] = [];

  constructor(private readonly react: (event: Event) => boolean) {
    super();
  }

  protected override _next(event: Event): void {
    this.got.push(label(event));
    this.events.push(event);
    if (this.react(event)) throw new Error(`consumer on ${label(event)}`);
  }

  protected override _error(error: unknown): void {
    this.got.push(`error ${(error as Error).message}`);
    this.unsubscribe();
  }

  protected override _complete(): void {
    this.got.push('complete');
    this.unsubscribe();
  }
}

const operators: Array<[string, () => OperatorFunction<Event, Event>]> = [
  ['correlate', () => correlate()],
  ['pattern', () => pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], { within: 60_000 })],
];

describe.each(operators)('%s: a consumer that pushes into the source, then throws', (_, operator) => {
  it('still passes through every event it pushed, then errors with its exception', () => {
    // They were queued behind the event being handled, and dropped with the queue by the exception.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => {
      // Pushed after the exception: not read.
      if (e.id === 'c') input.next(ev('d', 'note', 4));
      if (e.id !== 'a') return false;
      input.next(ev('b', 'note', 2));
      input.next(ev('c', 'note', 3));
      return true;
    });
    input.pipe(operator()).subscribe(consumer);
    input.next(ev('a', 'note', 1));
    expect(consumer.got).toEqual(['a', 'b', 'c', 'error consumer on a']);
    // The source was left with the exception.
    expect(input.observed).toBe(false);
  });

  it.each([
    ['completes', (input: Subject<Event>) => input.complete()],
    ['errors', (input: Subject<Event>) => input.error(new Error('source'))],
  ])(
    'handles them, throwing again included, when it also %s the source: the first exception ends the output',
    (_, end) => {
      const input = new Subject<Event>();
      const consumer = new Consumer((e) => {
        if (e.id === 'a') {
          input.next(ev('b', 'note', 2));
          input.next(ev('c', 'note', 3));
          end(input);
          return true;
        }
        return e.id === 'b';
      });
      input.pipe(operator()).subscribe(consumer);
      input.next(ev('a', 'note', 1));
      expect(consumer.got).toEqual(['a', 'b', 'c', 'error consumer on a']);
    },
  );
});

describe('pattern: a consumer that throws', () => {
  it('still gets the partial matches flushed, an event pushed before it threw in one, before the error', () => {
    // Flushed on complete and before a source error: on the consumer's exception too, or their events
    // (which leave only inside a match or a timeout without passThrough) are lost.
    const input = new Subject<Event>();
    let fed = false;
    const consumer = new Consumer((e) => {
      if (fed || e.type !== 'pattern.matched') return false;
      fed = true;
      input.next(ev('a2', 'step.a', 3));
      return true;
    });
    input
      .pipe(
        pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
          within: 60_000,
          passThrough: false,
        }),
      )
      .subscribe(consumer);
    input.next(ev('a1', 'step.a', 1));
    input.next(ev('b1', 'step.b', 2));
    expect(consumer.got).toEqual(['pattern.matched', 'T[a2]:flushed', 'error consumer on pattern.matched']);
  });
});

describe('pattern: a consumer that throws on a timeout found before an input', () => {
  const steps = [(e: Event) => e.type === 'step.a', (e: Event) => e.type === 'step.b'];

  it('by the key’s own late event: that event still passes through, then the output errors', () => {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'pattern.timeout');
    input.pipe(pattern(steps, { within: 60_000 })).subscribe(consumer);
    input.next({ ...ev('x', 'note', 120_000), sessionId: 'X' });
    // Late: a's partial match is past its deadline, found by b (late too, 70 s after a).
    input.next(ev('a', 'step.a', 0));
    input.next(ev('b', 'step.b', 70_000));
    expect(consumer.got).toEqual(['x', 'step.a', 'T[a]:timeout', 'step.b', 'error consumer on T[a]:timeout']);
  });

  it('by a new key making room: that key still starts its partial match, then the output errors', () => {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => (e.data as PatternTimeoutData).reason === 'timeout');
    input.pipe(pattern(steps, { within: 60_000, passThrough: false, maxKeys: 2 })).subscribe(consumer);
    input.next(ev('aA', 'step.a', 120_000));
    // Late: its partial match is past its deadline; C finds the map full and ends it.
    input.next({ ...ev('aB', 'step.a', 0), sessionId: 'B' });
    input.next({ ...ev('aC', 'step.a', 120_000), sessionId: 'C' });
    expect(consumer.got).toEqual([
      'T[aB]:timeout',
      'T[aA]:flushed',
      'T[aC]:flushed',
      'error consumer on T[aB]:timeout',
    ]);
  });
});

describe("pattern: a consumer that throws on a notFollowedBy's error report and on the event", () => {
  it('errors the output with the report’s exception, the first', () => {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'pattern.error' || e.type === 'step.x');
    const throwing = (e: Event) => {
      if (e.type === 'step.x') throw new Error('predicate');
      return false;
    };
    input
      .pipe(
        pattern([(e) => e.type === 'step.a', { notFollowedBy: throwing }, (e) => e.type === 'step.b'], {
          within: 60_000,
        }),
      )
      .subscribe(consumer);
    input.next(ev('a', 'step.a', 0));
    input.next(ev('x', 'step.x', 1));
    expect(consumer.got).toEqual([
      'step.a',
      'pattern.error',
      'step.x',
      'T[a]:flushed',
      'error consumer on pattern.error',
    ]);
  });
});

describe('pattern: a consumer that throws on a match', () => {
  it('does not get the key’s other partial matches from the flush: the match dropped them', () => {
    // The match went out before the key's other partial matches were cleared: the consumer threw on it,
    // and the flush emitted them as `flushed`, where a run without the exception drops them silently.
    const outputs = (throwOnMatch: boolean) => {
      const input = new Subject<Event>();
      const consumer = new Consumer((e) => throwOnMatch && e.type === 'pattern.matched');
      input
        .pipe(
          pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b', (e) => e.type === 'step.c'], {
            within: 60_000,
            passThrough: false,
          }),
        )
        .subscribe(consumer);
      // [a1, b1] waits for step.c, [a2] for step.b; c1 completes the first.
      input.next(ev('a1', 'step.a', 1));
      input.next(ev('b1', 'step.b', 2));
      input.next(ev('a2', 'step.a', 3));
      input.next(ev('c1', 'step.c', 4));
      input.complete();
      return consumer.got;
    };
    expect(outputs(false)).toEqual(['pattern.matched', 'complete']);
    expect(outputs(true)).toEqual(['pattern.matched', 'error consumer on pattern.matched']);
  });
});

describe('a consumer that throws during the flush before a source error', () => {
  // The exception went out of the flush into the source's `error` call: the output never ended.
  it.each([
    [
      'correlate',
      () =>
        correlate([
          { name: 'g', eventTypes: ['file.created'], windowMs: 60_000, rule: () => ({ confidence: 1 }) },
        ]),
      'activity.ended',
    ],
    [
      'pattern',
      () => pattern([(e) => e.type === 'file.created', (e) => e.type === 'step.b'], { within: 60_000 }),
      'pattern.timeout',
    ],
  ])('%s still ends with the error of the source', (_, operator, flushed) => {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === flushed);
    input.pipe(operator()).subscribe(consumer);
    // An open episode (correlate), an open partial match (pattern).
    for (const [i, at] of [0, 10_000, 20_000].entries()) {
      input.next({ ...ev(`f${i}`, 'file.created', at), data: { file_path: `/r/${i}.ts` } });
    }
    input.error(new Error('source'));
    expect(consumer.got.filter((label) => label === flushed || label.startsWith('T['))).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error source');
  });
});

describe('a consumer that throws on what a live-clock sweep emitted', () => {
  it('errors the output with it, instead of throwing into the scheduler', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'pattern.timeout');
    input
      .pipe(
        pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
          within: 1_000,
          passThrough: false,
          liveClock: true,
          scheduler,
        }),
      )
      .subscribe(consumer);
    // Stamped by the scheduler's clock, as live input is.
    input.next({ ...ev('a1', 'step.a', 0), timestamp: 1 });
    // The exception reached the scheduler's action: it threw out of the scheduler (on a real clock, an
    // uncaught exception in a timer), and the output never ended.
    expect(() => scheduler.flush()).not.toThrow();
    expect(consumer.got).toEqual(['T[a1]:timeout', 'error consumer on T[a1]:timeout']);
  });
});

/** A flushed or swept output as `<session>:<reason>` (a correlate end, a pattern timeout), else undefined. */
function ending(event: Event): string | undefined {
  if (event.type !== 'activity.ended' && event.type !== 'pattern.timeout') return undefined;
  return `${event.sessionId}:${String((event.data as { reason?: unknown }).reason)}`;
}

/** The ends a consumer got, in order (see `ending`). */
function endingsOf(consumer: Consumer): string[] {
  return consumer.events.map(ending).filter((e): e is string => e !== undefined);
}

/** How the consumer's output `n` (its ends counted alone) reads in `got`. */
function endLabel(consumer: Consumer, n: number): string {
  const at = consumer.events.map((e, i) => [e, i] as const).filter(([e]) => ending(e) !== undefined)[n]![1];
  return consumer.got[at]!;
}

const holding: Array<
  [
    string,
    (options: { passThrough: boolean; scheduler?: VirtualTimeScheduler }) => OperatorFunction<Event, Event>,
  ]
> = [
  [
    'correlate',
    ({ passThrough, scheduler }) =>
      correlate([{ name: 'g', eventTypes: ['step.a'], windowMs: 1_000, rule: () => ({ confidence: 1 }) }], {
        passThrough,
        ...(scheduler === undefined ? {} : { liveClock: true, scheduler }),
      }),
  ],
  [
    'pattern',
    ({ passThrough, scheduler }) =>
      pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
        within: 1_000,
        passThrough,
        ...(scheduler === undefined ? {} : { liveClock: true, scheduler }),
      }),
  ],
];

describe.each(holding)('%s: a consumer that throws on one of the ends flushed or swept', (_, operator) => {
  /** An open episode (correlate) or partial match (pattern) in each session. */
  function open(input: Subject<Event>, sessions: readonly string[], at: (i: number) => number): void {
    for (const [i, session] of sessions.entries()) {
      input.next({ ...ev(`a${session}`, 'step.a', 0), timestamp: at(i), sessionId: session });
    }
  }

  it.each([
    ['completes', (input: Subject<Event>) => input.complete(), undefined],
    ['errors', (input: Subject<Event>) => input.error(new Error('source')), 'source'],
  ])('still gets the others when the source %s, then the first error', (_, end, sourceError) => {
    // The flush stopped at the exception: the sessions after it were never ended, their events lost.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => ending(e) === 'A:flushed' || ending(e) === 'C:flushed');
    input.pipe(operator({ passThrough: false })).subscribe(consumer);
    open(input, ['A', 'B', 'C'], (i) => T0 + i * 10);
    end(input);
    expect(endingsOf(consumer)).toEqual(['A:flushed', 'B:flushed', 'C:flushed']);
    expect(consumer.got.at(-1)).toBe(`error ${sourceError ?? `consumer on ${endLabel(consumer, 0)}`}`);
    expect(consumer.got.filter((label) => label.startsWith('error') || label === 'complete')).toHaveLength(1);
  });

  it('still gets them all, once each, and the output ends, when it threw before the flush too', () => {
    // It threw on an input passed through, then on the first end the flush emitted: the flush stopped
    // there, the other ends were lost, and the output never ended.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.id === 'aC' || ending(e) === 'A:flushed');
    input.pipe(operator({ passThrough: true })).subscribe(consumer);
    open(input, ['A', 'B', 'C'], (i) => T0 + i * 10);
    // C's input still took its part when the consumer threw on its pass-through.
    expect(endingsOf(consumer)).toEqual(['A:flushed', 'B:flushed', 'C:flushed']);
    // Its first exception, on C's input (read as its type).
    expect(consumer.events.filter((e) => e.type === 'step.a').map((e) => e.id)).toEqual(['aA', 'aB', 'aC']);
    expect(consumer.got.at(-1)).toBe('error consumer on step.a');
  });

  it('still gets the others a live-clock sweep ends, once each, then the error', () => {
    // The sweep had taken them out of its state before emitting them: the ones after the exception
    // were lost.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => ending(e)?.startsWith('A:') === true);
    input.pipe(operator({ passThrough: false, scheduler })).subscribe(consumer);
    // Stamped by the scheduler's clock, as live input is: all three end in one sweep.
    open(input, ['A', 'B', 'C'], () => 1);
    expect(() => scheduler.flush()).not.toThrow();
    const ends = endingsOf(consumer);
    const reason = ends[0]!.slice(2);
    expect(['timeout', 'quiet']).toContain(reason);
    expect(ends).toEqual([`A:${reason}`, `B:${reason}`, `C:${reason}`]);
    expect(consumer.got.at(-1)).toBe(`error consumer on ${endLabel(consumer, 0)}`);
  });
});

describe('correlate: a consumer that throws on an episode a sweep ended', () => {
  it('does not get it again from the flush', () => {
    // The episode was still open once the end went out (it was marked ended after): the flush ended it
    // again, `flushed`.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => ending(e) === 'A:quiet');
    input
      .pipe(
        correlate(
          [
            { name: 'g', eventTypes: ['step.a'], windowMs: 1_000, rule: () => ({ confidence: 1 }) },
            // A longer window: the sessions are not idle yet when g's episodes end, and stay tracked.
            { name: 'h', eventTypes: ['note'], windowMs: 60_000, rule: () => null },
          ],
          { passThrough: false, liveClock: true, scheduler },
        ),
      )
      .subscribe(consumer);
    for (const session of ['A', 'B'])
      input.next({ ...ev(`a${session}`, 'step.a', 0), timestamp: 1, sessionId: session });
    scheduler.flush();
    expect(endingsOf(consumer)).toEqual(['A:quiet', 'B:quiet']);
    expect(consumer.got.at(-1)).toBe('error consumer on activity.ended');
  });
});

describe('pattern: a consumer that throws on a partial match an eviction ended', () => {
  it('gets the key’s other partial matches, and none of them again from the flush', () => {
    // The evicted key's partial matches were still in it while they went out: the others were not sent,
    // and the flush sent them all (`flushed`), the one the consumer threw on a second time.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => (e.data as PatternTimeoutData).reason === 'evicted');
    input
      .pipe(
        pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b', (e) => e.type === 'step.c'], {
          within: 60_000,
          passThrough: false,
          maxKeys: 1,
        }),
      )
      .subscribe(consumer);
    // Key A: one partial match waiting for step.c ([a1, b1]), one for step.b ([a2]).
    input.next(ev('a1', 'step.a', 1));
    input.next(ev('b1', 'step.b', 2));
    input.next(ev('a2', 'step.a', 3));
    // Key B: A is evicted.
    input.next({ ...ev('aB', 'step.a', 4), sessionId: 'B' });
    input.complete();
    const timeouts = consumer.got.filter((l) => l.startsWith('T['));
    expect(timeouts.slice(0, 2)).toEqual(['T[a1,b1]:evicted', 'T[a2]:evicted']);
    expect(timeouts.filter((l) => /a1|a2/.test(l))).toHaveLength(2);
    expect(consumer.got.at(-1)).toBe('error consumer on T[a1,b1]:evicted');
  });
});

describe('a consumer that throws, then throws again on what the flush emits', () => {
  it.each([
    [
      'correlate',
      () =>
        correlate([
          { name: 'g', eventTypes: ['file.created'], windowMs: 60_000, rule: () => ({ confidence: 1 }) },
        ]),
      'activity.ended',
    ],
    [
      'pattern',
      () => pattern([(e) => e.type === 'file.created', (e) => e.type === 'step.b'], { within: 60_000 }),
      'pattern.timeout',
    ],
  ])('%s still ends the output with the first exception', (_, operator, flushed) => {
    // The flush ran in the task queued by the first exception, and its exception went to the failure
    // callback, which saw the output already ending: the output never ended.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.id === 'x' || e.type === flushed);
    input.pipe(operator()).subscribe(consumer);
    input.next({ ...ev('f0', 'file.created', 0), data: { file_path: '/r/0.ts' } });
    input.next(ev('x', 'note', 1));
    expect(consumer.got.filter((label) => label === flushed || label.startsWith('T['))).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error consumer on x');
    expect(input.observed).toBe(false);
  });
});

/**
 * Every input (by id) the consumer got: passed through, or inside an output that holds events (a pattern
 * match or timeout's `events`, a correlate end's `event_ids`). Fails the test if an output went out twice
 * or an input went out twice the same way (passed through twice, or in two ends / two pattern outputs).
 */
function deliveredIds(consumer: Consumer, inputs: ReadonlySet<string>): Set<string> {
  const outputIds = consumer.events.map((e) => e.id);
  expect(new Set(outputIds).size).toBe(outputIds.length);
  const passed = consumer.events.filter((e) => inputs.has(e.id)).map((e) => e.id);
  expect(new Set(passed).size).toBe(passed.length);
  const held: string[] = [];
  for (const e of consumer.events) {
    if (e.type === 'pattern.matched' || e.type === 'pattern.timeout') {
      held.push(...(e.data as { events: Event[] }).events.map((x) => x.id));
    } else if (e.type === 'activity.ended') {
      held.push(...(e.data as { event_ids: string[] }).event_ids);
    }
  }
  expect(new Set(held).size).toBe(held.length);
  return new Set([...passed, ...held]);
}

/** The operators under test, holding a step.a (correlate: an episode of g, window 1 s; pattern: a partial match, 1 s). */
const preEvent: Array<
  [string, (options: { passThrough: boolean; maxSessions?: number }) => OperatorFunction<Event, Event>]
> = [
  [
    'correlate',
    ({ passThrough, maxSessions }) =>
      correlate([{ name: 'g', eventTypes: ['step.a'], windowMs: 1_000, rule: () => ({ confidence: 1 }) }], {
        passThrough,
        ...(maxSessions === undefined ? {} : { maxSessions }),
      }),
  ],
  [
    'pattern',
    ({ passThrough, maxSessions }) =>
      pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
        within: 1_000,
        passThrough,
        key: (e) => e.sessionId,
        ...(maxSessions === undefined ? {} : { maxKeys: maxSessions }),
      }),
  ],
];

describe.each(preEvent)(
  '%s: a consumer that throws on an end an event’s own handling emits before it',
  (_, operator) => {
    /** `[id, session, at]` each a step.a. */
    function run(
      passThrough: boolean,
      inputs: ReadonlyArray<readonly [string, string, number]>,
      maxSessions?: number,
    ): Consumer {
      const input = new Subject<Event>();
      const consumer = new Consumer((e) => ending(e)?.startsWith('A:') === true);
      input
        .pipe(operator({ passThrough, ...(maxSessions === undefined ? {} : { maxSessions }) }))
        .subscribe(consumer);
      for (const [id, sessionId, at] of inputs) input.next({ ...ev(id, 'step.a', at), sessionId });
      return consumer;
    }

    describe.each([true, false])('passThrough %s', (passThrough) => {
      it('still handles an event whose jump in event time swept the end: passed through or in a flushed item', () => {
        // B's event swept A's item (the consumer threw on it) and was then neither passed through nor kept.
        const consumer = run(passThrough, [
          ['a1', 'A', 0],
          ['b1', 'B', 5_000],
        ]);
        expect(endingsOf(consumer)[0]).toMatch(/^A:(quiet|timeout)$/);
        expect(deliveredIds(consumer, new Set(['a1', 'b1']))).toEqual(new Set(['a1', 'b1']));
        expect(consumer.got.at(-1)).toBe(`error consumer on ${endLabel(consumer, 0)}`);
      });

      it('still handles an event that ended its own key’s item (no sweep due)', () => {
        // A's second event found A's item past its window (a sweep not due yet: the last ran at 900).
        const consumer = run(passThrough, [
          ['a1', 'A', 0],
          ['b1', 'B', 900],
          ['a2', 'A', 1_100],
        ]);
        expect(endingsOf(consumer)[0]).toMatch(/^A:(quiet|timeout)$/);
        expect(deliveredIds(consumer, new Set(['a1', 'b1', 'a2']))).toEqual(new Set(['a1', 'b1', 'a2']));
        expect(consumer.got.at(-1)).toBe(`error consumer on ${endLabel(consumer, 0)}`);
      });

      it('still handles an event whose new key evicted another', () => {
        // B's new session / key evicted A (maxSessions / maxKeys 1): the consumer threw on A's end.
        const consumer = run(
          passThrough,
          [
            ['a1', 'A', 0],
            ['b1', 'B', 10],
          ],
          1,
        );
        expect(endingsOf(consumer)[0]).toBe('A:evicted');
        expect(deliveredIds(consumer, new Set(['a1', 'b1']))).toEqual(new Set(['a1', 'b1']));
        expect(consumer.got.at(-1)).toBe(`error consumer on ${endLabel(consumer, 0)}`);
      });
    });

    it('passes the event through once when the consumer throws on it too, and errors with the first exception', () => {
      const input = new Subject<Event>();
      const consumer = new Consumer((e) => ending(e)?.startsWith('A:') === true || e.id === 'b1');
      input.pipe(operator({ passThrough: true })).subscribe(consumer);
      input.next({ ...ev('a1', 'step.a', 0), sessionId: 'A' });
      input.next({ ...ev('b1', 'step.a', 5_000), sessionId: 'B' });
      expect(consumer.events.filter((e) => e.id === 'b1')).toHaveLength(1);
      expect(deliveredIds(consumer, new Set(['a1', 'b1']))).toEqual(new Set(['a1', 'b1']));
      expect(consumer.got.at(-1)).toBe(`error consumer on ${endLabel(consumer, 0)}`);
    });
  },
);

describe('correlate: a consumer that throws on the episode a session.ended ends before it', () => {
  it('still passes the session.ended through', () => {
    // The session's episodes end before its session.ended: the consumer threw on the end, and the
    // session.ended was neither passed through nor handled.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => ending(e) === 'A:session-ended');
    input
      .pipe(
        correlate(
          [{ name: 'g', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) }],
          { passThrough: true },
        ),
      )
      .subscribe(consumer);
    input.next(ev('a1', 'step.a', 0));
    input.next(ev('end', 'session.ended', 10));
    expect(endingsOf(consumer)).toEqual(['A:session-ended']);
    expect(consumer.events.filter((e) => e.id === 'end')).toHaveLength(1);
    expect(deliveredIds(consumer, new Set(['a1']))).toEqual(new Set(['a1']));
    expect(consumer.got.at(-1)).toBe('error consumer on activity.ended');
  });
});

describe('correlate: a consumer that throws on an episode a session.ended or an eviction ends', () => {
  const twoGroups = (maxSessions?: number) =>
    correlate(
      [
        { name: 'g', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) },
        { name: 'h', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) },
      ],
      { passThrough: true, ...(maxSessions === undefined ? {} : { maxSessions }) },
    );

  it('still passes the session.ended through, and ends the session’s other episodes with its reason', () => {
    // The session.ended was lost (its episodes end before it), the session stayed tracked, and its other
    // episode was flushed (`flushed`) instead of `session-ended`.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => ending(e) === 'A:session-ended');
    input.pipe(twoGroups()).subscribe(consumer);
    input.next(ev('a1', 'step.a', 0));
    input.next(ev('end', 'session.ended', 10));
    expect(endingsOf(consumer)).toEqual(['A:session-ended', 'A:session-ended']);
    expect(consumer.events.filter((e) => e.type === 'session.ended').map((e) => e.id)).toEqual(['end']);
    expect(consumer.got.at(-1)).toBe('error consumer on activity.ended');
  });

  it('evicts the whole batch, each session’s episodes all `evicted`', () => {
    // The session it threw on was left with its other episode open: once flushed (`flushed`) instead of
    // `evicted`, and, since the eviction goes on with the batch, dropped with the session unended.
    const input = new Subject<Event>();
    let thrown = false;
    const consumer = new Consumer((e) => {
      if (thrown || ending(e) !== 'S1:evicted') return false;
      thrown = true;
      return true;
    });
    // 9 sessions: the 10th evicts the least recent eighth, rounded up (S1, S2).
    input.pipe(twoGroups(9)).subscribe(consumer);
    for (let i = 1; i <= 10; i++) input.next({ ...ev(`a${i}`, 'step.a', i), sessionId: `S${i}` });
    const ends = endingsOf(consumer);
    expect(ends.slice(0, 4)).toEqual(['S1:evicted', 'S1:evicted', 'S2:evicted', 'S2:evicted']);
    expect(ends.filter((e) => e.startsWith('S1:') || e.startsWith('S2:'))).toHaveLength(4);
    expect(consumer.events.filter((e) => e.id === 'a10')).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error consumer on activity.ended');
  });
});

describe('a consumer that throws on the error report an event’s handling emits before it', () => {
  /** Passes every event through; throws on the first error report. */
  function run(operator: OperatorFunction<Event, Event>, inputs: readonly Event[]): Consumer {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type.endsWith('.error'));
    input.pipe(operator).subscribe(consumer);
    for (const event of inputs) input.next(event);
    return consumer;
  }

  it('correlate still passes an unreadable event through', () => {
    // It was reported (correlation.error) before it passed through: the consumer threw, and it was lost.
    // Unreadable once: when correlate reads it (the consumer reads it later).
    let reads = 0;
    const unreadable = ev('x', 'note', 1);
    Object.defineProperty(unreadable, 'type', {
      get() {
        if (reads++ === 0) throw new Error('unreadable');
        return 'note';
      },
    });
    const consumer = run(correlate(), [unreadable]);
    expect(consumer.events.map((e) => e.id).filter((id) => id === 'x')).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error consumer on correlation.error');
  });

  it('pattern still passes through an event its key function throws on', () => {
    const consumer = run(
      pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
        within: 60_000,
        key: (e) => {
          if (e.id === 'x') throw new Error('no key');
          return e.sessionId;
        },
      }),
      [ev('x', 'step.a', 1)],
    );
    expect(consumer.events.filter((e) => e.id === 'x')).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error consumer on pattern.error');
  });

  /** a, then two negations (the first throws on the event `x`), then b. */
  const negated = (passThrough: boolean) =>
    pattern(
      [
        (e) => e.type === 'step.a',
        {
          notFollowedBy: (e) => {
            if (e.id === 'x') throw new Error('bad negation');
            return false;
          },
        },
        { notFollowedBy: (e) => e.type === 'stop' },
        (e) => e.type === 'step.b',
      ],
      { within: 60_000, passThrough },
    );

  it.each([true, false])(
    'pattern still handles an event a notFollowedBy throws on (passThrough %s)',
    (passThrough) => {
      // The negations run before the event passes through: the consumer threw on the report, and the
      // event was neither passed through nor kept (here: in the partial match it starts, which replaces
      // a1's, the earlier one at that step).
      const consumer = run(negated(passThrough), [ev('a1', 'step.a', 1), ev('x', 'step.a', 2)]);
      expect(deliveredIds(consumer, new Set(['a1', 'x']))).toEqual(
        new Set(passThrough ? ['a1', 'x'] : ['x']),
      );
      expect(consumer.got.at(-1)).toBe('error consumer on pattern.error');
    },
  );

  it('pattern still runs the event’s other negations', () => {
    // The ones after the negation that threw were not run: x did not break a1's partial match, which
    // the flush then emitted.
    const consumer = run(negated(true), [ev('a1', 'step.a', 1), ev('x', 'stop', 2)]);
    expect(consumer.events.filter((e) => e.type === 'pattern.timeout')).toEqual([]);
    expect(consumer.events.filter((e) => e.id === 'x')).toHaveLength(1);
    expect(consumer.got.at(-1)).toBe('error consumer on pattern.error');
  });
});

describe('a consumer that throws on the error report of a rule or step the event is tried on', () => {
  it('correlate still adds the event to its other groups (passThrough off)', () => {
    // It threw on g's correlation.error: h never saw the event, which went out nowhere.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'correlation.error');
    input
      .pipe(
        correlate(
          [
            {
              name: 'g',
              eventTypes: ['step.a'],
              windowMs: 60_000,
              rule: () => {
                throw new Error('rule');
              },
            },
            { name: 'h', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) },
          ],
          { passThrough: false },
        ),
      )
      .subscribe(consumer);
    input.next(ev('x', 'step.a', 1));
    expect(deliveredIds(consumer, new Set(['x']))).toEqual(new Set(['x']));
    expect(consumer.got.at(-1)).toBe('error consumer on correlation.error');
  });

  it('pattern still tries the event’s other steps and keeps it (passThrough off)', () => {
    // It threw on the report of step b's predicate: the event did not start its partial match (it went
    // out nowhere), and a1's was flushed instead.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'pattern.error');
    input
      .pipe(
        pattern(
          [
            (e) => e.type === 'step.a',
            (e) => {
              if (e.id === 'x') throw new Error('step');
              return e.type === 'step.b';
            },
          ],
          { within: 60_000, passThrough: false },
        ),
      )
      .subscribe(consumer);
    input.next(ev('a1', 'step.a', 1));
    input.next(ev('x', 'step.a', 2));
    // x's partial match replaces a1's, the earlier one waiting at the same step.
    expect(deliveredIds(consumer, new Set(['a1', 'x']))).toEqual(new Set(['x']));
    expect(consumer.got.at(-1)).toBe('error consumer on pattern.error');
  });
});

describe('a consumer that throws on an event’s own pass-through', () => {
  /** What the consumer got, each output that holds inputs with their ids, and how the output ended. */
  function outputs(
    operator: OperatorFunction<Event, Event>,
    inputs: readonly Event[],
    throwOn?: string,
  ): string[] {
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.id === throwOn);
    input.pipe(operator).subscribe(consumer);
    for (const event of inputs) input.next(event);
    input.complete();
    return consumer.events
      .map((e, i) => {
        const data = e.data as { events?: Event[]; event_ids?: string[] };
        const held = data.event_ids ?? data.events?.map((x) => x.id);
        return held === undefined ? consumer.got[i]! : `${consumer.got[i]}[${held}]`;
      })
      .concat(consumer.got.slice(consumer.events.length));
  }

  /** The same outputs as a run where the consumer does not throw, then the error instead of complete. */
  function expectHandledAsUsual(operator: () => OperatorFunction<Event, Event>, inputs: readonly Event[]) {
    const usual = outputs(operator(), inputs);
    expect(usual.at(-1)).toBe('complete');
    const x = inputs.find((e) => e.id === 'x')!;
    expect(outputs(operator(), inputs, 'x')).toEqual([
      ...usual.slice(0, -1),
      `error consumer on ${label(x)}`,
    ]);
  }

  it('correlate still adds it to its groups’ windows (its episode, the flush, hold it)', () => {
    // Handling stopped at the pass-through: the event opened no episode, nor was it in one's events.
    const group = () =>
      correlate([{ name: 'g', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) }]);
    expectHandledAsUsual(group, [ev('x', 'step.a', 1)]);
    expectHandledAsUsual(group, [ev('a1', 'step.a', 1), ev('x', 'step.a', 2)]);
  });

  it('correlate still handles the events an aggregate carries', () => {
    const inner = [ev('a1', 'step.a', 1), ev('a2', 'step.a', 2)];
    const aggregate: Event = { ...ev('x', 'step.a.aggregated', 2), data: { events: inner } };
    expectHandledAsUsual(
      () =>
        correlate([{ name: 'g', eventTypes: ['step.a'], windowMs: 60_000, rule: () => ({ confidence: 1 }) }]),
      [aggregate],
    );
  });

  it('pattern still advances or starts its partial match (the match, the flush, hold it)', () => {
    // Handling stopped at the pass-through: b did not complete the match (a1's partial match was
    // flushed instead), a did not start one.
    const steps = () => pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], { within: 60_000 });
    expectHandledAsUsual(steps, [ev('a1', 'step.a', 1), ev('x', 'step.b', 2)]);
    expectHandledAsUsual(steps, [ev('x', 'step.a', 1)]);
  });
});

describe('pattern: a consumer that throws on a step’s error report, then on an eviction the event’s new key makes', () => {
  it('errors the output with the first exception (the report’s)', () => {
    // The report's exception was kept aside (`reported`) while the event's steps were tried, and the
    // eviction's, caught after it, was taken as the first.
    const input = new Subject<Event>();
    const consumer = new Consumer((e) => e.type === 'pattern.error' || e.type === 'pattern.timeout');
    input
      .pipe(
        pattern(
          [
            {
              optional: true,
              match: (e) => {
                if (e.id === 'x') throw new Error('step');
                return e.type === 'step.o';
              },
            },
            (e) => e.type === 'step.a',
            (e) => e.type === 'step.b',
          ],
          { within: 60_000, key: (e) => e.sessionId, maxKeys: 1 },
        ),
      )
      .subscribe(consumer);
    input.next(ev('a1', 'step.a', 1));
    // A new key: its optional first step throws (reported), its second starts a partial match, A is evicted.
    input.next({ ...ev('x', 'step.a', 2), sessionId: 'B' });
    expect(consumer.got).toEqual([
      'step.a',
      'step.a',
      'pattern.error',
      'T[a1]:evicted',
      'T[x]:flushed',
      'error consumer on pattern.error',
    ]);
  });
});

describe('pattern: a consumer that throws on a match, after pushing an event of a new key', () => {
  it('does not have another key evicted for it: the matched key, left without partial matches, is dropped', () => {
    // The key the match emptied stayed in the map (the exception skipped its removal): the new key's
    // event found the map full and evicted B's partial match (`evicted`), where a run without the
    // exception has room for it, and the flush ends B's (`flushed`).
    const outputs = (throwOnMatch: boolean) => {
      const input = new Subject<Event>();
      let pushed = false;
      const consumer = new Consumer((e) => {
        if (pushed || e.type !== 'pattern.matched') return false;
        pushed = true;
        input.next({ ...ev('aC', 'step.a', 4), sessionId: 'C' });
        return throwOnMatch;
      });
      input
        .pipe(
          pattern([(e) => e.type === 'step.a', (e) => e.type === 'step.b'], {
            within: 60_000,
            passThrough: false,
            key: (e) => e.sessionId,
            maxKeys: 2,
          }),
        )
        .subscribe(consumer);
      input.next(ev('a1', 'step.a', 1));
      input.next({ ...ev('aB', 'step.a', 2), sessionId: 'B' });
      // Completes A's partial match: the consumer pushes C's event, which waits behind it.
      input.next(ev('b1', 'step.b', 3));
      input.complete();
      return consumer.got;
    };
    expect(outputs(false)).toEqual(['pattern.matched', 'T[aB]:flushed', 'T[aC]:flushed', 'complete']);
    expect(outputs(true)).toEqual([
      'pattern.matched',
      'T[aB]:flushed',
      'T[aC]:flushed',
      'error consumer on pattern.matched',
    ]);
  });
});
