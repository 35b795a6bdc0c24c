import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  from,
  map,
  mergeMap,
  Observable,
  of,
  queueScheduler,
  type SchedulerLike,
  Subject,
  Subscriber,
  take,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedData,
  bridgeHooks,
  ConfigError,
  DEFAULT_AGGREGATE_WINDOWS,
  type Event,
  type HookOutput,
  type LateEventData,
  type NumericStats,
  type PerformanceMetricSummary,
  Priority,
  type TemporalAggregateConfig,
  type ToolUsedSummary,
  temporalAggregate,
} from '../../src/index.js';
import { priorityOf } from '../../src/operators/internal/eventTime.js';
import { numericStats, tallyFor } from '../../src/operators/internal/summaries.js';
import { loadFixtures } from '../helpers/fixtures.js';
import { marbles } from '../helpers/marbles.js';
import {
  collect,
  countingScheduler,
  ev,
  idsIn,
  inTurn,
  LabelledConsumer,
  label,
  seeded,
  type Timed,
  withoutId,
} from '../helpers/windows.js';

const TOOL5 = { 'tool.used': 5 };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('temporalAggregate', () => {
  describe('standard cases', () => {
    it(
      'completes at once on an empty source',
      marbles((m) => {
        const source = m.cold<Event>('|');
        const subs = '                 (^!)';
        m.expect(source.pipe(temporalAggregate({ scheduler: m.scheduler }))).toBeObservable('|');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'never emits on a never source',
      marbles((m) => {
        const source = m.cold<Event>('-');
        const subs = '                 ^';
        m.expect(source.pipe(temporalAggregate({ scheduler: m.scheduler }))).toBeObservable('-');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'forwards an error at once when no window is open',
      marbles((m) => {
        const source = m.cold<Event>('--#', undefined, new Error('boom'));
        const subs = '                 ^-!';
        m.expect(source.pipe(temporalAggregate({ scheduler: m.scheduler }))).toBeObservable(
          '--#',
          undefined,
          new Error('boom'),
        );
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits nothing after an early unsubscribe and cancels its timer',
      marbles((m) => {
        const a = ev('tool.used', 1, 's1');
        const source = m.hot('  -a-a------|', { a });
        const subs = '          ^--!';
        const unsub = '         ---!';
        const result = source.pipe(temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }), map(label));
        m.expect(result, unsub).toBeObservable('-');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('leaves no scheduled work behind after unsubscribe', () => {
      const clock = new VirtualTimeScheduler();
      const { scheduler, fired } = countingScheduler(clock);
      const input = new Subject<Event>();
      const seen: Event[] = [];
      const subscription = input
        .pipe(temporalAggregate({ windows: TOOL5, scheduler }))
        .subscribe((e) => seen.push(e));
      input.next(ev('tool.used', 0, 's1'));
      subscription.unsubscribe();
      clock.flush();
      expect(fired()).toBe(0);
      expect(seen).toEqual([]);
    });

    it('arms one timer, re-armed at most twice per instant, for a burst over many sessions', () => {
      const clock = new VirtualTimeScheduler();
      let scheduled = 0;
      const scheduler: SchedulerLike = {
        now: () => clock.now(),
        schedule: (work: () => void, delay?: number) => {
          scheduled++;
          return clock.schedule(work, delay);
        },
      } as SchedulerLike;
      const input = new Subject<Event>();
      input.pipe(temporalAggregate({ scheduler })).subscribe();
      // A replay: 5,000 events of 100 sessions, event time racing ahead while the clock stands still.
      for (let i = 0; i < 5_000; i++) input.next(ev('tool.used', i * 7, `s${i % 100}`));
      expect(scheduled).toBeLessThanOrEqual(2);
    });

    it('reads the clock once per run of arrivals, and arms the timer at most twice for it', () => {
      const clock = new VirtualTimeScheduler();
      let scheduled = 0;
      let reads = 0;
      const scheduler: SchedulerLike = {
        now: () => {
          reads++;
          return clock.now();
        },
        schedule: (work: () => void, delay?: number) => {
          scheduled++;
          return clock.schedule(work, delay);
        },
      } as SchedulerLike;
      const input = new Subject<Event>();
      const seen: string[] = [];
      input.pipe(temporalAggregate({ windows: TOOL5, scheduler })).subscribe((e) => seen.push(label(e)));
      for (let i = 0; i < 5_000; i++) input.next(ev('tool.used', 0, `s${i % 100}`));
      expect(reads).toBe(0);
      // The end of the run, at the same instant: one read, one action for it, at most two timer arms.
      clock.maxFrames = 0;
      clock.flush();
      expect(reads).toBe(1);
      expect(scheduled).toBeLessThanOrEqual(3);
      expect(seen).toEqual([]);
      // The timer then closes every session's window at 5 (its end; the session quiet since 0).
      clock.maxFrames = Number.POSITIVE_INFINITY;
      clock.flush();
      expect(seen).toHaveLength(100);
      expect(seen[0]).toBe('tool.used.aggregated s0 [0,5) n=50');
      expect(clock.now()).toBe(5);
      expect(reads).toBe(2);
    });

    it('closes each session on time when ticks find only a few of many sessions due', () => {
      // 1,000 sessions opened at 0..999 ms (one 100 ms window each), in reverse session-name order:
      // each tick must emit exactly the sessions due at its time, in the order they became active.
      const arrivals: Array<Timed<Event>> = [];
      for (let i = 0; i < 1_000; i++) {
        arrivals.push({ time: i, value: ev('tool.used', i, `s${String(999 - i).padStart(3, '0')}`) });
      }
      const { out } = collect(arrivals, (scheduler) =>
        temporalAggregate({ windows: { 'tool.used': 100 }, scheduler }),
      );
      expect(out).toHaveLength(1_000);
      out.forEach(({ time, value }, i) => {
        expect(time).toBe(i + 100);
        expect(label(value)).toBe(
          `tool.used.aggregated s${String(999 - i).padStart(3, '0')} [${i},${i + 100}) n=1`,
        );
      });
    });

    it(
      'keeps unsubscription chains unbroken through mergeMap',
      marbles((m) => {
        const a = ev('session.started', 2, 's1');
        const source = m.hot('  --a--a--a--|', { a });
        const subs = '          ^-----!';
        const unsub = '         ------!';
        const result = source.pipe(
          mergeMap((x) => of(x)),
          temporalAggregate({ scheduler: m.scheduler }),
          mergeMap((x) => of(x.type)),
        );
        m.expect(result, unsub).toBeObservable('--s--s-', { s: 'session.started' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('handles re-entrant input after the outputs of the current one, in order', () => {
      const input = new Subject<Event>();
      const seen: string[] = [];
      let fed = false;
      input
        .pipe(temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY }))
        .subscribe((e) => {
          seen.push(label(e));
          if (!fed && e.type === 'tool.used.aggregated') {
            fed = true;
            // Pushed while the aggregate is being emitted: handled after the input that caused it.
            input.next(ev('tool.used', 2, 's1'));
            input.next(ev('note', 21, 's1'));
          }
        });
      input.next(ev('tool.used', 0, 's1'));
      input.next(ev('tool.used', 10, 's1'));
      input.next(ev('note', 10, 's1'));
      input.complete();
      expect(seen).toEqual([
        'tool.used.aggregated s1 [0,5) n=1',
        'tool.used.late window_closed @2',
        'tool.used.aggregated s1 [10,15) n=1',
        'note@21',
        'note@10',
      ]);
    });

    it('keeps its state per subscription, so one operator can serve two sources', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(({ cold, expectObservable }) => {
        const operator = temporalAggregate({ windows: TOOL5, scheduler });
        const a = ev('tool.used', 0, 's1');
        const b = ev('tool.used', 1, 's1');
        expectObservable(cold('a-|', { a }).pipe(operator, map(label))).toBe('--(x|)', {
          x: 'tool.used.aggregated s1 [0,5) n=1',
        });
        expectObservable(cold('-b--|', { b }).pipe(operator, map(label))).toBe('----(y|)', {
          y: 'tool.used.aggregated s1 [1,6) n=1',
        });
      });
    });
    it('takes a source of another RxJS copy, which calls the operator’s subscriber as a plain observer', () => {
      // What `subscribe` of another copy of RxJS does with the subscriber the operator passes it.
      let unsubscribed = 0;
      const foreign = {
        subscribe(observer: { next(e: Event): void; complete(): void }) {
          observer.next(ev('tool.used', 0, 's1'));
          observer.next(ev('tool.used', 1, 's1'));
          observer.next(ev('tool.requested', 2, 's1'));
          observer.complete();
          return {
            unsubscribe: () => {
              unsubscribed++;
            },
          };
        },
      } as unknown as Observable<Event>;
      const seen: string[] = [];
      let completed = false;
      temporalAggregate({ windows: TOOL5, scheduler: new VirtualTimeScheduler() })(foreign).subscribe({
        next: (e) => seen.push(label(e)),
        complete: () => {
          completed = true;
        },
      });
      expect(seen).toEqual(['tool.requested@2', 'tool.used.aggregated s1 [0,5) n=2']);
      expect(completed).toBe(true);
      expect(unsubscribed).toBe(1);
    });

    it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
      let pulled = 0;
      // Long, not endless: read to its end (the bug), the test fails rather than hangs. An endless one
      // would never return.
      function* events(): Generator<Event> {
        for (let i = 0; i < 10_000; i++) {
          pulled++;
          yield ev(i % 2 === 0 ? 'tool.requested' : 'tool.used', i, 's1');
        }
      }
      const seen: string[] = [];
      from(events())
        .pipe(temporalAggregate({ windows: TOOL5, scheduler: new VirtualTimeScheduler() }), take(1))
        .subscribe((e) => seen.push(label(e)));
      expect(seen).toEqual(['tool.requested@0']);
      expect(pulled).toBe(1);
    });
  });

  describe('windows', () => {
    it('closes a quiet window at its due time when another session is due less than 1 ms before it', () => {
      // s1 [0,5) is due at 5, s2 [0.5,5.5) at 5.5: the tick at 5 must not put s2 off to 6.
      const { out } = collect(
        [
          { time: 0, value: ev('tool.used', 0, 's1') },
          { time: 0.5, value: ev('tool.used', 0.5, 's2') },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, scheduler }),
        { time: 100 },
      );
      expect(out.map((o) => `${label(o.value)} at ${o.time}`)).toEqual([
        'tool.used.aggregated s1 [0,5) n=1 at 5',
        'tool.used.aggregated s2 [0.5,5.5) n=1 at 5.5',
      ]);
    });

    it('tells window types of the same length apart, and passes through the others of that length', () => {
      const events = [
        ev('a.b', 0, 's1'),
        ev('c.d', 1, 's1'),
        ev('x.y', 2, 's1'),
        ev('a.b', 3, 's1'),
        { ...ev('c.d', 4, 's1'), type: 42 as unknown as string },
      ];
      const seen: string[] = [];
      from(events)
        .pipe(temporalAggregate({ windows: { 'a.b': 10, 'c.d': 10, 'tool.used': 10 } }))
        .subscribe((e) => seen.push(typeof e.type === 'string' ? label(e) : `type ${String(e.type)}`));
      expect(seen).toEqual([
        'x.y@2',
        'type 42',
        'a.b.aggregated s1 [0,10) n=2',
        'c.d.aggregated s1 [1,11) n=1',
      ]);
    });

    it(
      'matches the diagram in its JSDoc',
      marbles((m) => {
        const t = (time: number) => ev('tool.used', time, 's1');
        const values = { a: t(1), b: t(3), x: ev('session.started', 5, 's1'), c: t(7), d: t(16) };
        const source = m.cold(' -a-b-x-c--------d-|', values);
        const subs = '          ^-----------------!';
        const expected = '      -----xA-----B-----(C|)';
        m.expect(
          source.pipe(temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, {
          x: 'session.started@5',
          A: 'tool.used.aggregated s1 [1,6) n=2',
          B: 'tool.used.aggregated s1 [7,12) n=1',
          C: 'tool.used.aggregated s1 [16,21) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits a window when a later event moves the watermark past its end',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('tool.used', 3, 's1'),
          c: ev('tool.used', 8, 's1'),
        };
        const source = m.cold(' -a-b----c-|', values);
        const subs = '          ^---------!';
        const expected = '      --------A-(B|)';
        const operator = temporalAggregate({
          windows: TOOL5,
          idleFlushMs: Number.POSITIVE_INFINITY,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=2',
          B: 'tool.used.aggregated s1 [8,13) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits a quiet live window at its end (idle rule)',
      marbles((m) => {
        const values = { a: ev('tool.used', 1, 's1'), b: ev('tool.used', 3, 's1') };
        const source = m.cold(' -a-b-------|', values);
        const subs = '          ^----------!';
        const expected = '      ------A----|';
        m.expect(
          source.pipe(temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, { A: 'tool.used.aggregated s1 [1,6) n=2' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'waits idleFlushMs of quiet before the clock moves the watermark',
      marbles((m) => {
        const values = { a: ev('tool.used', 1, 's1'), b: ev('tool.used', 5, 's1') };
        const source = m.cold(' -a---b------|', values);
        const subs = '          ^-----------!';
        // Quiet since 5: the estimate reaches the end (6) at 6, but idleFlushMs asks for 4 ms of quiet.
        const expected = '      ---------A--|';
        const operator = temporalAggregate({ windows: TOOL5, idleFlushMs: 4, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=2',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'adds allowedLatenessMs to the idle close time',
      marbles((m) => {
        const values = { a: ev('tool.used', 1, 's1') };
        const source = m.cold(' -a----------|', values);
        const subs = '          ^-----------!';
        const expected = '      --------A---|';
        const operator = temporalAggregate({ windows: TOOL5, allowedLatenessMs: 2, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      "estimates each session's watermark from its own last arrival, minus the lateness",
      marbles((m) => {
        const values = { b: ev('tool.used', 0, 's2'), a: ev('tool.used', 1, 's1') };
        const source = m.cold(' ba----------|', values);
        const subs = '          ^-----------!';
        // The timer wakes at 8 for s2 ([0,5) + 3); s1's estimate is then 1 - 3 + 7 = 5, short of its end (6).
        const expected = '      --------BA--|';
        const operator = temporalAggregate({ windows: TOOL5, allowedLatenessMs: 3, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          B: 'tool.used.aggregated s2 [0,5) n=1',
          A: 'tool.used.aggregated s1 [1,6) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'flushes open windows on complete',
      marbles((m) => {
        const values = { a: ev('tool.used', 1, 's1'), b: ev('tool.used', 3, 's1') };
        const source = m.cold(' -a-b|', values);
        const subs = '          ^---!';
        const expected = '      ----(A|)';
        m.expect(
          source.pipe(temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, { A: 'tool.used.aggregated s1 [1,6) n=2' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'flushes open windows before forwarding an error',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('file.modified', 2, 's1'),
          c: ev('tool.used', 3, 's1'),
        };
        const source = m.cold(' -abc#', values, new Error('disk'));
        const subs = '          ^---!';
        const expected = '      ----(FA#)';
        const operator = temporalAggregate({
          windows: { 'file.modified': 3, ...TOOL5 },
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(
          expected,
          { F: 'file.modified.aggregated s1 [2,5) n=1', A: 'tool.used.aggregated s1 [1,6) n=2' },
          new Error('disk'),
        );
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('emits every open window on complete, then the error, when its consumer throws on each of them', () => {
      const input = new Subject<Event>();
      const consumer = new LabelledConsumer((e) => e.type.endsWith('.aggregated'));
      input.pipe(temporalAggregate({ windows: { 'tool.used': 5, 'file.modified': 5 } })).subscribe(consumer);
      input.next(ev('tool.used', 1, 'a'));
      input.next(ev('tool.used', 2, 'b'));
      input.next(ev('file.modified', 3, 'b'));
      input.next(ev('file.modified', 4, 'a'));
      input.complete();
      // The first exception is the error.
      expect(consumer.labels).toEqual([
        'tool.used.aggregated a [1,6) n=1',
        'tool.used.aggregated b [2,7) n=1',
        'file.modified.aggregated b [3,8) n=1',
        'file.modified.aggregated a [4,9) n=1',
        'error consumer on tool.used.aggregated a [1,6) n=1',
      ]);
    });

    it('still emits the arrival’s own pass-through or late event when its consumer throws on an aggregate it closed', () => {
      // A consumer that throws on the next aggregate while armed: the operator flushes, then errors.
      let armed = true;
      const onArmed = (event: Event) => {
        if (!armed || !event.type.endsWith('.aggregated')) return false;
        armed = false;
        return true;
      };
      // A pass-through event whose arrival closes two windows.
      const passing = new Subject<Event>();
      const first = new LabelledConsumer(onArmed);
      passing.pipe(temporalAggregate({ windows: { 'tool.used': 5, 'file.modified': 5 } })).subscribe(first);
      passing.next(ev('tool.used', 1, 's'));
      passing.next(ev('file.modified', 1, 's'));
      passing.next(ev('session.started', 8, 's'));
      expect(first.labels).toEqual([
        'tool.used.aggregated s [1,6) n=1',
        'file.modified.aggregated s [1,6) n=1',
        'session.started@8',
        'error consumer on tool.used.aggregated s [1,6) n=1',
      ]);
      // A late event whose arrival closes a window: its range was emitted by the capacity policy.
      const late = new Subject<Event>();
      const second = new LabelledConsumer(onArmed);
      late
        .pipe(temporalAggregate({ windows: { 'tool.used': 10, 'file.modified': 5 }, maxOpenWindows: 1 }))
        .subscribe(second);
      late.next(ev('tool.used', 1, 's'));
      late.next(ev('file.modified', 1, 't'));
      late.next(ev('file.modified', 2, 's'));
      second.got.length = 0;
      armed = true;
      late.next(ev('tool.used', 8, 's'));
      expect(second.labels).toEqual([
        'file.modified.aggregated s [2,7) n=1',
        'tool.used.late window_closed @8',
        'error consumer on file.modified.aggregated s [2,7) n=1',
      ]);
    });

    describe('a consumer that pushes into the source, then throws', () => {
      // The events it pushed were queued behind the one being handled; the exception ended the output and
      // the queue was dropped: they were never passed through, windowed or reported late.
      it.each([
        ['the default scheduler', undefined],
        ['queueScheduler (an arrival’s run settles at once, queued among the values)', queueScheduler],
      ])('still handles every event it pushed, then errors with its exception (%s)', (_, scheduler) => {
        const input = new Subject<Event>();
        let fed = false;
        const consumer = new LabelledConsumer((e) => {
          // Pushed after the exception: not read.
          if (e.type === 'note') input.next(ev('note', 13, 's1'));
          if (fed || !e.type.endsWith('.aggregated')) return false;
          fed = true;
          input.next(ev('note', 11, 's1'));
          input.next(ev('tool.used', 12, 's1'));
          input.next(ev('tool.used', 3, 's1'));
          return true;
        });
        input
          .pipe(temporalAggregate({ windows: TOOL5, ...(scheduler === undefined ? {} : { scheduler }) }))
          .subscribe(consumer);
        input.next(ev('tool.used', 0, 's1'));
        input.next(ev('tool.used', 10, 's1'));
        expect(consumer.labels).toEqual([
          'tool.used.aggregated s1 [0,5) n=1',
          'note@11',
          'tool.used.late window_closed @3',
          'tool.used.aggregated s1 [10,15) n=2',
          'error consumer on tool.used.aggregated s1 [0,5) n=1',
        ]);
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
          let fed = false;
          // Throws on every aggregate; on the first one, pushes three events and ends the source first.
          const consumer = new LabelledConsumer((e) => {
            if (!e.type.endsWith('.aggregated')) return false;
            if (!fed) {
              fed = true;
              input.next(ev('note', 11, 's1'));
              // Closes [10,15): the consumer throws on it too.
              input.next(ev('tool.used', 20, 's1'));
              input.next(ev('note', 21, 's1'));
              end(input);
            }
            return true;
          });
          input
            .pipe(temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY }))
            .subscribe(consumer);
          input.next(ev('tool.used', 0, 's1'));
          input.next(ev('tool.used', 10, 's1'));
          expect(consumer.labels).toEqual([
            'tool.used.aggregated s1 [0,5) n=1',
            'note@11',
            'tool.used.aggregated s1 [10,15) n=1',
            'note@21',
            'tool.used.aggregated s1 [20,25) n=1',
            'error consumer on tool.used.aggregated s1 [0,5) n=1',
          ]);
        },
      );

      it('flushes and errors also when leaving the source throws (a teardown that throws)', () => {
        // The source is left at the exception; its teardown's exception cut the failure path short: the
        // output never ended, the open window was never emitted.
        let inner: Subscriber<Event> | undefined;
        const source = new Observable<Event>((subscriber) => {
          inner = subscriber;
          return () => {
            throw new Error('teardown');
          };
        });
        const consumer = new LabelledConsumer((e) => e.type === 'note');
        source.pipe(temporalAggregate({ windows: TOOL5 })).subscribe(consumer);
        inner!.next(ev('tool.used', 0, 's1'));
        expect(() => inner!.next(ev('note', 1, 's1'))).not.toThrow();
        expect(consumer.labels).toEqual([
          'note@1',
          'tool.used.aggregated s1 [0,5) n=1',
          'error consumer on note@1',
        ]);
      });

      it('keeps the own output of every arrival whose aggregate it threw on, not only the last one', () => {
        const input = new Subject<Event>();
        let fed = false;
        const consumer = new LabelledConsumer((e) => {
          if (!e.type.endsWith('.aggregated')) return false;
          if (!fed) {
            fed = true;
            input.next(ev('tool.used', 11, 's1'));
            // Its arrival closes [11,16), which the consumer throws on: its pass-through is owed too.
            input.next(ev('note', 20, 's1'));
          }
          return true;
        });
        input
          .pipe(temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY }))
          .subscribe(consumer);
        input.next(ev('tool.used', 0, 's1'));
        input.next(ev('note', 10, 's1'));
        expect(consumer.labels).toEqual([
          'tool.used.aggregated s1 [0,5) n=1',
          'tool.used.aggregated s1 [11,16) n=1',
          'note@10',
          'note@20',
          'error consumer on tool.used.aggregated s1 [0,5) n=1',
        ]);
      });
    });

    it(
      'emits parts early at maxEvents, keeping the window range',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('tool.used', 2, 's1'),
          c: ev('tool.used', 3, 's1'),
          d: ev('tool.used', 6, 's1'),
          e: ev('tool.used', 13, 's1'),
        };
        const source = m.cold(' -abc--d------e|', values);
        const subs = '          ^-------------!';
        const expected = '      --A---B-------(C|)';
        const operator = temporalAggregate({
          windows: { 'tool.used': 10 },
          maxEvents: 2,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,11) n=2',
          B: 'tool.used.aggregated s1 [1,11) n=2 part=2',
          C: 'tool.used.aggregated s1 [13,23) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'keeps the windows of two interleaved sessions apart, each on its own watermark',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('tool.used', 2, 's2'),
          c: ev('tool.used', 3, 's1'),
          d: ev('tool.used', 100, 's2'),
        };
        // s2's event at 100 closes s2's window only: s1's window waits for s1's own time (here the idle
        // rule, at 6); s2's new window [100,105) closes 5 ms after it opened, at 9.
        const source = m.cold(' -abcd-----|', values);
        const subs = '          ^---------!';
        const expected = '      ----B-A--D|';
        m.expect(
          source.pipe(temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=2',
          B: 'tool.used.aggregated s2 [2,7) n=1',
          D: 'tool.used.aggregated s2 [100,105) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'passes other event types through at once, unchanged',
      marbles((m) => {
        const x = ev('session.started', 1, 's1');
        const t = ev('tool.used', 2, 's1');
        const y = ev('git.commit', 3);
        const source = m.cold(' -xty|', { x, t, y });
        const subs = '          ^---!';
        const expected = '      -x-y(A|)';
        m.expect(
          source.pipe(
            temporalAggregate({ windows: TOOL5, scheduler: m.scheduler }),
            map((e) => (e.type.endsWith('.aggregated') ? label(e) : e)),
          ),
        ).toBeObservable(expected, { x, y, A: 'tool.used.aggregated s1 [2,7) n=1' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );
  });

  describe('lateness', () => {
    it(
      'emits an event whose window was already emitted as <type>.late, never drops it',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('tool.used', 7, 's1'),
          c: ev('tool.used', 2, 's1'),
          d: ev('file.modified', 2, 's1'),
        };
        const source = m.cold(' -a-----bcd|', values);
        const subs = '          ^---------!';
        const expected = '      -------ALF(B|)';
        const operator = temporalAggregate({
          windows: { 'file.modified': 3, ...TOOL5 },
          idleFlushMs: Number.POSITIVE_INFINITY,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=1',
          L: 'tool.used.late window_closed @2',
          // file.modified had no window, but one starting at 2 would have ended (5) behind the watermark (7).
          F: 'file.modified.late behind_watermark @2',
          B: 'tool.used.aggregated s1 [7,12) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('carries the late event untouched, with the reason and the watermark', () => {
      const original = ev('tool.used', 2, 's1', { tool_name: 'Bash' }, Priority.HIGH);
      const { out } = collect(
        [
          { time: 0, value: ev('tool.used', 0, 's1') },
          { time: 1, value: ev('tool.used', 9, 's1') },
          { time: 2, value: original },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, scheduler }),
      );
      const late = out.find((o) => o.value.type === 'tool.used.late')!.value as Event<LateEventData>;
      expect(late.data).toStrictEqual({ event: original, reason: 'window_closed', watermark: 9 });
      expect(late).toMatchObject({ timestamp: 2, priority: Priority.HIGH, sessionId: 's1' });
      expect(late.id).not.toBe(original.id);
    });

    it('reports late, and aggregates, an event whose context is no plain object (a Map, a class instance)', () => {
      // Such a context is left out of what the operator makes: the late event was built by createEvent,
      // which refuses it, so the output errored and the late event was lost.
      class Where {
        cwd = '/repo';
      }
      const odd = (type: string, t: number, context: object) =>
        ({ ...ev(type, t, 's1'), context }) as unknown as Event;
      const original = odd('tool.used', 2, new Where());
      const { out, error, completedAt } = collect(
        [
          { time: 0, value: odd('tool.used', 0, new Map([['cwd', '/repo']])) },
          { time: 1, value: ev('tool.used', 9, 's1', {}, Priority.NORMAL) },
          { time: 2, value: original },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, scheduler }),
        { time: 3 },
      );
      expect(error).toBeUndefined();
      expect(completedAt).toBe(3);
      expect(out.map((o) => label(o.value))).toEqual([
        'tool.used.aggregated s1 [0,5) n=1',
        'tool.used.late window_closed @2',
        'tool.used.aggregated s1 [9,14) n=1',
      ]);
      const [first, late] = out.map((o) => o.value);
      expect(first).not.toHaveProperty('context');
      expect(late).not.toHaveProperty('context');
      expect((late!.data as LateEventData).event).toBe(original);
    });

    it(
      'places events that arrive out of order within allowedLatenessMs as if they had arrived in order',
      marbles((m) => {
        // Event times: a 2, b 1, c 6, d 5, e 9, f 4 (f is beyond the lateness: its window is gone).
        const values = {
          a: ev('tool.used', 2, 's1'),
          b: ev('tool.used', 1, 's1'),
          c: ev('tool.used', 6, 's1'),
          d: ev('tool.used', 5, 's1'),
          e: ev('tool.used', 9, 's1'),
          f: ev('tool.used', 4, 's1'),
        };
        const source = m.cold(' -abcdef|', values);
        const subs = '          ^------!';
        const expected = '      -----AL(B|)';
        const operator = temporalAggregate({
          windows: TOOL5,
          allowedLatenessMs: 3,
          idleFlushMs: Number.POSITIVE_INFINITY,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=3',
          L: 'tool.used.late window_closed @4',
          B: 'tool.used.aggregated s1 [6,11) n=2',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('keeps each event’s priority and summary fields with it when out-of-order events are re-sorted', () => {
      const critical = ev('tool.used', 6, 's1', { tool_name: 'Bash', duration_ms: 9 }, Priority.CRITICAL);
      const low = ev('tool.used', 1, 's1', { tool_name: 'Edit', duration_ms: 1 }, Priority.LOW);
      const { out } = collect(
        [
          { time: 0, value: critical },
          { time: 1, value: low },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, allowedLatenessMs: 10, scheduler }),
        { time: 2 },
      );
      const stats = (d: number) => ({ count: 1, min: d, avg: d, max: d, p95: d });
      expect(
        out.map((o) => [label(o.value), o.value.priority, (o.value.data as AggregatedData).summary]),
      ).toEqual([
        [
          'tool.used.aggregated s1 [1,6) n=1',
          Priority.LOW,
          {
            tools: [{ name: 'Edit', count: 1, failures: 0, duration_ms: stats(1) }],
            failures: 0,
            duration_ms: stats(1),
          },
        ],
        [
          'tool.used.aggregated s1 [6,11) n=1',
          Priority.CRITICAL,
          {
            tools: [{ name: 'Bash', count: 1, failures: 0, duration_ms: stats(9) }],
            failures: 0,
            duration_ms: stats(9),
          },
        ],
      ]);
    });

    it('orders the events of an aggregate by event time, then id', () => {
      const [a, b, c] = [ev('tool.used', 3, 's1'), ev('tool.used', 1, 's1'), ev('tool.used', 2, 's1')];
      const { out } = collect(
        [
          { time: 0, value: a },
          { time: 1, value: b },
          { time: 2, value: c },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, allowedLatenessMs: 5, scheduler }),
        { time: 3 },
      );
      expect(out).toHaveLength(1);
      expect((out[0]!.value.data as AggregatedData).events).toEqual([b, c, a]);
      expect((out[0]!.value.data as AggregatedData).window).toEqual({ start: 1, end: 6 });
    });
  });

  describe('output', () => {
    it('orders zeros of both signs in min, max and p95 as the sorted values do (-0 before +0), in any order', () => {
      const statsOf = (values: number[]) => {
        const { out } = collect(
          values.map((value, t) => ({
            time: t,
            value: ev('performance.metric', t, 's1', { metric: 'm', value }),
          })),
          (scheduler) => temporalAggregate({ scheduler }),
          { time: 100 },
        );
        const [m] = ((out[0]!.value.data as AggregatedData).summary as PerformanceMetricSummary).metrics;
        const z = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
        return `min ${z(m!.min)} max ${z(m!.max)} p95 ${z(m!.p95)}`;
      };
      expect(statsOf([0, -0])).toBe('min -0 max 0 p95 0');
      expect(statsOf([-0, 0])).toBe('min -0 max 0 p95 0');
      expect(statsOf([-0, -0])).toBe('min -0 max -0 p95 -0');
      // Several names (the tally's other path).
      const two = collect(
        // a: 0, 1, 0; b: 0, -0 (the +0 first).
        [0, 0, 1, -0, 0].map((value, t) => ({
          time: t,
          value: ev('performance.metric', t, 's1', { metric: t % 2 === 0 ? 'a' : 'b', value }),
        })),
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 100 },
      );
      const metrics = ((two.out[0]!.value.data as AggregatedData).summary as PerformanceMetricSummary)
        .metrics;
      expect(metrics.map((m) => [m.name, Object.is(m.min, -0), Object.is(m.max, -0)])).toEqual([
        ['a', false, false],
        ['b', true, false],
      ]);
      expect(metrics.map((m) => [m.min, m.max])).toEqual([
        [0, 1],
        [-0, 0],
      ]);
    });

    it('carries count, spans, the highest priority, the session and the last context', () => {
      const events = [
        { ...ev('tool.used', 10, 's1', {}, Priority.LOW), context: { n: 1 } },
        { ...ev('tool.used', 12, 's1', {}, Priority.HIGH), context: { n: 2 } },
        { ...ev('tool.used', 13, 's1', {}, Priority.NORMAL), context: { n: 3 } },
      ];
      const { out } = collect(
        events.map(inTurn),
        (scheduler) => temporalAggregate({ windows: TOOL5, allowedLatenessMs: 100, scheduler }),
        { time: 10 },
      );
      expect(out.map((o) => withoutId(o.value))).toStrictEqual([
        {
          type: 'tool.used.aggregated',
          timestamp: 13,
          priority: Priority.HIGH,
          data: {
            source_type: 'tool.used',
            event_count: 3,
            time_span: { start: 10, end: 13 },
            window: { start: 10, end: 15 },
            part: 1,
            events,
            summary: { tools: [{ name: 'unknown', count: 3, failures: 0 }], failures: 0 },
          },
          context: { n: 3 },
          sessionId: 's1',
        },
      ]);
    });

    it('emits plain objects, as literals would be: their prototype, their keys in the documented order', () => {
      // The operator makes its output with constructors (no V8 allocation site, see internal/plain.ts):
      // nothing of that may show. Every shape: with and without events, context and session; one and
      // several names per summary; tools with and without durations.
      const events = [
        ev('tool.used', 1, 's1', { tool_name: 'Bash', duration_ms: 5 }),
        { ...ev('tool.used', 2, 's1', { tool_name: 'Edit', success: false }), context: { n: 1 } },
        ev('tool.used', 3, 's2', { tool_name: 'Bash', duration_ms: 7 }),
        ev('tool.used', 4, undefined, { tool_name: 'Read' }),
        ev('file.modified', 1, 's1', { file_path: '/b', size: 2 }),
        ev('file.modified', 2, 's1', { file_path: '/a', size: 3 }),
        ev('performance.metric', 1, 's1', { metric: 'heap', value: 1 }),
        ev('performance.metric', 2, 's1', { metric: 'cpu', value: 2 }),
        ev('git.commit', 1, 's1'),
      ];
      const windows = { ...DEFAULT_AGGREGATE_WINDOWS, 'git.commit': 5 };
      const outputs = [true, false].flatMap((includeEvents) =>
        collect(
          events.map((value) => ({ time: 0, value })),
          (scheduler) => temporalAggregate({ windows, includeEvents, scheduler }),
          { time: 1 },
        ).out.map((o) => o.value),
      );
      expect(outputs).toHaveLength(12);
      const seen = new Set<string>();
      const check = (value: unknown, path: string) => {
        if (typeof value !== 'object' || value === null) return;
        if (Array.isArray(value)) {
          expect(Object.getPrototypeOf(value), path).toBe(Array.prototype);
          for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`);
          return;
        }
        expect(Object.getPrototypeOf(value), path).toBe(Object.prototype);
        expect(value.constructor, path).toBe(Object);
        seen.add(`${path.replace(/\[\d+\]/g, '[]')}: ${Object.keys(value).join(',')}`);
        // `events` and `context` are the input's own objects.
        for (const [key, item] of Object.entries(value))
          if (key !== 'events' && key !== 'context') check(item, `${path}.${key}`);
      };
      for (const output of outputs) check(output, (output.data as AggregatedData).source_type);
      // The keys, shape by shape, in the order a literal of the documented type would have them.
      expect([...seen].sort()).toEqual(
        [
          ...['file.modified', 'git.commit', 'performance.metric', 'tool.used'].flatMap((type) => [
            `${type}: id,type,timestamp,priority,data,sessionId`,
            `${type}.data.time_span: start,end`,
            `${type}.data.window: start,end`,
          ]),
          'tool.used: id,type,timestamp,priority,data',
          'tool.used: id,type,timestamp,priority,data,context,sessionId',
          'file.modified.data: source_type,event_count,time_span,window,part,events,summary',
          'file.modified.data: source_type,event_count,time_span,window,part,summary',
          'git.commit.data: source_type,event_count,time_span,window,part',
          'git.commit.data: source_type,event_count,time_span,window,part,events',
          'performance.metric.data: source_type,event_count,time_span,window,part,events,summary',
          'performance.metric.data: source_type,event_count,time_span,window,part,summary',
          'tool.used.data: source_type,event_count,time_span,window,part,events,summary',
          'tool.used.data: source_type,event_count,time_span,window,part,summary',
          'file.modified.data.summary: files,file_count,total_size,without_path',
          'file.modified.data.summary.files[]: path,count,total_size',
          'performance.metric.data.summary: metrics,without_value',
          'performance.metric.data.summary.metrics[]: name,count,min,avg,max,p95',
          'tool.used.data.summary: tools,failures',
          'tool.used.data.summary: tools,failures,duration_ms',
          'tool.used.data.summary.duration_ms: count,min,avg,max,p95',
          'tool.used.data.summary.tools[]: name,count,failures',
          'tool.used.data.summary.tools[]: name,count,failures,duration_ms',
          'tool.used.data.summary.tools[].duration_ms: count,min,avg,max,p95',
        ].sort(),
      );
      // And they equal their JSON round trip, prototypes included.
      for (const output of outputs) expect(output).toStrictEqual(JSON.parse(JSON.stringify(output)));
    });

    it('spans the first and last event in canonical order, also for times -0 and 0', () => {
      // Equal times sort by id: 'a' (0) comes first although 'b' (-0) arrived first.
      // Built directly: createEvent makes a -0 timestamp 0, but an operator may get events made otherwise.
      const b = { ...ev('git.commit', 0, 's1'), id: 'b', timestamp: -0 };
      const a = { ...ev('git.commit', 0, 's1'), id: 'a' };
      const { out } = collect(
        [
          { time: 0, value: b },
          { time: 0, value: a },
        ],
        (scheduler) => temporalAggregate({ windows: { 'git.commit': 5 }, scheduler }),
        { time: 10 },
      );
      const data = out[0]!.value.data as AggregatedData;
      expect(data.events!.map((e) => e.id)).toEqual(['a', 'b']);
      expect(Object.is(data.time_span.start, 0)).toBe(true);
      expect(Object.is(data.time_span.end, -0)).toBe(true);
    });

    it('starts a window at its first event’s time in canonical order, also for times -0 and 0, in any arrival order', () => {
      // 'a' (0) is first by id: the window starts at 0 whether 'b' (-0) arrives before or after it, as in a
      // replay; with maxEvents 2, part 1 is 'a' and 'b', and part 2 ('c') keeps the window's start.
      const b = { ...ev('git.commit', 0, 's1'), id: 'b', timestamp: -0 };
      const a = { ...ev('git.commit', 0, 's1'), id: 'a' };
      const c = { ...ev('git.commit', 1, 's1'), id: 'c' };
      for (const order of [
        [b, a, c],
        [a, b, c],
      ]) {
        for (const maxEvents of [1_000, 2]) {
          const { out } = collect(
            order.map((value) => ({ time: 0, value })),
            (scheduler) => temporalAggregate({ windows: { 'git.commit': 5 }, maxEvents, scheduler }),
            { time: 10 },
          );
          expect(out).toHaveLength(maxEvents === 2 ? 2 : 1);
          for (const { value } of out) {
            const { window, time_span } = value.data as AggregatedData;
            expect(Object.is(window.start, 0)).toBe(true);
            expect(window.end).toBe(5);
            if ((value.data as AggregatedData).part === 1) expect(Object.is(time_span.start, 0)).toBe(true);
          }
        }
      }
    });

    it('leaves the events out with includeEvents: false, and aggregates events without a session', () => {
      const { out } = collect(
        [{ time: 0, value: ev('performance.metric', 0, undefined, { metric: 'heap', value: 1 }) }],
        (scheduler) => temporalAggregate({ includeEvents: false, scheduler }),
        { time: 1 },
      );
      expect(withoutId(out[0]!.value)).toStrictEqual({
        type: 'performance.metric.aggregated',
        timestamp: 0,
        priority: Priority.NORMAL,
        data: {
          source_type: 'performance.metric',
          event_count: 1,
          time_span: { start: 0, end: 0 },
          window: { start: 0, end: 30_000 },
          part: 1,
          summary: {
            metrics: [{ name: 'heap', count: 1, min: 1, avg: 1, max: 1, p95: 1 }],
            without_value: 0,
          },
        },
      });
    });

    it('summarizes file.modified: files with counts and sizes', () => {
      const { out } = collect(
        [
          ev('file.modified', 0, 's', { file_path: '/r/b.ts', size: 10 }),
          ev('file.modified', 1, 's', { file_path: '/r/a.ts', edits: 2 }),
          ev('file.modified', 2, 's', { file_path: '/r/b.ts', size: 5 }),
          ev('file.modified', 3, 's', { size: 7 }),
        ].map(inTurn),
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 4 },
      );
      expect((out[0]!.value.data as AggregatedData).summary).toStrictEqual({
        files: [
          { path: '/r/a.ts', count: 1, total_size: 0 },
          { path: '/r/b.ts', count: 2, total_size: 15 },
        ],
        file_count: 2,
        total_size: 22,
        without_path: 1,
      });
    });

    it('totals a file whose sizes are all -0 as 0, as the window’s total_size is (sums start at 0)', () => {
      // A window of one file, then one of two files: the first name's sum and another name's sum.
      const { out } = collect(
        [
          ev('file.modified', 0, 's', { file_path: '/r/a.ts', size: -0 }),
          ev('file.modified', 10, 's', { file_path: '/r/a.ts', size: -0 }),
          ev('file.modified', 11, 's', { file_path: '/r/b.ts', size: -0 }),
          ev('file.modified', 12, 's', { file_path: '/r/b.ts', size: -0 }),
        ].map((value) => ({ time: value.timestamp, value })),
        (scheduler) => temporalAggregate({ windows: { 'file.modified': 5 }, scheduler }),
        { time: 20 },
      );
      const summaries = out.map((o) => (o.value.data as AggregatedData).summary);
      expect(summaries).toStrictEqual([
        {
          files: [{ path: '/r/a.ts', count: 1, total_size: 0 }],
          file_count: 1,
          total_size: 0,
          without_path: 0,
        },
        {
          files: [
            { path: '/r/a.ts', count: 1, total_size: 0 },
            { path: '/r/b.ts', count: 2, total_size: 0 },
          ],
          file_count: 2,
          total_size: 0,
          without_path: 0,
        },
      ]);
    });

    it('summarizes windows with many distinct files and tools', () => {
      const paths = Array.from({ length: 12 }, (_, i) => `/r/f${String(11 - i).padStart(2, '0')}.ts`);
      const arrivals = [
        ...paths.flatMap((path) => [
          ev('file.modified', 0, 's', { file_path: path, size: 1 }),
          ev('file.modified', 1, 's', { file_path: path, size: 2 }),
        ]),
        ...paths.map((path) => ev('tool.used', 2, 's', { tool_name: path })),
      ].map(inTurn);
      const { out } = collect(arrivals, (scheduler) => temporalAggregate({ scheduler }), { time: 100 });
      const files = (out[0]!.value.data as AggregatedData).summary as {
        files: unknown[];
        file_count: number;
      };
      expect(files.file_count).toBe(12);
      expect(files.files).toEqual([...paths].sort().map((path) => ({ path, count: 2, total_size: 3 })));
      const tools = (out[1]!.value.data as AggregatedData).summary as { tools: Array<{ name: string }> };
      expect(tools.tools.map((t) => t.name)).toEqual([...paths].sort());
    });

    it('summarizes tool.used: per-tool counts, failures and duration stats', () => {
      const durations = Array.from({ length: 20 }, (_, i) => i + 1);
      const { out } = collect(
        [
          ...durations.map((d) =>
            ev('tool.used', d, 's', { tool_name: 'Bash', duration_ms: d, success: d !== 7 }),
          ),
          ev('tool.used', 30, 's', { tool_name: 'Edit', success: true }),
        ].map(inTurn),
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 40 },
      );
      const bash = { count: 20, min: 1, avg: 10.5, max: 20, p95: 19 };
      expect((out[0]!.value.data as AggregatedData).summary).toStrictEqual({
        tools: [
          { name: 'Bash', count: 20, failures: 1, duration_ms: bash },
          { name: 'Edit', count: 1, failures: 0 },
        ],
        failures: 1,
        duration_ms: bash,
      });
    });

    it('summarizes performance.metric: min/avg/max/p95 per metric', () => {
      const { out } = collect(
        [
          ev('performance.metric', 0, 's', { metric: 'latency', value: 30 }),
          ev('performance.metric', 1, 's', { metric: 'latency', value: 10 }),
          ev('performance.metric', 2, 's', { metric: 'cpu', value: 0.5 }),
          ev('performance.metric', 3, 's', { metric: 'latency', value: 20 }),
          ev('performance.metric', 4, 's', { metric: 'latency', value: 'n/a' }),
        ].map(inTurn),
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 5 },
      );
      expect((out[0]!.value.data as AggregatedData).summary).toStrictEqual({
        metrics: [
          { name: 'cpu', count: 1, min: 0.5, avg: 0.5, max: 0.5, p95: 0.5 },
          { name: 'latency', count: 3, min: 10, avg: 20, max: 30, p95: 30 },
        ],
        without_value: 1,
      });
    });

    it('keeps avg between min and max when the sum of the values overflows (beyond 1.8e308)', () => {
      const big = Number.MAX_VALUE / 2;
      const metric = (t: number, metric: string, value: number) =>
        ev('performance.metric', t, 's', { metric, value });
      const window = (events: Event[]) => {
        const { out } = collect(events.map(inTurn), (scheduler) => temporalAggregate({ scheduler }), {
          time: events.length,
        });
        return (out[0]!.value.data as AggregatedData).summary as PerformanceMetricSummary;
      };
      // One metric (the window's stats), two (each one's from the scratch sums), 20 values of one of two
      // (its stats from its own group of values).
      // The values are all one number: avg is that number, to the last few bits (it was ±Infinity).
      const expectAvg = (stats: NumericStats, value: number) => {
        expect(stats).toMatchObject({ min: value, max: value });
        expect(Math.abs(stats.avg / value - 1)).toBeLessThan(1e-15);
      };
      const one = window([metric(0, 'm', big), metric(1, 'm', big), metric(2, 'm', big)]);
      expectAvg(one.metrics[0]!, big);
      const two = window([
        metric(0, 'm', big),
        metric(1, 'm', big),
        metric(2, 'm', big),
        metric(3, 'n', -big),
      ]);
      expect(two.metrics.map((m) => m.name)).toEqual(['m', 'n']);
      expectAvg(two.metrics[0]!, big);
      const negative = window([
        metric(0, 'm', -big),
        metric(1, 'm', -big),
        metric(2, 'm', -big),
        metric(3, 'n', 1),
      ]);
      expectAvg(negative.metrics[0]!, -big);
      // A second window after a longer one of the same session: only its own values count.
      const { out } = collect(
        [
          ...[1, 1, 1, 1].map((v, i) => metric(i, i === 1 ? 'n' : 'm', v)),
          metric(4, 'm', -big),
          ...[big, big, big].map((v, i) => metric(40_000 + i, 'm', v)),
          metric(40_003, 'n', 1),
        ].map(inTurn),
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 9 },
      );
      const second = (out[1]!.value.data as AggregatedData).summary as PerformanceMetricSummary;
      expectAvg(second.metrics[0]!, big);
      const many = window([
        ...Array.from({ length: 20 }, (_, i) => metric(i, 'm', -big)),
        metric(20, 'n', 1),
      ]);
      expect(many.metrics.map((m) => m.name)).toEqual(['m', 'n']);
      expectAvg(many.metrics[0]!, -big);
    });

    it('passes through input it cannot window: no timestamp, a bad one, not an object', () => {
      const noTime = { ...ev('tool.used', 0, 's'), timestamp: Number.NaN };
      const weird = null as unknown as Event;
      const { out } = collect(
        [
          { time: 0, value: noTime },
          { time: 1, value: weird },
        ],
        (scheduler) => temporalAggregate({ scheduler }),
        { time: 2 },
      );
      expect(out.map((o) => o.value)).toEqual([noTime, weird]);
    });

    it('passes through an event whose type is not a string (null, missing, a number)', () => {
      const odd = [null, undefined, 5].map(
        (type, i) => ({ ...ev('tool.used', i, 's'), type }) as unknown as Event,
      );
      const { out, error } = collect(odd.map(inTurn), (scheduler) => temporalAggregate({ scheduler }), {
        time: 10,
      });
      expect(error).toBeUndefined();
      expect(out.map((o) => o.value)).toEqual(odd);
    });

    it('passes through a timestamp that is a numeric string; windows one at 2^53 - 1 and a numeric id', () => {
      const text = { ...ev('tool.used', 0, 's'), timestamp: '5' as unknown as number };
      const atLimit = ev('tool.used', Number.MAX_SAFE_INTEGER, 'limit');
      const numbered = { ...ev('tool.used', 1, 'n'), id: 42 as unknown as string };
      const { out } = collect(
        [text, atLimit, numbered].map(inTurn),
        (scheduler) =>
          temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
        { time: 3 },
      );
      expect(out[0]!.value).toBe(text);
      // Flushed on complete in the order of their windows' ends.
      expect(out.slice(1).map((o) => label(o.value))).toEqual([
        'tool.used.aggregated n [1,6) n=1',
        `tool.used.aggregated limit [${Number.MAX_SAFE_INTEGER},${Number.MAX_SAFE_INTEGER + 5}) n=1`,
      ]);
      expect((out[1]!.value.data as AggregatedData).events).toEqual([numbered]);
    });

    it('closes a window whose end is past 2^53 only by the idle rule or at the end: later events pass through', () => {
      // docs/temporalAggregate.md, Input it cannot window: 2^53 is in [2^53 - 3, 2^53 + 2), and past the limit.
      const start = Number.MAX_SAFE_INTEGER - 2;
      const first = ev('tool.used', start, 's');
      const past = ev('tool.used', 2 ** 53, 's');
      const window = `tool.used.aggregated s [${start},${start + 5}) n=1`;
      const noIdle = collect(
        [first, past].map(inTurn),
        (scheduler) =>
          temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
        { time: 100 },
      );
      expect(noIdle.out.map((o) => [o.time, label(o.value)])).toEqual([
        [1, `tool.used@${2 ** 53}`],
        [100, window],
      ]);
      // With the idle rule: 5 ms after its last arrival.
      const idle = collect(
        [first, past].map(inTurn),
        (scheduler) => temporalAggregate({ windows: TOOL5, scheduler }),
        {
          time: 100,
        },
      );
      expect(idle.out.map((o) => [o.time, label(o.value)])).toEqual([
        [1, `tool.used@${2 ** 53}`],
        [5, window],
      ]);
    });

    it('passes through an event whose id cannot be ordered, and windows the others', () => {
      // Ordered after an event of the same time by its id: a TypeError failed the stream, the event lost.
      for (const id of [Object.create(null), Symbol('id')]) {
        const odd = { ...ev('tool.used', 1, 's1'), id: id as string };
        const { out, error } = collect(
          [
            { time: 0, value: ev('tool.used', 1, 's1') },
            { time: 1, value: odd },
            { time: 2, value: ev('tool.used', 3, 's1') },
          ],
          (scheduler) => temporalAggregate({ windows: TOOL5, idleFlushMs: 0, scheduler }),
          { time: 3 },
        );
        expect(error).toBeUndefined();
        expect(out[0]!.value).toBe(odd);
        expect(out.slice(1).map((o) => label(o.value))).toEqual(['tool.used.aggregated s1 [1,6) n=2']);
      }
    });

    it('uses the default windows on a long virtual timeline', () => {
      // Times in ms; the default windows are 5 s, 10 s and 30 s.
      const arrivals: Array<Timed<Event>> = [0, 2_000, 4_999, 5_000, 6_000, 61_000].map((t) => ({
        time: t,
        value: ev('file.modified', t, 's1', { file_path: '/a' }),
      }));
      arrivals.push({ time: 1_000, value: ev('tool.used', 1_000, 's1', { tool_name: 'Bash' }) });
      arrivals.sort((a, b) => a.time - b.time);
      const { out, completedAt } = collect(arrivals, (scheduler) => temporalAggregate({ scheduler }), {
        time: 120_000,
      });
      expect(out.map((o) => ({ time: o.time, value: label(o.value) }))).toEqual([
        { time: 5_000, value: 'file.modified.aggregated s1 [0,5000) n=3' },
        { time: 10_000, value: 'file.modified.aggregated s1 [5000,10000) n=2' },
        { time: 11_000, value: 'tool.used.aggregated s1 [1000,11000) n=1' },
        { time: 66_000, value: 'file.modified.aggregated s1 [61000,66000) n=1' },
      ]);
      expect(completedAt).toBe(120_000);
    });
  });

  describe('boundaries and paths (found by mutation testing)', () => {
    const labels = (out: ReadonlyArray<Timed<Event>>) => out.map((o) => `${o.time} ${label(o.value)}`);

    it('emits every window an arrival closes, of every type and each window of a key, before its own output', () => {
      // Two types due at one pass-through arrival; and, within the lateness, two windows of one key.
      const { out } = collect(
        [
          { time: 0, value: ev('tool.used', 0, 's') },
          { time: 1, value: ev('file.modified', 1, 's') },
          { time: 2, value: ev('tool.used', 8, 's') },
          { time: 3, value: ev('session.started', 40, 's') },
        ],
        (scheduler) =>
          temporalAggregate({
            windows: { 'tool.used': 5, 'file.modified': 5 },
            allowedLatenessMs: 10,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 100 },
      );
      // Earliest end first, whatever the type, as the idle rule closes them live (each at its end): a
      // replay that reaches them all at one arrival gives the live run's order.
      expect(labels(out)).toEqual([
        '3 tool.used.aggregated s [0,5) n=1',
        '3 file.modified.aggregated s [1,6) n=1',
        '3 tool.used.aggregated s [8,13) n=1',
        '3 session.started@40',
      ]);
    });

    it('emits nothing but the aggregates when its consumer throws on one a windowed arrival closed', () => {
      // The arrival at 6 closes [0,5) and joins a window of its own: it has no output of its own to keep.
      const got: unknown[] = [];
      const input = new Subject<Event>();
      input.pipe(temporalAggregate({ windows: TOOL5 })).subscribe(
        new (class extends Subscriber<Event> {
          protected override _next(event: Event): void {
            got.push(event === undefined ? event : label(event));
            if (got.length === 1) throw new Error('consumer');
          }
          protected override _error(error: unknown): void {
            got.push(`error ${(error as Error).message}`);
          }
        })(),
      );
      input.next(ev('tool.used', 0, 's'));
      input.next(ev('tool.used', 6, 's'));
      expect(got).toEqual([
        'tool.used.aggregated s [0,5) n=1',
        'tool.used.aggregated s [6,11) n=1',
        'error consumer',
      ]);
    });

    it('gives a window the highest priority of its own events, not of later ones buffered within the lateness', () => {
      const { out } = collect(
        [
          ev('tool.used', 0, 's', {}, Priority.HIGH),
          ev('tool.used', 1, 's', {}, Priority.LOW),
          ev('tool.used', 6, 's', {}, Priority.CRITICAL),
          ev('tool.used', 7, 's', {}, Priority.CRITICAL),
          ev('session.started', 15, 's'),
        ].map(inTurn),
        (scheduler) =>
          temporalAggregate({ windows: TOOL5, allowedLatenessMs: 10, idleFlushMs: 1_000, scheduler }),
        { time: 10 },
      );
      expect(out.map((o) => [label(o.value), o.value.priority])).toEqual([
        ['tool.used.aggregated s [0,5) n=2', Priority.HIGH],
        ['session.started@15', Priority.NORMAL],
        ['tool.used.aggregated s [6,11) n=2', Priority.CRITICAL],
      ]);
    });

    it('never moves a session’s watermark back: a new highest event time below the idle estimate keeps it', () => {
      // The tick at 10 estimates the watermark 10 and closes [0,5). The pass-through event at 1 raises the
      // highest event time to 1 but leaves the watermark at 10, so the event at 5 is behind it.
      const { out } = collect(
        [
          { time: 0, value: ev('tool.used', 0, 's') },
          { time: 11, value: ev('session.started', 1, 's') },
          { time: 12, value: ev('tool.used', 5, 's') },
        ],
        (scheduler) => temporalAggregate({ windows: TOOL5, idleFlushMs: 10, scheduler }),
        { time: 50 },
      );
      expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual([
        '10 tool.used.aggregated s [0,5) n=1',
        '11 session.started@1',
        '12 tool.used.late behind_watermark @5',
      ]);
      expect((out[2]!.value.data as LateEventData).watermark).toBe(10);
    });

    it('reports as late an event before an open window’s start whose own window would end at the watermark', () => {
      // [20,25) is open with the watermark 10 (lateness 10): an event at 5 would make [5,10), already due.
      const { out } = collect(
        [ev('tool.used', 20, 's'), ev('tool.used', 5, 's'), ev('tool.used', 11, 's')].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: TOOL5,
            allowedLatenessMs: 10,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 10 },
      );
      expect(labels(out)).toEqual([
        '1 tool.used.late behind_watermark @5',
        '10 tool.used.aggregated s [11,16) n=1',
        '10 tool.used.aggregated s [20,25) n=1',
      ]);
    });

    it('takes an event of the same time as the last of a part into the next part', () => {
      // maxEvents 2: the events at 0 and 1 are part 1; the second event at 1 (a greater id) is part 2.
      const at = (id: string, ts: number) => ({ ...ev('tool.used', ts, 's'), id }) as Event;
      const { out, error } = collect(
        [at('a', 0), at('b', 1), at('c', 1)].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: TOOL5,
            maxEvents: 2,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 10 },
      );
      expect(error).toBeUndefined();
      expect(labels(out)).toEqual([
        '1 tool.used.aggregated s [0,5) n=2',
        '10 tool.used.aggregated s [0,5) n=1 part=2',
      ]);
    });

    it('closes a window of a type without a summary while the next one is buffered within the lateness', () => {
      const { out, error } = collect(
        [ev('git.commit', 0, 's'), ev('git.commit', 6, 's'), ev('session.started', 20, 's')].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: { 'git.commit': 5 },
            allowedLatenessMs: 10,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 10 },
      );
      expect(error).toBeUndefined();
      expect(labels(out)).toEqual([
        '2 git.commit.aggregated s [0,5) n=1',
        '2 session.started@20',
        '10 git.commit.aggregated s [6,11) n=1',
      ]);
    });

    it('fires its idle timer once, at the window’s due time, with a lateness', () => {
      // [0,5) with lateness 10 is due at 15: one action reads the arrival time, one tick closes the window.
      const clock = new VirtualTimeScheduler();
      const { scheduler, fired } = countingScheduler(clock);
      const seen: string[] = [];
      const input = new Subject<Event>();
      input
        .pipe(temporalAggregate({ windows: TOOL5, allowedLatenessMs: 10, scheduler }))
        .subscribe((e) => seen.push(`${clock.now()} ${label(e)}`));
      input.next(ev('tool.used', 0, 's'));
      clock.flush();
      expect(seen).toEqual(['15 tool.used.aggregated s [0,5) n=1']);
      expect(fired()).toBe(2);
    });

    it('never lets another session’s idle tick make late an event of a session without an open window', () => {
      // A's window closes on the tick at 5. S, with no open window then, keeps its watermark 100 (its own
      // highest event time): its tool.used at 100, arriving at 12, opens [100,105) as it does without A
      // (and as in a replay), instead of being late behind an estimate of 105 taken from A's tick.
      const run = (withA: boolean) =>
        collect(
          [
            { time: 0, value: ev('session.started', 100, 'S') },
            ...(withA ? [{ time: 0, value: ev('tool.used', 0, 'A') }] : []),
            { time: 12, value: ev('tool.used', 100, 'S') },
          ],
          (scheduler) => temporalAggregate({ windows: TOOL5, scheduler }),
          { time: 50 },
        ).out.map((o) => `${o.time} ${label(o.value)}`);
      expect(run(true)).toEqual([
        '0 session.started@100',
        '5 tool.used.aggregated A [0,5) n=1',
        '17 tool.used.aggregated S [100,105) n=1',
      ]);
      expect(run(false)).toEqual(run(true).filter((line) => !line.includes(' A ')));
    });

    it('cuts a part at maxEvents from the current window only, never with events of a later one', () => {
      // 3 events buffered (maxEvents 3), the one at 6 of the next window, kept open by the lateness.
      const { out } = collect(
        [ev('tool.used', 0, 's'), ev('tool.used', 1, 's'), ev('tool.used', 6, 's')].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: TOOL5,
            allowedLatenessMs: 10,
            maxEvents: 3,
            idleFlushMs: 1_000,
            scheduler,
          }),
        { time: 10 },
      );
      expect(labels(out)).toEqual([
        '2 tool.used.aggregated s [0,5) n=2',
        '10 tool.used.aggregated s [6,11) n=1',
      ]);
    });

    it('closes a window cut at maxEvents that got nothing more when the next window fills the buffer', () => {
      // [0,10) is cut at 1 (maxEvents 2) and stays open, kept by the lateness; 15 and 16 of the next window
      // fill the buffer again: the emptied [0,10) closes with no aggregate, then [15,25) is cut as its part 1.
      const { out, error, completedAt } = collect(
        [
          ev('tool.used', 0, 's'),
          ev('tool.used', 1, 's'),
          ev('tool.used', 15, 's'),
          ev('tool.used', 16, 's'),
        ].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: { 'tool.used': 10 },
            allowedLatenessMs: 100,
            maxEvents: 2,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 10 },
      );
      // (A part 1 has no part= in its label.)
      expect(labels(out)).toEqual([
        '1 tool.used.aggregated s [0,10) n=2',
        '3 tool.used.aggregated s [15,25) n=2',
      ]);
      // Cut from the emptied window, the part of none failed the stream (its flush then emitted [15,25)).
      expect(error).toBeUndefined();
      expect(completedAt).toBe(10);
    });

    it('takes an event at the end of an emitted range into the next window, not as late', () => {
      // [0,5) closed by the pass-through event at 5: an event at 5 is the first of [5,10).
      const { out } = collect(
        [ev('tool.used', 0, 's'), ev('session.started', 5, 's'), ev('tool.used', 5, 's')].map(inTurn),
        (scheduler) =>
          temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
        { time: 10 },
      );
      expect(labels(out)).toEqual([
        '1 tool.used.aggregated s [0,5) n=1',
        '1 session.started@5',
        '10 tool.used.aggregated s [5,10) n=1',
      ]);
    });

    it('reports as late (behind_watermark) an event whose window would end exactly at the watermark', () => {
      // The watermark 10 has reached the end of [5,10): that window would be due at once. [6,11) is not.
      const { out } = collect(
        [ev('session.started', 10, 's'), ev('tool.used', 5, 's'), ev('tool.used', 6, 's')].map(inTurn),
        (scheduler) =>
          temporalAggregate({ windows: TOOL5, idleFlushMs: Number.POSITIVE_INFINITY, scheduler }),
        { time: 10 },
      );
      expect(labels(out)).toEqual([
        '0 session.started@10',
        '1 tool.used.late behind_watermark @5',
        '10 tool.used.aggregated s [6,11) n=1',
      ]);
    });

    it('closes an idle window at lastArrival + (end + lateness - the highest event time), not the latest one', () => {
      // Highest event time 8 (a pass-through event); the event at 2 arrives after it, within the lateness.
      // [0,5) closes at 2 + max(0, 5 + 10 - 8) = 9.
      const { out } = collect(
        [ev('tool.used', 0, 's'), ev('session.started', 8, 's'), ev('tool.used', 2, 's')].map(inTurn),
        (scheduler) => temporalAggregate({ windows: TOOL5, allowedLatenessMs: 10, scheduler }),
        { time: 100 },
      );
      expect(labels(out)).toEqual(['1 session.started@8', '9 tool.used.aggregated s [0,5) n=2']);
    });

    it('gives a session the idle estimate of a past tick only if it was quiet for idleFlushMs at that tick', () => {
      // A's window closes on the tick at 10. S, quiet for 5 at that tick (< idleFlushMs), gets no estimate
      // from it when its next event arrives at 12: its watermark stays 100, so x@101 opens a window of its
      // own (with the estimate, 105: x@101 behind the watermark, late, and S's [100,105) closed at 12).
      const { out } = collect(
        [
          { time: 0, value: ev('tool.used', 0, 'A') },
          { time: 5, value: ev('tool.used', 100, 'S') },
          { time: 12, value: ev('x', 101, 'S') },
        ],
        (scheduler) => temporalAggregate({ windows: { 'tool.used': 5, x: 2 }, idleFlushMs: 10, scheduler }),
        { time: 50 },
      );
      expect(labels(out)).toEqual([
        '10 tool.used.aggregated A [0,5) n=1',
        '22 x.aggregated S [101,103) n=1',
        '22 tool.used.aggregated S [100,105) n=1',
      ]);
    });

    it('orders the events of one time by id, whatever their arrival order, and takes the last one’s context', () => {
      // Ties at one event time are broken by id: the same window, events and context for every arrival
      // order (in order or not), so a live run and a replay agree.
      const at = (id: string, ts: number) => ({ ...ev('tool.used', ts, 's'), id, context: { id } }) as Event;
      const events = [at('b', 1), at('a', 1), at('c', 1), at('d', 0)];
      const [b, a, c, d] = events as [Event, Event, Event, Event];
      const orders = [events, [d, a, b, c], [d, c, b, a], [c, d, a, b]];
      for (const order of orders) {
        const out: Event<AggregatedData>[] = [];
        from(order)
          .pipe(temporalAggregate({ windows: TOOL5, allowedLatenessMs: 5 }))
          .subscribe((e) => out.push(e as Event<AggregatedData>));
        expect(out).toHaveLength(1);
        expect(out[0]!.data.events!.map((e) => e.id)).toEqual(['d', 'a', 'b', 'c']);
        expect(out[0]!.context).toEqual({ id: 'c' });
        expect(out[0]!.data.time_span).toEqual({ start: 0, end: 1 });
      }
    });

    it('summarizes events whose data is not an object (null, a number, a string, missing) as data-less', () => {
      // Untyped sources may send anything as `data`: the summaries count such events apart, never throw.
      const bad: unknown[] = [null, 7, 'text', undefined];
      const input = ['tool.used', 'file.modified', 'performance.metric'].flatMap((type, t) =>
        bad.map((data, i) => ({ ...ev(type, i, 's'), id: `e${t}${i}`, data }) as Event),
      );
      const out: Event<AggregatedData>[] = [];
      let failure: unknown;
      from(input)
        .pipe(temporalAggregate())
        .subscribe({ next: (e) => out.push(e as Event<AggregatedData>), error: (e) => (failure = e) });
      expect(failure).toBeUndefined();
      const byType = Object.fromEntries(out.map((e) => [e.type, e.data]));
      expect(Object.keys(byType).sort()).toEqual([
        'file.modified.aggregated',
        'performance.metric.aggregated',
        'tool.used.aggregated',
      ]);
      for (const data of Object.values(byType)) expect(data.event_count).toBe(bad.length);
      expect(byType['tool.used.aggregated']!.summary).toEqual({
        tools: [{ name: 'unknown', count: bad.length, failures: 0 }],
        failures: 0,
      });
      expect(byType['file.modified.aggregated']!.summary).toEqual({
        files: [],
        file_count: 0,
        total_size: 0,
        without_path: bad.length,
      });
      expect(byType['performance.metric.aggregated']!.summary).toEqual({
        metrics: [],
        without_value: bad.length,
      });
    });
  });

  describe('memory bounds', () => {
    it(
      'flushes the oldest open window when maxOpenWindows is reached (its range then takes late events)',
      marbles((m) => {
        const values = {
          a: ev('tool.used', 1, 's1'),
          b: ev('tool.used', 2, 's2'),
          c: ev('tool.used', 3, 's1'),
        };
        const source = m.cold(' -abc|', values);
        const subs = '          ^---!';
        const expected = '      --AL(B|)';
        const operator = temporalAggregate({ windows: TOOL5, maxOpenWindows: 1, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          A: 'tool.used.aggregated s1 [1,6) n=1',
          L: 'tool.used.late window_closed @3',
          B: 'tool.used.aggregated s2 [2,7) n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('forgets the idle sessions with the oldest event time beyond maxIdleSessions', () => {
      // s1 closes [0,5) and [10,15), then 3 later sessions come and go; with room for 2 idle sessions s1
      // (latest event time 10) is forgotten, so its old event at 1 opens a fresh window instead of being late.
      const arrivals = [
        ev('tool.used', 0, 's1'),
        ev('tool.used', 10, 's1'),
        ev('tool.used', 20, 's2'),
        ev('tool.used', 30, 's3'),
        ev('tool.used', 40, 's4'),
        ev('tool.used', 1, 's1'),
      ].map((value, i) => ({ time: i * 100, value }));
      const run = (maxIdleSessions: number) =>
        collect(arrivals, (scheduler) => temporalAggregate({ windows: TOOL5, maxIdleSessions, scheduler }), {
          time: 1_000,
        }).out.map((o) => label(o.value));
      expect(run(10)).toContain('tool.used.late window_closed @1');
      expect(run(2)).toContain('tool.used.aggregated s1 [1,6) n=1');
      expect(run(2)).not.toContain('tool.used.late window_closed @1');
    });
    it('flushes at window maxOpenWindows + 1, not before, counting only the windows still open', () => {
      // maxOpenWindows 2: s1's [0,5) closes (no window open), s1 opens [11,16), s2 opens a second: nothing
      // flushed; s3 opens a third: s1's, opened the longest ago, is emitted first.
      const { out } = collect(
        [
          ev('tool.used', 0, 's1'),
          ev('session.started', 10, 's1'),
          ev('tool.used', 11, 's1'),
          ev('tool.used', 12, 's2'),
          ev('tool.used', 13, 's3'),
        ].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: TOOL5,
            maxOpenWindows: 2,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 10 },
      );
      expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual([
        '1 tool.used.aggregated s1 [0,5) n=1',
        '1 session.started@10',
        '4 tool.used.aggregated s1 [11,16) n=1',
        '10 tool.used.aggregated s2 [12,17) n=1',
        '10 tool.used.aggregated s3 [13,18) n=1',
      ]);
    });

    it('remembers exactly maxIdleSessions idle sessions, then forgets those of oldest event time down to 90 %', () => {
      // 10 idle sessions with maxIdleSessions 10: all remembered (s1's old event is late). An 11th forgets
      // down to 9: s1 and s2, the oldest by event time, not s0, which came first but has the latest time.
      const times: Record<string, number> = { s0: 500 };
      for (let i = 1; i <= 10; i++) times[`s${i}`] = i * 10;
      const sessions = [...Array.from({ length: 10 }, (_, i) => `s${i}`)];
      const arrivals = [
        ...sessions.map((s) => ev('tool.used', times[s]!, s)),
        ev('tool.used', 11, 's1'),
        ev('tool.used', 100, 's10'),
        ev('tool.used', 501, 's0'),
        ev('tool.used', 31, 's3'),
        ev('tool.used', 21, 's2'),
      ].map((value, i) => ({ time: i * 100, value }));
      const { out } = collect(
        arrivals,
        (scheduler) => temporalAggregate({ windows: TOOL5, maxIdleSessions: 10, scheduler }),
        { time: 10_000 },
      );
      const after = out.filter((o) => o.time >= 1_000).map((o) => label(o.value));
      expect(after).toEqual([
        'tool.used.late window_closed @11',
        'tool.used.aggregated s10 [100,105) n=1',
        'tool.used.late window_closed @501',
        'tool.used.late window_closed @31',
        'tool.used.aggregated s2 [21,26) n=1',
      ]);
    });
    it('counts only the sessions without an open window against maxIdleSessions, and forgets only those', () => {
      // A keeps a window open (no idle rule) while 10 idle sessions come: s1…s9 and the events without a
      // session. All 10 are remembered (s1's old event is late). An 11th idle session forgets down to 9:
      // s1 and s2, the oldest idle ones by event time; not A, whose event time is older but whose window is
      // open, nor s3, nor the events without a session.
      const idle = [...Array.from({ length: 9 }, (_, i) => ev('session.started', 101 + i, `s${i + 1}`))];
      const { out } = collect(
        [
          ev('tool.used', 0, 'A'),
          ...idle,
          ev('session.started', 1_000),
          ev('tool.used', 50, 's1'),
          ev('session.started', 200, 's11'),
          ev('tool.used', 1, 'A'),
          ev('tool.used', 70, 's3'),
          ev('tool.used', 990),
          ev('tool.used', 60, 's2'),
        ].map(inTurn),
        (scheduler) =>
          temporalAggregate({
            windows: TOOL5,
            maxIdleSessions: 10,
            idleFlushMs: Number.POSITIVE_INFINITY,
            scheduler,
          }),
        { time: 100 },
      );
      expect(out.filter((o) => o.time > 10).map((o) => `${o.time} ${label(o.value)}`)).toEqual([
        '11 tool.used.late behind_watermark @50',
        '12 session.started@200',
        '14 tool.used.late behind_watermark @70',
        '15 tool.used.late behind_watermark @990',
        '100 tool.used.aggregated A [0,5) n=2',
        '100 tool.used.aggregated s2 [60,65) n=1',
      ]);
    });
  });

  describe('timestamps it cannot window', () => {
    it('passes an event timed beyond 2^53 ms through unchanged (a timestamp in ns), and ends', () => {
      // 1.7e18 + any window size is 1.7e18: its window would be empty (and, within the lateness, never
      // close). Before the fix it came out as late, or the flush on complete never ended.
      for (const allowedLatenessMs of [0, 1_000]) {
        const huge = ev('tool.used', 1.7e18, 's1');
        const { out, completedAt } = collect(
          [
            { time: 0, value: huge },
            { time: 1, value: ev('tool.used', 2, 's1') },
          ],
          (scheduler) => temporalAggregate({ windows: TOOL5, allowedLatenessMs, scheduler }),
          { time: 2 },
        );
        expect(out[0]!.value).toBe(huge);
        expect(out.slice(1).map((o) => label(o.value))).toEqual(['tool.used.aggregated s1 [2,7) n=1']);
        expect(completedAt).toBe(2);
      }
      const atLimit = ev('tool.used', Number.MAX_SAFE_INTEGER - 10, 's1');
      const { out } = collect([{ time: 0, value: atLimit }], (scheduler) =>
        temporalAggregate({ windows: TOOL5, scheduler }),
      );
      expect(out.map((o) => o.value.type)).toEqual(['tool.used.aggregated']);
    });

    it('ends its flush on complete with such an event within the lateness (in a child process: a loop would hang)', () => {
      // Before the fix its window [ts, ts) was buffered and never closed: the flush looped for ever.
      const script = `
        import { from } from 'rxjs';
        import { createEvent, temporalAggregate } from './src/index.ts';
        const e = createEvent({ type: 'tool.used', timestamp: 1.7e18, sessionId: 's1', data: {} });
        from([e])
          .pipe(temporalAggregate({ windows: { 'tool.used': 100 }, allowedLatenessMs: 1000, idleFlushMs: Infinity }))
          .subscribe({ next: (o) => console.log(o.type), complete: () => console.log('complete') });`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        timeout: 20_000,
        killSignal: 'SIGKILL',
        encoding: 'utf8',
      });
      expect(child.signal).toBeNull();
      expect(child.stdout).toBe('tool.used\ncomplete\n');
    }, 40_000);
  });

  describe('config', () => {
    const bad: Array<[string, TemporalAggregateConfig]> = [
      ['window size 0', { windows: { 'tool.used': 0 } }],
      ['window size NaN', { windows: { 'tool.used': Number.NaN } }],
      ['window size Infinity', { windows: { 'tool.used': Number.POSITIVE_INFINITY } }],
      ['window size under 1 ms', { windows: { 'tool.used': 0.5 } }],
      ['empty type', { windows: { '': 5 } }],
      ['windows not an object', { windows: 5 as unknown as Record<string, number> }],
      ['negative lateness', { allowedLatenessMs: -1 }],
      ['negative idle', { idleFlushMs: -1 }],
      ['maxEvents 0', { maxEvents: 0 }],
      ['maxEvents 1.5', { maxEvents: 1.5 }],
      ['maxOpenWindows 0', { maxOpenWindows: 0 }],
      ['maxOpenWindows 1.5', { maxOpenWindows: 1.5 }],
      ['maxIdleSessions -1', { maxIdleSessions: -1 }],
      ['maxIdleSessions 1.5', { maxIdleSessions: 1.5 }],
      ['windows an array', { windows: [] as unknown as Record<string, number> }],
      ['windows null', { windows: null as unknown as Record<string, number> }],
      ['windows a Map', { windows: new Map([['tool.used', 5]]) as unknown as Record<string, number> }],
      ['includeEvents "yes"', { includeEvents: 'yes' as unknown as boolean }],
      ['scheduler {}', { scheduler: {} as SchedulerLike }],
    ];
    it.each(bad)('throws ConfigError at construction on %s', (_, config) => {
      expect(() => temporalAggregate(config)).toThrow(ConfigError);
      try {
        temporalAggregate(config);
      } catch (error) {
        expect((error as ConfigError).code).toBe('INVALID_CONFIG');
      }
    });

    // docs/temporalAggregate.md, Options: the message names the option it refuses.
    const named: Array<[string, TemporalAggregateConfig]> = [
      ['allowedLatenessMs', { allowedLatenessMs: -1 }],
      ['idleFlushMs', { idleFlushMs: -1 }],
      ['maxEvents', { maxEvents: 0 }],
      ['maxOpenWindows', { maxOpenWindows: 0 }],
      ['maxIdleSessions', { maxIdleSessions: -1 }],
      ['includeEvents', { includeEvents: 'yes' as unknown as boolean }],
      ["windows['tool.used']", { windows: { 'tool.used': 0 } }],
    ];
    it.each([
      ['windows must be an object', 5],
      ['windows has an empty event type', { '': 5 }],
      // Its entries are no own fields: read as a record, it had no windows, and every event passed through.
      [
        'windows must be an object of event type → window size in ms (not an array, a Map or a Set)',
        new Map([['tool.used', 5]]),
      ],
    ])('says “%s” in the ConfigError when windows is not a map of types to sizes', (text, windows) => {
      expect(() => temporalAggregate({ windows: windows as Record<string, number> })).toThrow(
        `temporalAggregate: ${text}`,
      );
    });
    it.each(named)('names %s in the ConfigError when it refuses it', (name, config) => {
      expect(() => temporalAggregate(config)).toThrow(`temporalAggregate: ${name} must be `);
    });

    // docs/temporalAggregate.md, Input it cannot window: finite; the message does not ask for "a number"
    // while refusing Infinity.
    it.each([
      ['allowedLatenessMs must be a finite number >= 0, got Infinity', { allowedLatenessMs: Infinity }],
      [
        "windows['tool.used'] must be a finite number >= 1, got Infinity",
        { windows: { 'tool.used': Infinity } },
      ],
      ["windows['tool.used'] must be a finite number >= 1, got 0.5", { windows: { 'tool.used': 0.5 } }],
    ])('refuses Infinity as a lateness or a window size: “%s”', (text, config) => {
      expect(() => temporalAggregate(config)).toThrow(`temporalAggregate: ${text}`);
    });

    it('accepts Infinity for idleFlushMs and exposes the default windows', () => {
      expect(() => temporalAggregate({ idleFlushMs: Number.POSITIVE_INFINITY })).not.toThrow();
      expect(DEFAULT_AGGREGATE_WINDOWS).toEqual({
        'file.modified': 5_000,
        'tool.used': 10_000,
        'performance.metric': 30_000,
      });
      expect(Object.isFrozen(DEFAULT_AGGREGATE_WINDOWS)).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Determinism and exactly-once.

const aggregatesOf = (outputs: ReadonlyArray<Timed<Event>>) =>
  outputs
    .map((o) => o.value)
    .filter((e) => e.type.endsWith('.aggregated'))
    .map(withoutId)
    .sort((a, b) => {
      const x = a.data as AggregatedData;
      const y = b.data as AggregatedData;
      return (
        (a.sessionId ?? '').localeCompare(b.sessionId ?? '') ||
        x.source_type.localeCompare(y.source_type) ||
        x.window.start - y.window.start ||
        x.part - y.part
      );
    });

describe('temporalAggregate determinism: live equals replay', () => {
  it('needs idleFlushMs Infinity for a replay that pauses between its reads, as the store’s does', () => {
    // A replay's event time stands still while it waits for its next read: the idle rule takes the pause
    // for quiet (here 7 ms, two ms past the window's end) and closes the window before the rest of its
    // events are read, which are then late. The docs give a replay idleFlushMs: Infinity.
    const T0 = 1_733_000_000_000;
    const events = Array.from({ length: 10 }, (_, i) => ev('tool.used', T0 + i, 's1'));
    const arrivals = events.map((value, i) => ({ time: i < 5 ? 0 : 7, value }));
    const run = (idleFlushMs?: number) =>
      collect(
        arrivals,
        (scheduler) =>
          temporalAggregate({
            windows: { 'tool.used': 10 },
            scheduler,
            ...(idleFlushMs === undefined ? {} : { idleFlushMs }),
          }),
        { time: 8 },
      ).out.map((o) => label(o.value));
    expect(run(Number.POSITIVE_INFINITY)).toEqual([`tool.used.aggregated s1 [${T0},${T0 + 10}) n=10`]);
    expect(run()).toEqual([
      `tool.used.aggregated s1 [${T0},${T0 + 10}) n=5`,
      ...events.slice(5).map((e) => `tool.used.late window_closed @${e.timestamp}`),
    ]);
  });

  it('gives the same aggregates for a session spread over minutes and for the same events in a burst', () => {
    // Real Claude Code payloads, stamped on a 20-minute timeline for three sessions.
    const random = seeded(7);
    const fixtures = loadFixtures();
    const outputs: HookOutput[] = [];
    let t = 1_700_000_000_000;
    for (let i = 0; i < 600; i++) {
      const line = fixtures[i % fixtures.length]!;
      t += Math.floor(random() * 4_000);
      const payload = { ...line.payload, session_id: `s${i % 3}` };
      outputs.push({ hook: line.hook_event_name, output: payload, timestamp: t });
    }
    const events: Event[] = [];
    of(...outputs)
      .pipe(bridgeHooks())
      .subscribe((e) => events.push(e));
    const start = events[0]!.timestamp;
    const live = collect(
      events.map((value) => ({ time: value.timestamp - start, value })),
      (scheduler) => temporalAggregate({ scheduler }),
    );
    const burst = collect(
      events.map((value) => ({ time: 0, value })),
      (scheduler) => temporalAggregate({ scheduler }),
      { time: 0 },
    );
    const liveAggregates = aggregatesOf(live.out);
    expect(liveAggregates.length).toBeGreaterThan(20);
    expect(liveAggregates).toStrictEqual(aggregatesOf(burst.out));
    // The live run emitted on time: never before a window's end, and within lateness + 1 ms after it.
    for (const { time, value } of live.out) {
      if (!value.type.endsWith('.aggregated')) continue;
      expect(time + start).toBeGreaterThanOrEqual((value.data as AggregatedData).window.end);
    }
  });
});

describe('temporalAggregate properties', () => {
  it('takes p95 of 20 values or more as the nearest rank of the sorted values (ties, zeros of both signs)', () => {
    const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, -0, 0.5, -1e300, 1e300));
    fc.assert(
      fc.property(fc.array(value, { minLength: 20, maxLength: 1_500 }), (values) => {
        const sorted = Float64Array.from(values).sort();
        const rank = Math.ceil(0.95 * values.length);
        expect(Object.is(numericStats(values).p95, sorted[rank - 1])).toBe(true);
      }),
      { numRuns: 300 },
    );
    // Long windows (over 32 values above the rank: sorted rather than kept in a small buffer) and
    // windows mostly of zeros (a p95 of zero, whose sign depends on how many values sort before +0).
    // No shrinking: a failing array of hundreds of values is shown as found.
    const zeroish = fc.constantFrom(0, -0, -0, -1);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(value, { minLength: 640, maxLength: 800 }),
          fc.array(zeroish, { minLength: 20, maxLength: 800 }),
        ),
        (values) => {
          const sorted = Float64Array.from(values).sort();
          const rank = Math.ceil(0.95 * values.length);
          expect(Object.is(numericStats(values).p95, sorted[rank - 1])).toBe(true);
        },
      ),
      { numRuns: 200, endOnFailure: true },
    );
    // The boundary of the sign: exactly `rank` values sort before +0, so the rank-th is the last -0.
    for (const values of [
      [0, ...Array<number>(19).fill(-0)],
      [...Array<number>(18).fill(-1), 0, -0],
    ]) {
      expect(Object.is(numericStats(values).p95, -0)).toBe(true);
      expect(Object.is(numericStats([...values, 0]).p95, 0)).toBe(true);
    }
  });

  const TYPES = ['tool.used', 'file.modified', 'performance.metric', 'session.started', 'git.commit'];
  const WINDOWS = { 'tool.used': 50, 'file.modified': 20, 'performance.metric': 120 };
  const input = fc.array(
    fc.record({
      type: fc.constantFrom(...TYPES),
      session: fc.constantFrom('a', 'b', 'c', undefined),
      timestamp: fc.integer({ min: 0, max: 500 }),
      arrival: fc.integer({ min: 0, max: 500 }),
    }),
    { maxLength: 60 },
  );
  const config = fc.record({
    allowedLatenessMs: fc.integer({ min: 0, max: 100 }),
    idleFlushMs: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(Number.POSITIVE_INFINITY)),
    maxEvents: fc.integer({ min: 1, max: 8 }),
    maxOpenWindows: fc.integer({ min: 1, max: 10 }),
    maxIdleSessions: fc.integer({ min: 0, max: 3 }),
  });
  const ending = fc.constantFrom('complete', 'error', 'none');

  it('emits every input event exactly once: passed through, inside an aggregate, or late', () => {
    fc.assert(
      fc.property(input, config, ending, (specs, options, end) => {
        const arrivals = specs.map((s) => ({ time: s.arrival, value: ev(s.type, s.timestamp, s.session) }));
        arrivals.sort((a, b) => a.time - b.time);
        const result = collect(
          arrivals,
          (scheduler) => temporalAggregate({ ...options, windows: WINDOWS, scheduler }),
          end === 'none' ? undefined : { time: 1_000, ...(end === 'error' ? { error: new Error('x') } : {}) },
        );
        const outputs = result.out.map((o) => o.value);
        const ids = idsIn(outputs, (type) => type.endsWith('.aggregated'));
        if (end === 'none' && options.idleFlushMs === Number.POSITIVE_INFINITY) {
          // Without an end or the idle rule, windows may stay open: every other event is out, once.
          expect(new Set(ids).size).toBe(ids.length);
        } else {
          // Complete, error, or the idle rule closing every window on the virtual clock.
          expect(ids.sort()).toEqual(arrivals.map((a) => a.value.id).sort());
        }
        for (const out of outputs) {
          if (!out.type.endsWith('.aggregated')) continue;
          const data = out.data as AggregatedData;
          expect(data.event_count).toBeLessThanOrEqual(options.maxEvents);
          for (const e of data.events!) {
            expect(e.type).toBe(data.source_type);
            expect(e.sessionId).toBe(out.sessionId);
            expect(e.timestamp).toBeGreaterThanOrEqual(data.window.start);
            expect(e.timestamp).toBeLessThan(data.window.end);
          }
        }
        if (end === 'error') expect(result.error?.time).toBe(1_000);
        if (end === 'complete') expect(result.completedAt).toBe(1_000);
      }),
      { numRuns: 300 },
    );
  });

  it('gives each aggregate the highest priority of its events, however its window was cut', () => {
    // The priority is kept as events arrive; parts (maxEvents), disorder, capacity and late events must
    // leave it equal to the maximum over the aggregate's own events. Events from an untyped source may
    // carry anything: it counts as LOW, as `priorityOf` reads it (the handler writes that rule out).
    const prioritized = fc.array(
      fc.record({
        type: fc.constantFrom(...TYPES),
        session: fc.constantFrom('a', 'b', undefined),
        timestamp: fc.integer({ min: 0, max: 300 }),
        arrival: fc.integer({ min: 0, max: 300 }),
        priority: fc.oneof(
          {
            weight: 4,
            arbitrary: fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL),
          },
          { weight: 1, arbitrary: fc.constantFrom<unknown>(7, -1, 1.5, '3', null, undefined) },
        ),
      }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(prioritized, config, (specs, options) => {
        const arrivals = specs.map((s) => ({
          time: s.arrival,
          value: { ...ev(s.type, s.timestamp, s.session, {}), priority: s.priority as Priority },
        }));
        arrivals.sort((a, b) => a.time - b.time);
        const result = collect(
          arrivals,
          (scheduler) => temporalAggregate({ ...options, windows: WINDOWS, scheduler }),
          { time: 1_000 },
        );
        let aggregates = 0;
        for (const { value: out } of result.out) {
          if (!out.type.endsWith('.aggregated')) continue;
          aggregates++;
          const events = (out.data as AggregatedData).events!;
          expect(out.priority).toBe(Math.max(...events.map((e) => priorityOf(e.priority, Priority.LOW))));
        }
        expect(aggregates).toBeLessThanOrEqual(arrivals.length);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a tally’s storage bounded by its last window, and summarizes right after freeing it', () => {
    const metric = (name: string, value: number) => ev('performance.metric', 0, 's', { metric: name, value });
    const tally = tallyFor('performance.metric')!;
    // A large window: 300 one-off names, then one name with 700 values.
    const large = [
      ...Array.from({ length: 300 }, (_, i) => metric(`once-${i}`, i)),
      ...Array.from({ length: 700 }, (_, i) => metric('busy', i)),
    ];
    for (const e of large) tally.add(e);
    expect(tally.finish()).toStrictEqual(referenceSummary('performance.metric', large));
    // It keeps what that window used (so it is not pooled), until a small window frees it.
    expect(tally.retainable()).toBe(false);
    const small = [metric('busy', 1), metric('cpu', 2)];
    for (const e of small) tally.add(e);
    expect(tally.finish()).toStrictEqual(referenceSummary('performance.metric', small));
    expect(tally.retainable()).toBe(true);
    for (const e of large) tally.add(e);
    expect(tally.finish()).toStrictEqual(referenceSummary('performance.metric', large));
  });

  it('pools a tally that keeps exactly 256 entries, not one that keeps 257', () => {
    // docs/temporalAggregate.md: a pooled tally keeps at most 256 entries. A window of one metric keeps
    // only its values (no array for other names yet).
    const tally = tallyFor('performance.metric')!;
    const window = (n: number) =>
      Array.from({ length: n }, (_, i) => ev('performance.metric', 0, 's', { metric: 'busy', value: i }));
    for (const e of window(256)) tally.add(e);
    tally.finish();
    expect(tally.retainable()).toBe(true);
    for (const e of window(257)) tally.add(e);
    tally.finish();
    expect(tally.retainable()).toBe(false);
  });

  it('frees a tally’s arrays at the end of a window only when they keep more than 64 + 5 × its events', () => {
    // A first window of `tools` tools without durations keeps 3 entries per tool after the first (its
    // name, count and sum); a window of one event then frees them if they are more than 64 + 5 = 69. A
    // third window of 2 tools and 94 durations (a value and a name position each) adds 188 entries to
    // what was kept: 69 kept make 257, not poolable; freed, 3 + 188 = 191 are.
    const poolableAfter = (tools: number) => {
      const tally = tallyFor('tool.used')!;
      for (let i = 0; i < tools; i++) tally.add(ev('tool.used', 0, 's', { tool_name: `t${i}` }));
      tally.finish();
      tally.add(ev('tool.used', 0, 's', { tool_name: 't0' }));
      tally.finish();
      for (let i = 0; i < 94; i++) {
        tally.add(ev('tool.used', 0, 's', { tool_name: i % 2 === 0 ? 'a' : 'b', duration_ms: i }));
      }
      tally.finish();
      return tally.retainable();
    };
    expect(poolableAfter(24)).toBe(false); // 69 entries kept: not more than 69
    expect(poolableAfter(25)).toBe(true); // 72 entries freed
  });

  it('orders a zero p95 by the window’s own values, not by those a longer window left in the tally', () => {
    // The tally's arrays are reused: after a window of 21 values, a window of 20 leaves the 21st of the
    // first (-1) behind its own. Its 19th smallest is a zero after 18 negatives: +0, which a count of the
    // negatives that went one past the window (19 of them) would make -0.
    const tally = tallyFor('performance.metric')!;
    const metric = (value: number) => ev('performance.metric', 0, 's', { metric: 'm', value });
    for (let i = 0; i < 21; i++) tally.add(metric(-1));
    tally.finish();
    const window = [...Array.from({ length: 18 }, () => metric(-1)), metric(0), metric(0)];
    for (const e of window) tally.add(e);
    const summary = tally.finish() as PerformanceMetricSummary;
    expect(Object.is(summary.metrics[0]!.p95, 0)).toBe(true);
    expect(summary).toStrictEqual(referenceSummary('performance.metric', window));
  });

  it('gives each name of a window the stats of its own numbers, however many names and numbers', () => {
    // A window of up to 12 names whose names all have fewer than 20 numbers is summed per name in one
    // pass; other windows are grouped first. Both must give, for each name, what numericStats gives on
    // that name's numbers in order, zeros of both signs included (toStrictEqual tells -0 from 0).
    const value = fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.constantFrom(0, -0, 0.5, -0.5, 1e-300),
      fc.double({ min: -1e3, max: 1e3, noNaN: true }),
    );
    const window = fc.record({
      names: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 16 })),
      uses: fc.array(fc.tuple(fc.nat(), value), { minLength: 1, maxLength: 90, size: 'max' }),
    });
    const tool = tallyFor('tool.used')!;
    const metric = tallyFor('performance.metric')!;
    let crowded = 0;
    let many = 0;
    fc.assert(
      fc.property(window, ({ names, uses }) => {
        const byName = new Map<string, number[]>();
        for (const [n, v] of uses) {
          const name = `name-${String(n % names).padStart(2, '0')}`;
          byName.set(name, [...(byName.get(name) ?? []), v]);
          tool.add(ev('tool.used', 0, 's', { tool_name: name, duration_ms: v }));
          metric.add(ev('performance.metric', 0, 's', { metric: name, value: v }));
        }
        const expected = [...byName.keys()].sort().map((name) => {
          const values = byName.get(name)!;
          return { name, stats: numericStats(values) };
        });
        if (expected.length > 1 && expected.some((e) => e.stats.count >= 20)) crowded++;
        if (expected.length > 12) many++;
        const tools = (tool.finish() as ToolUsedSummary).tools;
        const metrics = (metric.finish() as PerformanceMetricSummary).metrics;
        expect(tools.map((t) => [t.name, t.duration_ms])).toStrictEqual(
          expected.map((e) => [e.name, e.stats]),
        );
        expect(metrics).toStrictEqual(expected.map((e) => ({ name: e.name, ...e.stats })));
      }),
      { numRuns: 400 },
    );
    // Both of the grouped cases came up.
    expect(crowded).toBeGreaterThan(0);
    expect(many).toBeGreaterThan(0);
  });

  it('summarizes every aggregate exactly as a plain reference does from its own events', () => {
    // Summaries are tallied as events arrive, and built at close after disorder: both must equal this
    // straightforward reference over the aggregate's events (in canonical order), whatever the cuts.
    const name = (prefix: string) =>
      fc.oneof(
        // Up to 21 names: beyond the 8 a window finds by a linear scan and the 12 it sums in scratch.
        {
          weight: 8,
          arbitrary: fc.constantFrom(...Array.from({ length: 21 }, (_, i) => `${prefix}${i}`)),
        },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 7, null, '', 'unknown', '__proto__') },
      );
    const number = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: -50, max: 1_000 }) },
      { weight: 2, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
      {
        weight: 2,
        arbitrary: fc.constantFrom<unknown>(
          undefined,
          -0,
          0,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          '5',
          null,
          Number.MAX_VALUE,
        ),
      },
    );
    const payload = fc.record({
      tool_name: name('tool-'),
      duration_ms: number,
      success: fc.constantFrom<unknown>(true, false, undefined, 'no', 0),
      file_path: name('/src/f'),
      size: number,
      metric: name('metric-'),
      value: number,
    });
    const arrivals = fc.array(
      fc.record({
        type: fc.constantFrom('tool.used', 'file.modified', 'performance.metric', 'git.commit'),
        // Mostly one session, for windows of many events.
        session: fc.constantFrom('a', 'a', 'a', 'b', undefined),
        timestamp: fc.integer({ min: 0, max: 400 }),
        disorder: fc.integer({ min: 0, max: 40 }),
        data: payload,
      }),
      { maxLength: 120, size: 'max' },
    );
    const options = fc.record({
      allowedLatenessMs: fc.integer({ min: 0, max: 60 }),
      maxEvents: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(1_000)),
      maxOpenWindows: fc.integer({ min: 1, max: 10 }),
    });
    // One run certain to have windows of 15 names (random runs have them only now and then).
    const crowded = ['tool.used', 'file.modified', 'performance.metric'].flatMap((type) =>
      Array.from({ length: 40 }, (_, i) => ({
        type,
        session: 'a' as string | undefined,
        timestamp: i,
        disorder: (i * 7) % 11,
        data: {
          tool_name: `tool-${i % 15}` as unknown,
          duration_ms: (i % 3 === 0 ? -0 : i) as unknown,
          success: (i % 4 === 0) as unknown,
          file_path: `/src/f${i % 15}` as unknown,
          size: (i % 2 === 0 ? -0 : i) as unknown,
          metric: `metric-${i % 15}` as unknown,
          value: (i % 5 === 0 ? -0 : i / 3) as unknown,
        },
      })),
    );
    let manyNames = 0;
    fc.assert(
      fc.property(arrivals, options, (specs, config) => {
        // Arrival order: by time, each event up to `disorder` ms late.
        const timed = specs
          .map((s) => {
            const data = Object.fromEntries(Object.entries(s.data).filter(([, v]) => v !== undefined));
            return { time: s.timestamp + s.disorder, value: ev(s.type, s.timestamp, s.session, data) };
          })
          .sort((a, b) => a.time - b.time);
        const result = collect(
          timed,
          (scheduler) =>
            temporalAggregate({
              ...config,
              // Wide enough for windows of many names.
              windows: {
                'tool.used': 200,
                'file.modified': 100,
                'performance.metric': 400,
                'git.commit': 30,
              },
              scheduler,
            }),
          { time: 1_000 },
        );
        let summarized = 0;
        for (const { value: out } of result.out) {
          if (!out.type.endsWith('.aggregated')) continue;
          const data = out.data as AggregatedData;
          expect(data.summary).toStrictEqual(referenceSummary(data.source_type, data.events!));
          if (data.summary !== undefined) summarized++;
          const summary = data.summary as
            | { files?: unknown[]; tools?: unknown[]; metrics?: unknown[] }
            | undefined;
          if ((summary?.files ?? summary?.tools ?? summary?.metrics ?? []).length > 12) manyNames++;
        }
        expect(summarized).toBeLessThanOrEqual(timed.length);
      }),
      {
        numRuns: 400,
        examples: [[crowded, { allowedLatenessMs: 20, maxEvents: 1_000, maxOpenWindows: 10 }]],
      },
    );
    // Windows of more than 12 names came up.
    expect(manyNames).toBeGreaterThan(0);
  });

  it('gives the same aggregates live (disorder within lateness) as for the sorted events in a burst', () => {
    // Payloads the summaries read, so that summaries built from a re-sorted buffer are compared too.
    const payload = fc.record({
      tool_name: fc.constantFrom('Bash', 'Edit', 'Read'),
      duration_ms: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
      success: fc.boolean(),
      file_path: fc.option(fc.constantFrom('/a', '/b', '/c'), { nil: undefined }),
      size: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
      metric: fc.constantFrom('cpu', 'heap'),
      value: fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { nil: undefined }),
    });
    const disorder = fc.array(
      fc.record({
        type: fc.constantFrom(...TYPES),
        session: fc.constantFrom('a', 'b', undefined),
        gap: fc.integer({ min: 0, max: 40 }),
        delay: fc.integer({ min: 0, max: 30 }),
        data: payload,
        priority: fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL),
      }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(disorder, fc.integer({ min: 0, max: 50 }), (specs, idleFlushMs) => {
        // Each event arrives `delay` after its time; delays differ by at most 30 = allowedLatenessMs.
        let t = 0;
        const arrivals = specs.map((s) => {
          t += s.gap;
          const data = Object.fromEntries(Object.entries(s.data).filter(([, v]) => v !== undefined));
          return { time: t + s.delay, value: ev(s.type, t, s.session, data, s.priority) };
        });
        arrivals.sort((a, b) => a.time - b.time);
        const sorted = arrivals.map((a) => a.value).sort((a, b) => a.timestamp - b.timestamp);
        const build = (scheduler: SchedulerLike) =>
          temporalAggregate({ windows: WINDOWS, allowedLatenessMs: 30, idleFlushMs, scheduler });
        const live = collect(arrivals, build, { time: 10_000 });
        const burst = collect(
          sorted.map((value) => ({ time: 0, value })),
          build,
          { time: 0 },
        );
        expect(live.out.filter((o) => o.value.type.endsWith('.late'))).toEqual([]);
        expect(aggregatesOf(live.out)).toStrictEqual(aggregatesOf(burst.out));
      }),
      { numRuns: 300 },
    );
  });
});

/** A plain reference of the summaries, for the property above: group, sum in order, sort. */
function referenceSummary(type: string, events: readonly Event[]): unknown {
  const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const stats = (values: number[]) => {
    const sorted = Float64Array.from(values).sort();
    let sum = 0;
    for (const v of values) sum += v;
    const n = values.length;
    let avg = sum / n;
    if (!Number.isFinite(avg)) avg = values.reduce((a, v) => a + v / n, 0);
    return {
      count: n,
      min: sorted[0]!,
      avg,
      max: sorted[n - 1]!,
      p95: sorted[Math.ceil(0.95 * n) - 1]!,
    };
  };
  const groups = <T>(entries: Array<[string, T]>) => {
    const byName = new Map<string, T[]>();
    for (const [key, value] of entries) byName.set(key, [...(byName.get(key) ?? []), value]);
    return [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  };
  const data = events.map((e) => e.data as Record<string, unknown>);
  if (type === 'file.modified') {
    const sized = data.map((d) => ({ path: d.file_path, size: finite(d.size) ?? 0 }));
    const files = groups(
      sized
        .filter((f) => typeof f.path === 'string')
        .map((f) => [f.path as string, f.size] as [string, number]),
    ).map(([path, sizes]) => ({ path, count: sizes.length, total_size: sizes.reduce((a, b) => a + b, 0) }));
    return {
      files,
      file_count: files.length,
      total_size: sized.reduce((a, f) => a + f.size, 0),
      without_path: sized.filter((f) => typeof f.path !== 'string').length,
    };
  }
  if (type === 'tool.used') {
    const uses = data.map((d) => ({
      name: typeof d.tool_name === 'string' ? d.tool_name : 'unknown',
      failed: d.success === false,
      duration: finite(d.duration_ms),
    }));
    const tools = groups(uses.map((u) => [u.name, u] as [string, typeof u])).map(([name, own]) => {
      const durations = own.flatMap((u) => (u.duration === undefined ? [] : [u.duration]));
      const entry = { name, count: own.length, failures: own.filter((u) => u.failed).length };
      return durations.length === 0 ? entry : { ...entry, duration_ms: stats(durations) };
    });
    const durations = uses.flatMap((u) => (u.duration === undefined ? [] : [u.duration]));
    const failures = uses.filter((u) => u.failed).length;
    return durations.length === 0 ? { tools, failures } : { tools, failures, duration_ms: stats(durations) };
  }
  if (type === 'performance.metric') {
    const valid = data.filter((d) => typeof d.metric === 'string' && finite(d.value) !== undefined);
    const metrics = groups(valid.map((d) => [d.metric as string, d.value as number] as [string, number])).map(
      ([name, values]) => ({ name, ...stats(values) }),
    );
    return { metrics, without_value: data.length - valid.length };
  }
  return undefined;
}
