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
  type Subscriber,
  take,
  tap,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  bridgeHooks,
  ConfigError,
  type Event,
  type HookOutput,
  type LateEventData,
  Priority,
  type SessionWindowData,
  type SessionWindowsConfig,
  sessionWindows,
} from '../../src/index.js';
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

const NO_IDLE = Number.POSITIVE_INFINITY;

describe('sessionWindows', () => {
  describe('standard cases', () => {
    it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
      let pulled = 0;
      // Long, not endless: read to its end (the bug), the test fails rather than hangs.
      function* events(): Generator<Event> {
        for (let i = 0; i < 10_000; i++) {
          pulled++;
          yield ev('note', i, undefined);
        }
      }
      const seen: string[] = [];
      from(events())
        .pipe(sessionWindows({ gapMs: 10, scheduler: new VirtualTimeScheduler() }), take(1))
        .subscribe((e) => seen.push(label(e)));
      expect(seen).toEqual(['note@0']);
      expect(pulled).toBe(1);
    });

    it('passes an event timed beyond 2^53 ms through unchanged (a timestamp in ns)', () => {
      const huge = ev('note', 1.7e18, 's1');
      for (const allowedLatenessMs of [0, 1_000]) {
        const { out, completedAt } = collect(
          [
            { time: 0, value: huge },
            { time: 1, value: ev('note', 2, 's1') },
          ],
          (scheduler) => sessionWindows({ gapMs: 10, allowedLatenessMs, idleFlushMs: NO_IDLE, scheduler }),
          { time: 2 },
        );
        expect(out[0]!.value).toBe(huge);
        expect(out.slice(1).map((o) => o.value.type)).toEqual(['session.window']);
        expect(completedAt).toBe(2);
      }
    });

    it(
      'completes at once on an empty source',
      marbles((m) => {
        const source = m.cold<Event>('|');
        const subs = '                 (^!)';
        m.expect(source.pipe(sessionWindows({ scheduler: m.scheduler }))).toBeObservable('|');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'never emits on a never source',
      marbles((m) => {
        const source = m.cold<Event>('-');
        const subs = '                 ^';
        m.expect(source.pipe(sessionWindows({ scheduler: m.scheduler }))).toBeObservable('-');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'forwards an error at once when no window is open',
      marbles((m) => {
        const source = m.cold<Event>('--#', undefined, new Error('boom'));
        const subs = '                 ^-!';
        m.expect(source.pipe(sessionWindows({ scheduler: m.scheduler }))).toBeObservable(
          '--#',
          undefined,
          new Error('boom'),
        );
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits nothing after an early unsubscribe',
      marbles((m) => {
        const a = ev('tool.used', 1, 's1');
        const source = m.hot('  -a-a------|', { a });
        const subs = '          ^--!';
        const unsub = '         ---!';
        m.expect(
          source.pipe(sessionWindows({ gapMs: 3, scheduler: m.scheduler }), map(label)),
          unsub,
        ).toBeObservable('-');
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('leaves no scheduled work behind after unsubscribe', () => {
      const clock = new VirtualTimeScheduler();
      const { scheduler, fired } = countingScheduler(clock);
      const input = new Subject<Event>();
      const seen: Event[] = [];
      const subscription = input.pipe(sessionWindows({ gapMs: 5, scheduler })).subscribe((e) => seen.push(e));
      input.next(ev('tool.used', 0, 's1'));
      subscription.unsubscribe();
      clock.flush();
      expect(fired()).toBe(0);
      expect(seen).toEqual([]);
    });

    it('reads the clock once per run of arrivals, and closes each key on time among many', () => {
      const clock = new VirtualTimeScheduler();
      let reads = 0;
      const scheduler: SchedulerLike = {
        now: () => {
          reads++;
          return clock.now();
        },
        schedule: (work: () => void, delay?: number) => clock.schedule(work, delay),
      } as SchedulerLike;
      const input = new Subject<Event>();
      const seen: Array<{ time: number; label: string }> = [];
      input
        .pipe(sessionWindows({ gapMs: 10, scheduler }))
        .subscribe((e) => seen.push({ time: clock.now(), label: label(e) }));
      // 5,000 events of 1,000 keys in one run; key k's events at event time k % 7.
      for (let i = 0; i < 5_000; i++) input.next(ev('tool.used', (i % 1_000) % 7, `s${i % 1_000}`));
      expect(reads).toBe(0);
      clock.flush();
      expect(seen).toHaveLength(1_000);
      // Each key closes when quiet for its gap past its last event: at 10 for every key (quiet since 0),
      // in the order the keys opened.
      expect(seen.every((s) => s.time === 10)).toBe(true);
      expect(seen[0]!.label).toBe('session.window s0 [0,0] n=5');
      expect(seen[999]!.label).toBe('session.window s999 [5,5] n=5');
      expect(reads).toBeLessThanOrEqual(3);
    });

    it(
      'keeps unsubscription chains unbroken through mergeMap',
      marbles((m) => {
        const a = ev('git.commit', 2);
        const source = m.hot('  --a--a--a--|', { a });
        const subs = '          ^-----!';
        const unsub = '         ------!';
        const result = source.pipe(
          mergeMap((x) => of(x)),
          sessionWindows({ scheduler: m.scheduler }),
          mergeMap((x) => of(x.type)),
        );
        m.expect(result, unsub).toBeObservable('--g--g-', { g: 'git.commit' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('handles re-entrant input after the outputs of the current one, in order', () => {
      const input = new Subject<Event>();
      const seen: string[] = [];
      let fed = false;
      input.pipe(sessionWindows({ gapMs: 5, idleFlushMs: NO_IDLE })).subscribe((e) => {
        seen.push(label(e));
        if (!fed && e.type === 'session.window') {
          fed = true;
          input.next(ev('tool.used', 2, 's1'));
          input.next(ev('note', 30));
        }
      });
      input.next(ev('tool.used', 0, 's1'));
      input.next(ev('tool.used', 10, 's1'));
      input.next(ev('note', 11));
      input.complete();
      expect(seen).toEqual([
        'session.window s1 [0,0] n=1',
        'session.window.late window_closed @2',
        'note@30',
        'note@11',
        'session.window s1 [10,10] n=1',
      ]);
    });

    it('keeps its state per subscription, so one operator can serve two sources', () => {
      const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
      scheduler.run(({ cold, expectObservable }) => {
        const operator = sessionWindows({ gapMs: 5, scheduler });
        const a = ev('tool.used', 0, 's1');
        const b = ev('tool.used', 1, 's1');
        expectObservable(cold('a-|', { a }).pipe(operator, map(label))).toBe('--(x|)', {
          x: 'session.window s1 [0,0] n=1',
        });
        expectObservable(cold('-b--|', { b }).pipe(operator, map(label))).toBe('----(y|)', {
          y: 'session.window s1 [1,1] n=1',
        });
      });
    });
  });

  describe('windows', () => {
    it(
      'closes a window when a later event is a gap past its last event',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('y', 3, 's1'), c: ev('x', 6, 's1') };
        const source = m.cold(' -a-b--c-|', values);
        const subs = '          ^-------!';
        const expected = '      ------W-(V|)';
        const operator = sessionWindows({ gapMs: 3, idleFlushMs: NO_IDLE, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          W: 'session.window s1 [1,3] n=2',
          V: 'session.window s1 [6,6] n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits a quiet live window a gap after its last event (idle rule; the JSDoc diagram)',
      marbles((m) => {
        const values = {
          a: ev('x', 1, 's1'),
          b: ev('x', 3, 's1'),
          c: ev('x', 10, 's1'),
          d: ev('x', 12, 's1'),
        };
        const source = m.cold(' -a-b------c-d---|', values);
        const subs = '          ^---------------!';
        const expected = '      ------W--------V|';
        m.expect(
          source.pipe(sessionWindows({ gapMs: 3, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, { W: 'session.window s1 [1,3] n=2', V: 'session.window s1 [10,12] n=2' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'waits idleFlushMs of quiet, and the lateness, before the clock closes a window',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1') };
        const source = m.cold(' -a----------|', values);
        const subs = '          ^-----------!';
        // Closes when the estimate 1 - 2 + quiet reaches 1 + 3 (quiet 5, at 6), quiet at least 7: at 8.
        const expected = '      --------W---|';
        const operator = sessionWindows({
          gapMs: 3,
          allowedLatenessMs: 2,
          idleFlushMs: 7,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          W: 'session.window s1 [1,1] n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'flushes open windows on complete',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('x', 2, 's2') };
        const source = m.cold(' -ab|', values);
        const subs = '          ^--!';
        const expected = '      ---(VW|)';
        m.expect(
          source.pipe(sessionWindows({ gapMs: 10, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, { V: 'session.window s1 [1,1] n=1', W: 'session.window s2 [2,2] n=1' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'flushes open windows before forwarding an error',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('x', 2, 's1') };
        const source = m.cold(' -ab#', values, new Error('disk'));
        const subs = '          ^--!';
        const expected = '      ---(W#)';
        m.expect(
          source.pipe(sessionWindows({ gapMs: 10, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, { W: 'session.window s1 [1,2] n=2' }, new Error('disk'));
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('emits every open window on complete, then the error, when its consumer throws on each of them', () => {
      const input = new Subject<Event>();
      const consumer = new LabelledConsumer((e) => e.type === 'session.window');
      input.pipe(sessionWindows({ gapMs: 5 })).subscribe(consumer);
      input.next(ev('x', 1, 'a'));
      input.next(ev('x', 2, 'b'));
      input.next(ev('x', 3, 'c'));
      input.complete();
      // The first exception is the error.
      expect(consumer.labels).toEqual([
        'session.window a [1,1] n=1',
        'session.window b [2,2] n=1',
        'session.window c [3,3] n=1',
        'error consumer on session.window a [1,1] n=1',
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
          if (fed || e.type !== 'session.window') return false;
          fed = true;
          input.next(ev('x', 12, 's1'));
          input.next(ev('x', 2, 's1'));
          input.next(ev('note', 3));
          return true;
        });
        input
          .pipe(sessionWindows({ gapMs: 5, ...(scheduler === undefined ? {} : { scheduler }) }))
          .subscribe(consumer);
        input.next(ev('x', 0, 's1'));
        input.next(ev('x', 10, 's1'));
        expect(consumer.labels).toEqual([
          'session.window s1 [0,0] n=1',
          'session.window.late window_closed @2',
          'note@3',
          'session.window s1 [10,12] n=2',
          'error consumer on session.window s1 [0,0] n=1',
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
          // Throws on every window; on the first one, pushes two events and ends the source first.
          const consumer = new LabelledConsumer((e) => {
            if (e.type !== 'session.window') return false;
            if (!fed) {
              fed = true;
              // Closes [10,10]: the consumer throws on it too.
              input.next(ev('x', 20, 's1'));
              input.next(ev('note', 21));
              end(input);
            }
            return true;
          });
          input.pipe(sessionWindows({ gapMs: 5, idleFlushMs: NO_IDLE })).subscribe(consumer);
          input.next(ev('x', 0, 's1'));
          input.next(ev('x', 10, 's1'));
          expect(consumer.labels).toEqual([
            'session.window s1 [0,0] n=1',
            'session.window s1 [10,10] n=1',
            'note@21',
            'session.window s1 [20,20] n=1',
            'error consumer on session.window s1 [0,0] n=1',
          ]);
        },
      );
    });

    it(
      'passes the event it cannot key through, then flushes before forwarding the key function exception',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('boom', 2, 's1') };
        const source = m.cold(' -ab-|', values);
        const subs = '          ^-!';
        const expected = '      --(bW#)';
        const key = (e: Event) => {
          if (e.type === 'boom') throw new Error('bad key');
          return e.sessionId;
        };
        m.expect(
          source.pipe(sessionWindows({ gapMs: 10, key, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(
          expected,
          { b: label(values.b), W: 'session.window s1 [1,1] n=1' },
          new Error('bad key'),
        );
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('still windows an event the consumer pushes while the event it cannot key passes through', () => {
      // c was pushed (re-entrantly) before the key function's exception ended the output: it was lost.
      const input = new Subject<Event>();
      const c = ev('x', 3, 's1');
      const out: string[] = [];
      let error: unknown;
      input
        .pipe(
          sessionWindows({
            gapMs: 10,
            idleFlushMs: NO_IDLE,
            includeEvents: true,
            key: (e) => {
              if (e.type === 'boom') throw new Error('bad key');
              return e.sessionId;
            },
            scheduler: new VirtualTimeScheduler(),
          }),
        )
        .subscribe({
          next: (e) => {
            out.push(label(e));
            if (e.type === 'boom') input.next(c);
          },
          error: (e: unknown) => (error = e),
        });
      input.next(ev('x', 1, 's1'));
      input.next(ev('boom', 2, 's1'));
      // The source was left with the error.
      expect(input.observed).toBe(false);
      expect(out).toEqual(['boom@2', 'session.window s1 [1,3] n=2']);
      expect((error as Error).message).toBe('bad key');
    });

    it('errors with the key function exception after the flush also when leaving the source throws', () => {
      // Leaving the source at the exception ran its teardown, whose exception cut the failure path short:
      // the event pushed meanwhile was dropped and the output erred with the teardown's error (or, once
      // the queue was kept, never ended).
      let inner: Subscriber<Event> | undefined;
      const source = new Observable<Event>((subscriber) => {
        inner = subscriber;
        return () => {
          throw new Error('teardown');
        };
      });
      const consumer = new LabelledConsumer(() => false);
      let fed = false;
      const key = (e: Event) => {
        if (e.type === 'boom') throw new Error('bad key');
        return e.sessionId;
      };
      source
        .pipe(
          sessionWindows({ gapMs: 10, idleFlushMs: NO_IDLE, key }),
          tap((e) => {
            if (!fed && e.type === 'boom') {
              fed = true;
              inner!.next(ev('x', 3, 's1'));
            }
          }),
        )
        .subscribe(consumer);
      inner!.next(ev('x', 1, 's1'));
      inner!.next(ev('boom', 2, 's1'));
      expect(consumer.labels).toEqual(['boom@2', 'session.window s1 [1,3] n=2', 'error bad key']);
    });

    it('errors with the key function exception also when the consumer completes the source meanwhile', () => {
      const input = new Subject<Event>();
      let error: unknown;
      let completed = false;
      input
        .pipe(
          sessionWindows({
            gapMs: 10,
            key: (e) => {
              if (e.type === 'boom') throw new Error('bad key');
              return e.sessionId;
            },
            scheduler: new VirtualTimeScheduler(),
          }),
        )
        .subscribe({
          next: (e) => {
            if (e.type === 'boom') input.complete();
          },
          error: (e: unknown) => (error = e),
          complete: () => (completed = true),
        });
      input.next(ev('boom', 2, 's1'));
      expect(completed).toBe(false);
      expect((error as Error).message).toBe('bad key');
    });

    it('passes through an event whose type cannot be made a string, and windows the others', () => {
      // It was counted in its window, then the stream failed with a TypeError: the event was lost.
      const odd = { ...ev('x', 2, 's1'), type: Object.create(null) as string };
      const out: Event[] = [];
      let error: unknown;
      from([ev('x', 1, 's1'), odd, ev('x', 3, 's1')])
        .pipe(sessionWindows({ gapMs: 10, idleFlushMs: NO_IDLE, scheduler: new VirtualTimeScheduler() }))
        .subscribe({ next: (e) => out.push(e), error: (e: unknown) => (error = e) });
      expect(error).toBeUndefined();
      expect(out[0]).toBe(odd);
      expect(out.slice(1).map(label)).toEqual(['session.window s1 [1,3] n=2']);
    });

    it('passes through an event whose id cannot be ordered, and windows the others', () => {
      // Ordered after an event of the same time by its id: a TypeError, and the event was lost.
      for (const id of [Object.create(null), Symbol('id')]) {
        const odd = { ...ev('x', 1, 's1'), id: id as string };
        const out: Event[] = [];
        let error: unknown;
        from([ev('x', 1, 's1'), odd, ev('x', 3, 's1')])
          .pipe(sessionWindows({ gapMs: 10, idleFlushMs: NO_IDLE, scheduler: new VirtualTimeScheduler() }))
          .subscribe({ next: (e) => out.push(e), error: (e: unknown) => (error = e) });
        expect(error).toBeUndefined();
        expect(out[0]).toBe(odd);
        expect(out.slice(1).map(label)).toEqual(['session.window s1 [1,3] n=2']);
      }
    });

    it('passes through an event whose key cannot be made a string, then errors with why', () => {
      // A null-prototype object has no toString: the event was lost (neither emitted nor in the error).
      const values = [ev('x', 1, 's1'), ev('odd', 2, 's1'), ev('x', 3, 's1')];
      const key = (e: Event) => (e.type === 'odd' ? (Object.create(null) as string) : e.sessionId);
      const out: string[] = [];
      let error: unknown;
      from(values)
        .pipe(sessionWindows({ gapMs: 10, key, idleFlushMs: NO_IDLE, scheduler: new VirtualTimeScheduler() }))
        .subscribe({ next: (e) => out.push(label(e)), error: (e: unknown) => (error = e) });
      expect(out).toEqual([label(values[1]!), 'session.window s1 [1,1] n=1']);
      expect(error).toBeInstanceOf(TypeError);
    });

    it(
      'emits parts early at maxEvents and keeps the window open',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('x', 2, 's1'), c: ev('x', 3, 's1') };
        const source = m.cold(' -abc|', values);
        const subs = '          ^---!';
        const expected = '      --P-(Q|)';
        const operator = sessionWindows({ gapMs: 10, maxEvents: 2, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          P: 'session.window s1 [1,2] n=2',
          Q: 'session.window s1 [3,3] n=1 part=2',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('keeps the bridging event when its consumer throws on a part the merge emits', () => {
      // Two windows whose parts together reach maxEvents, then the event that bridges them: the merge
      // emits both parts before taking the event in. The consumer threw on the first part, and the event
      // was never added to a window: lost.
      const run = (consumer: LabelledConsumer) => {
        const input = new Subject<Event>();
        input
          .pipe(sessionWindows({ gapMs: 10, allowedLatenessMs: 100, maxEvents: 2, idleFlushMs: NO_IDLE }))
          .subscribe(consumer);
        input.next(ev('x', 0, 's1'));
        input.next(ev('x', 15, 's1'));
        input.next(ev('x', 8, 's1'));
        input.complete();
        return consumer.labels;
      };
      const windows = [
        'session.window s1 [0,0] n=1',
        'session.window s1 [15,15] n=1 part=2',
        'session.window s1 [8,8] n=1 part=3',
      ];
      expect(run(new LabelledConsumer(() => false))).toEqual([...windows, 'complete']);
      expect(run(new LabelledConsumer((e) => e.type === 'session.window' && e.data.part === 1))).toEqual([
        ...windows,
        'error consumer on session.window s1 [0,0] n=1',
      ]);
    });

    it(
      'keeps the windows of two interleaved sessions apart, each on its own watermark',
      marbles((m) => {
        const values = {
          a: ev('x', 1, 's1'),
          b: ev('x', 2, 's2'),
          c: ev('x', 3, 's1'),
          d: ev('x', 100, 's2'),
        };
        const source = m.cold(' -abcd-----|', values);
        const subs = '          ^---------!';
        // s2's event at 100 closes s2's first window only; s1's closes at 3 + 3 by the idle rule, and
        // s2's second one 3 ms after it opened, at 7.
        const expected = '      ----W-VX--|';
        m.expect(
          source.pipe(sessionWindows({ gapMs: 3, scheduler: m.scheduler }), map(label)),
        ).toBeObservable(expected, {
          W: 'session.window s2 [2,2] n=1',
          V: 'session.window s1 [1,3] n=2',
          X: 'session.window s2 [100,100] n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'passes events without a key through at once, unchanged',
      marbles((m) => {
        const x = ev('git.commit', 1);
        const a = ev('tool.used', 2, 's1');
        const source = m.cold(' -xa|', { x, a });
        const subs = '          ^--!';
        const expected = '      -x-(W|)';
        m.expect(
          source.pipe(
            sessionWindows({ scheduler: m.scheduler }),
            map((e) => (e.type === 'session.window' ? label(e) : e)),
          ),
        ).toBeObservable(expected, { x, W: 'session.window s1 [2,2] n=1' });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('windows by a custom key', () => {
      const byCwd = (e: Event) => e.context?.cwd as string | undefined;
      const { out } = collect(
        [
          { ...ev('x', 0, 's1'), context: { cwd: '/a' } },
          { ...ev('x', 1, 's2'), context: { cwd: '/a' } },
          { ...ev('x', 2, 's1'), context: { cwd: '/b' } },
        ].map(inTurn),
        (scheduler) => sessionWindows({ gapMs: 10, key: byCwd, scheduler }),
        { time: 5 },
      );
      expect(out.map((o) => label(o.value))).toEqual([
        'session.window /a [0,1] n=2',
        'session.window /b [2,2] n=1',
      ]);
      // The /a window mixes two sessions: it has no sessionId; /b has one.
      expect(out[0]!.value.sessionId).toBeUndefined();
      expect(out[1]!.value.sessionId).toBe('s1');
    });

    it('drops the common sessionId when a bridging event merges windows of different sessions', () => {
      const inRepo = (e: Event) => e.context?.cwd as string | undefined;
      const at = (ts: number, session: string) => ({ ...ev('x', ts, session), context: { cwd: '/a' } });
      const { out } = collect(
        [at(1, 's1'), at(7, 's2'), at(4, 's1')].map(inTurn),
        (scheduler) => sessionWindows({ gapMs: 4, allowedLatenessMs: 10, key: inRepo, scheduler }),
        { time: 5 },
      );
      expect(out.map((o) => label(o.value))).toEqual(['session.window /a [1,7] n=3']);
      expect(out[0]!.value.sessionId).toBeUndefined();
    });
  });

  describe('lateness and merging', () => {
    it(
      'emits an event that would have joined an emitted window as session.window.late',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('x', 7, 's1'), c: ev('x', 2, 's1'), d: ev('x', 5, 's1') };
        const source = m.cold(' -a-----bcd|', values);
        const subs = '          ^---------!';
        // c (2) is within the gap of the emitted [1,1]. d (5) is past its reach (4) but a window of its
        // own would close at 5 + 3 = 8, which the watermark (7) had not passed: d merges with [7,7].
        const expected = '      -------WL-(V|)';
        const operator = sessionWindows({ gapMs: 3, idleFlushMs: NO_IDLE, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          W: 'session.window s1 [1,1] n=1',
          L: 'session.window.late window_closed @2',
          V: 'session.window s1 [5,7] n=2',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'emits an event whose own window would already be closed as late (behind the watermark)',
      marbles((m) => {
        const values = { a: ev('x', 20, 's1'), b: ev('x', 5, 's1') };
        const source = m.cold(' -ab|', values);
        const subs = '          ^--!';
        const expected = '      --L(W|)';
        const operator = sessionWindows({ gapMs: 3, idleFlushMs: NO_IDLE, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          L: 'session.window.late behind_watermark @5',
          W: 'session.window s1 [20,20] n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('carries the late event untouched, with the reason and the watermark', () => {
      const original = ev('tool.used', 2, 's1', { tool_name: 'Bash' }, Priority.HIGH);
      const { out } = collect(
        [
          { time: 0, value: ev('x', 0, 's1') },
          { time: 1, value: ev('x', 9, 's1') },
          { time: 2, value: original },
        ],
        (scheduler) => sessionWindows({ gapMs: 5, scheduler }),
      );
      const late = out.find((o) => o.value.type === 'session.window.late')!.value as Event<LateEventData>;
      expect(late.data).toStrictEqual({ event: original, reason: 'window_closed', watermark: 9 });
      expect(late).toMatchObject({ timestamp: 2, priority: Priority.HIGH, sessionId: 's1' });
    });

    it('reports late, and windows, an event whose context is no plain object (a Map, a class instance)', () => {
      // Such a context is left out of what the operator makes: the late event was built by createEvent,
      // which refuses it, so the output errored and the late event was lost.
      class Where {
        cwd = '/repo';
      }
      const odd = (t: number, context: object) => ({ ...ev('x', t, 's1'), context }) as unknown as Event;
      const original = odd(2, new Map([['cwd', '/repo']]));
      const { out, error, completedAt } = collect(
        [
          { time: 0, value: odd(0, new Where()) },
          { time: 1, value: ev('x', 9, 's1') },
          { time: 2, value: original },
        ],
        (scheduler) => sessionWindows({ gapMs: 5, scheduler }),
        { time: 3 },
      );
      expect(error).toBeUndefined();
      expect(completedAt).toBe(3);
      expect(out.map((o) => label(o.value))).toEqual([
        'session.window s1 [0,0] n=1',
        'session.window.late window_closed @2',
        'session.window s1 [9,9] n=1',
      ]);
      const [first, late] = out.map((o) => o.value);
      expect(first).not.toHaveProperty('context');
      expect(late).not.toHaveProperty('context');
      expect((late!.data as LateEventData).event).toBe(original);
    });

    it(
      'merges two open windows when an out-of-order event bridges them',
      marbles((m) => {
        // With gap 4 and lateness 10, [1] and [7] are separate windows until 4 arrives and bridges them.
        const values = { a: ev('x', 1, 's1'), b: ev('y', 7, 's1'), c: ev('z', 4, 's1') };
        const source = m.cold(' -abc|', values);
        const subs = '          ^---!';
        const expected = '      ----(W|)';
        const operator = sessionWindows({ gapMs: 4, allowedLatenessMs: 10, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          W: 'session.window s1 [1,7] n=3',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('splits out of order events a gap apart as in order, also where rounding differs (2.1 and 7.1, gap 5)', () => {
      // 2.1 + 5 is 7.1 (a gap apart: two windows), but 7.1 - 5 is 2.0999999999999996, below 2.1: checked
      // that way, 2.1 arriving after 7.1 joined its window (one window live, two in a replay).
      const windowsFor = (times: number[]) => {
        const events = times.map((t) => ev('x', t, 's1'));
        const { out } = collect(
          events.map((value, time) => ({ time, value })),
          (scheduler) =>
            sessionWindows({
              gapMs: 5,
              allowedLatenessMs: 10,
              idleFlushMs: Number.POSITIVE_INFINITY,
              scheduler,
            }),
          { time: 10 },
        );
        return out.map((o) => label(o.value));
      };
      const expected = ['session.window s1 [2.1,2.1] n=1', 'session.window s1 [7.1,7.1] n=1'];
      expect(windowsFor([2.1, 7.1])).toEqual(expected);
      expect(windowsFor([7.1, 2.1])).toEqual(expected);
    });

    it(
      'numbers on the parts of merged windows: 1, 2, 3, never a part 1 twice',
      marbles((m) => {
        // [0,1] and [20,21] are open with 2 events each; 10.5 bridges them into 5 events ≥ maxEvents 3:
        // both parts go out at once, as parts 1 and 2 of the merged window, and [10.5] is its part 3.
        const values = {
          a: ev('x', 0, 's1'),
          b: ev('x', 20, 's1'),
          c: ev('x', 21, 's1'),
          d: ev('x', 1, 's1'),
          e: ev('x', 10.5, 's1'),
        };
        const source = m.cold(' -abcde----|', values);
        const subs = '          ^---------!';
        const expected = '      -----(PQ)-(R|)';
        const operator = sessionWindows({
          gapMs: 10,
          maxEvents: 3,
          allowedLatenessMs: 100,
          idleFlushMs: NO_IDLE,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          P: 'session.window s1 [0,1] n=2',
          Q: 'session.window s1 [20,21] n=2 part=2',
          R: 'session.window s1 [10.5,10.5] n=1 part=3',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it(
      'numbers the parts of a merge after every part both windows emitted before it',
      marbles((m) => {
        // maxEvents 2: [0,1] and [20,21] each went out as a part 1 while they were separate windows; 10.5
        // merges them, and the merged window's last part is its third.
        const values = {
          a: ev('x', 0, 's1'),
          b: ev('x', 1, 's1'),
          c: ev('x', 20, 's1'),
          d: ev('x', 21, 's1'),
          e: ev('x', 10.5, 's1'),
        };
        const source = m.cold(' -abcde-|', values);
        const expected = '      --P-Q--(R|)';
        const operator = sessionWindows({
          gapMs: 10,
          maxEvents: 2,
          allowedLatenessMs: 100,
          idleFlushMs: NO_IDLE,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          P: 'session.window s1 [0,1] n=2',
          Q: 'session.window s1 [20,21] n=2',
          R: 'session.window s1 [10.5,10.5] n=1 part=3',
        });
      }),
    );

    it(
      'places events that arrive out of order within allowedLatenessMs as if they had arrived in order',
      marbles((m) => {
        // Event times: 5, 1, 3, 12, 10, 2 (2 is beyond the lateness: its window is gone). 1 opens a window
        // before [5]; 3 bridges them; 12 moves the watermark to 8 and closes [1,5].
        const values = {
          a: ev('x', 5, 's1'),
          b: ev('x', 1, 's1'),
          c: ev('x', 3, 's1'),
          d: ev('x', 12, 's1'),
          e: ev('x', 10, 's1'),
          f: ev('x', 2, 's1'),
        };
        const source = m.cold(' -abcdef|', values);
        const subs = '          ^------!';
        const expected = '      ----W-L(V|)';
        const operator = sessionWindows({
          gapMs: 3,
          allowedLatenessMs: 4,
          idleFlushMs: NO_IDLE,
          scheduler: m.scheduler,
        });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          W: 'session.window s1 [1,5] n=3',
          L: 'session.window.late window_closed @2',
          V: 'session.window s1 [10,12] n=2',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );
  });

  describe('output', () => {
    it('carries count, span, types, the highest priority, the session, the last context and the events', () => {
      const events = [
        { ...ev('tool.used', 12, 's1', {}, Priority.LOW), context: { n: 2 } },
        { ...ev('file.modified', 10, 's1', {}, Priority.CRITICAL), context: { n: 1 } },
        { ...ev('tool.used', 13, 's1', {}, Priority.NORMAL), context: { n: 3 } },
      ];
      const { out } = collect(
        events.map(inTurn),
        (scheduler) => sessionWindows({ gapMs: 5, allowedLatenessMs: 5, includeEvents: true, scheduler }),
        { time: 3 },
      );
      expect(out.map((o) => withoutId(o.value))).toStrictEqual([
        {
          type: 'session.window',
          timestamp: 13,
          priority: Priority.CRITICAL,
          data: {
            key: 's1',
            event_count: 3,
            time_span: { start: 10, end: 13 },
            gap_ms: 5,
            types: { 'file.modified': 1, 'tool.used': 2 },
            part: 1,
            events: [events[1], events[0], events[2]],
          },
          context: { n: 3 },
          sessionId: 's1',
        },
      ]);
    });

    it('keeps odd type names as plain keys of data.types', () => {
      const { out } = collect(
        [
          { time: 0, value: ev('__proto__', 0, 's1') },
          { time: 0, value: ev('constructor', 0, 's1') },
        ],
        (scheduler) => sessionWindows({ scheduler }),
        { time: 1 },
      );
      const types = (out[0]!.value.data as SessionWindowData).types;
      expect(Object.keys(types)).toEqual(['__proto__', 'constructor']);
      expect(Object.getPrototypeOf(types)).toBe(Object.prototype);
      expect(JSON.parse(JSON.stringify(types))).toEqual(types);
    });

    it('leaves the events out by default', () => {
      const { out } = collect(
        [{ time: 0, value: ev('x', 0, 's1') }],
        (scheduler) => sessionWindows({ scheduler }),
        {
          time: 1,
        },
      );
      expect((out[0]!.value.data as SessionWindowData).events).toBeUndefined();
    });

    it('passes through input it cannot window: a bad timestamp, not an object', () => {
      const noTime = { ...ev('x', 0, 's'), timestamp: -1 };
      const weird = null as unknown as Event;
      const { out } = collect(
        [
          { time: 0, value: noTime },
          { time: 1, value: weird },
        ],
        (scheduler) => sessionWindows({ scheduler }),
        { time: 2 },
      );
      expect(out.map((o) => o.value)).toEqual([noTime, weird]);
    });

    it('spans a long session on a virtual timeline with the default 5-minute gap', () => {
      const minute = 60_000;
      const times = [0, 2, 6, 10, 30, 33].map((t) => t * minute);
      const { out } = collect(
        times.map((t) => ({ time: t, value: ev('tool.used', t, 's1') })),
        (scheduler) => sessionWindows({ scheduler }),
        { time: 120 * minute },
      );
      expect(out.map((o) => ({ time: o.time / minute, value: label(o.value) }))).toEqual([
        { time: 15, value: `session.window s1 [0,${10 * minute}] n=4` },
        { time: 38, value: `session.window s1 [${30 * minute},${33 * minute}] n=2` },
      ]);
    });
  });

  describe('memory bounds', () => {
    it(
      'flushes the oldest open window when maxOpenWindows is reached (its range then takes late events)',
      marbles((m) => {
        const values = { a: ev('x', 1, 's1'), b: ev('x', 2, 's2'), c: ev('x', 3, 's1') };
        const source = m.cold(' -abc|', values);
        const subs = '          ^---!';
        const expected = '      --VL(W|)';
        const operator = sessionWindows({ gapMs: 5, maxOpenWindows: 1, scheduler: m.scheduler });
        m.expect(source.pipe(operator, map(label))).toBeObservable(expected, {
          V: 'session.window s1 [1,1] n=1',
          L: 'session.window.late window_closed @3',
          W: 'session.window s2 [2,2] n=1',
        });
        m.expect(source).toHaveSubscriptions(subs);
      }),
    );

    it('never emits a window twice when the capacity policy closes the window just joined', () => {
      // s1 has [10] open; 2 (out of order) opens an earlier window of s1; the cap closes s1's oldest-opened
      // window [10] and, before it, [2] itself: both once.
      const { out } = collect(
        [
          { time: 0, value: ev('x', 10, 's1') },
          { time: 1, value: ev('x', 2, 's1') },
        ],
        (scheduler) =>
          sessionWindows({ gapMs: 3, allowedLatenessMs: 20, maxOpenWindows: 1, maxEvents: 1, scheduler }),
        { time: 5 },
      );
      expect(out.map((o) => label(o.value))).toEqual([
        'session.window s1 [10,10] n=1',
        'session.window s1 [2,2] n=1',
      ]);
    });

    it('forgets the idle keys with the oldest event time beyond maxIdleKeys', () => {
      const arrivals = [
        ev('x', 0, 's1'),
        ev('x', 20, 's2'),
        ev('x', 30, 's3'),
        ev('x', 40, 's4'),
        ev('x', 1, 's1'),
      ].map((value, i) => ({ time: i * 100, value }));
      const run = (maxIdleKeys: number) =>
        collect(arrivals, (scheduler) => sessionWindows({ gapMs: 5, maxIdleKeys, scheduler }), {
          time: 1_000,
        }).out.map((o) => label(o.value));
      expect(run(10)).toContain('session.window.late window_closed @1');
      expect(run(2)).toContain('session.window s1 [1,1] n=1');
    });
  });

  describe('config', () => {
    const bad: Array<[string, SessionWindowsConfig]> = [
      ['gapMs 0', { gapMs: 0 }],
      ['gapMs Infinity', { gapMs: Number.POSITIVE_INFINITY }],
      // Below 1 ms a gap may add nothing to an event time (2^-12 ms is the precision of one in 2026).
      ['gapMs 0.5', { gapMs: 0.5 }],
      ['key not a function', { key: 'sessionId' as unknown as (e: Event) => string }],
      ['negative lateness', { allowedLatenessMs: -1 }],
      ['negative idle', { idleFlushMs: -5 }],
      ['maxEvents 0', { maxEvents: 0 }],
      ['maxOpenWindows 2.5', { maxOpenWindows: 2.5 }],
      ['maxIdleKeys -1', { maxIdleKeys: -1 }],
      ['includeEvents 1', { includeEvents: 1 as unknown as boolean }],
      ['scheduler null', { scheduler: null as unknown as SchedulerLike }],
    ];
    it.each(bad)('throws ConfigError at construction on %s', (_, config) => {
      expect(() => sessionWindows(config)).toThrow(ConfigError);
    });

    it('refuses Infinity as a gap or a lateness, saying it takes a finite number', () => {
      expect(() => sessionWindows({ gapMs: Infinity })).toThrow(
        'sessionWindows: gapMs must be a finite number >= 1, got Infinity',
      );
      expect(() => sessionWindows({ allowedLatenessMs: Infinity })).toThrow(
        'sessionWindows: allowedLatenessMs must be a finite number >= 0, got Infinity',
      );
      // Options that take Infinity say so.
      expect(() => sessionWindows({ idleFlushMs: -1 })).toThrow(
        'sessionWindows: idleFlushMs must be a number >= 0 (or Infinity), got -1',
      );
    });

    it('rejects a config that is not an object', () => {
      expect(() => sessionWindows(42 as unknown as SessionWindowsConfig)).toThrow(ConfigError);
    });

    it('windows events of the same time together with the smallest gap it takes (1 ms), near 2^53 too', () => {
      for (const t of [1_785_000_000_000, Number.MAX_SAFE_INTEGER - 1]) {
        const out: Event[] = [];
        of(ev('x', t, 's1'), ev('x', t, 's1'), ev('x', t, 's1'))
          .pipe(sessionWindows({ gapMs: 1, idleFlushMs: NO_IDLE }))
          .subscribe((e) => out.push(e));
        expect(out.map(label)).toEqual([`session.window s1 [${t},${t}] n=3`]);
      }
      expect(() => sessionWindows({ gapMs: 0.0001 })).toThrow(
        'sessionWindows: gapMs must be a finite number >= 1, got 0.0001',
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------------

const windowsOf = (outputs: ReadonlyArray<Timed<Event>>) =>
  outputs
    .map((o) => o.value)
    .filter((e) => e.type === 'session.window')
    .map(withoutId)
    .sort((a, b) => {
      const x = a.data as SessionWindowData;
      const y = b.data as SessionWindowData;
      return x.key.localeCompare(y.key) || x.time_span.start - y.time_span.start || x.part - y.part;
    });

describe('sessionWindows determinism: live equals replay', () => {
  it('needs idleFlushMs Infinity for a replay that pauses between its reads, as the store’s does', () => {
    // A replay's event time stands still while it waits for its next read: the idle rule takes the pause
    // for quiet (here 5 ms, past the 3 ms gap) and closes the window before the rest of its events are
    // read, which are then late. The docs give a replay idleFlushMs: Infinity.
    const T0 = 1_733_000_000_000;
    const events = Array.from({ length: 10 }, (_, i) => ev('x', T0 + 2 * i, 's1'));
    const arrivals = events.map((value, i) => ({ time: i < 5 ? 0 : 5, value }));
    const run = (idleFlushMs?: number) =>
      collect(
        arrivals,
        (scheduler) =>
          sessionWindows({ gapMs: 3, scheduler, ...(idleFlushMs === undefined ? {} : { idleFlushMs }) }),
        { time: 6 },
      ).out.map((o) => label(o.value));
    expect(run(Number.POSITIVE_INFINITY)).toEqual([`session.window s1 [${T0},${T0 + 18}] n=10`]);
    expect(run()).toEqual([
      `session.window s1 [${T0},${T0 + 8}] n=5`,
      `session.window.late window_closed @${T0 + 10}`,
      `session.window s1 [${T0 + 12},${T0 + 18}] n=4`,
    ]);
  });

  it('gives the same windows for sessions spread over hours and for the same events in a burst', () => {
    const random = seeded(11);
    const fixtures = loadFixtures();
    const outputs: HookOutput[] = [];
    let t = 1_700_000_000_000;
    for (let i = 0; i < 500; i++) {
      const line = fixtures[i % fixtures.length]!;
      // Mostly seconds apart, sometimes a coffee break longer than the gap.
      t += random() < 0.05 ? 20 * 60_000 : Math.floor(random() * 30_000);
      outputs.push({
        hook: line.hook_event_name,
        output: { ...line.payload, session_id: `s${i % 4}` },
        timestamp: t,
      });
    }
    const events: Event[] = [];
    of(...outputs)
      .pipe(bridgeHooks())
      .subscribe((e) => events.push(e));
    const start = events[0]!.timestamp;
    const build = (scheduler: SchedulerLike) =>
      sessionWindows({ gapMs: 5 * 60_000, includeEvents: true, scheduler });
    const live = collect(
      events.map((value) => ({ time: value.timestamp - start, value })),
      build,
    );
    const burst = collect(
      events.map((value) => ({ time: 0, value })),
      build,
      { time: 0 },
    );
    const liveWindows = windowsOf(live.out);
    expect(liveWindows.length).toBeGreaterThan(8);
    expect(liveWindows).toStrictEqual(windowsOf(burst.out));
  });
});

describe('sessionWindows properties', () => {
  const TYPES = ['tool.used', 'file.modified', 'session.started'];
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
    gapMs: fc.integer({ min: 1, max: 60 }),
    allowedLatenessMs: fc.integer({ min: 0, max: 100 }),
    idleFlushMs: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(Number.POSITIVE_INFINITY)),
    maxEvents: fc.integer({ min: 1, max: 8 }),
    maxOpenWindows: fc.integer({ min: 1, max: 10 }),
    maxIdleKeys: fc.integer({ min: 0, max: 3 }),
  });
  const ending = fc.constantFrom('complete', 'error', 'none');

  it('emits every input event exactly once: passed through, inside a window, or late', () => {
    fc.assert(
      fc.property(input, config, ending, (specs, options, end) => {
        const arrivals = specs.map((s) => ({ time: s.arrival, value: ev(s.type, s.timestamp, s.session) }));
        arrivals.sort((a, b) => a.time - b.time);
        const result = collect(
          arrivals,
          (scheduler) => sessionWindows({ ...options, includeEvents: true, scheduler }),
          end === 'none' ? undefined : { time: 1_000, ...(end === 'error' ? { error: new Error('x') } : {}) },
        );
        const outputs = result.out.map((o) => o.value);
        const ids = idsIn(outputs, (type) => type === 'session.window');
        if (end === 'none' && options.idleFlushMs === Number.POSITIVE_INFINITY) {
          expect(new Set(ids).size).toBe(ids.length);
        } else {
          expect(ids.sort()).toEqual(arrivals.map((a) => a.value.id).sort());
        }
        for (const out of outputs) {
          if (out.type !== 'session.window') continue;
          const data = out.data as SessionWindowData;
          expect(data.event_count).toBe(data.events!.length);
          expect(data.event_count).toBeLessThanOrEqual(options.maxEvents);
          const times = data.events!.map((e) => e.timestamp);
          expect(times).toEqual([...times].sort((x, y) => x - y));
          for (const e of data.events!) expect(e.sessionId).toBe(data.key);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same windows live (disorder within lateness) as for the sorted events in a burst', () => {
    const disorder = fc.array(
      fc.record({
        type: fc.constantFrom(...TYPES),
        session: fc.constantFrom('a', 'b', undefined),
        gap: fc.integer({ min: 0, max: 40 }),
        delay: fc.integer({ min: 0, max: 30 }),
      }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(
        disorder,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (specs, gapMs, idle) => {
          let t = 0;
          const arrivals = specs.map((s) => {
            t += s.gap;
            return { time: t + s.delay, value: ev(s.type, t, s.session) };
          });
          arrivals.sort((a, b) => a.time - b.time);
          const sorted = arrivals.map((a) => a.value).sort((a, b) => a.timestamp - b.timestamp);
          const build = (scheduler: SchedulerLike) =>
            sessionWindows({
              gapMs,
              allowedLatenessMs: 30,
              idleFlushMs: idle,
              includeEvents: true,
              scheduler,
            });
          const live = collect(arrivals, build, { time: 10_000 });
          const burst = collect(
            sorted.map((value) => ({ time: 0, value })),
            build,
            { time: 0 },
          );
          expect(live.out.filter((o) => o.value.type.endsWith('.late'))).toEqual([]);
          expect(windowsOf(live.out)).toStrictEqual(windowsOf(burst.out));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('sessionWindows edges', () => {
  const labels = (out: ReadonlyArray<Timed<Event>>) => out.map((o) => label(o.value));
  /** Arrivals one ms apart, in the order given, then complete. */
  const run = (events: readonly Event[], config: SessionWindowsConfig) =>
    collect(
      events.map(inTurn),
      (scheduler) => sessionWindows({ idleFlushMs: NO_IDLE, ...config, scheduler }),
      { time: events.length },
    ).out;

  it('works without a config, with the documented defaults (a 5-minute gap, no events in the output)', () => {
    const out: Event[] = [];
    of(ev('x', 0, 's1'), ev('x', 299_999, 's1'), ev('x', 599_999, 's1'))
      .pipe(sessionWindows())
      .subscribe((e) => out.push(e));
    expect(out.map(label)).toEqual([
      'session.window s1 [0,299999] n=2',
      'session.window s1 [599999,599999] n=1',
    ]);
    expect((out[0]!.data as SessionWindowData).events).toBeUndefined();
  });

  it('rejects a maxEvents or maxIdleKeys that is not an integer, and accepts maxEvents Infinity', () => {
    expect(() => sessionWindows({ maxEvents: 2.5 })).toThrow(ConfigError);
    expect(() => sessionWindows({ maxIdleKeys: 1.5 })).toThrow(ConfigError);
    expect(() => sessionWindows({ maxEvents: Number.POSITIVE_INFINITY, includeEvents: true })).not.toThrow();
  });

  it('names the operator and the bad option in the ConfigError', () => {
    const bad: Array<[string, SessionWindowsConfig]> = [
      ['maxEvents', { maxEvents: 2.5 }],
      ['maxIdleKeys', { maxIdleKeys: 1.5 }],
      ['maxOpenWindows', { maxOpenWindows: 0 }],
      ['includeEvents', { includeEvents: 1 as unknown as boolean }],
      ['key', { key: 'sessionId' as never }],
    ];
    for (const [option, config] of bad) {
      expect(() => sessionWindows(config)).toThrow(new RegExp(`^sessionWindows: ${option} `));
    }
  });

  it('windows an event whose type or id is not a string but can be made one (or compared)', () => {
    const numericType = { ...ev('x', 1, 's1'), type: 42 as unknown as string };
    const numericId = { ...ev('y', 2, 's1'), id: 7 as unknown as string };
    // Counted under its string form: one count with the events whose type is that string.
    const textType = ev('42', 3, 's1');
    const out = run([numericType, numericId, textType], { gapMs: 10, includeEvents: true });
    expect(out).toHaveLength(1);
    const data = out[0]!.value.data as SessionWindowData;
    expect(data.types).toEqual({ '42': 2, y: 1 });
    expect(data.events).toEqual([numericType, numericId, textType]);
  });

  it('passes through an event whose timestamp is a numeric string, and windows one at Number.MAX_SAFE_INTEGER', () => {
    const text = { ...ev('x', 0, 's1'), timestamp: '5' as unknown as number };
    const max = ev('x', Number.MAX_SAFE_INTEGER, 's1');
    const out = run([text, max], { gapMs: 10 });
    expect(out[0]!.value).toBe(text);
    expect(labels(out.slice(1))).toEqual([
      `session.window s1 [${Number.MAX_SAFE_INTEGER},${Number.MAX_SAFE_INTEGER}] n=1`,
    ]);
  });

  it('closes a window within gapMs of 2^53 only by the idle rule or at the end: later events pass through', () => {
    // docs/sessionWindows.md, Input it cannot window: 2^53 is less than gapMs after it, and past the limit.
    const first = ev('x', Number.MAX_SAFE_INTEGER - 2, 's1');
    const past = ev('x', 2 ** 53, 's1');
    const window = `session.window s1 [${first.timestamp},${first.timestamp}] n=1`;
    const at = (idleFlushMs: number) =>
      collect(
        [first, past].map(inTurn),
        (scheduler) => sessionWindows({ gapMs: 5, idleFlushMs, scheduler }),
        {
          time: 100,
        },
      ).out.map((o) => [o.time, label(o.value)]);
    expect(at(NO_IDLE)).toEqual([
      [1, `x@${2 ** 53}`],
      [100, window],
    ]);
    // With the idle rule: gapMs after its arrival.
    expect(at(0)).toEqual([
      [1, `x@${2 ** 53}`],
      [5, window],
    ]);
  });

  it('passes through an event whose key is null', () => {
    const a = ev('x', 1, 's1');
    const out = run([a], { key: () => null as unknown as undefined });
    expect(out.map((o) => o.value)).toEqual([a]);
  });

  it('passes through, by the default key, an event whose sessionId is no non-empty string, as one without', () => {
    // An event's sessionId is a non-empty string (as temporalAggregate reads it too). A null-prototype
    // object as one errored the output (String() throws), '' and 5 made windows without a sessionId.
    const odd = (sessionId: unknown) => ({ ...ev('x', 1), sessionId }) as unknown as Event;
    const inputs = [odd(Object.create(null)), odd(''), odd(5), odd({}), ev('x', 2, 's1')];
    const { out, error } = collect(
      inputs.map(inTurn),
      (scheduler) => sessionWindows({ idleFlushMs: NO_IDLE, scheduler }),
      { time: inputs.length },
    );
    expect(error).toBeUndefined();
    expect(out.map((o) => o.value)).toEqual([
      ...inputs.slice(0, 4),
      expect.objectContaining({ sessionId: 's1' }),
    ]);
  });

  it('keeps a later open window of the key when an event bridges the two before it', () => {
    // [1], [7] and [20] open (gap 4); 4 merges [1] and [7]: [20] stays a window of its own.
    const out = run([ev('x', 1, 's1'), ev('x', 7, 's1'), ev('x', 20, 's1'), ev('x', 4, 's1')], {
      gapMs: 4,
      allowedLatenessMs: 100,
    });
    expect(labels(out)).toEqual(['session.window s1 [1,7] n=3', 'session.window s1 [20,20] n=1']);
  });

  it('gives a merged window the events and types of both, the highest priority, and the time and context of its last event', () => {
    for (const [first, second] of [
      [Priority.HIGH, Priority.LOW],
      [Priority.LOW, Priority.HIGH],
    ] as const) {
      const a = { ...ev('x', 1, 's1', {}, first), context: { n: 1 } };
      const b = { ...ev('x', 7, 's1', {}, second), context: { n: 7 } };
      const c = { ...ev('y', 4, 's1', {}, Priority.NORMAL), context: { n: 4 } };
      const out = run([a, b, c], { gapMs: 4, allowedLatenessMs: 10, includeEvents: true });
      expect(out.map((o) => withoutId(o.value))).toStrictEqual([
        {
          type: 'session.window',
          timestamp: 7,
          priority: Priority.HIGH,
          data: {
            key: 's1',
            event_count: 3,
            time_span: { start: 1, end: 7 },
            gap_ms: 4,
            types: { x: 2, y: 1 },
            part: 1,
            events: [a, c, b],
          },
          context: { n: 7 },
          sessionId: 's1',
        },
      ]);
    }
  });

  it('lets an earlier event join a window that an out-of-order event extended backwards', () => {
    // 7 extends [10] back to 7; 4 is within the gap of 7.
    const out = run([ev('x', 10, 's1'), ev('x', 7, 's1'), ev('x', 4, 's1')], {
      gapMs: 4,
      allowedLatenessMs: 100,
    });
    expect(labels(out)).toEqual(['session.window s1 [4,10] n=3']);
  });

  it('keeps the whole extent of a merged window: events within the gap of either end still join it', () => {
    // 14 merges [11] and [17]: 8 joins by its start (11), 20 by its end (17).
    const out = run(
      [ev('x', 11, 's1'), ev('x', 17, 's1'), ev('x', 14, 's1'), ev('x', 8, 's1'), ev('x', 20, 's1')],
      { gapMs: 4, allowedLatenessMs: 100 },
    );
    expect(labels(out)).toEqual(['session.window s1 [8,20] n=5']);
  });

  it('merges a window whose part went out at maxEvents: the span and session are of the events since', () => {
    const config = { gapMs: 11, allowedLatenessMs: 100, maxEvents: 2 };
    // The later window's part went out ([20,21]); 10 bridges [0] and it.
    const later = run([ev('x', 20, 's1'), ev('x', 21, 's1'), ev('x', 0, 's1'), ev('x', 10, 's1')], config);
    expect(labels(later)).toEqual(['session.window s1 [20,21] n=2', 'session.window s1 [0,10] n=2 part=2']);
    expect(later[1]!.value.sessionId).toBe('s1');
    // The earlier window's part went out ([0,1]); 10 bridges it and [20].
    const earlier = run([ev('x', 0, 's1'), ev('x', 1, 's1'), ev('x', 20, 's1'), ev('x', 10, 's1')], config);
    expect(labels(earlier)).toEqual(['session.window s1 [0,1] n=2', 'session.window s1 [10,20] n=2 part=2']);
    expect(earlier[1]!.value.sessionId).toBe('s1');
  });

  it('starts a new window for an event exactly a gap after an emitted window (not late)', () => {
    // gap 3: [1] closes at 4 when 5 arrives; 4 is a gap after 1, within the gap of 5.
    const out = run([ev('x', 1, 's1'), ev('x', 5, 's1'), ev('x', 4, 's1')], { gapMs: 3 });
    expect(labels(out)).toEqual(['session.window s1 [1,1] n=1', 'session.window s1 [4,5] n=2']);
  });

  it('reports as behind the watermark an event whose own window would close exactly at the watermark', () => {
    const out = run([ev('x', 20, 's1'), ev('x', 17, 's1')], { gapMs: 3 });
    expect(labels(out)).toEqual([
      'session.window.late behind_watermark @17',
      'session.window s1 [20,20] n=1',
    ]);
  });

  it('keeps maxOpenWindows windows open without emitting any early', () => {
    const out = run([ev('x', 1, 's1'), ev('x', 2, 's2'), ev('x', 3, 's1')], { gapMs: 5, maxOpenWindows: 2 });
    expect(labels(out)).toEqual(['session.window s2 [2,2] n=1', 'session.window s1 [1,3] n=2']);
  });

  it('sorts the keys of data.types', () => {
    const out = run([ev('tool.used', 1, 's1'), ev('file.modified', 2, 's1'), ev('agent.note', 3, 's1')], {
      gapMs: 10,
    });
    expect(Object.keys((out[0]!.value.data as SessionWindowData).types)).toEqual([
      'agent.note',
      'file.modified',
      'tool.used',
    ]);
  });

  it('leaves the events out of every part without includeEvents', () => {
    const out = run([ev('x', 1, 's1'), ev('x', 2, 's1'), ev('x', 3, 's1')], { gapMs: 10, maxEvents: 2 });
    expect(labels(out)).toEqual(['session.window s1 [1,2] n=2', 'session.window s1 [3,3] n=1 part=2']);
    for (const o of out) expect((o.value.data as SessionWindowData).events).toBeUndefined();
  });

  it('remembers maxIdleKeys idle keys, then forgets those with the oldest event time down to 90 % of the cap', () => {
    // k0 … k9 at event times 1000, 990 … 910, each window closed (idle rule) before the next key comes.
    const arrivals: Array<Timed<Event>> = [];
    for (let i = 0; i < 10; i++) arrivals.push({ time: 100 * i, value: ev('x', 1000 - 10 * i, `k${i}`) });
    const at = (time: number, ts: number, key: string) => arrivals.push({ time, value: ev('x', ts, key) });
    // Ten idle keys, the cap: all remembered (k8, oldest but one, still takes late events).
    at(1000, 921, 'k8');
    // k0 has an open window when k10 comes: ten idle keys again, nothing forgotten.
    at(1100, 1010, 'k0');
    at(1100, 500, 'k10');
    at(1200, 911, 'k9');
    // k0 open again when k11 comes: eleven idle keys, the two oldest (k10, k9) are forgotten, down to 9.
    at(1300, 1030, 'k0');
    at(1300, 400, 'k11');
    at(1400, 922, 'k8');
    at(1400, 991, 'k1');
    at(1400, 912, 'k9');
    const { out } = collect(
      arrivals,
      (scheduler) => sessionWindows({ gapMs: 5, maxIdleKeys: 10, scheduler }),
      {
        time: 2_000,
      },
    );
    const late = (ts: number) => `session.window.late window_closed @${ts}`;
    expect(out.filter((o) => o.time >= 1000).map((o) => label(o.value))).toEqual([
      late(921),
      'session.window k0 [1010,1010] n=1',
      'session.window k10 [500,500] n=1',
      late(911),
      'session.window k0 [1030,1030] n=1',
      'session.window k11 [400,400] n=1',
      late(922),
      late(991),
      'session.window k9 [912,912] n=1',
    ]);
  });

  it('counts a key with several windows as one key, idle again once they are all closed (maxIdleKeys)', () => {
    // s0 has two windows ([0], [50]), both closed by 200; then s1 comes, then s0 again at 5.
    const arrivals = [
      { time: 0, value: ev('x', 0, 's0') },
      { time: 0, value: ev('x', 50, 's0') },
      { time: 200, value: ev('x', 0, 's1') },
      { time: 300, value: ev('x', 5, 's0') },
    ];
    const run = (maxIdleKeys: number) =>
      collect(
        arrivals,
        (scheduler) => sessionWindows({ gapMs: 10, allowedLatenessMs: 100, maxIdleKeys, scheduler }),
        {
          time: 400,
        },
      ).out.map((o) => label(o.value));
    // Two idle keys fit in 2: s0 is remembered, and 5 is late.
    expect(run(2)).toContain('session.window.late window_closed @5');
    // One does not: s0, the oldest, is forgotten when s1 comes, and 5 opens a window.
    expect(run(1)).toContain('session.window s0 [5,5] n=1');
  });

  it('uses no scheduler at all with idleFlushMs Infinity (no idle timer, no arrival time read)', () => {
    const clock = new VirtualTimeScheduler();
    let scheduled = 0;
    const scheduler = {
      now: () => clock.now(),
      schedule: (work: () => void, delay?: number) => {
        scheduled++;
        return clock.schedule(work, delay);
      },
    } as SchedulerLike;
    const out: Event[] = [];
    from([ev('x', 1, 's1'), ev('x', 2, 's2'), ev('x', 30, 's1')])
      .pipe(sessionWindows({ gapMs: 5, idleFlushMs: NO_IDLE, scheduler }))
      .subscribe((e) => out.push(e));
    expect(out.map(label)).toEqual([
      'session.window s1 [1,1] n=1',
      'session.window s2 [2,2] n=1',
      'session.window s1 [30,30] n=1',
    ]);
    expect(scheduled).toBe(0);
  });

  it('applies the idle estimate of a tick to a key that was not due at it, before its next event', () => {
    // gap 10, lateness 20. B (event time 0, at 0) is due at 30; A (100, at 10) at 40. At the tick of 30, A's
    // estimate is 100 - 20 + 20 = 100: 85 arriving at 31 would open a window closed by then (95 <= 100).
    // (Its arrival restarts A's quiet: A is due 30 after it.)
    const { out } = collect(
      [
        { time: 0, value: ev('x', 0, 'B') },
        { time: 10, value: ev('x', 100, 'A') },
        { time: 31, value: ev('x', 85, 'A') },
      ],
      (scheduler) => sessionWindows({ gapMs: 10, allowedLatenessMs: 20, scheduler }),
      { time: 100 },
    );
    expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual([
      '30 session.window B [0,0] n=1',
      '31 session.window.late behind_watermark @85',
      '61 session.window A [100,100] n=1',
    ]);
  });

  it('leaves no scheduled work behind when the consumer unsubscribes on a window an idle tick emitted', () => {
    const clock = new VirtualTimeScheduler();
    const { scheduler, fired } = countingScheduler(clock);
    const input = new Subject<Event>();
    const seen: string[] = [];
    let firedAtLeave = 0;
    input.pipe(sessionWindows({ gapMs: 10, allowedLatenessMs: 100, scheduler }), take(1)).subscribe((e) => {
      seen.push(label(e));
      firedAtLeave = fired();
    });
    // Two windows of s1 ([0] and [50]): the tick at 60 emits the first, and the consumer leaves.
    input.next(ev('x', 0, 's1'));
    input.next(ev('x', 50, 's1'));
    clock.flush();
    expect(seen).toEqual(['session.window s1 [0,0] n=1']);
    // Nothing ran after the consumer left (s1's window [50] is still open in the operator's state).
    expect(firedAtLeave).toBeGreaterThan(0);
    expect(fired()).toBe(firedAtLeave);
  });

  it('emits the open windows on complete earliest last event first, whatever order they opened in', () => {
    const out = run([ev('x', 10, 's1'), ev('x', 2, 's2'), ev('x', 6, 's3')], { gapMs: 5 });
    expect(labels(out)).toEqual([
      'session.window s2 [2,2] n=1',
      'session.window s3 [6,6] n=1',
      'session.window s1 [10,10] n=1',
    ]);
  });

  it('keeps the later open windows of the key when an event bridges two windows after the first', () => {
    // [0], [10], [16] and [30] open (gap 4); 13 merges [10] and [16]: [0] and [30] stay windows of their own.
    const out = run(
      [ev('x', 0, 's1'), ev('x', 10, 's1'), ev('x', 16, 's1'), ev('x', 30, 's1'), ev('x', 13, 's1')],
      {
        gapMs: 4,
        allowedLatenessMs: 100,
      },
    );
    expect(labels(out)).toEqual([
      'session.window s1 [0,0] n=1',
      'session.window s1 [10,16] n=3',
      'session.window s1 [30,30] n=1',
    ]);
  });

  it('never forgets a key with an open window when it forgets idle keys (maxIdleKeys)', () => {
    // maxIdleKeys 1, gap 5, each key quiet: B closes at 5, C at 11. A opens [0] at 8, the oldest event
    // time of all; D at 12 makes two idle keys (C, D): C is forgotten, not A, so A's next event joins [0].
    const { out } = collect(
      [
        { time: 0, value: ev('x', 100, 'B') },
        { time: 6, value: ev('x', 200, 'C') },
        { time: 8, value: ev('x', 0, 'A') },
        { time: 12, value: ev('x', 300, 'D') },
        { time: 12, value: ev('x', 2, 'A') },
      ],
      (scheduler) => sessionWindows({ gapMs: 5, maxIdleKeys: 1, scheduler }),
      { time: 100 },
    );
    expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual([
      '5 session.window B [100,100] n=1',
      '11 session.window C [200,200] n=1',
      '17 session.window A [0,2] n=2',
      '17 session.window D [300,300] n=1',
    ]);
  });

  it('leaves context and sessionId out of a window whose events have none (no undefined fields)', () => {
    const out = run([ev('x', 1), ev('y', 2)], { gapMs: 10, key: () => 'k' });
    expect(out.map((o) => withoutId(o.value))).toStrictEqual([
      {
        type: 'session.window',
        timestamp: 2,
        priority: Priority.NORMAL,
        data: {
          key: 'k',
          event_count: 2,
          time_span: { start: 1, end: 2 },
          gap_ms: 10,
          types: { x: 1, y: 1 },
          part: 1,
        },
      },
    ]);
  });

  it('wakes the idle timer only when a window is due, not before', () => {
    const clock = new VirtualTimeScheduler();
    const { scheduler, fired } = countingScheduler(clock);
    const seen: string[] = [];
    const input = new Subject<Event>();
    input
      .pipe(sessionWindows({ gapMs: 10, scheduler }))
      .subscribe((e) => seen.push(`${clock.now()} ${label(e)}`));
    input.next(ev('x', 0, 's1'));
    clock.flush();
    expect(seen).toEqual(['10 session.window s1 [0,0] n=1']);
    // One action to read the arrival time, one idle tick at 10.
    expect(fired()).toBe(2);
  });

  it('closes by an arrival only the windows its event time reaches, also after an idle tick of another key', () => {
    // gap 10, lateness 100. B's tick at 35 closes B [0]; s1 (quiet since 0) gets 115 at 50: the watermark,
    // 15, closes [0] but not [40], which closes once s1 is quiet long enough (50 + 50 + 100 - 115 = 85).
    const { out } = collect(
      [
        { time: 0, value: ev('x', 0, 's1') },
        { time: 0, value: ev('x', 40, 's1') },
        { time: 30, value: ev('x', 0, 'B') },
        { time: 30, value: ev('x', 105, 'B') },
        { time: 50, value: ev('x', 115, 's1') },
      ],
      (scheduler) => sessionWindows({ gapMs: 10, allowedLatenessMs: 100, scheduler }),
      { time: 200 },
    );
    expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual([
      '35 session.window B [0,0] n=1',
      '50 session.window s1 [0,0] n=1',
      '85 session.window s1 [40,40] n=1',
      '140 session.window B [105,105] n=1',
      '160 session.window s1 [115,115] n=1',
    ]);
  });

  it('counts quiet from an event that arrives at the instant its key was due, not from the one before', () => {
    // [0] is due at 10; 5 arrives at 10 and joins it: quiet since 10, it closes at 10 + (0 + 10 + 5 - 5) = 20.
    const { out } = collect(
      [
        { time: 0, value: ev('x', 0, 's1') },
        { time: 10, value: ev('x', 5, 's1') },
      ],
      (scheduler) => sessionWindows({ gapMs: 10, scheduler }),
      { time: 100 },
    );
    expect(out.map((o) => `${o.time} ${label(o.value)}`)).toEqual(['20 session.window s1 [0,5] n=2']);
  });

  it('leaves no scheduled work behind when the consumer pushes an event into the source, then unsubscribes', () => {
    const clock = new VirtualTimeScheduler();
    const { scheduler, fired } = countingScheduler(clock);
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(
        sessionWindows({ gapMs: 10, scheduler }),
        tap(() => input.next(ev('x', 1, 's1'))),
        take(1),
      )
      .subscribe((e) => seen.push(label(e)));
    // Passes through (no key); the consumer pushes a keyed event, then leaves before it is handled.
    input.next(ev('note', 0));
    clock.flush();
    expect(seen).toEqual(['note@0']);
    expect(fired()).toBe(0);
  });
});
