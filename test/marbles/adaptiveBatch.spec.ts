import fc from 'fast-check';
import {
  concat,
  from,
  map,
  merge,
  mergeMap,
  NEVER,
  Observable,
  of,
  type SchedulerLike,
  Subject,
  Subscription,
  take,
  tap,
  throwError,
  timer,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  type AdaptiveBatchOptions,
  adaptiveBatch,
  aimdPolicy,
  type BatchConfig,
  type BatchPolicy,
  ConfigError,
  fixedPolicy,
  seedPolicy,
} from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';

/** Small limits so marble strings stay short; a fixed policy unless a test adapts. */
const small = (options: AdaptiveBatchOptions = {}): AdaptiveBatchOptions => ({
  minSize: 1,
  maxSize: 3,
  maxSizeLimit: 10,
  timeoutMs: 5,
  minTimeoutMs: 1,
  maxTimeoutMs: 100,
  policy: fixedPolicy,
  ...options,
});

describe('adaptiveBatch', () => {
  it(
    'emits a batch as soon as it holds maxSize items',
    marbles((m) => {
      const source = m.cold('  -a-b-c-d-e-f-|');
      const subs = '           ^------------!';
      const expected = '       -----x-----y-|';
      const batcher = adaptiveBatch<string>(small({ timeoutMs: 50 }));
      m.expect(source.pipe(batcher)).toBeObservable(expected, { x: ['a', 'b', 'c'], y: ['d', 'e', 'f'] });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'emits a partial batch timeoutMs after its first item',
    marbles((m) => {
      const source = m.cold('  -a-b--------c------|');
      const subs = '           ^------------------!';
      const expected = '       ------x----------y-|';
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable(expected, {
        x: ['a', 'b'],
        y: ['c'],
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'puts an item arriving on the frame its batch times out into the next batch (the docs diagram)',
    marbles((m) => {
      // e arrives at 12, when [d] (first item at 7) is due; the source's e is scheduled before d's timer.
      const source = m.cold('  -a-b-c-d----e--|');
      const subs = '           ^--------------!';
      const expected = '       -----x------y--(z|)';
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable(expected, {
        x: ['a', 'b', 'c'],
        y: ['d'],
        z: ['e'],
      });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never emits an empty batch: no timer runs without items',
    marbles((m) => {
      const source = m.cold('  ----------------|');
      const subs = '           ^---------------!';
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable('----------------|');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'completes when empty',
    marbles((m) => {
      const source = m.cold<string>('|');
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions('(^!)');
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<string>('-');
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable('-');
      m.expect(source).toHaveSubscriptions('^');
    }),
  );

  it(
    'flushes the open batch on complete',
    marbles((m) => {
      const source = m.cold('  -a-b|');
      const subs = '           ^---!';
      const expected = '       ----(x|)';
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable(expected, { x: ['a', 'b'] });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'flushes the open batch before an error',
    marbles((m) => {
      const source = m.cold('  -a-b#', undefined, new Error('boom'));
      const subs = '           ^---!';
      const expected = '       ----(x#)';
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable(
        expected,
        { x: ['a', 'b'] },
        new Error('boom'),
      );
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'forwards an error with nothing open as it is',
    marbles((m) => {
      const source = m.cold<string>('  ---#');
      m.expect(source.pipe(adaptiveBatch<string>(small()))).toBeObservable('---#');
      m.expect(source).toHaveSubscriptions('^--!');
    }),
  );

  it(
    'cancels its timer and unsubscribes on early unsubscribe',
    marbles((m) => {
      const source = m.hot('   -a-b----c--|');
      const subs = '           ^--!';
      const unsub = '          ---!';
      // The open batch [a, b] would time out at 6; it does not, since nobody listens any more.
      m.expect(source.pipe(adaptiveBatch<string>(small())), unsub).toBeObservable('----');
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const source = m.hot('   -a-b-c-d-e-|');
      const subs = '           ^------!';
      const unsub = '          -------!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        adaptiveBatch<string>(small()),
        mergeMap((x) => of(x.join(''))),
      );
      m.expect(result, unsub).toBeObservable('-----x-', { x: 'abc' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
    let pulled = 0;
    // Long, not endless: read to its end (the bug), the test fails rather than hangs.
    function* items(): Generator<number> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield i;
      }
    }
    const batches: number[][] = [];
    from(items())
      .pipe(adaptiveBatch<number>(small({ maxSize: 2, timeoutMs: 50 })), take(1))
      .subscribe((batch) => batches.push(batch));
    expect(batches).toEqual([[0, 1]]);
    expect(pulled).toBe(2);
  });

  it('handles re-entrant items pushed while a batch is emitted', () => {
    const input = new Subject<number>();
    const batches: number[][] = [];
    const batcher = adaptiveBatch<number>(small({ maxSize: 2, timeoutMs: 50 }));
    input.pipe(batcher).subscribe((batch) => {
      batches.push(batch);
      if (batch[0] === 1) {
        input.next(3);
        input.next(4);
      }
    });
    input.next(1);
    input.next(2);
    input.complete();
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('keeps a batch found due while re-cut chunks go out ahead of the items pushed after it', () => {
    // A shrink re-cuts [1,2,3] into [1,2] [3]. On [1,2] the consumer pushes 10, takes 5 ms, pushes 11:
    // [10] is due. On [3] it pushes 12, filling [11,12]. The due [10] was held by 11's call until the
    // chunks were out, so [11,12] overtook it.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const batches: number[][] = [];
    const batcher = adaptiveBatch<number>(small({ maxSize: 4, scheduler }));
    input.pipe(batcher).subscribe((batch) => {
      batches.push(batch);
      if (batch[0] === 1) {
        input.next(10);
        scheduler.frame += 5;
        input.next(11);
      } else if (batch[0] === 3) input.next(12);
    });
    input.next(1);
    input.next(2);
    input.next(3);
    batcher.setConfig({ maxSize: 2 });
    expect(batches).toEqual([[1, 2], [3], [10], [11, 12]]);
  });

  it('emits every chunk of a re-cut batch when the source ends from one of them', () => {
    // A shrink re-cuts the open batch [1..6] into [1,2] [3,4] [5,6]; the consumer ends the source on
    // the first chunk (complete, or error): the other two are still owed, before the end.
    for (const end of ['complete', 'error'] as const) {
      const input = new Subject<number>();
      const seen: Array<number[] | string> = [];
      const batcher = adaptiveBatch<number>(small({ maxSize: 10, timeoutMs: 50 }));
      input.pipe(batcher).subscribe({
        next: (batch) => {
          seen.push(batch);
          if (batch[0] === 1) {
            if (end === 'complete') input.complete();
            else input.error(new Error('end'));
          }
        },
        error: () => seen.push('#'),
        complete: () => seen.push('|'),
      });
      for (let i = 1; i <= 6; i++) input.next(i);
      batcher.setConfig({ maxSize: 2 });
      expect(seen).toEqual([[1, 2], [3, 4], [5, 6], end === 'complete' ? '|' : '#']);
    }
  });

  it('flushes the item that arrived when its batch was due, also when the source ends from that batch', () => {
    // b arrives at 6, when [a] is due (its push is scheduled before a's timer): [a] leaves first, and the
    // consumer ends the source (complete, or error) on it. b is owed before the end.
    for (const end of ['complete', 'error'] as const) {
      const scheduler = new TestScheduler((actual, expected) => expect(actual).toStrictEqual(expected));
      const seen: string[] = [];
      scheduler.run(() => {
        const input = new Subject<string>();
        scheduler.schedule(() => input.next('a'), 1);
        scheduler.schedule(() => input.next('b'), 6);
        input.pipe(adaptiveBatch<string>(small({ scheduler }))).subscribe({
          next: (batch) => {
            seen.push(`${batch}@${scheduler.now()}`);
            if (end === 'complete') input.complete();
            else input.error(new Error('end'));
          },
          error: () => seen.push(`#@${scheduler.now()}`),
          complete: () => seen.push(`|@${scheduler.now()}`),
        });
      });
      expect(seen).toEqual(['a@6', 'b@6', end === 'complete' ? '|@6' : '#@6']);
    }
  });

  it('keeps order when an item pushed from a chunk fills a batch of its own', () => {
    const input = new Subject<number>();
    const seen: number[][] = [];
    const batcher = adaptiveBatch<number>(small({ maxSize: 10, timeoutMs: 50 }));
    input.pipe(batcher).subscribe((batch) => {
      seen.push(batch);
      if (batch[0] === 1) {
        input.next(7);
        input.next(8);
      }
    });
    for (let i = 1; i <= 6; i++) input.next(i);
    batcher.setConfig({ maxSize: 2 });
    input.complete();
    expect(seen).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
  });

  it('keeps the open batch per subscription but shares the configuration', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const batcher = adaptiveBatch<string>(small({ scheduler }));
      expectObservable(cold('-a-b|').pipe(batcher)).toBe('----(x|)', { x: ['a', 'b'] });
      expectObservable(cold('--c|').pipe(batcher)).toBe('---(y|)', { y: ['c'] });
      batcher.setConfig({ maxSize: 7 });
    });
    const batcher = adaptiveBatch<string>(small());
    batcher.setConfig({ maxSize: 4 });
    expect(batcher.config).toEqual({ maxSize: 4, timeoutMs: 5 });
  });

  it('re-cuts every subscription by the current configuration, also when a change is re-entrant', () => {
    // Two pipelines on one batcher; the first one's consumer changes the configuration again while the
    // first change is still being delivered. The second pipeline must act on the latest configuration,
    // not on the stale one that reaches it last.
    const batcher = adaptiveBatch<string>(small({ maxSize: 10, timeoutMs: 50 }));
    const first = new Subject<string>();
    const second = new Subject<string>();
    const batches: string[][] = [];
    first.pipe(batcher).subscribe((batch) => {
      batches.push(batch);
      if (batch[0] === 'a1') batcher.setConfig({ maxSize: 10 });
    });
    second.pipe(batcher).subscribe((batch) => batches.push(batch));
    for (const item of ['a1', 'a2', 'a3']) first.next(item);
    for (const item of ['b1', 'b2', 'b3']) second.next(item);
    batcher.setConfig({ maxSize: 2 });
    // The first pipeline was re-cut at 2 (then its consumer set 10 back); the second holds 3 < 10 items.
    expect(batches).toEqual([['a1', 'a2'], ['a3']]);
    expect(batcher.config.maxSize).toBe(10);
    first.complete();
    second.complete();
    expect(batches).toEqual([['a1', 'a2'], ['a3'], ['b1', 'b2', 'b3']]);
  });

  describe('adaptation', () => {
    it(
      'shrinks batches at once when the processing latency is too high (AIMD)',
      marbles((m) => {
        const source = m.cold('  -abcdefgh|');
        const subs = '           ^--------!';
        const expected = '       ----x-yzw|';
        const batcher = adaptiveBatch<string>(
          small({
            maxSize: 4,
            timeoutMs: 50,
            policy: aimdPolicy({ targetLatencyMs: 10, samples: 1, decreaseFactor: 0.5 }),
            scheduler: m.scheduler,
          }),
        );
        // The processor reports each batch as taking 20 ms: every report halves maxSize, down to minSize.
        const processed = source.pipe(
          batcher,
          tap((batch) => batcher.report({ latencyMs: 20, size: batch.length })),
        );
        m.expect(processed).toBeObservable(expected, {
          x: ['a', 'b', 'c', 'd'],
          y: ['e', 'f'],
          z: ['g'],
          w: ['h'],
        });
        m.expect(source).toHaveSubscriptions(subs);
        m.expect(batcher.config$).toBeObservable('x---y-z', {
          x: { maxSize: 4, timeoutMs: 50 },
          y: { maxSize: 2, timeoutMs: 50 },
          z: { maxSize: 1, timeoutMs: 50 },
        });
      }),
    );

    it('follows the seed policy step by step on the scheduler clock', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(({ expectObservable }) => {
        const batcher = adaptiveBatch<number>({ scheduler }); // seed defaults: 50 / 2000 ms, 5..200, 500..5000
        const slow = { latencyMs: 200, size: 50 };
        const fast = { latencyMs: 20, size: 1 }; // 50 items/s of processing: overhead-bound
        // biome-ignore format: an aligned table reads better
        const reports: Array<[number, typeof slow, number]> = [
          [0,      slow, 9],  // t=0: 9 slow samples — not enough
          [100,    slow, 1],  // the 10th → shrink to 45 / 1800
          [200,    slow, 20], // within the 30 s cooldown: no change
          [30_100, slow, 1],  // cooldown over, ≥ 10 samples since the change → shrink to 40 / 1600
          [30_200, fast, 10], // fast samples during the new cooldown: no change
          [60_200, fast, 1],  // cooldown over: the last 10 are fast with low capacity → grow to 50 / 2100
        ];
        for (const [at, sample, times] of reports) {
          scheduler.schedule(() => {
            for (let i = 0; i < times; i++) batcher.report(sample);
          }, at);
        }
        expectObservable(batcher.config$).toBe('a 99ms b 29999ms c 30099ms d', {
          a: { maxSize: 50, timeoutMs: 2000 },
          b: { maxSize: 45, timeoutMs: 1800 },
          c: { maxSize: 40, timeoutMs: 1600 },
          d: { maxSize: 50, timeoutMs: 2100 },
        });
      });
    });

    it('counts only samples taken since the last change (the seed counted stale ones)', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(() => {
        const batcher = adaptiveBatch<number>({ scheduler, policy: seedPolicy({ cooldownMs: 0 }) });
        for (let i = 0; i < 10; i++) batcher.report({ latencyMs: 200, size: 50 });
        expect(batcher.config.maxSize).toBe(45);
        expect(batcher.samples).toEqual([]);
        for (let i = 0; i < 9; i++) batcher.report({ latencyMs: 200, size: 50 });
        expect(batcher.config.maxSize).toBe(45);
        batcher.report({ latencyMs: 200, size: 50 });
        expect(batcher.config.maxSize).toBe(40);
      });
    });

    it('keeps the configuration within its limits', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(() => {
        const batcher = adaptiveBatch<number>({
          scheduler,
          maxSize: 195,
          timeoutMs: 4800,
          policy: seedPolicy({ cooldownMs: 0, minSamples: 1 }),
        });
        batcher.report({ latencyMs: 1, size: 0 });
        expect(batcher.config).toEqual({ maxSize: 200, timeoutMs: 5000 });
        batcher.report({ latencyMs: 1, size: 0 });
        expect(batcher.config).toEqual({ maxSize: 200, timeoutMs: 5000 });
        for (let i = 0; i < 50; i++) batcher.report({ latencyMs: 500, size: 10 });
        expect(batcher.config).toEqual({ maxSize: 5, timeoutMs: 500 });
      });
    });

    it('grows by AIMD only when batches fill up', () => {
      const batcher = adaptiveBatch<number>({
        maxSize: 10,
        policy: aimdPolicy({ targetLatencyMs: 100, samples: 2, increase: 3 }),
      });
      batcher.report({ latencyMs: 5, size: 4 });
      batcher.report({ latencyMs: 5, size: 4 });
      expect(batcher.config.maxSize).toBe(10);
      batcher.report({ latencyMs: 5, size: 10 });
      expect(batcher.config.maxSize).toBe(13);
      // Multiplicative decrease, clamped to minSize.
      for (let i = 0; i < 20; i++) batcher.report({ latencyMs: 500, size: 13 });
      expect(batcher.config.maxSize).toBe(5);
    });

    it(
      're-cuts an open batch at once when maxSize shrinks below it',
      marbles((m) => {
        const source = m.cold('  -abc------|');
        const expected = '       -----(xy)-|';
        const batcher = adaptiveBatch<string>(small({ maxSize: 5, timeoutMs: 50, scheduler: m.scheduler }));
        m.scheduler.schedule(() => batcher.setConfig({ maxSize: 2 }), 5);
        m.expect(source.pipe(batcher)).toBeObservable(expected, { x: ['a', 'b'], y: ['c'] });
      }),
    );

    it(
      'emits an open batch at once when a shorter timeoutMs puts it already past due',
      marbles((m) => {
        const source = m.cold('  -ab--------|');
        const expected = '       -----x-----|';
        const batcher = adaptiveBatch<string>(small({ timeoutMs: 20, scheduler: m.scheduler }));
        // At 5 the timeout drops to 2: the batch opened at 1 was due at 3, so it goes out at 5, not later.
        m.scheduler.schedule(() => batcher.setConfig({ timeoutMs: 2 }), 5);
        m.expect(source.pipe(batcher)).toBeObservable(expected, { x: ['a', 'b'] });
      }),
    );

    it(
      're-arms the timer from the first item when timeoutMs changes',
      marbles((m) => {
        const source = m.cold('  -ab--------|');
        const expected = '       -------x---|';
        const batcher = adaptiveBatch<string>(small({ timeoutMs: 20, scheduler: m.scheduler }));
        // At 3 the timeout drops to 6: the batch opened at 1 is due at 7.
        m.scheduler.schedule(() => batcher.setConfig({ timeoutMs: 6 }), 3);
        m.expect(source.pipe(batcher)).toBeObservable(expected, { x: ['a', 'b'] });
      }),
    );

    it.each([0, 100])(
      'gives a policy the throughput between the first and the last sample (the first at %i ms, not from time 0)',
      (start) => {
        const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
        const seen: Array<number | undefined> = [];
        const policy: BatchPolicy = {
          name: 'spy',
          adapt(context) {
            seen.push(context.throughputPerSecond);
            return undefined;
          },
        };
        scheduler.run(() => {
          const batcher = adaptiveBatch<number>({ scheduler, policy });
          scheduler.schedule(() => batcher.report({ latencyMs: 1, size: 10 }), start);
          scheduler.schedule(() => batcher.report({ latencyMs: 1, size: 20 }), start + 100);
          scheduler.schedule(() => batcher.report({ latencyMs: 1, size: 30 }), start + 500);
        });
        // 20 items in the 100 ms after the first report, then 50 in 500 ms.
        expect(seen).toEqual([undefined, 200, 100]);
      },
    );

    it('throws a policy exception out of report, keeping the configuration', () => {
      const policy: BatchPolicy = {
        name: 'broken',
        adapt() {
          throw new Error('policy');
        },
      };
      const batcher = adaptiveBatch<number>({ policy });
      expect(() => batcher.report({ latencyMs: 1, size: 1 })).toThrow('policy');
      expect(batcher.config).toEqual({ maxSize: 50, timeoutMs: 2000 });
    });

    it('rejects bad reports with RangeError', () => {
      const batcher = adaptiveBatch<number>();
      expect(() => batcher.report({ latencyMs: -1, size: 1 })).toThrow(RangeError);
      expect(() => batcher.report({ latencyMs: Number.NaN, size: 1 })).toThrow(RangeError);
      expect(() => batcher.report({ latencyMs: 1, size: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    });

    it('rejects a negative size in a report with RangeError, keeping no sample of it', () => {
      const batcher = adaptiveBatch<number>({ policy: fixedPolicy });
      expect(() => batcher.report({ latencyMs: 1, size: -1 })).toThrow(RangeError);
      expect(batcher.samples).toEqual([]);
    });

    it('keeps each report as a sample with its capacity in items per second of processing', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(() => {
        const batcher = adaptiveBatch<number>({ scheduler, policy: fixedPolicy });
        scheduler.schedule(() => batcher.report({ latencyMs: 20, size: 1 }), 7);
        scheduler.schedule(() => batcher.report({ latencyMs: 250, size: 10 }), 9);
        scheduler.flush();
        expect(batcher.samples).toEqual([
          { latencyMs: 20, size: 1, at: 7, capacityPerSecond: 50 },
          { latencyMs: 250, size: 10, at: 9, capacityPerSecond: 40 },
        ]);
      });
    });

    it('keeps the last 100 samples, oldest first, and hands out a copy of them', () => {
      const batcher = adaptiveBatch<number>({ policy: fixedPolicy });
      for (let size = 1; size <= 150; size++) batcher.report({ latencyMs: 1, size });
      const samples = batcher.samples;
      expect(samples.map((sample) => sample.size)).toEqual(Array.from({ length: 100 }, (_, i) => 51 + i));
      // A copy: later reports do not change what was read, nor does the reader's array change the controller's.
      batcher.report({ latencyMs: 1, size: 151 });
      expect(samples).toHaveLength(100);
      expect(samples[0]!.size).toBe(51);
      (samples as unknown as unknown[]).length = 0;
      expect(batcher.samples.map((sample) => sample.size).slice(-2)).toEqual([150, 151]);
    });

    it('carries its limits', () => {
      expect(adaptiveBatch<number>().limits).toEqual({
        minSize: 5,
        maxSizeLimit: 200,
        minTimeoutMs: 500,
        maxTimeoutMs: 5000,
      });
      expect(adaptiveBatch<number>(small()).limits).toEqual({
        minSize: 1,
        maxSizeLimit: 10,
        minTimeoutMs: 1,
        maxTimeoutMs: 100,
      });
    });

    it('keeps the configuration when a policy returns nothing to change (undefined or null)', () => {
      for (const proposal of [undefined, null]) {
        const policy: BatchPolicy = { name: 'idle', adapt: () => proposal as never };
        const batcher = adaptiveBatch<number>({ policy });
        batcher.report({ latencyMs: 1, size: 1 });
        expect(batcher.config).toEqual({ maxSize: 50, timeoutMs: 2000 });
        expect(batcher.samples).toHaveLength(1);
      }
    });

    it('changes nothing, under the seed policy, on averages at its thresholds or between them', () => {
      const unchanged: Array<[string, { latencyMs: number; size: number }]> = [
        ['latency exactly slowLatencyMs (150 ms)', { latencyMs: 150, size: 50 }],
        ['latency exactly fastLatencyMs (50 ms), low capacity (20/s)', { latencyMs: 50, size: 1 }],
        ['fast (20 ms), capacity exactly lowCapacityPerSecond (100/s)', { latencyMs: 20, size: 2 }],
        ['fast (20 ms), high capacity (500/s)', { latencyMs: 20, size: 10 }],
        ['between the thresholds (100 ms), low capacity (10/s)', { latencyMs: 100, size: 1 }],
      ];
      for (const [why, report] of unchanged) {
        const batcher = adaptiveBatch<number>({ policy: seedPolicy({ cooldownMs: 0, minSamples: 2 }) });
        batcher.report(report);
        batcher.report(report);
        expect(batcher.config, why).toEqual({ maxSize: 50, timeoutMs: 2000 });
      }
      // Just past the thresholds, it does change.
      const shrink = adaptiveBatch<number>({ policy: seedPolicy({ cooldownMs: 0, minSamples: 2 }) });
      shrink.report({ latencyMs: 151, size: 50 });
      shrink.report({ latencyMs: 151, size: 50 });
      expect(shrink.config).toEqual({ maxSize: 45, timeoutMs: 1800 });
      const grow = adaptiveBatch<number>({ policy: seedPolicy({ cooldownMs: 0, minSamples: 2 }) });
      grow.report({ latencyMs: 49, size: 1 });
      grow.report({ latencyMs: 49, size: 1 });
      expect(grow.config).toEqual({ maxSize: 60, timeoutMs: 2500 });
    });

    it('averages only the last minSamples (seed) or samples (AIMD) reports since the last change', () => {
      // Three 100 ms reports change nothing; a 300 ms one makes the last two average 200 ms (all four: 150).
      const seed = adaptiveBatch<number>({ policy: seedPolicy({ cooldownMs: 0, minSamples: 2 }) });
      for (const latencyMs of [100, 100, 100]) seed.report({ latencyMs, size: 1 });
      expect(seed.config.maxSize).toBe(50);
      seed.report({ latencyMs: 300, size: 1 });
      expect(seed.config).toEqual({ maxSize: 45, timeoutMs: 1800 });
      // AIMD, target 10: three 1 ms reports (batches not full), then 30 ms: the last two average 15.5 (all four: 8.25).
      const aimd = adaptiveBatch<number>({ policy: aimdPolicy({ targetLatencyMs: 10, samples: 2 }) });
      for (const latencyMs of [1, 1, 1]) aimd.report({ latencyMs, size: 1 });
      expect(aimd.config.maxSize).toBe(50);
      aimd.report({ latencyMs: 30, size: 1 });
      expect(aimd.config.maxSize).toBe(25);
    });

    it('decreases by AIMD only above the target latency, not at it', () => {
      const batcher = adaptiveBatch<number>({ policy: aimdPolicy({ targetLatencyMs: 10, samples: 1 }) });
      batcher.report({ latencyMs: 10, size: 1 });
      expect(batcher.config.maxSize).toBe(50);
      batcher.report({ latencyMs: 10.5, size: 1 });
      expect(batcher.config.maxSize).toBe(25);
    });

    it('makes no AIMD change within cooldownMs of the last one, on the scheduler clock', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(({ expectObservable }) => {
        const batcher = adaptiveBatch<number>({
          scheduler,
          maxSize: 40,
          policy: aimdPolicy({ targetLatencyMs: 10, samples: 1, cooldownMs: 100 }),
        });
        const slow = { latencyMs: 20, size: 1 };
        // A change at 10; at 109 it is still cooling down; at 110 (exactly cooldownMs later) it changes again.
        for (const at of [10, 60, 109, 110]) scheduler.schedule(() => batcher.report(slow), at);
        expectObservable(batcher.config$).toBe('a 9ms b 99ms c', {
          a: { maxSize: 40, timeoutMs: 2000 },
          b: { maxSize: 20, timeoutMs: 2000 },
          c: { maxSize: 10, timeoutMs: 2000 },
        });
      });
    });

    it('refuses AIMD options it would misread: none, a decreaseFactor of 0, a cooldownMs that is not a number', () => {
      expect(() => aimdPolicy(undefined as never)).toThrow(ConfigError);
      expect(() => aimdPolicy({ targetLatencyMs: 10, decreaseFactor: 0 })).toThrow(ConfigError);
      expect(() => aimdPolicy({ targetLatencyMs: 10, cooldownMs: '5' as never })).toThrow(ConfigError);
      expect(() => aimdPolicy({ targetLatencyMs: 10, decreaseFactor: 0.01, cooldownMs: 5 })).not.toThrow();
    });
  });

  it('validates its options at construction', () => {
    const bad: AdaptiveBatchOptions[] = [
      { maxSize: 0 },
      { maxSize: 2.5 },
      { minSize: 10, maxSize: 5 },
      { maxSize: 300 },
      { timeoutMs: 0 },
      { timeoutMs: 100 },
      { timeoutMs: 6000 },
      { policy: {} as BatchPolicy },
      // Beyond setTimeout's limit Node fires at once: every batch would time out after 1 ms.
      { timeoutMs: 3_000_000_000, maxTimeoutMs: 4_000_000_000 },
      { maxTimeoutMs: 2_147_483_648 },
    ];
    for (const options of bad) expect(() => adaptiveBatch(options)).toThrow(ConfigError);
    expect(() => adaptiveBatch({ timeoutMs: 2_147_483_647, maxTimeoutMs: 2_147_483_647 })).not.toThrow();
    expect(() => aimdPolicy({ targetLatencyMs: 0 })).toThrow(ConfigError);
    expect(() => aimdPolicy({ targetLatencyMs: 10, decreaseFactor: 1 })).toThrow(ConfigError);
    expect(() => seedPolicy({ minSamples: 0 })).toThrow(ConfigError);
  });

  it('refuses, at construction, a scheduler, options or policy figures it would trip on later', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      // A TypeError at the first item otherwise.
      [() => adaptiveBatch({ scheduler: {} as never }), /scheduler must be a SchedulerLike/],
      [() => adaptiveBatch(null as never), /config must be an object/],
      // A TypeError, or a policy that silently never adapts (NaN compares false).
      [() => seedPolicy(null as never), /options must be an object/],
      [() => seedPolicy({ slowLatencyMs: '150' as never }), /slowLatencyMs must be a finite number ≥ 0/],
      [() => seedPolicy({ lowCapacityPerSecond: Number.NaN }), /lowCapacityPerSecond/],
      [() => seedPolicy({ shrinkSize: -5 }), /shrinkSize/],
      [() => seedPolicy({ growTimeoutMs: Number.POSITIVE_INFINITY }), /growTimeoutMs/],
      [() => aimdPolicy(null as never), /options must be an object/],
      [() => aimdPolicy({ targetLatencyMs: 10, cooldownMs: Number.NaN }), /cooldownMs must be ≥ 0/],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    expect(() => seedPolicy({ slowLatencyMs: 100, shrinkSize: 0, growTimeoutMs: 0 })).not.toThrow();
    expect(() => aimdPolicy({ targetLatencyMs: 10, cooldownMs: 0 })).not.toThrow();
  });

  it('emits an open batch at once when a change makes maxSize exactly its size', () => {
    const virtual = new VirtualTimeScheduler();
    const batcher = adaptiveBatch<string>(small({ maxSize: 5, scheduler: virtual }));
    const input = new Subject<string>();
    const seen: string[] = [];
    input.pipe(batcher).subscribe((batch) => seen.push(`${virtual.now()}:${batch.join('')}`));
    input.next('a');
    input.next('b');
    virtual.schedule(() => batcher.setConfig({ maxSize: 2 }), 1);
    virtual.flush();
    expect(seen).toEqual(['1:ab']); // full at the change, not 5 ms after a
  });

  it('schedules no timer for a change with nothing open, and leaves none behind on unsubscribe', () => {
    const virtual = new VirtualTimeScheduler();
    const batcher = adaptiveBatch<string>(small({ scheduler: virtual }));
    const input = new Subject<string>();
    const subscription = input.pipe(batcher).subscribe();
    batcher.setConfig({ timeoutMs: 7 });
    expect(virtual.actions).toHaveLength(0);
    input.next('a');
    expect(virtual.actions).toHaveLength(1); // a's timer
    subscription.unsubscribe();
    expect(virtual.actions.filter((action) => !action.closed)).toHaveLength(0);
    // Nor is the configuration of a subscription that left still followed: a change arms nothing.
    batcher.setConfig({ timeoutMs: 9 });
    expect(virtual.actions.filter((action) => !action.closed)).toHaveLength(0);
  });

  it('re-arms the timer of a batch pushed from a flush that a scheduler ran at once (zero delay, as queueScheduler)', () => {
    const virtual = new VirtualTimeScheduler(undefined, Number.POSITIVE_INFINITY);
    // Like queueScheduler outside its own actions: a zero-delay action runs inside schedule().
    const scheduler: SchedulerLike = {
      now: () => virtual.now(),
      schedule: ((work: () => void, delay = 0) => {
        if (delay > 0) return virtual.schedule(work, delay);
        work();
        return Subscription.EMPTY;
      }) as SchedulerLike['schedule'],
    };
    const batcher = adaptiveBatch<string>(small({ maxSize: 10, timeoutMs: 10, scheduler }));
    const input = new Subject<string>();
    const seen: string[] = [];
    input.pipe(batcher).subscribe((batch) => {
      seen.push(`${virtual.now()}:${batch.join('')}`);
      if (batch[0] === 'a') input.next('b'); // b opens a batch at 7, from inside a's flush
    });
    input.next('a');
    // At 7, a is past a 5 ms timeout: its flush runs at once. At 9 b's batch is re-armed to 7 + 8.
    virtual.schedule(() => batcher.setConfig({ timeoutMs: 5 }), 7);
    virtual.schedule(() => batcher.setConfig({ timeoutMs: 8 }), 9);
    virtual.flush();
    // b's first timer (7 + 5) was lost behind the spent action: not cancelled, it cut b's batch at 12.
    expect(seen).toEqual(['7:a', '15:b']);
  });

  it('says, for each bad option or report, which function and option it is and what it got', () => {
    const bad: Array<[() => unknown, string]> = [
      [() => adaptiveBatch({ minSize: 0 }), 'adaptiveBatch: minSize must be a positive integer, got 0'],
      [
        () => adaptiveBatch({ maxSizeLimit: 1.5 }),
        'adaptiveBatch: maxSizeLimit must be a positive integer, got 1.5',
      ],
      [() => adaptiveBatch({ maxSize: 0 }), 'adaptiveBatch: maxSize must be a positive integer, got 0'],
      [
        () => adaptiveBatch({ minTimeoutMs: 0 }),
        'adaptiveBatch: minTimeoutMs must be a positive number of ms',
      ],
      [
        () => adaptiveBatch({ maxTimeoutMs: -1 }),
        'adaptiveBatch: maxTimeoutMs must be a positive number of ms',
      ],
      [
        () => adaptiveBatch({ timeoutMs: Number.NaN }),
        'adaptiveBatch: timeoutMs must be a positive number of ms',
      ],
      [
        () => adaptiveBatch({ minSize: 10, maxSize: 5 }),
        'adaptiveBatch: need minSize ≤ maxSize ≤ maxSizeLimit, got 10 ≤ 5 ≤ 200',
      ],
      [
        () => adaptiveBatch({ timeoutMs: 100 }),
        'adaptiveBatch: need minTimeoutMs ≤ timeoutMs ≤ maxTimeoutMs, got 500 ≤ 100 ≤ 5000',
      ],
      [() => adaptiveBatch({ policy: {} as BatchPolicy }), 'adaptiveBatch: policy must have an adapt()'],
      // docs/adaptiveBatch.md, Policies: a policy is an object; a bare function (the adapt alone) is refused.
      [
        () => adaptiveBatch({ policy: (() => undefined) as unknown as BatchPolicy }),
        'adaptiveBatch: policy must have an adapt()',
      ],
      [
        () => adaptiveBatch({ maxsize: 5 } as never),
        'adaptiveBatch: unknown option "maxsize" (did you mean "maxSize"?)',
      ],
      [() => seedPolicy({ minSamples: 0 }), 'seedPolicy: minSamples must be a positive integer, got 0'],
      [() => seedPolicy({ coolDownMs: 5 } as never), 'seedPolicy: unknown option "coolDownMs"'],
      [
        () => aimdPolicy({ targetLatencyMs: 0 }),
        'aimdPolicy: targetLatencyMs must be a positive finite number, got 0',
      ],
      [
        () => aimdPolicy({ targetLatencyMs: 10, increase: 0 }),
        'aimdPolicy: increase must be a positive integer, got 0',
      ],
      [
        () => aimdPolicy({ targetLatencyMs: 10, samples: 2.5 }),
        'aimdPolicy: samples must be a positive integer, got 2.5',
      ],
      [
        () => aimdPolicy({ targetLatencyMs: 10, decreaseFactor: 1 }),
        'aimdPolicy: decreaseFactor must be in (0, 1), got 1',
      ],
      [() => aimdPolicy({ targetLatency: 10 } as never), 'aimdPolicy: unknown option "targetLatency"'],
      [
        () => adaptiveBatch(small()).setConfig({ maxsize: 1 } as never),
        'adaptiveBatch: setConfig: unknown option "maxsize"',
      ],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    const batcher = adaptiveBatch<number>(small());
    expect(() => batcher.report({ latencyMs: Number.NaN, size: 1 })).toThrow(
      'adaptiveBatch.report: latencyMs must be finite and ≥ 0, got NaN',
    );
    expect(() => batcher.report({ latencyMs: 1, size: -1 })).toThrow(
      'adaptiveBatch.report: size must be finite and ≥ 0, got -1',
    );
  });

  it('refuses a seedPolicy cooldownMs below 0 or not a number, and an aimdPolicy decreaseFactor that is a string', () => {
    const bad: Array<[() => unknown, string]> = [
      [() => seedPolicy({ cooldownMs: -5 }), 'seedPolicy: cooldownMs must be ≥ 0, got -5'],
      [() => seedPolicy({ cooldownMs: '5' as never }), "seedPolicy: cooldownMs must be ≥ 0, got '5'"],
      // '0.5' compares inside (0, 1) and multiplies as 0.5: it would be taken as a number.
      [
        () => aimdPolicy({ targetLatencyMs: 10, decreaseFactor: '0.5' as never }),
        "aimdPolicy: decreaseFactor must be in (0, 1), got '0.5'",
      ],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    expect(() => seedPolicy({ cooldownMs: 0 })).not.toThrow();
  });

  it('names its policies, and shows its controller’s members (config, config$, limits, samples) as own keys', () => {
    expect([seedPolicy().name, aimdPolicy({ targetLatencyMs: 1 }).name, fixedPolicy.name]).toEqual([
      'seed',
      'aimd',
      'fixed',
    ]);
    // Enumerable: what console.log, a spread or Object.keys shows of the operator.
    const batcher = adaptiveBatch<number>(small());
    expect(Object.keys(batcher)).toEqual(['config', 'config$', 'limits', 'samples']);
    expect({ ...batcher }.config).toEqual({ maxSize: 3, timeoutMs: 5 });
  });

  it('refuses a setConfig it would pass over (not an object, NaN, a string, null), leaving the configuration', () => {
    const batcher = adaptiveBatch<number>(small());
    const bad: Array<[unknown, RegExp]> = [
      [{ maxSize: Number.NaN }, /setConfig maxSize must be a number \(clamped to the limits\), got NaN/],
      [{ maxSize: '8' }, /setConfig maxSize must be a number/],
      [{ timeoutMs: null }, /setConfig timeoutMs must be a number/],
      [{ maxSize: 4, timeoutMs: Number.NaN }, /setConfig timeoutMs must be a number/],
      [null, /setConfig takes an object, got null/],
      [5, /setConfig takes an object, got 5/],
      // Its entries are no own fields: read as a record, it set nothing.
      [new Map([['maxSize', 8]]), /setConfig takes an object, got a Map \(1 entry\)/],
    ];
    for (const [config, message] of bad) {
      expect(() => batcher.setConfig(config as never)).toThrow(ConfigError);
      expect(() => batcher.setConfig(config as never)).toThrow(message);
    }
    expect(batcher.config).toEqual({ maxSize: 3, timeoutMs: 5 });
    batcher.setConfig({ maxSize: undefined, timeoutMs: 7 });
    expect(batcher.config).toEqual({ maxSize: 3, timeoutMs: 7 });
  });

  it('clamps an Infinity, set by hand or proposed by a policy, to the limit (it was passed over)', () => {
    const batcher = adaptiveBatch<number>(small());
    batcher.setConfig({ maxSize: Number.POSITIVE_INFINITY, timeoutMs: Number.POSITIVE_INFINITY });
    expect(batcher.config).toEqual({ maxSize: 10, timeoutMs: 100 });
    batcher.setConfig({ maxSize: Number.NEGATIVE_INFINITY, timeoutMs: Number.NEGATIVE_INFINITY });
    expect(batcher.config).toEqual({ maxSize: 1, timeoutMs: 1 });
    const proposals: Array<Partial<BatchConfig>> = [
      { maxSize: Number.POSITIVE_INFINITY },
      { timeoutMs: Number.POSITIVE_INFINITY },
      { maxSize: -3, timeoutMs: Number.NEGATIVE_INFINITY },
    ];
    const policy: BatchPolicy = { name: 'unbounded', adapt: () => proposals.shift() };
    const adapting = adaptiveBatch<number>(small({ policy }));
    const seen: BatchConfig[] = [];
    adapting.config$.subscribe((config) => seen.push(config));
    for (let i = 0; i < 3; i++) adapting.report({ latencyMs: 1, size: 1 });
    expect(seen).toEqual([
      { maxSize: 3, timeoutMs: 5 },
      { maxSize: 10, timeoutMs: 5 },
      { maxSize: 10, timeoutMs: 100 },
      { maxSize: 1, timeoutMs: 1 },
    ]);
  });

  it('refuses what a policy proposes that is not a number (NaN, a string, null), a mistyped field or no object: a ConfigError out of report, the configuration left', () => {
    // Passed over, a policy that computed NaN never adapted again, without a word.
    const bad: Array<[unknown, string]> = [
      [{ maxSize: Number.NaN }, "adaptiveBatch: policy 'p' proposed maxSize NaN: it must be a number"],
      [{ maxSize: 4, timeoutMs: Number.NaN }, "adaptiveBatch: policy 'p' proposed timeoutMs NaN"],
      [{ maxSize: '2' }, "adaptiveBatch: policy 'p' proposed maxSize '2'"],
      [{ timeoutMs: null }, "adaptiveBatch: policy 'p' proposed timeoutMs null"],
      [{ maxsize: 4 }, 'adaptiveBatch: policy \'p\': unknown field "maxsize" (did you mean "maxSize"?)'],
      [5, "adaptiveBatch: policy 'p' must return the fields to change (an object) or undefined, got 5"],
      [new Map([['maxSize', 4]]), "adaptiveBatch: policy 'p' must return the fields to change"],
    ];
    for (const [proposal, message] of bad) {
      const batcher = adaptiveBatch<number>(small({ policy: { name: 'p', adapt: () => proposal as never } }));
      const seen: BatchConfig[] = [];
      batcher.config$.subscribe((config) => seen.push(config));
      const report = () => batcher.report({ latencyMs: 1, size: 1 });
      expect(report).toThrow(ConfigError);
      expect(report).toThrow(message);
      expect(seen).toEqual([{ maxSize: 3, timeoutMs: 5 }]);
      expect(batcher.samples.length).toBe(2); // reported, as when a policy throws
    }
    // No change: undefined, null, an empty object, a field undefined.
    for (const proposal of [undefined, null, {}, { maxSize: undefined }]) {
      const batcher = adaptiveBatch<number>(small({ policy: { name: 'p', adapt: () => proposal as never } }));
      batcher.report({ latencyMs: 1, size: 1 });
      expect(batcher.config).toEqual({ maxSize: 3, timeoutMs: 5 });
    }
  });

  it('rounds a maxSize set or proposed between two integers to the nearest (a batch holds whole items); timeoutMs is kept as given', () => {
    const batcher = adaptiveBatch<number>(small());
    batcher.setConfig({ maxSize: 2.5, timeoutMs: 7.5 });
    expect(batcher.config).toEqual({ maxSize: 3, timeoutMs: 7.5 });
    batcher.setConfig({ maxSize: 4.4 });
    expect(batcher.config).toEqual({ maxSize: 4, timeoutMs: 7.5 });
    const proposals: Array<Partial<BatchConfig>> = [{ maxSize: 1.2 }, { maxSize: 9.6 }, { maxSize: 10.4 }];
    const adapting = adaptiveBatch<number>(small({ policy: { name: 'p', adapt: () => proposals.shift() } }));
    const seen: number[] = [];
    adapting.config$.subscribe((config) => seen.push(config.maxSize));
    for (let i = 0; i < 3; i++) adapting.report({ latencyMs: 1, size: 1 });
    // 10.4 is clamped to maxSizeLimit 10 first: no change.
    expect(seen).toEqual([3, 1, 10]);
  });

  it('takes setConfig with the values it has (after clamping and rounding) as no change: samples kept, config$ silent', () => {
    const batcher = adaptiveBatch<number>(small());
    batcher.setConfig({ maxSize: 4, timeoutMs: 8 });
    const seen: BatchConfig[] = [];
    batcher.config$.subscribe((config) => seen.push(config));
    batcher.report({ latencyMs: 1, size: 4 });
    batcher.setConfig({ maxSize: 4.2, timeoutMs: 8 });
    batcher.setConfig({});
    expect(seen).toEqual([{ maxSize: 4, timeoutMs: 8 }]);
    expect(batcher.samples).toHaveLength(1);
    batcher.setConfig({ maxSize: 5 });
    expect(seen).toEqual([
      { maxSize: 4, timeoutMs: 8 },
      { maxSize: 5, timeoutMs: 8 },
    ]);
    expect(batcher.samples).toHaveLength(0);
  });

  it('replays the current configuration to a late config$ subscriber', () => {
    const batcher = adaptiveBatch<number>({ maxSize: 20 });
    const seen: BatchConfig[] = [];
    batcher.setConfig({ maxSize: 30 });
    batcher.config$.subscribe((config) => seen.push(config)).unsubscribe();
    expect(seen).toEqual([{ maxSize: 30, timeoutMs: 2000 }]);
  });
});

describe('adaptiveBatch property: nothing lost', () => {
  const arrival = fc.record({ at: fc.integer({ min: 0, max: 60 }), value: fc.integer() });
  const change = fc.record({ at: fc.integer({ min: 0, max: 60 }), maxSize: fc.integer({ min: 1, max: 8 }) });

  it('every input appears exactly once, in order, in non-empty batches of at most maxSize', () => {
    fc.assert(
      fc.property(
        fc.array(arrival, { maxLength: 40 }),
        fc.array(change, { maxLength: 4 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('complete', 'error', 'never'),
        (arrivals, changes, maxSize, timeoutMs, end) => {
          const sorted = [...arrivals].sort((a, b) => a.at - b.at);
          const scheduler = new TestScheduler(() => undefined);
          const batches: number[][] = [];
          let limitAtEmit: number[] = [];
          let terminated: string | undefined;
          scheduler.run(() => {
            const batcher = adaptiveBatch<number>({
              minSize: 1,
              maxSize,
              maxSizeLimit: 8,
              timeoutMs,
              minTimeoutMs: 1,
              maxTimeoutMs: 20,
              policy: fixedPolicy,
              scheduler,
            });
            for (const { at, maxSize: size } of changes)
              scheduler.schedule(() => batcher.setConfig({ maxSize: size }), at);
            // Items arriving at the same time keep their order: one timer per distinct time.
            const byTime = new Map<number, number[]>();
            for (const { at, value } of sorted) byTime.set(at, [...(byTime.get(at) ?? []), value]);
            const items$ = merge(
              ...[...byTime].map(([at, values]) => timer(at, scheduler).pipe(mergeMap(() => of(...values)))),
            );
            const tail$ =
              end === 'complete'
                ? timer(61, scheduler).pipe(mergeMap(() => new Observable<never>((s) => s.complete())))
                : end === 'error'
                  ? timer(61, scheduler).pipe(mergeMap(() => throwError(() => new Error('end'))))
                  : NEVER;
            concat(items$, tail$)
              .pipe(
                batcher,
                tap(() => {
                  limitAtEmit = [...limitAtEmit, batcher.config.maxSize];
                }),
              )
              .subscribe({
                next: (batch) => batches.push(batch),
                error: () => (terminated = 'error'),
                complete: () => (terminated = 'complete'),
              });
          });
          const flat = batches.flat();
          if (end === 'never') {
            // Everything not yet flushed is in the open batch, which times out within timeoutMs of 60.
            expect(flat).toEqual(sorted.map((a) => a.value));
          } else {
            expect(terminated).toBe(end);
            expect(flat).toEqual(sorted.map((a) => a.value));
          }
          batches.forEach((batch, i) => {
            expect(batch.length).toBeGreaterThan(0);
            expect(batch.length).toBeLessThanOrEqual(limitAtEmit[i]!);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('adaptiveBatch in a pipeline', () => {
  it('batches the same way as a fixed size-or-time batcher with fixedPolicy', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('abcdefg|');
      const batcher = adaptiveBatch<string>(small({ maxSize: 3, scheduler }));
      expectObservable(
        source.pipe(
          batcher,
          map((b) => b.join('')),
        ),
      ).toBe('--x--y-(z|)', {
        x: 'abc',
        y: 'def',
        z: 'g',
      });
    });
  });
});
