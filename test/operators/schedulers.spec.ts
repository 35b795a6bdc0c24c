/**
 * The rules every operator and source that takes a `scheduler` keeps (docs/schedulers.md): a scheduler
 * that runs a positive delay at once, inside `schedule()`, is refused with a `ConfigError`; so is a clock
 * whose `now()` is no finite number, where the clock places events or arms timers.
 */
import { Observable, type OperatorFunction, type SchedulerLike, Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aggregateHooks,
  bridgeHooks,
  ConfigError,
  chainHooks,
  correlate,
  createEvent,
  createHookBridge,
  type Event,
  EventFlowMetrics,
  fromFileWatcher,
  type HookAnswer,
  hybridProcess,
  Priority,
  pattern,
  persist,
  reviewSummary,
  runHook,
  runHookAggregation,
  runHookChain,
  sessionWindows,
  systemLoad$,
  temporalAggregate,
} from '../../src/index.js';
import { atOnceScheduler, skewedScheduler } from '../helpers/schedulers.js';
import { ev, label } from '../helpers/windows.js';

type WindowOperator = (scheduler: import('rxjs').SchedulerLike) => OperatorFunction<Event, Event>;

const WINDOWS: Array<[string, WindowOperator, string]> = [
  ['sessionWindows', (scheduler) => sessionWindows({ gapMs: 50, scheduler }), 'session.window s1 [0,0] n=1'],
  [
    'temporalAggregate',
    (scheduler) => temporalAggregate({ windows: { 'tool.used': 50 }, scheduler }),
    'tool.used.aggregated s1 [0,50) n=1',
  ],
];

/** Feeds `events` to `operator` and collects the labelled outputs and the error. */
function run(operator: OperatorFunction<Event, Event>, events: Event[], after?: () => void) {
  const out: string[] = [];
  let failure: unknown;
  const input = new Subject<Event>();
  input.pipe(operator).subscribe({
    next: (e) => out.push(label(e)),
    error: (error: unknown) => {
      failure = error;
    },
  });
  for (const e of events) input.next(e);
  after?.();
  return { out, failure };
}

describe.each(WINDOWS)('%s', (name, operator, firstWindow) => {
  it('refuses a scheduler that runs its idle timer at once (50 ms, inside schedule()): it looped', () => {
    // The idle timer fired at once, found nothing due, and re-armed itself at once for ever.
    const scheduler = atOnceScheduler();
    const { out, failure } = run(
      operator(scheduler),
      [0, 10, 20].map((t) => ev('tool.used', t, 's1')),
    );
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toBe(
      `${name}: the scheduler ran a timer of 50 ms at once, inside schedule(): its timer would fire before its time and re-arm itself for ever; pass one that runs a delay later (asyncScheduler, a VirtualTimeScheduler, a TestScheduler)`,
    );
    // At the first event, whose run armed the timer: its window is flushed before the error.
    expect(out).toEqual([firstWindow]);
  });

  it.each([
    ['NaN', Number.NaN, 'NaN'],
    ['a string', '5', "'5'"],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
  ])('refuses a clock whose now() is %s: a NaN due time re-armed the timer for ever', (_, time, shown) => {
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const scheduler = skewedScheduler(() => time, clock);
    const events = [0, 10, 20].map((t) => ev('tool.used', t, 's1'));
    const { out, failure } = run(operator(scheduler), events, () => clock.flush());
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toBe(
      `${name}: the scheduler's now() must give a finite number of ms, got ${shown}`,
    );
    // Read at the end of the run of the three events: all three are in the window flushed before the error.
    expect(out).toEqual([firstWindow.replace('[0,0] n=1', '[0,20] n=3').replace('n=1', 'n=3')]);
  });
});

describe.each(WINDOWS)('%s, on a clock that goes back', (name, operator) => {
  /**
   * Feeds `arrivals` (`[frame, event times]`) on a virtual clock read as `now(frame)`, flushes it, and
   * returns each output with the frame it came at, then the end.
   */
  function timed(now: (frame: number) => number, arrivals: Array<[number, number[], string?]>) {
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    // Past 1,000 actions scheduled it throws 'looped', which the output errors with.
    const scheduler = skewedScheduler(() => now(clock.now()), clock);
    const input = new Subject<Event>();
    const out: string[] = [];
    input.pipe(operator(scheduler)).subscribe({
      next: (e) => out.push(`${clock.now()}: ${label(e)}`),
      error: (error: unknown) => out.push(`${clock.now()}: error ${(error as Error).message}`),
      complete: () => out.push(`${clock.now()}: complete`),
    });
    for (const [frame, times, session = 's1'] of arrivals) {
      clock.schedule(() => {
        for (const t of times) input.next(ev('tool.used', t, session));
      }, frame);
    }
    clock.schedule(() => input.complete(), 10_000);
    clock.flush();
    return out;
  }

  // sessionWindows (gap 50) closes its window 50 ms after the last arrival, temporalAggregate its
  // [0, 50) window 30 ms after it (at event time 50), [200, 250) 40 ms after an arrival of 210.
  const first =
    name === 'sessionWindows'
      ? ['50: session.window s1 [0,20] n=3']
      : ['30: tool.used.aggregated s1 [0,50) n=3'];
  const second =
    name === 'sessionWindows'
      ? ['550: session.window s1 [200,210] n=2']
      : ['540: tool.used.aggregated s1 [200,250) n=2'];

  it('closes the idle windows when the timer fires, on a clock that reads less at each read: it re-armed for ever', () => {
    // Each tick found nothing due, the clock behind the time it was armed at, and re-armed further ahead:
    // a virtual flush never ended (here: 'looped', the window flushed only before that error).
    const out = timed(
      (frame) => 1_000_000 - frame,
      [
        [0, [0, 10, 20]],
        [500, [200, 210]],
      ],
    );
    expect(out).toEqual([...first, ...second, '10000: complete']);
  });

  it('closes them when the timer fires after the clock stepped back while it waited: they waited for the step', () => {
    // Read 1,000,000 at the first run of arrivals, then 1,000 ms less than the frame would give.
    let reads = 0;
    const out = timed(
      (frame) => (reads++ === 0 ? 1_000_000 : 999_000 + frame),
      [
        [0, [0, 10, 20]],
        [500, [200, 210]],
      ],
    );
    // The first window closed at frame 1,050 (1,030): when the clock had passed its due time again.
    expect(out).toEqual([...first, ...second, '10000: complete']);
  });

  it('closes them in their idle time when the clock stepped back and another key came since: they waited for the step', () => {
    // 1,000 ms back from frame 10, after s1's run; s2's run at frame 20, read 999,020, re-armed the timer
    // by that read, and s1's window, due at 1,000,050 or 1,000,030, waited until the clock read that again
    // (frame 1,050 or 1,030). Its times now move back with the clock by the 980 ms it reads less than
    // before: it closes 50 or 30 ms after the step was first read (the 20 ms before that read are not
    // known, so late by them, never early), s2 in its own idle time.
    const out = timed(
      (frame) => (frame < 10 ? 1_000_000 + frame : 999_000 + frame),
      [
        [0, [0, 10, 20]],
        [20, [20], 's2'],
      ],
    );
    expect(out).toEqual(
      name === 'sessionWindows'
        ? ['70: session.window s1 [0,20] n=3', '70: session.window s2 [20,20] n=1', '10000: complete']
        : [
            '50: tool.used.aggregated s1 [0,50) n=3',
            '70: tool.used.aggregated s2 [20,70) n=1',
            '10000: complete',
          ],
    );
  });

  it('moves back only the windows read after the time the clock reads: a jump forward undone closes no other early', () => {
    // One read 1,000,000 ms ahead (s2's run at frame 20), the clock as before at the next (s3's, frame 30).
    // s2's window, read on the clock ahead, waits its idle time from frame 30 (it waited for the clock to
    // read 2,000,070, and was flushed only at the end); s1's and s3's keep their times.
    const out = timed(
      (frame) => (frame === 20 ? 2_000_020 : 1_000_000 + frame),
      [
        [0, [0]],
        [20, [20], 's2'],
        [30, [30], 's3'],
      ],
    );
    expect(out).toEqual(
      name === 'sessionWindows'
        ? [
            '50: session.window s1 [0,0] n=1',
            '80: session.window s2 [20,20] n=1',
            '80: session.window s3 [30,30] n=1',
            '10000: complete',
          ]
        : [
            '50: tool.used.aggregated s1 [0,50) n=1',
            '80: tool.used.aggregated s2 [20,70) n=1',
            '80: tool.used.aggregated s3 [30,80) n=1',
            '10000: complete',
          ],
    );
  });

  it('closes no window early by a tick read before the step: its quiet time is not counted from it', () => {
    // A tick at frame 50 (closing s2) reads 1,000,050; 1,000 ms back from frame 60 (s3's run), where s1's
    // window takes 999,060 as its arrival time. s1's next event (frame 70) brings it up to that tick: were
    // the tick's time kept, s1 had been quiet 990 ms by it, and its window closed at once (frame 70, with
    // that event), not its idle time after it.
    const out = timed(
      (frame) => (frame < 60 ? 1_000_000 + frame : 999_000 + frame),
      [
        [0, [0], 's2'],
        [30, [30]],
        [60, [60], 's3'],
        [70, [40]],
      ],
    );
    expect(out.filter((line) => line.includes(' s1 '))).toEqual(
      name === 'sessionWindows'
        ? ['120: session.window s1 [30,40] n=2']
        : ['110: tool.used.aggregated s1 [30,80) n=2'],
    );
  });

  it('times a run of arrivals by the clock that went back before it, as before (a control)', () => {
    // 1,000 ms back between the two runs: the second waits its idle time from its own (earlier) reading,
    // which the timer's time agrees with.
    const out = timed(
      (frame) => (frame < 500 ? 1_000_000 + frame : 999_000 + frame),
      [
        [0, [0, 10, 20]],
        [500, [200, 210]],
      ],
    );
    expect(out).toEqual([...first, ...second, '10000: complete']);
  });

  it('waits for the clock, not the timer, on a clock that stood still while the timer waited (a control: it did not go back)', () => {
    // The clock reads 0 until frame 60, then runs again (frame - 60). It never read less than before, so
    // the tick's time is the clock's, not the time the timer was armed for: the window closes when the
    // clock reaches its due time (frame 110 for sessionWindows' 50, 90 for temporalAggregate's 30), the
    // timer re-armed until then.
    const out = timed((frame) => (frame <= 60 ? 0 : frame - 60), [[0, [0, 10, 20]]]);
    expect(out).toEqual([
      name === 'sessionWindows'
        ? '110: session.window s1 [0,20] n=3'
        : '90: tool.used.aggregated s1 [0,50) n=3',
      '10000: complete',
    ]);
  });
});

describe('a scheduler that runs a positive delay at once, inside schedule()', () => {
  it("adaptiveBatch's one-shot timeout runs at once on it: a batch is cut at each item, nothing refused", () => {
    // Only a timer that re-arms itself is refused on it (docs/schedulers.md); the batch's timeout of 500 ms
    // ran inside schedule(), at the item that armed it.
    const scheduler = atOnceScheduler();
    const input = new Subject<number>();
    const out: string[] = [];
    input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler })).subscribe({
      next: (batch) => out.push(JSON.stringify(batch)),
      error: (error: unknown) => out.push(`error ${(error as Error).message}`),
      complete: () => out.push('complete'),
    });
    for (const item of [1, 2, 3]) input.next(item);
    input.complete();
    expect(out).toEqual(['[1]', '[2]', '[3]', 'complete']);
    expect(scheduler.ran()).toBe(3);
  });
});

describe('sessionWindows, on a clock read ahead and back', () => {
  /**
   * Feeds each `[frame, session]` arrival (an event at time 0) to sessionWindows (gap 50) on a virtual clock
   * read as `times[frame]`, or the frame less `behind` at a frame not listed, and returns each output with
   * the frame it came at.
   */
  function timed(times: Record<number, number>, behind: number, arrivals: Array<[number, string]>) {
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const scheduler = skewedScheduler(() => times[clock.now()] ?? clock.now() - behind, clock);
    const input = new Subject<Event>();
    const out: string[] = [];
    input.pipe(sessionWindows({ gapMs: 50, scheduler })).subscribe({
      next: (e) => out.push(`${clock.now()}: ${label(e)}`),
      complete: () => out.push(`${clock.now()}: complete`),
    });
    for (const [frame, session] of arrivals)
      clock.schedule(() => input.next(ev('tool.used', 0, session)), frame);
    clock.schedule(() => input.complete(), 10_000);
    clock.flush();
    return out;
  }

  it('takes the time of a later tick from its timer when the clock reads less than that tick read', () => {
    // Read as the frame until 50, 60 at frame 50 (10 ahead), then 25 behind the frame. s1 (read 0) is due
    // at 50, s2 (read 40) at 90: the tick at frame 50 reads 60 and closes s1, re-armed for 30 ms (due 90).
    // At frame 80 the clock reads 55, less than the 60 of the tick before: it went back, and s2 closes then.
    // A tick's time not kept as the latest read, 55 is above the 40 of the last arrivals and s2 waited
    // until frame 115, when the clock read 90.
    const out = timed({ 0: 0, 40: 40, 50: 60 }, 25, [
      [0, 's1'],
      [40, 's2'],
    ]);
    expect(out).toEqual([
      '50: session.window s1 [0,0] n=1',
      '80: session.window s2 [0,0] n=1',
      '10000: complete',
    ]);
  });

  it("a tick whose clock went back, though past its timer's time, moves the windows read later back to it", () => {
    // s1 read 0 (due 50), s2 read 100 (due 150): the tick at frame 50 reads 60, behind the 100 read before
    // but past its timer's 50, so 60 is its time: s1 closes, and s2, read later than 60, takes 60 as its
    // arrival (due 110, the timer re-armed for 50 ms). The tick at frame 100 reads 40, behind 60: it takes
    // its timer's 110 and s2 closes, 90 frames after it came (its gap 50: late, never early). Kept at 100
    // (the highest read, as before 6cde0b5) s2 waited until frame 140.
    const out = timed({ 0: 0, 10: 100, 50: 60, 140: 80 }, 60, [
      [0, 's1'],
      [10, 's2'],
    ]);
    expect(out).toEqual([
      '50: session.window s1 [0,0] n=1',
      '100: session.window s2 [0,0] n=1',
      '10000: complete',
    ]);
  });

  it('a run of arrivals whose clock went back moves the windows read later back to it', () => {
    // s1 read 100 (due 150), s2 read 20 (due 70): the arrivals' 20 is behind s1's 100, so s1 takes 20 as its
    // arrival (due 70) too. The timer, armed for 70 at 20, fires at frame 60, which reads 60: nothing due,
    // re-armed for 10 ms; at frame 70 both close. Kept at its 100, s1 waited until frame 150, 150 frames
    // after it came (its gap 50).
    const out = timed({ 0: 100, 10: 20 }, 0, [
      [0, 's1'],
      [10, 's2'],
    ]);
    expect(out).toEqual([
      '70: session.window s1 [0,0] n=1',
      '70: session.window s2 [0,0] n=1',
      '10000: complete',
    ]);
  });
});

describe('a scheduler whose schedule() returns no Subscription, named by the operator that armed the timer', () => {
  const noSubscription = { now: () => 0, schedule: () => ({}) } as unknown as SchedulerLike;
  const tail =
    "the scheduler's schedule() must return a Subscription (with unsubscribe()), got an object without unsubscribe()";

  it('adaptiveBatch, alone and as the batcher of hybridProcess: it said "scheduler: …"', () => {
    const input = new Subject<number>();
    const out: string[] = [];
    input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler: noSubscription })).subscribe({
      next: (batch) => out.push(JSON.stringify(batch)),
      error: (error: unknown) => out.push(`error: ${(error as Error).message}`),
    });
    input.next(1);
    expect(out).toEqual(['[1]', `error: adaptiveBatch: ${tail}`]);

    const events = new Subject<Event>();
    const outcomes: string[] = [];
    events
      .pipe(
        hybridProcess<string>({
          immediate: () => 'i',
          batch: (b) => b.map(() => 'b'),
          scheduler: noSubscription,
        }),
      )
      .subscribe({
        next: (outcome) => outcomes.push(`${outcome.kind}:${outcome.event.id}`),
        error: (error: unknown) => outcomes.push(`error: ${(error as Error).message}`),
      });
    events.next(createEvent({ id: 'n', type: 'tool.used', priority: Priority.NORMAL, timestamp: 0 }));
    expect(outcomes).toEqual(['result:n', `error: adaptiveBatch: ${tail}`]);
  });

  it.each([
    [
      'pattern',
      () =>
        pattern(
          [
            { name: 'a', match: () => true },
            { name: 'b', match: () => false },
          ],
          { within: 100, liveClock: true, scheduler: noSubscription },
        ),
    ],
    ['correlate', () => correlate(undefined, { liveClock: true, scheduler: noSubscription })],
  ] as Array<[string, () => OperatorFunction<Event, Event>]>)(
    '%s: its liveClock (it said "liveClock: …", not whose)',
    (name, make) => {
      const { failure } = run(make(), [ev('file.created', 0, 's1')]);
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as Error).message).toBe(`${name}: liveClock: ${tail}`);
    },
  );
});

describe('a clock whose now() gives no finite number', () => {
  const CLOCKS: Array<[string, unknown, string]> = [
    ['NaN', Number.NaN, 'NaN'],
    ['a string', '5', "'5'"],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
  ];

  it.each(CLOCKS)(
    'adaptiveBatch (%s): ends the output with a ConfigError, the item held emitted first',
    (_, time, shown) => {
      // NaN armed a timer no virtual clock runs (the batch held to the end), '5' cut it 5,495 ms late
      // ('5' + 500 - '5'), Infinity cut [1] at the next item and held [2].
      const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
      const scheduler = skewedScheduler(() => time, clock);
      const input = new Subject<number>();
      const out: string[] = [];
      input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler })).subscribe({
        next: (batch) => out.push(`${clock.now()}: ${JSON.stringify(batch)}`),
        error: (error: unknown) => out.push(`${clock.now()}: error ${(error as Error).message}`),
      });
      input.next(1);
      input.next(2);
      clock.flush();
      expect(out).toEqual([
        '0: [1]',
        `0: error adaptiveBatch: the scheduler's now() must give a finite number of ms, got ${shown}`,
      ]);
      expect(input.observed).toBe(false);
    },
  );

  it.each([
    [1, 'arming the timer of the first item', ['0: [1]']],
    [2, 'at the second item, the timer armed', ['0: [1,2]']],
  ])(
    'adaptiveBatch: a clock that stops giving a time after %i finite reads (%s) ends the output with a ConfigError, the items held emitted first',
    (finite, _, batches) => {
      // Each item's arrival reads the clock, and so does arming the timer of a batch's first item.
      let reads = 0;
      const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
      const scheduler = skewedScheduler(() => (reads++ < finite ? 0 : Number.NaN), clock);
      const input = new Subject<number>();
      const out: string[] = [];
      input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler })).subscribe({
        next: (batch) => out.push(`${clock.now()}: ${JSON.stringify(batch)}`),
        error: (error: unknown) => out.push(`${clock.now()}: error ${(error as Error).message}`),
      });
      input.next(1);
      input.next(2);
      clock.flush();
      expect(out).toEqual([
        ...batches,
        "0: error adaptiveBatch: the scheduler's now() must give a finite number of ms, got NaN",
      ]);
      expect(input.observed).toBe(false);
    },
  );

  it.each(CLOCKS)(
    'adaptiveBatch (%s), from the second item (its timer armed): ends the output, the batch emitted first',
    (_, time, shown) => {
      // Read per item, not only where a timer is armed: the second item, its batch's timer armed by the
      // first at a good time, finds the clock gone bad. Unread there, NaN and '5' were held and cut by the
      // timer at 500 with no error, and Infinity cut [1] and opened [2].
      const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
      let bad = false;
      const scheduler = skewedScheduler(() => (bad ? time : clock.now()), clock);
      const input = new Subject<number>();
      const out: string[] = [];
      input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler })).subscribe({
        next: (batch) => out.push(`${clock.now()}: ${JSON.stringify(batch)}`),
        error: (error: unknown) => out.push(`${clock.now()}: error ${(error as Error).message}`),
      });
      input.next(1);
      bad = true;
      input.next(2);
      clock.flush();
      expect(out).toEqual([
        '0: [1,2]',
        `0: error adaptiveBatch: the scheduler's now() must give a finite number of ms, got ${shown}`,
      ]);
      expect(input.observed).toBe(false);
    },
  );

  it.each(CLOCKS)(
    'adaptiveBatch (%s): report and setConfig throw a ConfigError, nothing kept or changed',
    (_, time, shown) => {
      // report kept a sample at NaN (a policy given now NaN), setConfig a change at lastChangeAt NaN.
      const batcher = adaptiveBatch<number>({
        maxSize: 10,
        timeoutMs: 500,
        scheduler: skewedScheduler(() => time, new VirtualTimeScheduler()),
      });
      const message = `adaptiveBatch: the scheduler's now() must give a finite number of ms, got ${shown}`;
      expect(() => batcher.report({ latencyMs: 5, size: 3 })).toThrow(new ConfigError(message));
      expect(batcher.samples).toEqual([]);
      expect(() => batcher.setConfig({ maxSize: 20 })).toThrow(new ConfigError(message));
      expect(batcher.config).toEqual({ maxSize: 10, timeoutMs: 500 });
    },
  );

  it.each(CLOCKS)(
    'pattern and correlate with liveClock (%s): the sweep ends the output with a ConfigError after the flush',
    (_, time, shown) => {
      // NaN found nothing due and re-armed the sweep for ever (here until the frame limit, the output left
      // open); Infinity ended every partial match at the first sweep, as timed out, and the output went on.
      for (const [name, make, events] of [
        [
          'pattern',
          (scheduler: SchedulerLike) =>
            pattern(
              [
                { name: 'created', match: (e: Event) => e.type === 'file.created' },
                { name: 'tested', match: (e: Event) => e.type === 'test.run' },
              ],
              { within: 100, passThrough: false, liveClock: true, scheduler },
            ),
          [ev('file.created', 0, 's1')],
        ],
        [
          'correlate',
          (scheduler: SchedulerLike) =>
            correlate(
              [
                {
                  name: 'g',
                  eventTypes: ['file.created', 'test.run'],
                  windowMs: 100,
                  rule: (events) => (events.length >= 2 ? { confidence: 1 } : null),
                },
              ],
              { passThrough: false, liveClock: true, scheduler },
            ),
          [ev('file.created', 0, 's1'), ev('test.run', 20, 's1')],
        ],
      ] as Array<[string, (scheduler: SchedulerLike) => OperatorFunction<Event, Event>, Event[]]>) {
        // The sweep re-arms itself through its action, past skewedScheduler's count: the frames are limited.
        const clock = new VirtualTimeScheduler(undefined, 100_000);
        const { out, failure } = run(make(skewedScheduler(() => time, clock)), events, () => clock.flush());
        expect(failure).toBeInstanceOf(ConfigError);
        expect((failure as Error).message).toBe(
          `${name}: liveClock: the scheduler's now() must give a finite number of ms, got ${shown}`,
        );
        // What the operator held is flushed first: pattern's partial match (as a timeout), correlate's open
        // episode (its end).
        expect(out).toEqual(
          name === 'pattern' ? ['pattern.timeout@0'] : ['activity.detected@20', 'activity.ended@20'],
        );
      }
    },
  );
});

// Every public call that takes a `scheduler`, given `scheduler` (as an unchecked value).
const hook = { name: 'h', run: () => ({}) };
const chain = { name: 'c', hooks: [hook] };
const CALLS: Array<[string, (scheduler: never) => unknown]> = [
  ['runHook', (scheduler) => runHook(hook, {}, { scheduler })],
  ['runHookChain', (scheduler) => runHookChain(chain, {}, { scheduler })],
  ['chainHooks', (scheduler) => chainHooks(chain, { scheduler })],
  ['aggregateHooks', (scheduler) => aggregateHooks([hook], reviewSummary, { scheduler })],
  ['runHookAggregation', (scheduler) => runHookAggregation([hook], {}, reviewSummary, { scheduler })],
  ['pattern', (scheduler) => pattern([{ name: 'a', match: () => true }], { within: 10, scheduler })],
  ['correlate', (scheduler) => correlate(undefined, { scheduler })],
  ['hybridProcess', (scheduler) => hybridProcess({ scheduler } as never)],
  ['sessionWindows', (scheduler) => sessionWindows({ scheduler })],
  ['temporalAggregate', (scheduler) => temporalAggregate({ scheduler })],
  ['EventFlowMetrics', (scheduler) => new EventFlowMetrics({ scheduler })],
  ['summary$', (scheduler) => new EventFlowMetrics().summary$(10, scheduler)],
  ['adaptiveBatch', (scheduler) => adaptiveBatch({ scheduler })],
  ['persist', (scheduler) => persist({ append: async () => {} }, { scheduler })],
  ['systemLoad$', (scheduler) => systemLoad$({ scheduler })],
  ['bridgeHooks', (scheduler) => bridgeHooks({ scheduler })],
  ['createHookBridge', (scheduler) => createHookBridge({ scheduler })],
  ['fromFileWatcher', (scheduler) => fromFileWatcher('.', { scheduler })],
];

const NOT_SCHEDULERS: Array<[string, unknown]> = [
  ['a number', 42],
  ['null', null],
  ['an empty object', {}],
  ['an object without now()', { schedule: () => ({ unsubscribe() {} }) }],
  ['an object without schedule()', { now: () => 0 }],
];

describe.each(CALLS)('%s', (name, call) => {
  it.each(NOT_SCHEDULERS)('refuses a scheduler that is %s at the call, naming the option', (_, scheduler) => {
    // The hooks, the bridges and persist took anything (a TypeError at the first run or timer, or the
    // default for null); pattern and correlate took an object without now().
    expect(() => call(scheduler as never)).toThrow(ConfigError);
    expect(() => call(scheduler as never)).toThrow(
      new RegExp(`^${name.replace('$', '\\$')}: scheduler must be a SchedulerLike`),
    );
  });
});

describe.each(WINDOWS)('%s, on a scheduler whose schedule() fails', (name, operator, firstWindow) => {
  const returning = (value: unknown) =>
    ({
      now: () => 0,
      schedule: () => value,
    }) as unknown as SchedulerLike;
  const throwing = {
    now: () => 0,
    schedule: () => {
      throw new Error('schedule failed');
    },
  } as unknown as SchedulerLike;

  it('flushes the event that met a schedule() that throws, then errors with it', () => {
    // Thrown while the event was handled, before its window opened: the event was lost.
    const { out, failure } = run(
      operator(throwing),
      [0, 10].map((t) => ev('tool.used', t, 's1')),
    );
    expect((failure as Error).message).toBe('schedule failed');
    expect(out).toEqual([firstWindow]);
  });

  it.each([
    ['{}', {}, 'an object without unsubscribe()'],
    ['undefined', undefined, 'undefined'],
  ])(
    'refuses a schedule() that returns %s (no unsubscribe()): an UnsubscriptionError at the teardown',
    (_, value, shown) => {
      const { out, failure } = run(
        operator(returning(value)),
        [0, 10].map((t) => ev('tool.used', t, 's1')),
      );
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as Error).message).toBe(
        `${name}: the scheduler's schedule() must return a Subscription (with unsubscribe()), got ${shown}`,
      );
      expect(out).toEqual([firstWindow]);
    },
  );
});

describe('a scheduler whose schedule() throws', () => {
  const throwing = {
    now: () => 0,
    schedule: () => {
      throw new Error('schedule failed');
    },
  } as unknown as SchedulerLike;

  it('adaptiveBatch: ends the output with its error, the item held emitted first, not thrown at the source', () => {
    // It was thrown at the source's next (the item's batch never sent, the output left open).
    const input = new Subject<number>();
    const out: string[] = [];
    input.pipe(adaptiveBatch<number>({ maxSize: 10, timeoutMs: 500, scheduler: throwing })).subscribe({
      next: (batch) => out.push(JSON.stringify(batch)),
      error: (error: unknown) => out.push(`error: ${(error as Error).message}`),
    });
    expect(() => input.next(1)).not.toThrow();
    input.next(2);
    expect(out).toEqual(['[1]', 'error: schedule failed']);
    expect(input.observed).toBe(false);
  });

  it('hybridProcess: an event whose handler cannot be timed, or whose background task cannot be scheduled, fails with the error, which then ends the output', () => {
    const noSubscription = { now: () => 0, schedule: () => ({}) } as unknown as SchedulerLike;
    const critical = createEvent({
      id: 'C',
      type: 'workflow.failed',
      priority: Priority.CRITICAL,
      timestamp: 0,
    });
    const low = createEvent({ id: 'l', type: 'message.displayed', priority: Priority.LOW, timestamp: 0 });
    for (const [scheduler, message] of [
      [throwing, 'schedule failed'],
      [
        noSubscription,
        "hybridProcess: the scheduler's schedule() must return a Subscription (with unsubscribe()), got an object without unsubscribe()",
      ],
    ] as const) {
      for (const event of [critical, low]) {
        const input = new Subject<Event>();
        const out: string[] = [];
        let stopped = 0;
        input
          .pipe(
            hybridProcess<string>({
              // A handler that answers later, so that its time limit is armed.
              immediate: () =>
                new Observable<string>(() => () => {
                  stopped += 1;
                }),
              batch: (batch) => batch.map(() => 'b'),
              background: () => 'bg',
              timeoutMs: 100,
              scheduler,
            }),
          )
          .subscribe({
            next: (outcome) =>
              out.push(
                `${outcome.kind}:${outcome.event.id}:${outcome.kind === 'error' ? String((outcome.error as Error).message) : ''}`,
              ),
            error: (error: unknown) => out.push(`error: ${(error as Error).message}`),
          });
        // Was thrown here, at the source's next, the event given no outcome.
        expect(() => input.next(event)).not.toThrow();
        expect(out).toEqual([`error:${event.id}:${message}`, `error: ${message}`]);
        expect(input.observed).toBe(false);
        // The IMMEDIATE handler started is stopped.
        expect(stopped).toBe(event === critical ? 1 : 0);
      }
    }
  });

  it('persist: a timer that cannot be armed leaves the source, writes every event received, then errors with it', async () => {
    const noSubscription = { now: () => 0, schedule: () => ({}) } as unknown as SchedulerLike;
    for (const [scheduler, message] of [
      [throwing, 'schedule failed'],
      [
        noSubscription,
        // It named no operator: 'scheduler: …'.
        "persist: the scheduler's schedule() must return a Subscription (with unsubscribe()), got an object without unsubscribe()",
      ],
    ] as const) {
      const written: string[] = [];
      const store = {
        append: async (events: readonly Event[]) => {
          written.push(...events.map((event) => event.type));
        },
      };
      const input = new Subject<Event>();
      const out: string[] = [];
      const ended = new Promise<void>((resolve) =>
        input.pipe(persist(store, { maxBatch: 10, maxDelayMs: 5, scheduler })).subscribe({
          next: (event) => out.push(event.type),
          error: (error: unknown) => {
            out.push(`error: ${(error as Error).message}`);
            resolve();
          },
          complete: resolve,
        }),
      );
      // Was thrown here, at the source's next; the output left open.
      expect(() => input.next(ev('a', 0))).not.toThrow();
      expect(input.observed).toBe(false);
      await ended;
      expect(written).toEqual(['a']);
      expect(out).toEqual(['a', `error: ${message}`]);
    }
  });

  // A hook that answers only when asked to; `stopped` says whether its run was torn down.
  function pendingHook() {
    const state = { started: 0, stopped: 0 };
    const pending = {
      name: 'slow',
      timeoutMs: 100,
      run: () =>
        new Observable<HookAnswer>(() => {
          state.started += 1;
          return () => {
            state.stopped += 1;
          };
        }),
    };
    return { state, pending };
  }

  it('runHook: a timeout whose schedule() throws fails the run with its error and stops the hook it started', () => {
    const { state, pending } = pendingHook();
    const out: string[] = [];
    runHook(pending, {}, { scheduler: throwing }).subscribe({
      next: (step) => out.push(step.status),
      error: (error: unknown) => out.push(`error: ${(error as Error).message}`),
    });
    expect(out).toEqual(['error: schedule failed']);
    // Was left running (a command hook's process too): the error cut the subscribe short before its teardown.
    expect(state).toEqual({ started: 1, stopped: 1 });
  });

  it('runHook: a timeout whose schedule() returns no Subscription is a ConfigError, the hook stopped', () => {
    for (const returned of [undefined, {}]) {
      const { state, pending } = pendingHook();
      const scheduler = { now: () => 0, schedule: () => returned } as unknown as SchedulerLike;
      let failure: unknown;
      const run = runHook(pending, {}, { scheduler }).subscribe({
        error: (error: unknown) => (failure = error),
      });
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as Error).message).toMatch(
        /^hook "slow"'s timeout: the scheduler's schedule\(\) must return a Subscription/,
      );
      // Was an UnsubscriptionError thrown here, at whoever ended the run.
      expect(() => run.unsubscribe()).not.toThrow();
      expect(state).toEqual({ started: 1, stopped: 1 });
    }
  });
});

describe('hybridProcess on a clock whose now() gives no finite number', () => {
  const CLOCKS: Array<[string, unknown, string]> = [
    ['NaN', Number.NaN, 'NaN'],
    ['a string', '5', "'5'"],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
  ];
  const MODES = ['immediate', 'batched', 'async'] as const;

  /** Two events through hybridProcess on `time`'s clock, every handler synchronous, all sent to `mode`. */
  function runHybrid(time: () => unknown, mode: (typeof MODES)[number], extra: object = {}) {
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const out: string[] = [];
    input
      .pipe(
        hybridProcess<string>({
          immediate: (e) => `i:${e.data.n}`,
          background: (e) => `a:${e.data.n}`,
          batch: (events) => events.map((e) => `b:${e.data.n}`),
          select: () => mode as never,
          batcher: { maxSize: 10, timeoutMs: 500 },
          scheduler: skewedScheduler(time, clock),
          ...extra,
        }),
      )
      .subscribe({
        next: (o) =>
          out.push(
            `${o.kind} ${o.mode} ${o.event.data.n}${o.kind === 'result' ? ` ${o.result}` : ` ${(o.error as Error).message}`} latency ${Number.isFinite(o.latencyMs) ? 'finite' : o.latencyMs}`,
          ),
        error: (error: unknown) =>
          out.push(
            `error ${error instanceof ConfigError ? 'ConfigError' : (error as Error).name}: ${(error as Error).message}`,
          ),
      });
    for (const n of [1, 2]) input.next(createEvent({ type: 'tool.used', data: { n }, timestamp: n }));
    clock.flush();
    return { out, observed: input.observed };
  }

  // Its latencies were NaN (outcomes with latencyMs NaN; the batcher's report() threw
  // "adaptiveBatch.report: latencyMs must be finite", a RangeError, or adaptiveBatch's own ConfigError
  // named it), or, on '5', taken as numbers and never said. Now the first reading ends the output: the
  // event it was read for gets its outcome, the input stops, then the ConfigError.
  it.each(CLOCKS.flatMap(([name, time, shown]) => MODES.map((mode) => [name, mode, time, shown] as const)))(
    '%s, %s lane: the event received gets its outcome (latency finite), then a ConfigError naming hybridProcess',
    (_, mode, time, shown) => {
      const message = `hybridProcess: the scheduler's now() must give a finite number of ms, got ${shown}`;
      const { out, observed } = runHybrid(() => time, mode);
      expect(out).toEqual([
        mode === 'batched'
          ? `error batched 1 ${message} latency finite`
          : `result ${mode} 1 ${mode === 'immediate' ? 'i' : 'a'}:1 latency finite`,
        `error ConfigError: ${message}`,
      ]);
      expect(observed).toBe(false);
    },
  );

  it.each(CLOCKS)(
    '%s only after a batch was cut: its outcomes come, then the ConfigError (was a RangeError from report)',
    (_, time, shown) => {
      // Finite while the events arrive and the batch is cut, then bad when the batch's latency is taken.
      let bad = false;
      const { out } = runHybrid(() => (bad ? time : 0), 'batched', {
        batcher: { maxSize: 2, minSize: 1, timeoutMs: 500 },
        batch: (events: Event[]) => {
          bad = true;
          return events.map((e) => `b:${e.data.n}`);
        },
      });
      expect(out).toEqual([
        'result batched 1 b:1 latency finite',
        'result batched 2 b:2 latency finite',
        `error ConfigError: hybridProcess: the scheduler's now() must give a finite number of ms, got ${shown}`,
      ]);
    },
  );

  it('an event dropped on a bad clock is stamped with the last finite reading (was an InvalidEventError at the source)', () => {
    const clock = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    const input = new Subject<Event>();
    const out: string[] = [];
    let reads = 0;
    input
      .pipe(
        hybridProcess<string>({
          immediate: () => new Promise<string>(() => {}), // never settles: the queue fills
          batch: (events) => events.map(() => ''),
          select: () => 'immediate' as never,
          concurrency: { immediate: 1 },
          maxQueued: { immediate: 1 },
          overflow: 'drop-newest',
          scheduler: skewedScheduler(() => (++reads > 2 ? Number.NaN : 7), clock),
        }),
      )
      .subscribe({
        next: (o) =>
          out.push(`${o.kind} ${o.event.data.n}${o.kind === 'dropped' ? ` at ${o.dropped.timestamp}` : ''}`),
        error: (error: unknown) => out.push(`error ${(error as Error).message}`),
      });
    for (const n of [1, 2, 3]) input.next(createEvent({ type: 'tool.used', data: { n }, timestamp: n }));
    // 1 runs, 2 waits; 3 is read NaN at its arrival, which stops the input, and is dropped (its queue full).
    expect(out).toEqual(['dropped 3 at 7']);
    expect(input.observed).toBe(false);
  });
});
