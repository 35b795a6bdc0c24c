import fc from 'fast-check';
import { asyncScheduler, take, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError, EventFlowMetrics, type FlowSummary, OTHER_TYPE } from '../../src/index.js';
import { TypeStats } from '../../src/operators/metrics.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { atOnceScheduler, thislessScheduler } from '../helpers/schedulers.js';

/** Nearest-rank percentile: the smallest value with at least p % of the values at or below it. */
function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

describe('EventFlowMetrics', () => {
  it('summarises each type in the seed shape, with exact count/min/avg/max', () => {
    const clock = { t: 0 };
    const metrics = new EventFlowMetrics({ now: () => clock.t });
    for (const ms of [10, 20, 30, 40]) metrics.record('tool.used', ms);
    metrics.record('git.commit', 5);
    clock.t = 2000;
    const summary = metrics.summary();
    expect(summary['tool.used']).toEqual({
      count: 4,
      avg_processing_time_ms: 25,
      min_processing_time_ms: 10,
      max_processing_time_ms: 40,
      // Within the histogram's 1 % (20 ms falls inside a 0.128 ms bucket).
      p50_processing_time_ms: expect.closeTo(20, 0),
      p95_processing_time_ms: 40,
      p99_processing_time_ms: 40,
      // The seed's figure: 4 events in 0.1 s of processing.
      events_per_second: 40,
      // True throughput: 4 events in 2 s of wall clock.
      wall_clock_events_per_second: 2,
      errors: 0,
      dropped: 0,
    });
    expect(summary['git.commit']?.count).toBe(1);
  });

  it('computes percentiles within 1 % of nearest rank (precision 2) and 0.1 % (precision 3)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ min: 0.0001, max: 0.01, noNaN: true }), // 0.1 to 10 µs
            fc.double({ min: 0.01, max: 60_000, noNaN: true }),
          ),
          { minLength: 1, maxLength: 400 },
        ),
        fc.constantFrom(2 as const, 3 as const),
        (values, precision) => {
          const metrics = new EventFlowMetrics({ precision });
          for (const ms of values) metrics.record('t', ms);
          const summary = metrics.summary().t!;
          const tolerance = precision === 2 ? 0.01 : 0.001;
          const pairs: Array<[number, number]> = [
            [summary.p50_processing_time_ms, nearestRank(values, 50)],
            [summary.p95_processing_time_ms, nearestRank(values, 95)],
            [summary.p99_processing_time_ms, nearestRank(values, 99)],
          ];
          for (const [got, exact] of pairs) {
            // Values are held in whole nanoseconds, hence the extra 0.5 ns.
            expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * tolerance + 0.0000005);
          }
          expect(summary.max_processing_time_ms).toBe(Math.max(...values));
          expect(summary.min_processing_time_ms).toBe(Math.min(...values));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('holds times of a few microseconds to within 1 %', () => {
    const metrics = new EventFlowMetrics();
    for (const ms of [0.0005, 0.0012, 0.0012, 0.0012, 0.0014, 0.0031]) metrics.record('fast', ms);
    const summary = metrics.summary().fast!;
    expect(summary.p50_processing_time_ms).toBeGreaterThanOrEqual(0.0012);
    expect(summary.p50_processing_time_ms).toBeLessThanOrEqual(0.0012 * 1.01);
    expect(summary.p95_processing_time_ms).toBeGreaterThanOrEqual(0.0031);
    expect(summary.p95_processing_time_ms).toBeLessThanOrEqual(0.0031 * 1.01);
  });

  it('records a time beyond what the histogram holds as its limit, within min..max', () => {
    const metrics = new EventFlowMetrics();
    metrics.record('slow', 1);
    metrics.record('slow', 1e12); // 31 years: past 2^53 ns
    expect(metrics.summary().slow!.p99_processing_time_ms).toBeGreaterThan(9e9);
    expect(metrics.summary().slow!.p99_processing_time_ms).toBeLessThanOrEqual(1e12);
  });

  it('keeps the seed capacity figure finite for zero-time stages', () => {
    const metrics = new EventFlowMetrics();
    metrics.record('fast', 0);
    metrics.record('fast', 0);
    expect(metrics.summary().fast?.events_per_second).toBe(2000);
  });

  it('counts busyMs, not the processing time, in events_per_second: a batch of 4 handled in 8 ms is 500/s', () => {
    const metrics = new EventFlowMetrics();
    for (let i = 0; i < 4; i++) metrics.record('batched', 8, 2);
    metrics.record('alone', 8);
    metrics.record('alone', 2, 2);
    expect(metrics.summary().batched).toMatchObject({
      count: 4,
      avg_processing_time_ms: 8,
      events_per_second: 500,
    });
    expect(metrics.summary().alone).toMatchObject({ avg_processing_time_ms: 5, events_per_second: 200 });
    expect(metrics.avgLatencyMs).toBe(7);
    for (const busy of [-1, Number.NaN, Number.POSITIVE_INFINITY, '2' as never]) {
      expect(() => metrics.record('batched', 8, busy)).toThrow(/busyMs must be a finite non-negative number/);
    }
    expect(metrics.summary().batched?.count).toBe(4);
  });

  it('counts the wall-clock seconds as at least 1 ms: at creation, and on a clock that went back', () => {
    const clock = { t: 1000 };
    const metrics = new EventFlowMetrics({ now: () => clock.t });
    metrics.record('a', 2);
    metrics.record('a', 2);
    expect(metrics.summary().a?.wall_clock_events_per_second).toBe(2000);
    clock.t = 1500;
    expect(metrics.summary().a?.wall_clock_events_per_second).toBe(4);
    clock.t = 0;
    expect(metrics.summary().a?.wall_clock_events_per_second).toBe(2000);
  });

  it('bounds memory: types beyond maxTypes are counted under (other), nothing dropped', () => {
    const metrics = new EventFlowMetrics({ maxTypes: 3 });
    for (let i = 0; i < 10; i++) metrics.record(`type.${i}`, 1);
    const summary = metrics.summary();
    expect(Object.keys(summary)).toEqual(['type.0', 'type.1', 'type.2', OTHER_TYPE]);
    expect(summary[OTHER_TYPE]?.count).toBe(7);
    expect(summary['(other)']?.count).toBe(7);
    const total = Object.values(summary).reduce((n, s) => n + s.count, 0);
    expect(total).toBe(10);
  });

  it('gives maxTypes types their own statistics, whether (other) comes first or not', () => {
    const exact = new EventFlowMetrics({ maxTypes: 2 });
    exact.record('a', 1);
    exact.record('b', 2);
    expect(Object.keys(exact.summary())).toEqual(['a', 'b']);
    const one = new EventFlowMetrics({ maxTypes: 1 });
    one.record('a', 1);
    one.record('b', 2);
    expect(Object.keys(one.summary())).toEqual(['a', OTHER_TYPE]);
    const otherFirst = new EventFlowMetrics({ maxTypes: 2 });
    for (const type of ['x', OTHER_TYPE, 'y', 'z']) otherFirst.recordError(type);
    expect(otherFirst.summary()).toEqual({
      x: expect.objectContaining({ errors: 1 }),
      [OTHER_TYPE]: expect.objectContaining({ errors: 2 }),
      y: expect.objectContaining({ errors: 1 }),
    });
  });

  it('reports every type as its own key of the summary, __proto__ and constructor included', () => {
    // The summary was a plain object filled by assignment: a type named __proto__ set its prototype
    // (its statistics vanished from Object.keys, and the summary inherited them) instead of a key.
    const metrics = new EventFlowMetrics();
    metrics.record('__proto__', 5);
    metrics.record('__proto__', 7);
    metrics.recordError('constructor');
    metrics.record('toString', 1);
    const summary = metrics.summary();
    expect(Object.getPrototypeOf(summary)).toBe(Object.prototype);
    expect(Object.keys(summary)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(summary, '__proto__')?.value).toMatchObject({
      count: 2,
      max_processing_time_ms: 7,
    });
    expect(Object.entries(summary).map(([type, s]) => [type, s.count, s.errors])).toEqual([
      ['__proto__', 2, 0],
      ['constructor', 0, 1],
      ['toString', 1, 0],
    ]);
    expect(Object.keys(JSON.parse(JSON.stringify(summary)))).toEqual([
      '__proto__',
      'constructor',
      'toString',
    ]);
  });

  it('gives a summary that is the caller’s to edit, as an assigned record would be', () => {
    // Its keys are defined (for __proto__), yet writable and deletable: a dashboard that drops or
    // replaces an entry before rendering must not get a TypeError (strict mode) or a silent no-op.
    const metrics = new EventFlowMetrics();
    metrics.record('a', 1);
    metrics.record('b', 1);
    const summary = metrics.summary();
    const b = summary.b!;
    summary.a = b;
    delete summary.b;
    expect(summary).toEqual({ a: b });
  });

  it('counts a type that is not a string under its text, as the summary keys it', () => {
    // The map kept 1 and '1' apart while the summary has one key for both: one's statistics were lost
    // (and a type beyond maxTypes got a slot of its own under a key it shared).
    const metrics = new EventFlowMetrics({ maxTypes: 2 });
    metrics.record(1 as never, 5);
    metrics.record('1', 7);
    metrics.recordError(1 as never);
    metrics.recordDropped(undefined as never);
    metrics.record('b', 1);
    const summary = metrics.summary();
    expect(Object.keys(summary)).toEqual(['1', 'undefined', OTHER_TYPE]);
    expect(summary['1']).toMatchObject({ count: 2, max_processing_time_ms: 7, errors: 1 });
    expect(summary.undefined?.dropped).toBe(1);
    expect(summary[OTHER_TYPE]?.count).toBe(1);
  });

  it('counts errors and drops apart from processing times', () => {
    const metrics = new EventFlowMetrics();
    metrics.recordError('x');
    metrics.recordDropped('x');
    metrics.recordDropped('x');
    expect(metrics.summary().x).toMatchObject({
      count: 0,
      errors: 1,
      dropped: 2,
      avg_processing_time_ms: 0,
      p95_processing_time_ms: 0,
      // No time recorded: 0, not the running minimum's starting value (Infinity, null in JSON).
      min_processing_time_ms: 0,
      max_processing_time_ms: 0,
    });
  });

  it('averages the most recent samples for avgLatencyMs, over all types', () => {
    const metrics = new EventFlowMetrics({ recentSamples: 3 });
    expect(metrics.avgLatencyMs).toBe(0);
    metrics.record('a', 100);
    metrics.record('b', 200);
    expect(metrics.avgLatencyMs).toBe(150);
    metrics.record('a', 3);
    metrics.record('a', 3);
    metrics.record('b', 3);
    expect(metrics.avgLatencyMs).toBeCloseTo(3, 9);
  });

  it('keeps avgLatencyMs the average of the window once a huge time has left it', () => {
    // A running sum: the small times added while a huge one was in it were rounded away, and once
    // it left, the window's average stayed off for good (0 here, for a window of 1 ms times).
    const metrics = new EventFlowMetrics({ recentSamples: 4 });
    metrics.record('a', 1e16);
    for (let i = 0; i < 4; i++) metrics.record('a', 1);
    expect(metrics.avgLatencyMs).toBe(1);
    for (let i = 0; i < 7; i++) metrics.record('a', 0.25 * i);
    // The last four: 0.75, 1, 1.25, 1.5.
    expect(metrics.avgLatencyMs).toBe(1.125);
    // A huge time among smaller ones, and again after it left.
    const many = new EventFlowMetrics({ recentSamples: 100 });
    many.record('b', 3e15);
    for (let i = 0; i < 99; i++) many.record('b', 0.1);
    expect(many.avgLatencyMs).toBeCloseTo(3e13, -1);
    for (let i = 0; i < 100; i++) many.record('b', 0.3);
    expect(many.avgLatencyMs).toBeCloseTo(0.3, 12);
  });

  it('keeps avgLatencyMs the average of the window once times whose sum overflowed have left it', () => {
    // Each finite, their sum Infinity: the running sum stayed Infinity (Infinity minus a time), for good.
    const metrics = new EventFlowMetrics({ recentSamples: 2 });
    metrics.record('a', Number.MAX_VALUE);
    metrics.record('a', Number.MAX_VALUE);
    expect(metrics.avgLatencyMs).toBe(Number.POSITIVE_INFINITY);
    metrics.record('a', 1);
    expect(metrics.avgLatencyMs).toBe(Number.MAX_VALUE / 2);
    metrics.record('a', 3);
    expect(metrics.avgLatencyMs).toBe(2);
  });

  it('keeps avgLatencyMs the average of the window after huge times left it one by one', () => {
    // Times falling by a factor 1.5 from 1e16: none leaves larger than what remains, yet the sum
    // drops from ~3e16 to a few ms, keeping the rounding of the huge times (0.5 instead of 1 after).
    for (const recentSamples of [4, 100]) {
      const metrics = new EventFlowMetrics({ recentSamples });
      for (let v = 1e16; v >= 1; v /= 1.5) metrics.record('a', Math.round(v) + 1);
      for (let i = 0; i < recentSamples; i++) metrics.record('a', 1);
      expect(metrics.avgLatencyMs).toBeCloseTo(1, 9);
    }
  });

  it('averages over a window of one time with recentSamples 1', () => {
    const metrics = new EventFlowMetrics({ recentSamples: 1 });
    metrics.record('a', 10);
    metrics.record('a', 4);
    expect(metrics.avgLatencyMs).toBe(4);
    expect(() => new EventFlowMetrics({ recentSamples: 0 })).toThrow(ConfigError);
  });

  it('takes each of the precisions 1, 2 and 3', () => {
    for (const precision of [1, 2, 3] as const) {
      const metrics = new EventFlowMetrics({ precision });
      for (let ms = 1; ms <= 100; ms++) metrics.record('a', ms);
      // Within 10 % at precision 1.
      expect(metrics.summary().a?.p50_processing_time_ms).toBeGreaterThanOrEqual(45);
      expect(metrics.summary().a?.p50_processing_time_ms).toBeLessThanOrEqual(55);
    }
  });

  it('runs summary$ on the scheduler given to the constructor by default', () => {
    // Outside TestScheduler.run: asyncScheduler is real time there, so only the given scheduler emits.
    const scheduler = new VirtualTimeScheduler();
    const metrics = new EventFlowMetrics({ scheduler });
    metrics.record('x', 1);
    const counts: number[] = [];
    const subscription = metrics
      .summary$(10)
      .pipe(take(2))
      .subscribe((summary) => counts.push(summary.x?.count ?? -1));
    scheduler.flush();
    subscription.unsubscribe();
    expect(counts).toEqual([1, 1]);
    expect(scheduler.now()).toBe(20);
  });

  it('errors summary$ with a ConfigError on a scheduler that runs its interval at once, inside schedule()', () => {
    // A user scheduler that drains its queue inside schedule(), every delay at once: interval() re-armed
    // itself at once, forever, and the subscription never returned.
    const scheduler = atOnceScheduler();
    const errors: unknown[] = [];
    new EventFlowMetrics().summary$(10, scheduler).subscribe({ error: (e) => errors.push(e) });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect((errors[0] as Error).message).toMatch(/^summary\$: the scheduler ran a timer of 10 ms at once/);
    expect(scheduler.ran()).toBe(1);
  });

  it('runs summary$ on a user scheduler that calls the work without its action as this, and stops on unsubscribe', () => {
    // interval() re-armed itself with this.schedule: a TypeError on such a scheduler, thrown from its timer.
    const clock = new VirtualTimeScheduler(undefined, 100);
    const scheduler = thislessScheduler(clock);
    const times: number[] = [];
    const errors: unknown[] = [];
    const subscription = new EventFlowMetrics()
      .summary$(10, scheduler)
      .subscribe({ next: () => times.push(clock.now()), error: (e) => errors.push(e) });
    clock.schedule(() => subscription.unsubscribe(), 35);
    clock.flush();
    expect(errors).toEqual([]);
    expect(times).toEqual([10, 20, 30]);
    expect(scheduler.pending()).toBe(0);
  });

  it('errors summary$ with what summary() throws (a clock that throws), and stops its timer', () => {
    // At most 100 ms of virtual time: a timer left running ends the flush there rather than hang it.
    const scheduler = new VirtualTimeScheduler(undefined, 100);
    let broken = false;
    const now = () => {
      if (broken) throw new Error('clock broken');
      return 0;
    };
    const metrics = new EventFlowMetrics({ now, scheduler });
    const errors: unknown[] = [];
    const times: number[] = [];
    metrics.summary$(10).subscribe({ next: () => times.push(scheduler.now()), error: (e) => errors.push(e) });
    scheduler.schedule(() => {
      broken = true;
    }, 15);
    scheduler.flush();
    expect(times).toEqual([10]);
    expect(errors).toEqual([new Error('clock broken')]);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('ends summary$ with the exception of a consumer that throws on a summary, and stops its timer', () => {
    // Thrown on, the exception came out of the scheduler's flush (from a real timer: uncaught) and the
    // timer stopped, the stream neither erroring nor ending.
    const scheduler = new VirtualTimeScheduler(undefined, 100);
    const metrics = new EventFlowMetrics({ scheduler });
    let summaries = 0;
    const consumer = new ThrowingConsumer<FlowSummary>(
      () => ++summaries === 2,
      () => `summary ${summaries}`,
    );
    metrics.summary$(10).subscribe(consumer);
    expect(() => scheduler.flush()).not.toThrow();
    expect(consumer.got.slice(2)).toEqual(['error consumer on summary 2']);
    expect(consumer.closed).toBe(true);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('sums its gauges into queueDepth, and unregisters them', () => {
    const metrics = new EventFlowMetrics();
    let depth = 5;
    const off = metrics.gauge(() => depth);
    metrics.gauge(() => 2);
    expect(metrics.queueDepth).toBe(7);
    depth = 10;
    expect(metrics.load()).toEqual({ queueDepth: 12, avgLatencyMs: 0 });
    off();
    expect(metrics.queueDepth).toBe(2);
  });

  it('emits summary$ every interval on the scheduler, and stops on unsubscribe', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ expectObservable, cold }) => {
      const metrics = new EventFlowMetrics({ scheduler });
      cold('-a---b', { a: 1, b: 2 }).subscribe((ms) => metrics.record('x', ms));
      const counts = {
        x: expect.objectContaining({ x: expect.objectContaining({ count: 1 }) }),
        y: expect.objectContaining({ x: expect.objectContaining({ count: 2 }) }),
      };
      expectObservable(metrics.summary$(3), '-------!').toBe('---x--y', counts);
    });
  });

  it('forgets everything on reset', () => {
    const clock = { t: 0 };
    const metrics = new EventFlowMetrics({ now: () => clock.t });
    metrics.record('a', 1);
    clock.t = 1000;
    metrics.reset();
    expect(metrics.summary()).toEqual({});
    expect(metrics.avgLatencyMs).toBe(0);
    metrics.record('a', 1);
    clock.t = 1500;
    expect(metrics.summary().a?.wall_clock_events_per_second).toBe(2);
  });

  it('rejects bad options and bad samples', () => {
    // Each error names its operator, its option and the value given.
    for (const [make, message] of [
      [
        () => new EventFlowMetrics({ maxTypes: 0 }),
        'EventFlowMetrics: maxTypes must be a positive integer, got 0',
      ],
      [
        () => new EventFlowMetrics({ recentSamples: 1.5 }),
        'EventFlowMetrics: recentSamples must be a positive integer, got 1.5',
      ],
      [
        () => new EventFlowMetrics({ precision: 4 as never }),
        'EventFlowMetrics: precision must be 1, 2 or 3, got 4',
      ],
      [
        () => new EventFlowMetrics({ now: 5 as never }),
        'EventFlowMetrics: now must be a function () => ms, got 5',
      ],
      [
        () => new EventFlowMetrics({ scheduler: {} as never }),
        'EventFlowMetrics: scheduler must be a SchedulerLike',
      ],
      [() => new EventFlowMetrics().summary$(0), 'summary$: intervalMs must be a positive number of ms'],
      [
        () => new EventFlowMetrics().summary$(1000, {} as never),
        'summary$: scheduler must be a SchedulerLike',
      ],
    ] as const) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    // A TypeError otherwise: at once (now, scheduler, null) or when summary$ is subscribed.
    for (const make of [
      () => new EventFlowMetrics({ now: 5 as never }),
      () => new EventFlowMetrics({ scheduler: {} as never }),
      () => new EventFlowMetrics(null as never),
      () => new EventFlowMetrics().summary$(1000, { now: () => 0 } as never),
    ]) {
      expect(make).toThrow(ConfigError);
    }
    expect(() => new EventFlowMetrics({ now: () => 0 }).summary$(1000, asyncScheduler)).not.toThrow();
    const metrics = new EventFlowMetrics();
    expect(() => metrics.record('a', -1)).toThrow(RangeError);
    expect(() => metrics.record('a', Number.NaN)).toThrow(RangeError);
    expect(() => metrics.record('a', Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => metrics.record('a', '5' as never)).toThrow(RangeError);
    // Named as what it is, also beside a good busyMs.
    expect(() => metrics.record('a', -1, 1)).toThrow(
      /record: ms must be a finite non-negative number, got -1/,
    );
    expect(() => metrics.record('a', Number.NaN, 1)).toThrow(/record: ms must be/);
    expect(metrics.summary()).toEqual({});
    expect(() => metrics.summary$(0)).toThrow(ConfigError);
  });

  it('refuses a summary$ interval beyond setTimeout’s limit, which Node would run every millisecond', () => {
    const metrics = new EventFlowMetrics();
    expect(() => metrics.summary$(Number.POSITIVE_INFINITY)).toThrow(ConfigError);
    expect(() => metrics.summary$(2_147_483_648)).toThrow(ConfigError);
    expect(() => metrics.summary$(Number.NaN)).toThrow(ConfigError);
    expect(() => metrics.summary$(2_147_483_647)).not.toThrow();
  });

  it('stays small: a million records keep the footprint of the histograms', () => {
    const metrics = new EventFlowMetrics();
    for (let i = 0; i < 1_000_000; i++) metrics.record('hot', (i % 1000) / 10);
    const summary = metrics.summary().hot!;
    expect(summary.count).toBe(1_000_000);
    expect(summary.p95_processing_time_ms).toBeCloseTo(95, 0);
  });
});

describe('TypeStats (the statistics of one type): more than 2^32 − 1 times', () => {
  it('widens its histogram to 64-bit counts before a bucket can wrap past 2^32 − 1, keeping every count', () => {
    const stats = new TypeStats(2);
    const MS = 1_000_000; // 1 ms in the histogram's ns
    stats.record(1);
    stats.record(1);
    // 2^32 − 3 more times of 1 ms (a day of a busy pipeline, in one call): the histogram is then full.
    stats.histogram.recordValueWithCount(MS, 2 ** 32 - 3);
    stats.count += 2 ** 32 - 3;
    stats.sumMs += 2 ** 32 - 3;
    for (let i = 0; i < 3; i++) stats.record(1);
    stats.record(5);
    // In 32-bit counts the bucket of 1 ms would read 1 (wrapped): p50 and p99 would be 5 ms.
    expect(stats.histogram.getCountAtIndex(stats.histogram.countsArrayIndex(MS))).toBe(2 ** 32 + 2);
    expect(stats.histogram.totalCount).toBe(2 ** 32 + 3);
    // Within the precision: the highest time of the bucket of 1 ms.
    expect(stats.percentile(50)).toBeCloseTo(1, 1);
    expect(stats.percentile(99.9999999)).toBeCloseTo(1, 1);
    expect(stats.percentile(100)).toBe(5);
    // And it goes on counting, a time beyond its first hour too (it still grows to hold it).
    stats.record(5);
    expect(stats.histogram.getCountAtIndex(stats.histogram.countsArrayIndex(5 * MS))).toBe(2);
    stats.record(10_000_000);
    expect(stats.percentile(100)).toBe(10_000_000);
    expect(stats.histogram.constructor.name).toBe('Float64Histogram');
  });

  it('keeps 32-bit counts while no bucket can wrap, whatever the times', () => {
    // Twice the memory otherwise, for every type.
    const stats = new TypeStats(2);
    for (const ms of [0, 1, 5, 10_000_000]) stats.record(ms);
    expect(stats.histogram.constructor.name).toBe('Int32Histogram');
    expect(stats.percentile(100)).toBe(10_000_000);
  });
});
