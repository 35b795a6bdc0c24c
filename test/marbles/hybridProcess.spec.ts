import fc from 'fast-check';
import {
  asyncScheduler,
  BehaviorSubject,
  bufferCount,
  concat,
  concatMap,
  EMPTY,
  endWith,
  from,
  map,
  merge,
  mergeMap,
  NEVER,
  Observable,
  of,
  queueScheduler,
  type SchedulerLike,
  Subject,
  startWith,
  take,
  takeUntil,
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
  ConfigError,
  createEvent,
  createFlowGate,
  type Event,
  EventFlowMetrics,
  fixedPolicy,
  type HybridDropped,
  type HybridOutput,
  type HybridProcessOptions,
  hybridProcess,
  type LoadSnapshot,
  Priority,
  ProcessingMode,
  pullFrom,
  type SelectModeConfig,
  type VibespecError,
} from '../../src/index.js';
import { marbles } from '../helpers/marbles.js';
import { rxjsUnhandled, unhandledRejections } from '../helpers/unhandled.js';

const ev = (id: string, type = 'tool.used', priority: Priority = Priority.NORMAL): Event =>
  createEvent({ id, type, priority, timestamp: 0 });

// Routed by the default selectMode: tool.used → BATCHED, CRITICAL → IMMEDIATE, git.commit → IMMEDIATE,
// LOW → ASYNC.
const a = ev('a');
const b = ev('b');
const c = ev('c');
const d = ev('d');
const C = ev('C', 'workflow.failed', Priority.CRITICAL);
const D = ev('D', 'workflow.failed', Priority.CRITICAL);
const g = ev('g', 'git.commit');
const h = ev('h', 'hook.rejected', Priority.HIGH);
const l = ev('l', 'message.displayed', Priority.LOW);
const events = { a, b, c, d, C, D, g, h, l };

/** Small batches on the test scheduler: up to 10 items or 5 ms. */
const batching = (scheduler: SchedulerLike, options: AdaptiveBatchOptions = {}): AdaptiveBatchOptions => ({
  minSize: 1,
  maxSize: 10,
  maxSizeLimit: 10,
  timeoutMs: 5,
  minTimeoutMs: 1,
  maxTimeoutMs: 100,
  policy: fixedPolicy,
  scheduler,
  ...options,
});

/** `kind:mode-initial:id`, e.g. `r:i:C` for an immediate result of C. */
const show = (outcome: HybridOutput<string>): string =>
  `${outcome.kind[0]}:${outcome.mode[0]}:${outcome.event.id}`;

function options(
  scheduler: SchedulerLike,
  extra: Partial<HybridProcessOptions<string>> = {},
): HybridProcessOptions<string> {
  return {
    immediate: (event) => `imm:${event.id}`,
    batch: (batch) => batch.map((event) => `bat:${event.id}`),
    batcher: batching(scheduler),
    scheduler,
    ...extra,
  };
}

describe('hybridProcess', () => {
  it(
    'lets a CRITICAL event overtake a pending batch',
    marbles((m) => {
      const source = m.cold('  -a-b-C----|', events);
      const subs = '           ^---------!';
      const expected = '       -----x(yz)|';
      const result = source.pipe(hybridProcess(options(m.scheduler)), map(show));
      m.expect(result).toBeObservable(expected, { x: 'r:i:C', y: 'r:b:a', z: 'r:b:b' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'never makes an IMMEDIATE event wait behind a batch being processed',
    marbles((m) => {
      const source = m.cold('  -abc-C-----|', events);
      const expected = '       -----x-----(yzw|)';
      // [a, b, c] is full at 3 and takes 8 ms to process; C arrives at 5, while it is in flight.
      const result = source.pipe(
        hybridProcess(
          options(m.scheduler, {
            batcher: batching(m.scheduler, { maxSize: 3 }),
            batch: (batch) => timer(8, m.scheduler).pipe(map(() => batch.map((e) => `bat:${e.id}`))),
          }),
        ),
        map(show),
      );
      m.expect(result).toBeObservable(expected, {
        x: 'r:i:C',
        y: 'r:b:a',
        z: 'r:b:b',
        w: 'r:b:c',
      });
    }),
  );

  it(
    'returns each handler result: a value, or the first value of an Observable',
    marbles((m) => {
      const source = m.cold('  -g-h-|', events);
      const expected = '       -x-y-|';
      const result = source.pipe(
        hybridProcess(
          options(m.scheduler, {
            immediate: (event) => (event === g ? `now:${event.id}` : of(`obs:${event.id}`, 'ignored')),
          }),
        ),
        map((o) => (o.kind === 'result' ? o.result : 'error')),
      );
      m.expect(result).toBeObservable(expected, { x: 'now:g', y: 'obs:h' });
    }),
  );

  it('settles a synchronous result of any kind synchronously: an object, null, undefined, a number', () => {
    const results: unknown[] = [{ n: 1 }, null, undefined, 0, ['x']];
    const input = new Subject<Event>();
    const seen: unknown[] = [];
    let i = 0;
    input
      .pipe(hybridProcess<unknown>({ immediate: () => results[i++], batch: (batch) => batch.map(() => 'b') }))
      .subscribe((o) => seen.push(o.kind === 'result' ? o.result : o.kind));
    for (let k = 0; k < results.length; k++) {
      input.next(g);
      // Done before next returns.
      expect(seen).toEqual(results.slice(0, k + 1));
    }
  });

  it('awaits promise results', async () => {
    const outcomes = await new Promise<HybridOutput<string>[]>((resolve) => {
      const seen: HybridOutput<string>[] = [];
      of(g, a)
        .pipe(
          hybridProcess({
            immediate: async (event) => `p:${event.id}`,
            batch: async (batch) => batch.map((e) => `pb:${e.id}`),
          }),
        )
        .subscribe({ next: (o) => seen.push(o), complete: () => resolve(seen) });
    });
    expect(outcomes.map((o) => (o.kind === 'result' ? o.result : o.kind))).toEqual(['p:g', 'pb:a']);
  });

  it(
    'completes when empty',
    marbles((m) => {
      const source = m.cold<Event>('|');
      m.expect(source.pipe(hybridProcess(options(m.scheduler)))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions('(^!)');
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<Event>('-');
      m.expect(source.pipe(hybridProcess(options(m.scheduler)))).toBeObservable('-');
      m.expect(source).toHaveSubscriptions('^');
    }),
  );

  it(
    'forwards a source error only after every event received has its outcome',
    marbles((m) => {
      const source = m.cold('  -a-b-C-#', events, new Error('boom'));
      const subs = '           ^------!';
      const expected = '       -----x-(yz#)';
      const batcher = batching(m.scheduler, { timeoutMs: 20 });
      const result = source.pipe(hybridProcess(options(m.scheduler, { batcher })), map(show));
      m.expect(result).toBeObservable(expected, { x: 'r:i:C', y: 'r:b:a', z: 'r:b:b' }, new Error('boom'));
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'waits for in-flight work before completing',
    marbles((m) => {
      const source = m.cold('  -g|', events);
      const expected = '       ----(x|)';
      const result = source.pipe(
        hybridProcess(
          options(m.scheduler, { immediate: (e) => timer(3, m.scheduler).pipe(map(() => e.id)) }),
        ),
        map(show),
      );
      m.expect(result).toBeObservable(expected, { x: 'r:i:g' });
    }),
  );

  it(
    'unsubscribes from the source, its timers and in-flight work on early unsubscribe',
    marbles((m) => {
      const source = m.hot('   -a-g-b---|', events);
      const subs = '           ^----!';
      const unsub = '          -----!';
      const work = m.cold('    ----x|');
      const workSubs = '       ---^-!';
      const result = source.pipe(hybridProcess(options(m.scheduler, { immediate: () => work })), map(show));
      m.expect(result, unsub).toBeObservable('------');
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(work).toHaveSubscriptions(workSubs);
    }),
  );

  it(
    'cancels a batch in flight on early unsubscribe',
    marbles((m) => {
      const source = m.hot('   -a-b---|', events);
      const unsub = '          ---!';
      const work = m.cold<string[]>('----x|');
      const workSubs = '       -^-!';
      const result = source.pipe(
        hybridProcess(
          options(m.scheduler, { batcher: batching(m.scheduler, { maxSize: 1 }), batch: () => work }),
        ),
      );
      m.expect(result, unsub).toBeObservable('----');
      m.expect(work).toHaveSubscriptions(workSubs);
    }),
  );

  it('ignores a handler that settles after the unsubscribe: no outcome, nothing recorded into metrics', async () => {
    const metrics = new EventFlowMetrics();
    const settle: Array<() => void> = [];
    const late = <T>(value: T) => new Promise<T>((resolve) => settle.push(() => resolve(value)));
    const input = new Subject<Event>();
    const seen: string[] = [];
    const subscription = input
      .pipe(
        hybridProcess<string>({
          immediate: (e) => late(e.id),
          batch: (batch) => late(batch.map((e) => e.id)),
          batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
          metrics,
        }),
      )
      .subscribe((o) => seen.push(show(o)));
    input.next(g); // IMMEDIATE, in flight
    input.next(a); // a batch of one, in flight
    subscription.unsubscribe();
    for (const resolve of settle) resolve();
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(settle).toHaveLength(2);
    expect(seen).toEqual([]);
    expect(metrics.summary()).toEqual({});
  });

  it('ends cleanly on unsubscribe after synchronous handlers: nothing thrown, the gate and the gauge released', () => {
    for (const lane of [ProcessingMode.IMMEDIATE, ProcessingMode.BATCHED]) {
      const gate = createFlowGate();
      const metrics = new EventFlowMetrics();
      const input = new Subject<Event>();
      // e0 settles synchronously; e1 is held; e2 and e3 wait (the high-water mark of maxQueued 4).
      const subscription = input
        .pipe(
          hybridProcess<string>({
            immediate: (e) => (e.id === 'e0' ? e.id : NEVER),
            batch: (batch) => (batch[0]!.id === 'e0' ? batch.map((e) => e.id) : NEVER),
            batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
            select: () => lane,
            concurrency: 1,
            maxQueued: 4,
            gate,
            metrics,
          }),
        )
        .subscribe();
      for (let i = 0; i < 4; i++) input.next(ev(`e${i}`));
      expect(gate.isOpen).toBe(false);
      expect(metrics.queueDepth).toBe(2);
      expect(() => subscription.unsubscribe()).not.toThrow();
      expect(gate.isOpen).toBe(true);
      expect(metrics.queueDepth).toBe(0);
    }
  });

  it('ends quietly when a handler unsubscribes the output from inside itself: no outcome, nothing thrown or reported', async () => {
    for (const lane of [ProcessingMode.IMMEDIATE, ProcessingMode.BATCHED, ProcessingMode.ASYNC]) {
      for (const answer of ['value', 'throw'] as const) {
        const input = new Subject<Event>();
        const outcomes: HybridOutput<string>[] = [];
        const calls: string[] = [];
        const leave = (id: string) => {
          calls.push(id);
          subscription.unsubscribe();
          if (answer === 'throw') throw new Error('left');
          return id;
        };
        const subscription = input
          .pipe(
            hybridProcess<string>({
              immediate: (e) => leave(e.id),
              background: (e) => leave(e.id),
              batch: (batch) => [leave(batch[0]!.id)],
              batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
              select: () => lane,
              scheduler: queueScheduler,
            }),
          )
          .subscribe((outcome) => outcomes.push(outcome));
        const unhandled = await rxjsUnhandled(() => {
          expect(() => input.next(ev('e0'))).not.toThrow();
        });
        expect({ lane, answer, calls, outcomes, unhandled, closed: subscription.closed }).toEqual({
          lane,
          answer,
          calls: ['e0'],
          outcomes: [],
          unhandled: [],
          closed: true,
        });
      }
    }
  });

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const source = m.hot('   -g-C-a-g-|', events);
      const subs = '           ^----!';
      const unsub = '          -----!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        hybridProcess(options(m.scheduler)),
        mergeMap((x) => of(show(x))),
      );
      m.expect(result, unsub).toBeObservable('-x-y--', { x: 'r:i:g', y: 'r:i:C' });
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it('stops reading a synchronous source as soon as the consumer unsubscribes', () => {
    let pulled = 0;
    let processed = 0;
    // Long, not endless: read to its end (the bug), the test fails rather than hangs.
    function* source(): Generator<Event> {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield ev(`C${i}`, 'workflow.failed', Priority.CRITICAL);
      }
    }
    const seen: string[] = [];
    from(source())
      .pipe(
        hybridProcess({
          immediate: (e) => {
            processed++;
            return e.id;
          },
          batch: (batch) => batch.map((e) => e.id),
        }),
        take(1),
      )
      .subscribe((outcome) => seen.push(show(outcome as HybridOutput<string>)));
    expect(seen).toEqual(['r:i:C0']);
    // Nothing processed for nobody.
    expect(pulled).toBe(1);
    expect(processed).toBe(1);
  });

  it('starts a re-entrant event behind the waiting ones, most urgent first (IMMEDIATE and BATCHED)', () => {
    // One slot, held by g0; C waits. g0 settles and the consumer pushes g9 from its outcome: the slot is
    // free, but C waits longer and is more urgent.
    const release = new Subject<string>();
    const input = new Subject<Event>();
    const seen: string[] = [];
    const g9 = ev('g9', 'git.commit');
    input
      .pipe(
        hybridProcess<string>({
          immediate: (e) => (e.id === 'g0' ? release : e.id),
          batch: (batch) => batch.map((e) => e.id),
          concurrency: { immediate: 1 },
        }),
      )
      .subscribe((o) => {
        seen.push(o.event.id);
        if (o.event.id === 'g0') input.next(g9);
      });
    input.next(ev('g0', 'git.commit'));
    input.next(C);
    release.next('g0');
    expect(seen).toEqual(['g0', 'C', 'g9']);

    // BATCHED, one batch at a time: [a] held, [b] and [c] queued; d, pushed from a's outcome, runs last.
    const releaseBatch = new Subject<string[]>();
    const batchInput = new Subject<Event>();
    const order: string[] = [];
    batchInput
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (batch) => (batch[0] === a ? releaseBatch : batch.map((e) => e.id)),
          batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
          select: () => ProcessingMode.BATCHED,
        }),
      )
      .subscribe((o) => {
        order.push(o.event.id);
        if (o.event === a) batchInput.next(d);
      });
    for (const e of [a, b, c]) batchInput.next(e);
    releaseBatch.next(['a']);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('handles events pushed re-entrantly from an outcome', () => {
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(hybridProcess({ immediate: (e) => e.id, batch: (batch) => batch.map((e) => e.id) }))
      .subscribe((outcome) => {
        seen.push(show(outcome as HybridOutput<string>));
        if (outcome.event === g) input.next(C);
      });
    input.next(g);
    input.next(D);
    input.complete();
    expect(seen).toEqual(['r:i:g', 'r:i:C', 'r:i:D']);
  });

  it('gives every event of a batch its outcome when the source completes from one of them', () => {
    // The consumer ends the input on the first outcome of a batch: the others are still owed.
    for (const batch of [
      (events: Event[]) => events.map((e) => e.id),
      () => {
        throw new Error('disk full');
      },
    ]) {
      const input = new Subject<Event>();
      const seen: string[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: (e) => e.id,
            batch,
            batcher: { minSize: 1, maxSize: 3, policy: fixedPolicy },
          }),
        )
        .subscribe({
          next: (o) => {
            seen.push(o.event.id);
            if (o.event === a) input.complete();
          },
          complete: () => seen.push('|'),
        });
      for (const e of [a, b, c]) input.next(e);
      expect(seen).toEqual(['a', 'b', 'c', '|']);
    }
  });

  it('gives every dropped event its outcome when the source completes from one of them', () => {
    const scheduler = new TestScheduler(() => undefined);
    const input = new Subject<Event>();
    const seen: string[] = [];
    input
      .pipe(
        hybridProcess({
          immediate: (e) => e.id,
          batch: () => NEVER,
          batcher: { minSize: 1, maxSize: 3, policy: fixedPolicy },
          maxQueued: { batched: 1 },
          overflow: 'drop-newest',
          timeoutMs: { batched: 1 },
          scheduler,
        }),
      )
      .subscribe({
        next: (o) => {
          seen.push(`${o.kind[0]}:${o.event.id}`);
          if (o.kind === 'dropped') input.complete();
        },
        complete: () => seen.push('|'),
      });
    // [a, b, c] runs (never settles); [d, e, f] arrives at a full queue: d is queued, e and f dropped.
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) input.next(ev(id));
    expect(seen).toEqual(['d:e', 'd:f']);
    // Then [a, b, c] times out at 1, [d] runs and times out at 2, and only then does the stream end.
    scheduler.flush();
    expect(seen).toEqual(['d:e', 'd:f', 'e:a', 'e:b', 'e:c', 'e:d', '|']);
  });

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
    scheduler.run(({ cold, expectObservable }) => {
      const operator = hybridProcess(options(scheduler));
      expectObservable(cold('-a|', events).pipe(operator, map(show))).toBe('--(x|)', { x: 'r:b:a' });
      expectObservable(cold('C-b-|', events).pipe(operator, map(show))).toBe('x---(y|)', {
        x: 'r:i:C',
        y: 'r:b:b',
      });
    });
  });

  it('adapts the batcher of each subscription on its own when given batcher options', () => {
    const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
    const sizes: number[] = [];
    // Every batch takes 20 ms, over the 10 ms target: a batcher that gets a report halves its maxSize.
    const operator = hybridProcess(
      options(scheduler, {
        batcher: batching(scheduler, { maxSize: 4, policy: aimdPolicy({ targetLatencyMs: 10, samples: 1 }) }),
        batch: (batch) => {
          sizes.push(batch.length);
          return timer(20, scheduler).pipe(map(() => batch.map((e) => e.id)));
        },
      }),
    );
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('(abcd)|', events).pipe(operator, map(show))).toBe('20ms (wxyz|)', {
        w: 'r:b:a',
        x: 'r:b:b',
        y: 'r:b:c',
        z: 'r:b:d',
      });
      // A second source, after the first one's batch was reported: its batcher has had no report.
      expectObservable(cold('40ms (abcd)|', events).pipe(operator, map(show))).toBe('60ms (wxyz|)', {
        w: 'r:b:a',
        x: 'r:b:b',
        y: 'r:b:c',
        z: 'r:b:d',
      });
    });
    expect(sizes).toEqual([4, 4]);
  });

  describe('lanes', () => {
    it('starts ASYNC work on the scheduler, never inside the emitting call', async () => {
      const input = new Subject<Event>();
      const seen: string[] = [];
      input.pipe(hybridProcess(options(asyncScheduler))).subscribe((o) => seen.push(show(o)));
      input.next(l);
      expect(seen).toEqual([]);
      input.next(C);
      expect(seen).toEqual(['r:i:C']);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(seen).toEqual(['r:i:C', 'r:a:l']);
      input.complete();
    });

    /** A virtual scheduler that marks, with `|` in `seen` (the log of outcomes), where each of its tasks starts. */
    function markingTasks() {
      const virtual = new VirtualTimeScheduler();
      const seen: string[] = [];
      const scheduler: SchedulerLike = {
        now: () => virtual.now(),
        schedule: ((work: () => void, delay?: number) =>
          virtual.schedule(() => {
            seen.push('|');
            work();
          }, delay)) as SchedulerLike['schedule'],
      };
      return { virtual, scheduler, seen };
    }

    /** How many outcomes each scheduler task of `markingTasks` produced. */
    function slicesOf(seen: string[]): number[] {
      return seen
        .join(' ')
        .split('|')
        .map((slice) => slice.trim().split(' ').filter(Boolean).length);
    }

    it('starts ASYNC work in slices of 64 per scheduler task', () => {
      const { virtual, scheduler, seen } = markingTasks();
      const input = new Subject<Event>();
      input
        .pipe(hybridProcess<string>({ ...options(scheduler), background: (e) => e.id }))
        .subscribe((o) => seen.push(o.event.id));
      const lows = Array.from({ length: 130 }, (_, i) => ev(`l${i}`, 'message.displayed', Priority.LOW));
      for (const e of lows) input.next(e);
      virtual.flush();
      const slices = slicesOf(seen);
      expect(slices.filter((n) => n > 0)).toEqual([64, 64, 2]);
      expect(seen.filter((x) => x !== '|')).toEqual(lows.map((e) => e.id));
    });

    it('starts the next ASYNC work from a scheduler task also when a handler settles outside one', () => {
      const { virtual, scheduler, seen } = markingTasks();
      const release = new Subject<string>();
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess<string>({
            ...options(scheduler),
            background: (e) => (e.id === 'l0' ? release : e.id),
          }),
        )
        .subscribe((o) => seen.push(o.event.id));
      const lows = Array.from({ length: 130 }, (_, i) => ev(`l${i}`, 'message.displayed', Priority.LOW));
      for (const e of lows) input.next(e);
      virtual.flush(); // l0 starts and is held
      expect(seen).toEqual(['|']);
      release.next('done');
      // l0's outcome; the others wait for the next task rather than start inside the settling call.
      expect(seen).toEqual(['|', 'l0']);
      virtual.flush();
      const slices = slicesOf(seen);
      expect(slices).toEqual([0, 1, 64, 64, 1]);
    });

    it('keeps starting ASYNC work on a scheduler that runs a task at once (queueScheduler)', () => {
      // queueScheduler runs a zero-delay task inside schedule() when none of its tasks is running.
      const input = new Subject<Event>();
      const seen: string[] = [];
      let completed = false;
      input
        .pipe(hybridProcess<string>({ ...options(queueScheduler), background: (e) => e.id }))
        .subscribe({ next: (o) => seen.push(show(o)), complete: () => (completed = true) });
      const lows = ['l0', 'l1', 'l2'].map((id) => ev(id, 'message.displayed', Priority.LOW));
      for (const e of lows) input.next(e);
      input.complete();
      expect(seen).toEqual(['r:a:l0', 'r:a:l1', 'r:a:l2']);
      expect(completed).toBe(true);
    });

    it('keeps a long queue whole and in order (thousands of waiting events, each lane)', () => {
      const n = 3_000;
      const ids = Array.from({ length: n }, (_, i) => `x${i}`);
      for (const [type, priority] of [
        ['git.commit', Priority.NORMAL], // IMMEDIATE, one slot, held by x0: the others wait in its queue
        ['message.displayed', Priority.LOW], // ASYNC: all queued before the first scheduler task
        ['tool.used', Priority.NORMAL], // BATCHED: one batch of n, cut on complete
      ] as const) {
        const scheduler = new VirtualTimeScheduler();
        const input = new Subject<Event>();
        const release = new Subject<string>();
        const seen: string[] = [];
        let completed = false;
        input
          .pipe(
            hybridProcess<string>({
              immediate: (e) => (e.id === 'x0' ? release : e.id),
              background: (e) => e.id,
              batch: (batch) => batch.map((e) => e.id),
              batcher: {
                minSize: 1,
                maxSize: n,
                maxSizeLimit: n,
                timeoutMs: 500,
                policy: fixedPolicy,
                scheduler,
              },
              concurrency: { immediate: 1 },
              scheduler,
            }),
          )
          .subscribe({
            next: (o) => seen.push(o.kind === 'result' ? o.result : o.kind),
            complete: () => (completed = true),
          });
        for (const id of ids) input.next(ev(id, type, priority));
        release.next('x0');
        input.complete();
        scheduler.flush();
        expect(seen).toEqual(ids);
        expect(completed).toBe(true);
      }
    });

    it('drains a long queue of synchronous work one by one, not by recursion (IMMEDIATE and BATCHED)', () => {
      // Each start settling at once must not start the next from inside it: 50,000 nested calls would
      // overflow the stack.
      const n = 50_000;
      for (const lane of [ProcessingMode.IMMEDIATE, ProcessingMode.BATCHED]) {
        const release = new Subject<string[]>();
        const input = new Subject<Event>();
        let results = 0;
        let failure: unknown;
        input
          .pipe(
            hybridProcess<string>({
              // x0 is held (its slot busy): the others queue, then run one after another on its release.
              immediate: (e) => (e.id === 'x0' ? release.pipe(map(() => e.id)) : e.id),
              batch: (batch) => (batch[0]!.id === 'x0' ? release : batch.map((e) => e.id)),
              batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
              select: () => lane,
              concurrency: 1,
              maxQueued: n,
            }),
          )
          .subscribe({
            next: (o) => (results += o.kind === 'result' ? 1 : 0),
            error: (error) => (failure = error),
          });
        for (let i = 0; i < n; i++) input.next(ev(`x${i}`));
        release.next(['x0']);
        expect(failure).toBeUndefined();
        expect(results).toBe(n);
      }
    });

    it(
      'processes ASYNC events with the background handler, one at a time by default',
      marbles((m) => {
        const source = m.cold('  -(lll)---|', { l });
        const expected = '       ---x-y-z-|';
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, { background: (e) => timer(2, m.scheduler).pipe(map(() => `bg:${e.id}`)) }),
          ),
          map((o) => (o.kind === 'result' ? o.result : 'error')),
        );
        m.expect(result).toBeObservable(expected, { x: 'bg:l', y: 'bg:l', z: 'bg:l' });
      }),
    );

    it(
      'limits IMMEDIATE concurrency and starts waiting events most urgent first',
      marbles((m) => {
        // g (NORMAL), h (HIGH), C (CRITICAL) arrive while the single slot is busy with the first g.
        const source = m.cold('  -ghgC------------|', events);
        const expected = '       ----w--x--y--z---|';
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, {
              concurrency: { immediate: 1 },
              immediate: (e) => timer(3, m.scheduler).pipe(map(() => e.id)),
            }),
          ),
          map(show),
        );
        m.expect(result).toBeObservable(expected, { w: 'r:i:g', x: 'r:i:C', y: 'r:i:h', z: 'r:i:g' });
      }),
    );

    it(
      'runs batches one at a time by default, queueing the next',
      marbles((m) => {
        // [a, b] is full at 2 and takes 5 ms; [c, d], full at 4, waits for it and runs 7..12.
        const source = m.cold('  -abcd-----|', events);
        const expected = '       -------(ab)-(cd|)';
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, {
              batcher: batching(m.scheduler, { maxSize: 2 }),
              batch: (batch) => timer(5, m.scheduler).pipe(map(() => batch.map((e) => e.id))),
            }),
          ),
          map((o) => o.event.id),
        );
        m.expect(result).toBeObservable(expected, { a: 'a', b: 'b', c: 'c', d: 'd' });
      }),
    );
  });

  describe('failures are outcomes', () => {
    it(
      'turns a throwing or failing handler into an error outcome and keeps going',
      marbles((m) => {
        const source = m.cold('  -g-h-a-|', events);
        const expected = '       -x-y---(z|)';
        const boom = new Error('boom');
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, {
              immediate: (e) => {
                if (e === g) throw boom;
                return throwError(() => boom);
              },
              batch: () => throwError(() => boom),
            }),
          ),
          map((o) => `${show(o)}:${o.kind === 'error' ? (o.error as Error).message : ''}`),
        );
        m.expect(result).toBeObservable(expected, { x: 'e:i:g:boom', y: 'e:i:h:boom', z: 'e:b:a:boom' });
      }),
    );

    it('fails every event of a rejected batch', async () => {
      const outcomes = await collect(
        of(a, b),
        hybridProcess({ immediate: (e) => e.id, batch: () => Promise.reject(new Error('disk full')) }),
      );
      expect(outcomes.map((o) => `${show(o)}:${(o as { error: Error }).error.message}`)).toEqual([
        'e:b:a:disk full',
        'e:b:b:disk full',
      ]);
    });

    it('fails a batch that does not return one result per event with BATCH_RESULT_MISMATCH', async () => {
      const outcomes = await collect(
        of(a, b),
        hybridProcess({ immediate: (e) => e.id, batch: () => ['only one'] }),
      );
      expect(outcomes.map((o) => o.kind)).toEqual(['error', 'error']);
      expect(outcomes.map((o) => ((o as { error: VibespecError }).error as VibespecError).code)).toEqual([
        'BATCH_RESULT_MISMATCH',
        'BATCH_RESULT_MISMATCH',
      ]);
    });

    it('says in BATCH_RESULT_MISMATCH how many results were wanted and what came: a count, or the type of no array', async () => {
      const messages = async (batch: () => unknown) =>
        (
          await collect(of(a, b), hybridProcess({ immediate: (e) => e.id, batch: batch as () => string[] }))
        ).map((o) => (o as { error: Error }).error.message);
      const wanted = 'hybridProcess: batch() must return one result per event (2), got';
      expect(await messages(() => ['only one'])).toEqual([`${wanted} 1 results`, `${wanted} 1 results`]);
      expect(await messages(() => 5)).toEqual([`${wanted} number`, `${wanted} number`]);
    });

    it('fails an event whose select throws or returns no mode, and keeps going', async () => {
      const thrown = new Error('select');
      const outcomes = await collect(
        of(a, b, c),
        hybridProcess({
          immediate: (e) => e.id,
          batch: (batch) => batch.map((e) => e.id),
          select: (e) => {
            if (e === a) throw thrown;
            return e === b ? ('later' as ProcessingMode) : ProcessingMode.IMMEDIATE;
          },
        }),
      );
      expect(outcomes.map(show)).toEqual(['e:i:a', 'e:i:b', 'r:i:c']);
      // The error select threw is the outcome's.
      expect((outcomes[0] as { error: unknown }).error).toBe(thrown);
      expect(((outcomes[1] as { error: VibespecError }).error as VibespecError).code).toBe('INVALID_MODE');
      expect((outcomes[1] as { error: Error }).error.message).toBe("hybridProcess: select returned 'later'");
    });

    it(
      'fails an Observable handler that completes without a value',
      marbles((m) => {
        const result = m
          .cold('-g|', events)
          .pipe(
            hybridProcess(
              options(m.scheduler, { immediate: () => new Observable<string>((s) => s.complete()) }),
            ),
          );
        m.expect(
          result.pipe(map((o) => (o.kind === 'error' ? (o.error as Error).name : o.kind))),
        ).toBeObservable('-x|', { x: 'EmptyError' });
      }),
    );
  });

  describe('timeouts', () => {
    const code = (o: HybridOutput<string>) =>
      `${show(o)}:${o.kind === 'error' ? (o.error as VibespecError).code : o.kind === 'result' ? o.result : ''}`;

    it(
      'fails an IMMEDIATE event whose handler does not settle in time, and cancels the handler',
      marbles((m) => {
        const source = m.cold('  -g|', events);
        const work = m.cold('    -');
        const workSubs = '       -^----!';
        const expected = '       ------(x|)';
        const result = source.pipe(
          hybridProcess(options(m.scheduler, { immediate: () => work, timeoutMs: { immediate: 5 } })),
          map(code),
        );
        m.expect(result).toBeObservable(expected, { x: 'e:i:g:HANDLER_TIMEOUT' });
        m.expect(work).toHaveSubscriptions(workSubs);
      }),
    );

    it(
      'frees the slot of a timed-out handler for the next event, and leaves handlers in time alone',
      marbles((m) => {
        // One slot: the first g never settles and times out at 6; the second g then runs 6..8.
        const source = m.cold('  -gg|', events);
        const expected = '       ------x-(y|)';
        let calls = 0;
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, {
              concurrency: { immediate: 1 },
              timeoutMs: 5,
              immediate: (e) => (calls++ === 0 ? NEVER : timer(2, m.scheduler).pipe(map(() => e.id))),
            }),
          ),
          map(code),
        );
        m.expect(result).toBeObservable(expected, { x: 'e:i:g:HANDLER_TIMEOUT', y: 'r:i:g:g' });
      }),
    );

    it(
      'fails every event of a batch that does not settle in time',
      marbles((m) => {
        // [a, b] is flushed on complete at 3 and times out 4 ms later.
        const source = m.cold('  -ab|', events);
        const work = m.cold<string[]>('-');
        const workSubs = '       ---^---!';
        const expected = '       -------(xy|)';
        const result = source.pipe(
          hybridProcess(options(m.scheduler, { batch: () => work, timeoutMs: { batched: 4 } })),
          map(code),
        );
        m.expect(result).toBeObservable(expected, {
          x: 'e:b:a:HANDLER_TIMEOUT',
          y: 'e:b:b:HANDLER_TIMEOUT',
        });
        m.expect(work).toHaveSubscriptions(workSubs);
      }),
    );

    it(
      'fails an ASYNC event whose background handler does not settle in time',
      marbles((m) => {
        const source = m.cold('  -l|', events);
        const expected = '       ----(x|)';
        const result = source.pipe(
          hybridProcess(options(m.scheduler, { background: () => NEVER, timeoutMs: { async: 3 } })),
          map(code),
        );
        m.expect(result).toBeObservable(expected, { x: 'e:a:l:HANDLER_TIMEOUT' });
      }),
    );

    it('arms no time limit for a handler whose Observable answers at once: a scheduler that cannot time one is never asked', () => {
      let asked = 0;
      const untimed: SchedulerLike = {
        now: () => 0,
        schedule() {
          asked++;
          throw new Error('no timers');
        },
      };
      const seen: string[] = [];
      of(g)
        .pipe(
          hybridProcess<string>({
            immediate: (e) => of(e.id),
            batch: (batch) => batch.map((e) => e.id),
            timeoutMs: { immediate: 5 },
            scheduler: untimed,
          }),
        )
        .subscribe({
          next: (o) => seen.push(code(o)),
          error: (error: Error) => seen.push(`error: ${error.message}`),
          complete: () => seen.push('complete'),
        });
      expect(seen).toEqual(['r:i:g:g', 'complete']);
      expect(asked).toBe(0);
    });

    it('abandons a promise that settles too late: one outcome, the timeout', async () => {
      let resolveLate: (value: string) => void = () => undefined;
      const outcomes = await collect(
        of(g),
        hybridProcess({
          immediate: () => new Promise<string>((resolve) => (resolveLate = resolve)),
          batch: (batch) => batch.map((e) => e.id),
          timeoutMs: 1,
        }),
      );
      resolveLate('late');
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(outcomes.map((o) => code(o as HybridOutput<string>))).toEqual(['e:i:g:HANDLER_TIMEOUT']);
    });

    it('cancels the handler and its timeout timer on unsubscribe', () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const input = new Subject<Event>();
      let cancelled = 0;
      const subscription = input
        .pipe(
          hybridProcess({
            immediate: () => new Observable<string>(() => () => cancelled++),
            batch: (batch) => batch.map((e) => e.id),
            timeoutMs: 3,
            scheduler,
          }),
        )
        .subscribe();
      input.next(g);
      expect(scheduler.actions).toHaveLength(1); // the timeout
      subscription.unsubscribe();
      expect(cancelled).toBe(1);
      expect(scheduler.actions).toHaveLength(0);
    });
  });

  describe('load and feedback', () => {
    it(
      'routes by the latest load: under high load a user-blocking event is batched',
      marbles((m) => {
        const load$ = m.hot<LoadSnapshot>('l---h---', {
          l: { cpuPercent: 10 },
          h: { cpuPercent: 95, memoryPercent: 95 },
        });
        const source = m.cold('  -g----g----|', events);
        const expected = '       -x---------(y|)';
        const result = source.pipe(hybridProcess(options(m.scheduler, { load$ })), map(show));
        m.expect(result).toBeObservable(expected, { x: 'r:i:g', y: 'r:b:g' });
      }),
    );

    it('gives select the live queue depth of the pipeline', () => {
      const depths: number[] = [];
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            select: (_e, load) => {
              depths.push(load.queueDepth ?? -1);
              return ProcessingMode.IMMEDIATE;
            },
          }),
        )
        .subscribe();
      for (let i = 0; i < 4; i++) input.next(ev(`e${i}`));
      expect(depths).toEqual([0, 0, 1, 2]);
    });

    it('counts in its queue depth the events waiting in every lane: queued, in the open batch, in queued batches', () => {
      const scheduler = new VirtualTimeScheduler(); // never flushed: ASYNC events stay queued
      const metrics = new EventFlowMetrics({ scheduler });
      const depths: number[] = [];
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: () => NEVER,
            batcher: { minSize: 1, maxSize: 2, policy: fixedPolicy, scheduler },
            concurrency: 1,
            metrics,
            scheduler,
            select: (e, load) => {
              depths.push(load.queueDepth ?? -1);
              const lane = e.id[0];
              return lane === 'i'
                ? ProcessingMode.IMMEDIATE
                : lane === 'l'
                  ? ProcessingMode.ASYNC
                  : ProcessingMode.BATCHED;
            },
          }),
        )
        .subscribe();
      // i0 runs, i1 waits; l0 waits; [b0, b1] runs; [b2, b3] waits for the batch slot.
      for (const id of ['i0', 'i1', 'l0', 'b0', 'b1', 'b2', 'b3', 'i2']) input.next(ev(id));
      expect(depths).toEqual([0, 0, 1, 2, 3, 2, 3, 4]);
      expect(metrics.queueDepth).toBe(5);
    });

    it('gives select the larger of load$ figures and its own (queue depth, average latency)', () => {
      const metrics = new EventFlowMetrics();
      for (let i = 0; i < 4; i++) metrics.record('x', 20);
      const seen: Array<[number | undefined, number | undefined, number | undefined]> = [];
      const load$ = new Subject<LoadSnapshot>();
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            load$,
            metrics,
            select: (_e, load) => {
              seen.push([load.queueDepth, load.avgLatencyMs, load.cpuPercent]);
              return ProcessingMode.IMMEDIATE;
            },
          }),
        )
        .subscribe();
      load$.next({ queueDepth: 7, avgLatencyMs: 5, cpuPercent: 30 });
      input.next(ev('e0', 'git.commit')); // runs
      load$.next({ queueDepth: 0, avgLatencyMs: 50, cpuPercent: 40 });
      input.next(ev('e1', 'git.commit')); // queued: depth 1
      input.next(ev('e2', 'git.commit'));
      expect(seen).toEqual([
        [7, 20, 30],
        [0, 50, 40],
        [1, 50, 40],
      ]);
    });

    it('gives select its own figures where a load$ figure is NaN (or missing), not NaN', () => {
      // Math.max(NaN, own) is NaN, which never counts as high: a flooded, slow pipeline passed for idle.
      const metrics = new EventFlowMetrics();
      for (let i = 0; i < 4; i++) metrics.record('x', 300);
      const seen: Array<[number | undefined, number | undefined]> = [];
      const load$ = new Subject<LoadSnapshot>();
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            load$,
            metrics,
            select: (_e, load) => {
              seen.push([load.queueDepth, load.avgLatencyMs]);
              return ProcessingMode.IMMEDIATE;
            },
          }),
        )
        .subscribe();
      load$.next({ queueDepth: Number.NaN, avgLatencyMs: Number.NaN, cpuPercent: 95 });
      input.next(ev('e0', 'git.commit')); // runs
      input.next(ev('e1', 'git.commit')); // queued: depth 1
      load$.next({ cpuPercent: 95 });
      input.next(ev('e2', 'git.commit'));
      expect(seen).toEqual([
        [0, 300],
        [0, 300],
        [1, 300],
      ]);
    });

    it('reads a load$ figure that is no number (a string, null) as missing: select never sees it, the pipeline gives its own', () => {
      const metrics = new EventFlowMetrics();
      for (let i = 0; i < 4; i++) metrics.record('x', 300);
      const seen: LoadSnapshot[] = [];
      const load$ = new Subject<LoadSnapshot>();
      const input = new Subject<Event>();
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            load$,
            metrics,
            select: (_e, load) => {
              seen.push({ ...load });
              return ProcessingMode.IMMEDIATE;
            },
          }),
        )
        .subscribe();
      load$.next({
        queueDepth: '5000',
        avgLatencyMs: '900',
        eventLoopUtilization: '0.5',
        cpuPercent: null,
        memoryPercent: 40,
        host: 'a',
      } as unknown as LoadSnapshot);
      input.next(ev('e0', 'git.commit')); // runs
      input.next(ev('e1', 'git.commit')); // queued: depth 1
      input.next(ev('e2', 'git.commit'));
      expect(seen).toEqual([
        { queueDepth: 0, avgLatencyMs: 300, memoryPercent: 40, host: 'a' },
        { queueDepth: 0, avgLatencyMs: 300, memoryPercent: 40, host: 'a' },
        { queueDepth: 1, avgLatencyMs: 300, memoryPercent: 40, host: 'a' },
      ]);
    });

    it('gives select no load$ figure that is no number, whichever of the eight it is', () => {
      const figures = [
        'cpuPercent',
        'memoryPercent',
        'eventLoopDelayMs',
        'eventLoopDelayMaxMs',
        'eventLoopUtilization',
        'queueDepth',
        'avgLatencyMs',
        'timestamp',
      ];
      const seen: LoadSnapshot[] = [];
      const load$ = new BehaviorSubject<LoadSnapshot>(
        Object.fromEntries(figures.map((figure) => [figure, '7'])) as unknown as LoadSnapshot,
      );
      of(ev('e0', 'git.commit'))
        .pipe(
          hybridProcess({
            immediate: (e) => e.id,
            batch: (batch) => batch.map((e) => e.id),
            load$,
            select: (_e, load) => {
              seen.push({ ...load });
              return ProcessingMode.IMMEDIATE;
            },
          }),
        )
        .subscribe();
      expect(seen).toHaveLength(1);
      expect(Object.entries(seen[0]!).filter(([, value]) => typeof value !== 'number')).toEqual([]);
    });

    it('does not count a string load$ figure as high in the default rule', () => {
      const modes: string[] = [];
      const load$ = new BehaviorSubject<LoadSnapshot>({
        cpuPercent: '99',
        memoryPercent: '99',
        eventLoopDelayMs: '500',
      } as unknown as LoadSnapshot);
      of(ev('e0', 'git.commit'))
        .pipe(
          hybridProcess({
            immediate: (e) => of(e.id),
            batch: (batch) => batch.map((e) => e.id),
            load$,
            modes: { minHighLoadIndicators: 1 },
          }),
        )
        .subscribe((o) => modes.push(o.mode));
      expect(modes).toEqual([ProcessingMode.IMMEDIATE]);
    });

    it('without load$, batches a user-blocking event once its own queue is deep and its metrics slow; its queue alone is one indicator', () => {
      // docs/hybridProcess.md said a flooded pipeline switches to batching without load$: its queue depth is
      // one indicator, and the default rule wants two, so only with metrics whose latency is high too.
      const batchedAt = (metrics: EventFlowMetrics | undefined, modes?: SelectModeConfig) => {
        const batched: string[] = [];
        const input = new Subject<Event>();
        input
          .pipe(
            hybridProcess({
              immediate: () => NEVER,
              batch: (batch) => {
                for (const e of batch) batched.push(e.id);
                return batch.map(() => 'x');
              },
              concurrency: { immediate: 1 },
              batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy },
              ...(metrics === undefined ? {} : { metrics }),
              ...(modes === undefined ? {} : { modes }),
            }),
          )
          .subscribe();
        // e0 runs and e1… wait: e1001 finds 1,000 waiting (not above the threshold), e1002 1,001.
        for (let i = 0; i <= 1002; i++) input.next(ev(`e${i}`, 'git.commit'));
        return batched;
      };
      const slow = new EventFlowMetrics();
      for (let i = 0; i < 4; i++) slow.record('x', 300);
      expect(batchedAt(slow)).toEqual(['e1002']);
      expect(batchedAt(new EventFlowMetrics())).toEqual([]);
      expect(batchedAt(undefined)).toEqual([]);
      expect(batchedAt(undefined, { minHighLoadIndicators: 1 })).toEqual(['e1002']);
    });

    it('reports each batch latency to the batcher, which adapts', () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const batcher = adaptiveBatch<Event>(
        batching(scheduler, { maxSize: 4, policy: aimdPolicy({ targetLatencyMs: 10, samples: 1 }) }),
      );
      scheduler.run(({ cold, expectObservable }) => {
        const result = cold('(abcd) 19ms (abc) 10ms |', events).pipe(
          hybridProcess(
            options(scheduler, {
              batcher,
              batch: (batch) => timer(20, scheduler).pipe(map(() => batch.map((e) => e.id))),
            }),
          ),
          map((o) => o.latencyMs),
        );
        // Each event's latency runs from its arrival to its outcome.
        // [a,b,c,d] runs 0..20 and maxSize drops to 2: at 25, [a,b] runs 25..45; [c] times out at 30 and
        // waits for the single batch slot, running 45..65.
        expectObservable(result).toBe('20ms (wxyz) 19ms (uv) 16ms (t|)', {
          w: 20,
          x: 20,
          y: 20,
          z: 20,
          u: 20,
          v: 20,
          t: 40,
        });
      });
      // 20 ms > 10 ms target: maxSize halved after each batch (4 → 2 → 1).
      expect(batcher.config.maxSize).toBe(1);
      // At the floor the last sample changes nothing, so it is kept.
      expect(batcher.samples.map((sample) => sample.latencyMs)).toEqual([20]);
    });

    it('reports only processed batches: a failed or timed-out batch is not reported to the batcher', () => {
      const scheduler = new VirtualTimeScheduler();
      const batcher = adaptiveBatch<Event>(batching(scheduler, { maxSize: 1 }));
      const input = new Subject<Event>();
      const seen: string[] = [];
      let call = 0;
      input
        .pipe(
          hybridProcess<string>({
            immediate: (e) => e.id,
            batch: (batch) => {
              call++;
              if (call === 1) throw new Error('disk full');
              if (call === 2) return NEVER;
              return batch.map((e) => e.id);
            },
            batcher,
            timeoutMs: { batched: 5 },
            scheduler,
          }),
        )
        .subscribe((o) => seen.push(show(o)));
      for (const e of [a, b, c]) input.next(e);
      scheduler.flush();
      expect(seen).toEqual(['e:b:a', 'e:b:b', 'r:b:c']);
      expect(batcher.samples.map((sample) => sample.size)).toEqual([1]);
    });

    it("errors the output with what the batcher's report threw, after every outcome", () => {
      const boom = new Error('policy');
      const batcher = Object.assign((source: Observable<Event>) => source.pipe(map((e) => [e])), {
        report() {
          throw boom;
        },
        config: { maxSize: 1, timeoutMs: 1_000 },
        config$: of({ maxSize: 1, timeoutMs: 1_000 }),
      });
      const seen: string[] = [];
      of(a, b)
        .pipe(
          hybridProcess<string>({
            immediate: (e) => e.id,
            batch: (batch) => batch.map((e) => e.id),
            batcher: batcher as unknown as HybridProcessOptions<string>['batcher'],
          }),
        )
        .subscribe({
          next: (o) => seen.push(show(o)),
          error: (e) => seen.push(`# ${(e as Error).message}`),
          complete: () => seen.push('|'),
        });
      // The input stops at the first report: b is not read.
      expect(seen).toEqual(['r:b:a', '# policy']);
    });

    it('errors the output with a ConfigError when the batcher’s policy proposes NaN, after every outcome', () => {
      const batcher = adaptiveBatch<Event>({
        minSize: 1,
        maxSize: 1,
        policy: { name: 'nan', adapt: () => ({ maxSize: Number.NaN }) },
      });
      const seen: string[] = [];
      of(a, b)
        .pipe(
          hybridProcess<string>({
            immediate: (e) => e.id,
            batch: (batch) => batch.map((e) => e.id),
            batcher,
            select: () => ProcessingMode.BATCHED,
          }),
        )
        .subscribe({
          next: (o) => seen.push(show(o)),
          error: (e) => seen.push(`# ${(e as ConfigError).code} ${(e as Error).message.slice(0, 48)}`),
          complete: () => seen.push('|'),
        });
      // Passed over, the policy never adapted again without a word, and the output completed.
      expect(seen).toEqual(['r:b:a', "# INVALID_CONFIG adaptiveBatch: policy 'nan' proposed maxSize NaN"]);
    });

    it('records latencies, errors and a queue gauge into metrics, and unregisters the gauge', () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const metrics = new EventFlowMetrics({ scheduler });
      scheduler.run(({ cold, expectObservable }) => {
        const result = cold('-g-C---a---|', events).pipe(
          hybridProcess(
            options(scheduler, {
              metrics,
              immediate: (e) =>
                e === C ? throwError(() => new Error('x')) : timer(2, scheduler).pipe(map(() => 'ok')),
            }),
          ),
          map(show),
        );
        // C arrives at 3 before g's 2 ms of work end at 3 (the source's frame was scheduled first).
        expectObservable(result).toBe('---(xy)----(z|)', { x: 'e:i:C', y: 'r:i:g', z: 'r:b:a' });
      });
      const summary = metrics.summary();
      expect(summary['git.commit']).toMatchObject({ count: 1, max_processing_time_ms: 2 });
      expect(summary['workflow.failed']).toMatchObject({ count: 0, errors: 1 });
      // a's batch was cut at 11 and handled at once: its 4 ms in the batcher are its latency, not its
      // processing time.
      expect(summary['tool.used']).toMatchObject({ count: 1, max_processing_time_ms: 0 });
      expect(metrics.queueDepth).toBe(0);
    });

    it("records a BATCHED event's time from its batch's cut, not its wait in the batcher: a trickle of them does not make the load high and send user-blocking events to the batch", () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const metrics = new EventFlowMetrics({ scheduler });
      const seen: string[] = [];
      scheduler.run(({ cold, expectObservable }) => {
        // One tool.used a second, each cut after 500 ms in the batcher; CPU at 90 % all along. The
        // batcher's wait counted as latency (avgLatencyMs 500 > 200) made a second high indicator: g
        // went to the batch lane (r:b:g, once the last batch was handled) rather than at once.
        const load$ = cold('l', { l: { cpuPercent: 90 } as LoadSnapshot });
        const result = cold('a 999ms b 999ms c 999ms g|', events).pipe(
          hybridProcess(
            options(scheduler, {
              metrics,
              load$,
              batcher: batching(scheduler, { timeoutMs: 500, maxTimeoutMs: 1000 }),
              batch: (batch) => timer(3, scheduler).pipe(map(() => batch.map((e) => `bat:${e.id}`))),
            }),
          ),
          map((outcome) => {
            seen.push(`${show(outcome)} ${outcome.latencyMs}`);
            return show(outcome);
          }),
        );
        expectObservable(result).toBe('503ms x 999ms y 999ms z 496ms g|', {
          x: 'r:b:a',
          y: 'r:b:b',
          z: 'r:b:c',
          g: 'r:i:g',
        });
      });
      // The outcomes' latency still counts the batcher's wait; the recorded time is the handler's 3 ms.
      expect(seen).toEqual(['r:b:a 503', 'r:b:b 503', 'r:b:c 503', 'r:i:g 0']);
      expect(metrics.summary()['tool.used']).toMatchObject({ count: 3, max_processing_time_ms: 3 });
      expect(metrics.avgLatencyMs).toBeLessThan(200);
    });

    it("gives events_per_second a batch's capacity: 4 events handled in one 8 ms call are 500/s, not 125/s", () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const metrics = new EventFlowMetrics({ scheduler });
      scheduler.run(({ cold, expectObservable }) => {
        const result = cold('(abcd)|', events).pipe(
          hybridProcess(
            options(scheduler, {
              metrics,
              batcher: batching(scheduler, { maxSize: 4 }),
              batch: (batch) => timer(8, scheduler).pipe(map(() => batch.map((e) => `bat:${e.id}`))),
            }),
          ),
          map(show),
        );
        expectObservable(result).toBe('8ms (wxyz|)', { w: 'r:b:a', x: 'r:b:b', y: 'r:b:c', z: 'r:b:d' });
      });
      // Each event's processing time is the batch's 8 ms; the stage did 4 events in those 8 ms.
      expect(metrics.summary()['tool.used']).toMatchObject({
        count: 4,
        avg_processing_time_ms: 8,
        events_per_second: 500,
      });
    });

    it('gives every outcome when metrics throws, then errors with its exception: a synchronous handler', () => {
      const metrics = new EventFlowMetrics();
      metrics.record = () => {
        throw new Error('metrics down');
      };
      const seen: string[] = [];
      from([g, h, a])
        .pipe(hybridProcess({ immediate: (e) => `imm:${e.id}`, batch: (b) => b.map((e) => e.id), metrics }))
        .subscribe({
          next: (o) => seen.push(show(o)),
          error: (e) => seen.push(`# ${(e as Error).message}`),
          complete: () => seen.push('|'),
        });
      // Before, g had no outcome: the exception went out at the source, which errored the output.
      // The input stops at the failure (as at a consumer's exception): h and a are not read.
      expect(seen).toEqual(['r:i:g', '# metrics down']);
    });

    it('gives every outcome when metrics throws, then errors with its exception: a promise, not an unhandled rejection', async () => {
      const metrics = new EventFlowMetrics();
      metrics.recordError = () => {
        throw new Error('metrics down');
      };
      const seen: string[] = [];
      const unhandled = await unhandledRejections(
        () =>
          new Promise<void>((resolve) => {
            from([g, h])
              .pipe(
                hybridProcess({
                  immediate: (e) =>
                    e === g ? Promise.reject(new Error('no')) : Promise.resolve(`imm:${e.id}`),
                  batch: (b) => b.map((e) => e.id),
                  metrics,
                }),
              )
              .subscribe({
                next: (o) => seen.push(show(o)),
                error: (e) => {
                  seen.push(`# ${(e as Error).message}`);
                  resolve();
                },
                complete: () => resolve(),
              });
          }),
      );
      // Both were read before either settled: h's outcome still comes, then the error.
      expect(seen).toEqual(['e:i:g', 'r:i:h', '# metrics down']);
      expect(unhandled).toEqual([]);
    });

    it("counts an IMMEDIATE event's wait for a free slot in its processing time, not in events_per_second", () => {
      const scheduler = new TestScheduler((x, y) => expect(x).toStrictEqual(y));
      const metrics = new EventFlowMetrics({ scheduler });
      const g2 = ev('G', 'git.commit');
      scheduler.run(({ cold, expectObservable }) => {
        // One slot, 10 ms a commit: g waits 0, G 10 ms; the stage does 100 commits a second.
        const result = cold('(gG)|', { g, G: g2 }).pipe(
          hybridProcess(
            options(scheduler, {
              metrics,
              concurrency: { immediate: 1 },
              immediate: (e) => timer(10, scheduler).pipe(map(() => `imm:${e.id}`)),
            }),
          ),
          map(show),
        );
        expectObservable(result).toBe('10ms x 9ms (y|)', { x: 'r:i:g', y: 'r:i:G' });
      });
      expect(metrics.summary()['git.commit']).toMatchObject({
        count: 2,
        avg_processing_time_ms: 15,
        max_processing_time_ms: 20,
        events_per_second: 100,
      });
    });
  });

  describe('bounded queues', () => {
    const slowImmediate = (scheduler: SchedulerLike) => (e: Event) =>
      timer(10, scheduler).pipe(map(() => `imm:${e.id}`));

    it(
      'drop-newest: a full queue drops the incoming event with a counted events.dropped event',
      marbles((m) => {
        const source = m.cold('  -(gghC)|', events);
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, {
              concurrency: { immediate: 1 },
              maxQueued: 1,
              overflow: 'drop-newest',
              immediate: slowImmediate(m.scheduler),
            }),
          ),
        );
        // g runs; g queues; h is HIGH: the queued NORMAL g is the newest of the lowest priority → dropped.
        // C: the queue holds h (HIGH) → h dropped. Outcomes: the two drops at once, then g, then C.
        const expected = '       -(xy)------z---------(w|)';
        m.expect(
          result.pipe(map((o) => `${show(o)}${o.kind === 'dropped' ? `#${o.dropped.data.total}` : ''}`)),
        ).toBeObservable(expected, { x: 'd:i:g#1', y: 'd:i:h#2', z: 'r:i:g', w: 'r:i:C' });
      }),
    );

    it('drop-oldest evicts the oldest of the lowest priority; drop outcomes carry EVENT_DROPPED', async () => {
      const input = new Subject<Event>();
      const outcomes: HybridOutput<string>[] = [];
      const low1 = ev('low1', 'workflow.failed', Priority.LOW);
      const low2 = ev('low2', 'workflow.failed', Priority.LOW);
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            maxQueued: 2,
            overflow: 'drop-oldest',
          }),
        )
        .subscribe((o) => outcomes.push(o));
      for (const e of [g, low1, low2, C, D]) input.next(e);
      // g runs; queue [low1, low2]; C evicts low1; D evicts low2.
      expect(outcomes.map(show)).toEqual(['d:i:low1', 'd:i:low2']);
      const dropped = outcomes[0]!;
      expect(dropped.kind).toBe('dropped');
      if (dropped.kind === 'dropped') {
        expect(dropped.error.code).toBe('EVENT_DROPPED');
        expect(dropped.dropped).toMatchObject({
          type: 'events.dropped',
          priority: Priority.HIGH,
          data: { lane: 'immediate', policy: 'drop-oldest', limit: 2, event_id: 'low1', total: 1 },
        });
      }
    });

    it(
      'times a dropped or failed event from its arrival on the scheduler given, stamps events.dropped with it, and says why',
      marbles((m) => {
        const p = ev('p', 'git.commit', Priority.LOW);
        const seen = (o: HybridOutput<string>) => ({
          outcome: show(o),
          latencyMs: o.latencyMs,
          ...(o.kind === 'result' ? {} : { message: (o.error as Error).message }),
          ...(o.kind === 'dropped' ? { timestamp: o.dropped.timestamp } : {}),
        });
        // g runs from 1 to 11; p waits from 3; C, at 6, finds the queue full and evicts p (3 ms after it came).
        const dropping = m.cold('-g-p--C|', { g, p, C }).pipe(
          hybridProcess(
            options(m.scheduler, {
              select: () => ProcessingMode.IMMEDIATE,
              concurrency: { immediate: 1 },
              maxQueued: 1,
              overflow: 'drop-oldest',
              immediate: slowImmediate(m.scheduler),
            }),
          ),
          map(seen),
        );
        m.expect(dropping).toBeObservable('------x----y---------(z|)', {
          x: {
            outcome: 'd:i:p',
            latencyMs: 3,
            message: 'hybridProcess: immediate queue full (1), git.commit p dropped (drop-oldest)',
            timestamp: 6,
          },
          y: { outcome: 'r:i:g', latencyMs: 10 },
          z: { outcome: 'r:i:C', latencyMs: 15 },
        });
        // g runs from 2 and fails at its time limit, 5 ms after it came; of the two at 3, the first is queued
        // and the second finds the queue of 1 full.
        const failing = m.cold('--g(gg)|', events).pipe(
          hybridProcess(
            options(m.scheduler, {
              concurrency: { immediate: 1 },
              maxQueued: 1,
              overflow: 'error',
              immediate: () => NEVER,
              timeoutMs: { immediate: 5 },
            }),
          ),
          map(seen),
        );
        m.expect(failing).toBeObservable('---x---y----(z|)', {
          x: {
            outcome: 'e:i:g',
            latencyMs: 0,
            message: "hybridProcess: immediate queue full (1 events, overflow 'error')",
          },
          y: {
            outcome: 'e:i:g',
            latencyMs: 5,
            message: 'hybridProcess: the immediate handler did not settle within 5 ms (timeoutMs)',
          },
          // The one queued from 3 runs from 7 and fails at 12.
          z: {
            outcome: 'e:i:g',
            latencyMs: 9,
            message: 'hybridProcess: the immediate handler did not settle within 5 ms (timeoutMs)',
          },
        });
      }),
    );

    it("stamps events.dropped with the epoch's ms (asyncScheduler's) when no scheduler is given", () => {
      const input = new Subject<Event>();
      const outcomes: HybridOutput<string>[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            maxQueued: 1,
            overflow: 'drop-newest',
          }),
        )
        .subscribe((o) => outcomes.push(o));
      const before = Date.now();
      for (const e of [g, g, g]) input.next(e);
      const after = Date.now();
      const dropped = outcomes[0]!;
      expect(dropped.kind).toBe('dropped');
      if (dropped.kind === 'dropped') {
        expect(dropped.dropped.timestamp).toBeGreaterThanOrEqual(before);
        expect(dropped.dropped.timestamp).toBeLessThanOrEqual(after);
      }
    });

    it(
      'queues an event whose priority is not 0..3 as LOW, and gives it its outcome',
      marbles((m) => {
        // Untyped sources may carry anything: each of these counts as LOW, behind the NORMAL G.
        const odd = (id: string, priority: unknown): Event => ({
          ...ev(id, 'git.commit'),
          priority: priority as Priority,
        });
        const values = {
          g,
          G: ev('G', 'git.commit'),
          p: odd('p', 7),
          q: odd('q', undefined),
          r: odd('r', Number.NaN),
          s: odd('s', 1.5),
          t: odd('t', '3'),
        };
        const source = m.cold('  -(gpqrstG)|', values);
        const result = source.pipe(
          hybridProcess(
            options(m.scheduler, { concurrency: { immediate: 1 }, immediate: slowImmediate(m.scheduler) }),
          ),
          map(show),
        );
        m.expect(result).toBeObservable('- 10ms a 9ms b 9ms c 9ms d 9ms e 9ms f 9ms (h|)', {
          a: 'r:i:g',
          b: 'r:i:G',
          c: 'r:i:p',
          d: 'r:i:q',
          e: 'r:i:r',
          f: 'r:i:s',
          h: 'r:i:t',
        });
        // Under a drop policy it is the LOW victim, and events.dropped reports it as LOW.
        const dropping = m.cold('-(gGp)|', values).pipe(
          hybridProcess(
            options(m.scheduler, {
              concurrency: { immediate: 1 },
              maxQueued: 1,
              overflow: 'drop-newest',
              immediate: slowImmediate(m.scheduler),
            }),
          ),
          map((o) => `${show(o)}${o.kind === 'dropped' ? `#${o.dropped.data.event_priority}` : ''}`),
        );
        m.expect(dropping).toBeObservable('-x---------y---------(z|)', {
          x: 'd:i:p#0',
          y: 'r:i:g',
          z: 'r:i:G',
        });
      }),
    );

    it(
      'error (and block without a pulling source): the incoming event fails with BUFFER_OVERFLOW',
      marbles((m) => {
        for (const overflow of ['error', 'block'] as const) {
          const source = m.cold('  -(ggg)|', events);
          const result = source.pipe(
            hybridProcess(
              options(m.scheduler, {
                concurrency: { immediate: 1 },
                maxQueued: 1,
                overflow,
                immediate: slowImmediate(m.scheduler),
              }),
            ),
            map((o) => `${show(o)}:${o.kind === 'error' ? (o.error as VibespecError).code : ''}`),
          );
          m.expect(result).toBeObservable('-x---------y---------(z|)', {
            x: 'e:i:g:BUFFER_OVERFLOW',
            y: 'r:i:g:',
            z: 'r:i:g:',
          });
        }
      }),
    );

    it('drops the oldest (drop-oldest) or the incoming (drop-newest) event of a full queue of its own priority, CRITICAL too', () => {
      for (const [priority, overflow] of [
        [Priority.NORMAL, 'drop-oldest'],
        [Priority.NORMAL, 'drop-newest'],
        [Priority.CRITICAL, 'drop-oldest'],
        [Priority.CRITICAL, 'drop-newest'],
      ] as const) {
        const input = new Subject<Event>();
        const outcomes: HybridOutput<string>[] = [];
        input
          .pipe(
            hybridProcess({
              immediate: () => NEVER,
              batch: (batch) => batch.map(() => 'x'),
              concurrency: { immediate: 1 },
              maxQueued: 2,
              overflow,
            }),
          )
          .subscribe((o) => outcomes.push(o));
        // g0 runs; g1 and g2 fill the queue; g3, of the same priority, arrives at the full queue.
        for (let i = 0; i < 4; i++) input.next(ev(`g${i}`, 'git.commit', priority));
        expect(outcomes.map(show)).toEqual([overflow === 'drop-oldest' ? 'd:i:g1' : 'd:i:g3']);
      }
    });

    it('drop-oldest drops an incoming event less urgent than every queued one; drop-newest evicts the newest of the lowest', () => {
      const run = (overflow: 'drop-oldest' | 'drop-newest', queued: Event[], incoming: Event): string[] => {
        const input = new Subject<Event>();
        const dropped: string[] = [];
        input
          .pipe(
            hybridProcess({
              immediate: () => NEVER,
              batch: (batch) => batch.map(() => 'x'),
              select: () => ProcessingMode.IMMEDIATE,
              concurrency: { immediate: 1 },
              maxQueued: 2,
              overflow,
            }),
          )
          .subscribe((o) => dropped.push(show(o)));
        for (const e of [g, ...queued, incoming]) input.next(e);
        return dropped;
      };
      const low = ev('low', 'workflow.failed', Priority.LOW);
      // A full queue of CRITICAL events keeps them: the LOW newcomer is the oldest of the lowest class.
      expect(run('drop-oldest', [C, D], low)).toEqual(['d:i:low']);
      // drop-newest: of the two queued NORMAL events, the newer one goes, for the more urgent C.
      expect(run('drop-newest', [ev('g1', 'git.commit'), ev('g2', 'git.commit')], C)).toEqual(['d:i:g2']);
    });

    it('holds the gate only under block: a drop policy never holds it', () => {
      const gate = createFlowGate();
      const input = new Subject<Event>();
      const seen: string[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            maxQueued: 2,
            overflow: 'drop-newest',
            gate,
          }),
        )
        .subscribe((o) => seen.push(show(o)));
      for (let i = 0; i < 4; i++) {
        input.next(ev(`g${i}`, 'git.commit'));
        expect(gate.isOpen).toBe(true);
      }
      expect(seen).toEqual(['d:i:g3']);
    });

    it('block: holds the gate from half the limit (the high-water mark) in each lane, and releases it', () => {
      for (const [lane, type, priority] of [
        ['immediate', 'git.commit', Priority.NORMAL],
        ['async', 'message.displayed', Priority.LOW],
        ['batched', 'tool.used', Priority.NORMAL],
      ] as const) {
        const scheduler = new VirtualTimeScheduler();
        const gate = createFlowGate();
        const release = new Subject<string>();
        const input = new Subject<Event>();
        const seen: string[] = [];
        input
          .pipe(
            hybridProcess<string>({
              immediate: () => release,
              batch: (batch) => release.pipe(map(() => batch.map((e) => e.id))),
              batcher: { minSize: 1, maxSize: 1, policy: fixedPolicy, scheduler },
              concurrency: 1,
              maxQueued: { [lane]: 4 },
              gate,
              scheduler,
            }),
          )
          .subscribe((o) => seen.push(o.event.id));
        // The first event runs (ASYNC: none runs inside the emission, all three wait).
        const open: boolean[] = [];
        for (let i = 0; i < 3; i++) {
          input.next(ev(`${lane}${i}`, type, priority));
          open.push(gate.isOpen);
        }
        expect(open).toEqual(lane === 'async' ? [true, false, false] : [true, true, false]);
        // The held handler settles, and the next ones at once: the queue empties, the gate opens.
        for (let i = 0; i < 3; i++) {
          scheduler.flush();
          release.next('done');
        }
        scheduler.flush();
        expect(seen).toHaveLength(3);
        expect(gate.isOpen).toBe(true);
      }
    });

    it('describes a drop fully: events.dropped carries the type, the session, the scheduler time; metrics count it', () => {
      const scheduler = new VirtualTimeScheduler();
      scheduler.schedule(() => undefined, 42);
      scheduler.flush(); // now() is 42
      const metrics = new EventFlowMetrics({ scheduler });
      const input = new Subject<Event>();
      const outcomes: HybridOutput<string>[] = [];
      input
        .pipe(
          hybridProcess<string>({
            immediate: () => NEVER,
            batch: (batch) => batch.map(() => 'x'),
            concurrency: { immediate: 1 },
            maxQueued: 1,
            overflow: 'drop-newest',
            metrics,
            scheduler,
          }),
        )
        .subscribe((o) => outcomes.push(o));
      input.next(g);
      input.next(ev('g1', 'git.commit'));
      input.next(createEvent({ id: 'g2', type: 'git.commit', sessionId: 's7', timestamp: 0 }));
      expect(outcomes.map(show)).toEqual(['d:i:g2']);
      const dropped = outcomes[0] as HybridDropped;
      expect(dropped.dropped).toMatchObject({
        type: 'events.dropped',
        timestamp: 42,
        sessionId: 's7',
        data: { event_id: 'g2', event_type: 'git.commit', event_priority: Priority.NORMAL, limit: 1 },
      });
      expect(metrics.summary()['git.commit']).toMatchObject({ dropped: 1, errors: 0, count: 0 });
    });

    it('bounds the batched lane too: queued batches count against maxQueued', () => {
      const input = new Subject<Event>();
      const outcomes: HybridOutput<string>[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: (e) => e.id,
            batch: () => NEVER,
            batcher: { minSize: 1, maxSize: 2, policy: fixedPolicy },
            maxQueued: { batched: 3 },
            overflow: 'drop-oldest',
          }),
        )
        .subscribe((o) => outcomes.push(o));
      const batch = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'].map((id) => ev(id));
      for (const e of batch) input.next(e);
      // [b1,b2] in flight; [b3,b4] and [b5,b6] queue (4 > 3: b3 evicted); [b7,b8] evicts b4 and b5.
      expect(outcomes.map(show)).toEqual(['d:b:b3', 'd:b:b4', 'd:b:b5']);
    });

    it('drop-oldest in the batched lane evicts only the excess, oldest first, and keeps the queue depth exact', () => {
      const metrics = new EventFlowMetrics();
      const release = new Subject<void>();
      const input = new Subject<Event>();
      const outcomes: string[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: (e) => e.id,
            // The first batch is held; the others answer at once.
            batch: (batch) =>
              batch[0]!.id === 'b1'
                ? release.pipe(map(() => batch.map((e) => e.id)))
                : batch.map((e) => e.id),
            batcher: { minSize: 1, maxSize: 2, policy: fixedPolicy },
            maxQueued: { batched: 5 },
            overflow: 'drop-oldest',
            metrics,
          }),
        )
        .subscribe((o) => outcomes.push(show(o)));
      const ids = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'];
      for (const id of ids) input.next(ev(id));
      // [b1,b2] in flight; [b3,b4] and [b5,b6] fit (4 of 5); [b7,b8] is one too many: b3 alone is evicted.
      expect(outcomes).toEqual(['d:b:b3']);
      expect(metrics.queueDepth).toBe(5);
      release.next();
      expect(outcomes).toEqual([
        'd:b:b3',
        ...['b1', 'b2', 'b4', 'b5', 'b6', 'b7', 'b8'].map((id) => `r:b:${id}`),
      ]);
      expect(metrics.queueDepth).toBe(0);
    });

    it('drop-oldest in the batched lane: a batch larger than the queue keeps its newest events, each once', () => {
      const release = new Subject<void>();
      const input = new Subject<Event>();
      const outcomes: string[] = [];
      input
        .pipe(
          hybridProcess({
            immediate: (e) => e.id,
            batch: (batch) => release.pipe(map(() => batch.map((e) => e.id))),
            batcher: { minSize: 1, maxSize: 3, policy: fixedPolicy },
            maxQueued: { batched: 1 },
            overflow: 'drop-oldest',
          }),
        )
        .subscribe((o) => outcomes.push(show(o)));
      for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) input.next(ev(id));
      // [a, b, c] in flight; of [d, e, f] only one fits: d and e are dropped, f waits.
      expect(outcomes).toEqual(['d:b:d', 'd:b:e']);
      release.next();
      release.next();
      expect(outcomes).toEqual(['d:b:d', 'd:b:e', 'r:b:a', 'r:b:b', 'r:b:c', 'r:b:f']);
    });

    it('error (and block) in the batched lane: what does not fit fails with BUFFER_OVERFLOW; no empty batch runs', () => {
      for (const overflow of ['error', 'block'] as const) {
        const release = new Subject<void>();
        const input = new Subject<Event>();
        const outcomes: string[] = [];
        const batches: string[][] = [];
        input
          .pipe(
            hybridProcess<string>({
              immediate: (e) => e.id,
              batch: (batch) => {
                batches.push(batch.map((e) => e.id));
                return release.pipe(map(() => batch.map((e) => e.id)));
              },
              batcher: { minSize: 1, maxSize: 2, policy: fixedPolicy },
              maxQueued: { batched: 2 },
              overflow,
            }),
          )
          .subscribe((o) =>
            outcomes.push(`${show(o)}${o.kind === 'error' ? `:${(o.error as VibespecError).code}` : ''}`),
          );
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) input.next(ev(id));
        // [a, b] in flight, [c, d] queued (the queue is full), [e, f] refused.
        expect(outcomes).toEqual(['e:b:e:BUFFER_OVERFLOW', 'e:b:f:BUFFER_OVERFLOW']);
        release.next();
        release.next();
        expect(batches).toEqual([
          ['a', 'b'],
          ['c', 'd'],
        ]);
        expect(outcomes.slice(2)).toEqual(['r:b:a', 'r:b:b', 'r:b:c', 'r:b:d']);
      }
    });

    it('block: holds the gate so a pullFrom source pauses, and loses nothing', async () => {
      const gate = createFlowGate();
      let pulled = 0;
      let maxAhead = 0;
      let done = 0;
      function* source() {
        for (let i = 0; i < 200; i++) {
          pulled++;
          maxAhead = Math.max(maxAhead, pulled - done);
          yield ev(`e${i}`, 'workflow.failed', Priority.CRITICAL);
        }
      }
      const outcomes = await collect(
        pullFrom(source(), gate),
        hybridProcess({
          immediate: (e) =>
            new Promise<string>((resolve) =>
              setImmediate(() => {
                done++;
                resolve(e.id);
              }),
            ),
          batch: (batch) => batch.map((e) => e.id),
          concurrency: { immediate: 2 },
          maxQueued: 8,
          gate,
        }),
      );
      expect(outcomes).toHaveLength(200);
      expect(outcomes.every((o) => o.kind === 'result')).toBe(true);
      // 2 in flight + at most the high-water mark (4) waiting, + the one being pulled.
      expect(maxAhead).toBeLessThanOrEqual(2 + 4 + 1);
      expect(gate.isOpen).toBe(true);
    });
  });

  it('validates its options at construction', () => {
    const ok = { immediate: (e: Event) => e.id, batch: (b: Event[]) => b.map((e) => e.id) };
    expect(() => hybridProcess({ ...ok, immediate: undefined as never })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, batch: 'x' as never })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, concurrency: 0 })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, concurrency: { batched: 1.5 } })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, maxQueued: -1 })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, overflow: 'spill' as never })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, batcher: { maxSize: 0 } })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, concurrency: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => hybridProcess({ ...ok, timeoutMs: 0 })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, timeoutMs: { batched: Number.NaN } })).toThrow(ConfigError);
    expect(() => hybridProcess({ ...ok, timeoutMs: 3_000_000_000 })).toThrow(ConfigError);
    // Up to Node's longest timer (2^31 - 1 ms) included.
    expect(() => hybridProcess({ ...ok, timeoutMs: 2_147_483_647 })).not.toThrow();
    expect(() => hybridProcess({ ...ok, timeoutMs: 2_147_483_648 })).toThrow(ConfigError);
    expect(() =>
      hybridProcess({ ...ok, timeoutMs: { immediate: 2.5, async: Number.POSITIVE_INFINITY } }),
    ).not.toThrow();
  });

  it('names the option at fault: each function checked, each method of metrics and gate, null as no object', () => {
    const ok = { immediate: (e: Event) => e.id, batch: (b: Event[]) => b.map((e) => e.id) };
    const f = () => undefined;
    const metrics = { record: f, recordError: f, recordDropped: f, gauge: f };
    const gate = { hold: f, release: f };
    const bad: Array<[unknown, RegExp]> = [
      [{ ...ok, immediate: undefined }, /^hybridProcess: immediate must be a function$/],
      [{ ...ok, batch: 'x' }, /^hybridProcess: batch must be a function$/],
      [{ ...ok, background: 5 }, /^hybridProcess: background must be a function$/],
      [{ ...ok, load$: null }, /^hybridProcess: load\$ must be an Observable of LoadSnapshot, got null$/],
      [{ ...ok, metrics: null }, /^hybridProcess: metrics must be an EventFlowMetrics, got null$/],
      [{ ...ok, gate: null }, /^hybridProcess: gate must be a FlowGate \(createFlowGate\(\)\), got null$/],
      ...(['record', 'recordError', 'recordDropped', 'gauge'] as const).map((method): [unknown, RegExp] => [
        { ...ok, metrics: { ...metrics, [method]: undefined } },
        /metrics must be an EventFlowMetrics/,
      ]),
      ...(['hold', 'release'] as const).map((method): [unknown, RegExp] => [
        { ...ok, gate: { ...gate, [method]: undefined } },
        /gate must be a FlowGate/,
      ]),
    ];
    for (const [options, message] of bad) {
      expect(() => hybridProcess(options as never)).toThrow(ConfigError);
      expect(() => hybridProcess(options as never)).toThrow(message);
    }
    expect(() => hybridProcess({ ...ok, metrics: metrics as never, gate: gate as never })).not.toThrow();
  });

  it('says in each lane option ConfigError which option and lane, what it takes and what it got', () => {
    const ok = { immediate: (e: Event) => e.id, batch: (b: Event[]) => b.map((e) => e.id) };
    const messages = [
      { concurrency: 'x' },
      { concurrency: 0 },
      { maxQueued: { async: -1 } },
      { timeoutMs: 0 },
      { overflow: 'spill' },
      { batcher: 5 },
    ].map((bad) => {
      try {
        hybridProcess({ ...ok, ...bad } as never);
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(messages).toEqual([
      "hybridProcess: concurrency must be a number or an object of lanes (immediate, batched, async), got 'x'",
      'hybridProcess: concurrency.immediate must be a positive integer or Infinity, got 0',
      'hybridProcess: maxQueued.async must be a positive integer or Infinity, got -1',
      'hybridProcess: timeoutMs.immediate must be a positive number of ms up to 2147483647, or Infinity, got 0',
      "hybridProcess: overflow must be one of block, drop-oldest, drop-newest, error, got 'spill'",
      'hybridProcess: batcher must be an adaptiveBatch() operator (with its report()) or its options (an object), got 5',
    ]);
  });

  it('refuses, at construction, what it would only trip on at subscribe or on every event', () => {
    const ok = { immediate: (e: Event) => e.id, batch: (b: Event[]) => b.map((e) => e.id) };
    const bad: Array<[string, () => unknown, RegExp]> = [
      ['options', () => hybridProcess(null as never), /config must be an object/],
      [
        'scheduler',
        () => hybridProcess({ ...ok, scheduler: {} as never }),
        /scheduler must be a SchedulerLike/,
      ],
      ['select', () => hybridProcess({ ...ok, select: 'immediate' as never }), /select must be a function/],
      [
        'load$',
        () => hybridProcess({ ...ok, load$: { cpuPercent: 5 } as never }),
        /load\$ must be an Observable/,
      ],
      [
        'metrics',
        () => hybridProcess({ ...ok, metrics: {} as never }),
        /metrics must be an EventFlowMetrics/,
      ],
      ['gate', () => hybridProcess({ ...ok, gate: {} as never }), /gate must be a FlowGate/],
      // A plain operator has no report(): it was a TypeError out of the first batch's report.
      [
        'batcher',
        () => hybridProcess({ ...ok, batcher: bufferCount(2) as never }),
        /batcher must be an adaptiveBatch\(\) operator \(with its report\(\)\) or its options \(an object\), got a function without report\(\)$/,
      ],
      // Options that are no object were spread into none: the default batcher, without a word.
      ...[5, true, null, [], new Map()].map((batcher): [string, () => unknown, RegExp] => [
        'batcher',
        () => hybridProcess({ ...ok, batcher: batcher as never }),
        /batcher must be an adaptiveBatch\(\) operator .* or its options \(an object\), got /,
      ]),
      [
        'lane name',
        () => hybridProcess({ ...ok, concurrency: { immedate: 4 } as never }),
        /concurrency has an unknown lane "immedate"/,
      ],
      [
        'lane name',
        () => hybridProcess({ ...ok, timeoutMs: { batch: 10 } as never }),
        /timeoutMs has an unknown lane/,
      ],
    ];
    for (const [, make, message] of bad) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    }
    expect(() =>
      hybridProcess({
        ...ok,
        select: () => ProcessingMode.IMMEDIATE,
        load$: of({ cpuPercent: 5 }),
        metrics: new EventFlowMetrics(),
        gate: createFlowGate(),
        scheduler: asyncScheduler,
        maxQueued: { immediate: 10, batched: 10, async: 10 },
      }),
    ).not.toThrow();
    expect(() => hybridProcess({ ...ok, batcher: adaptiveBatch() })).not.toThrow();
    expect(() => hybridProcess({ ...ok, batcher: { maxSize: 3, minSize: 1 } })).not.toThrow();
  });
});

/** A source of one event per id, of `type`, at 0, then complete; `read.count`: how many it gave so far. */
function countedSource(
  ids: readonly string[],
  type: string,
): { source: Observable<Event>; read: { count: number } } {
  const read = { count: 0 };
  const source = new Observable<Event>((subscriber) => {
    for (const id of ids) {
      read.count++;
      subscriber.next(createEvent({ id, type, timestamp: 0 }));
    }
    subscriber.complete();
  });
  return { source, read };
}

describe('hybridProcess: input and order edge cases', () => {
  it('does not read the source at all when load$ fails at once (its events would get no outcome)', () => {
    const { source, read } = countedSource(['e0', 'e1', 'e2'], 'git.commit');
    const outcomes: HybridOutput<string>[] = [];
    let error: unknown;
    source
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (events) => events.map((e) => e.id),
          load$: throwError(() => new Error('load')),
        }),
      )
      .subscribe({ next: (o) => outcomes.push(o), error: (e) => (error = e) });
    expect(error).toMatchObject({ message: 'load' });
    // Every event taken from the source has an outcome: here, none is taken.
    expect(outcomes).toHaveLength(read.count);
    expect(read.count).toBe(0);
  });

  it('stops reading a synchronous source when the batcher fails while outcomes are still owed', () => {
    // The source was read to its end, every later event getting an error outcome for the batcher's failure.
    const boom = new Error('batcher');
    // A batcher that fails on the second event it is given.
    const failing = (source: Observable<Event>) =>
      new Observable<Event[]>((subscriber) => {
        let n = 0;
        return source.subscribe({
          next: (event) => (++n === 2 ? subscriber.error(boom) : subscriber.next([event])),
          complete: () => subscriber.complete(),
        });
      });
    const batcher = Object.assign(failing, {
      report() {},
      config: { maxSize: 1, timeoutMs: 1_000 },
      config$: of({ maxSize: 1, timeoutMs: 1_000 }),
    });
    const scheduler = new VirtualTimeScheduler();
    const pulled: string[] = [];
    function* source(): Generator<Event> {
      // q ASYNC: its outcome is owed when the batcher fails, so the output cannot end at once.
      for (const id of ['q', 'a', 'b', 'c', 'd']) {
        pulled.push(id);
        yield createEvent({ id, type: 'x', timestamp: 0 });
      }
    }
    const got: string[] = [];
    from(source())
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (events) => events.map((e) => e.id),
          select: (e) => (e.id === 'q' ? ProcessingMode.ASYNC : ProcessingMode.BATCHED),
          batcher: batcher as unknown as HybridProcessOptions<string>['batcher'],
          scheduler,
        }),
      )
      .subscribe({
        next: (o) => got.push(`${o.kind}:${o.event.id}`),
        error: (e) => got.push(`error ${(e as Error).message}`),
      });
    scheduler.flush();
    expect(pulled).toEqual(['q', 'a', 'b']);
    expect(got).toEqual(['result:a', 'error:b', 'result:q', 'error batcher']);
  });

  it('emits a batch’s outcomes before those of a batch its report re-cut (concurrency.batched 1)', () => {
    const scheduler = new TestScheduler(() => undefined);
    const order: string[] = [];
    let calls = 0;
    const input = new Subject<Event>();
    input
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          select: () => ProcessingMode.BATCHED,
          // The first batch is slow (5 ms, above the policy's 2 ms target): its report shrinks the size,
          // which re-cuts the open batch at once; the second batch answers synchronously.
          batch: (events) =>
            calls++ === 0
              ? timer(5, scheduler).pipe(map(() => events.map((e) => e.id)))
              : events.map((e) => e.id),
          batcher: {
            minSize: 1,
            maxSize: 2,
            maxSizeLimit: 4,
            timeoutMs: 50,
            minTimeoutMs: 1,
            maxTimeoutMs: 100,
            policy: aimdPolicy({ targetLatencyMs: 2, samples: 1 }),
            scheduler,
          },
          scheduler,
        }),
      )
      .subscribe((o) => order.push(o.event.id));
    input.next(createEvent({ id: 'a', type: 'x', timestamp: 0 }));
    input.next(createEvent({ id: 'b', type: 'x', timestamp: 0 })); // batch [a, b] in flight for 5 ms
    input.next(createEvent({ id: 'c', type: 'x', timestamp: 0 })); // the open batch [c]
    scheduler.flush();
    input.complete();
    scheduler.flush();
    expect(order).toEqual(['a', 'b', 'c']);
  });
});

describe('hybridProcess: leaving the source', () => {
  it('ends the subscription of a source of another RxJS copy (a plain observer) when the consumer leaves', () => {
    // What `subscribe` of another copy of RxJS does with the subscriber the operator passes it: it is
    // called as a plain observer, and the subscription returned is that copy's own.
    let unsubscribed = 0;
    let observer: { next(e: Event): void } | undefined;
    const foreign = {
      subscribe(o: { next(e: Event): void }) {
        observer = o;
        return { unsubscribe: () => unsubscribed++ };
      },
    } as unknown as Observable<Event>;
    const seen: string[] = [];
    const operator = hybridProcess<string>({ immediate: (e) => e.id, batch: (es) => es.map((e) => e.id) });
    const subscription = operator(foreign).subscribe((o) => seen.push(show(o)));
    observer!.next(g);
    expect(seen).toEqual(['r:i:g']);
    expect(unsubscribed).toBe(0);
    subscription.unsubscribe();
    expect(unsubscribed).toBe(1);
  });
});

describe('hybridProcess: a lane that stopped', () => {
  it('gives the events a custom batcher never took a LANE_CLOSED outcome (a VibespecError)', () => {
    // A batcher that completes after its first batch: the events after it reach a closed lane.
    const take1 = (source: Observable<Event>) =>
      new Observable<Event[]>((subscriber) => {
        const subscription = source.subscribe((event) => {
          subscriber.next([event]);
          subscriber.complete();
          subscription.unsubscribe();
        });
        return subscription;
      });
    const batcher = Object.assign(take1, {
      report() {},
      config: { maxSize: 1, timeoutMs: 1_000 },
      config$: of({ maxSize: 1, timeoutMs: 1_000 }),
    });
    const outcomes: HybridOutput<string>[] = [];
    of(createEvent({ type: 'a' }), createEvent({ type: 'b' }))
      .pipe(
        hybridProcess<string>({
          immediate: () => 'i',
          batch: (events) => events.map(() => 'b'),
          select: () => ProcessingMode.BATCHED,
          batcher: batcher as unknown as HybridProcessOptions<string>['batcher'],
        }),
      )
      .subscribe((outcome) => outcomes.push(outcome));
    const failed = outcomes.filter((o) => o.kind === 'error');
    expect(failed).toHaveLength(1);
    const error = (failed[0] as { error: VibespecError }).error;
    expect(error.name).toBe('VibespecError');
    expect(error.code).toBe('LANE_CLOSED');
    expect(error.message).toBe('hybridProcess: the batcher completed; this event was not batched');
  });

  /** A batcher whose `batches` is what it makes of its input (the adaptiveBatch members stubbed). */
  const customBatcher = (batches: (source: Observable<Event>) => Observable<Event[]>) =>
    Object.assign(batches, {
      report() {},
      config: { maxSize: 1, timeoutMs: 1_000 },
      config$: of({ maxSize: 1, timeoutMs: 1_000 }),
    }) as unknown as HybridProcessOptions<string>['batcher'];

  it('takes a batcher that completes at once, on subscription: its events get LANE_CLOSED, nothing is unhandled', async () => {
    const seen: string[] = [];
    const unhandled = await rxjsUnhandled(() => {
      of(createEvent({ id: 'a', type: 'tool.used' }), createEvent({ id: 'g', type: 'git.commit' }))
        .pipe(
          hybridProcess<string>({
            immediate: () => 'i',
            batch: (events) => events.map(() => 'b'),
            batcher: customBatcher(() => EMPTY),
          }),
        )
        .subscribe({
          next: (o) =>
            seen.push(`${o.event.id}:${o.kind === 'error' ? (o.error as VibespecError).code : o.kind}`),
          complete: () => seen.push('complete'),
        });
    });
    expect(seen).toEqual(['a:LANE_CLOSED', 'g:result', 'complete']);
    // Was a ReferenceError (checkDone called in its temporal dead zone), reported by RxJS on a later task.
    expect(unhandled).toEqual([]);
  });

  it('stops the input before the source starts when the batcher fails at once, as a load$ that fails at once', async () => {
    const { source, read } = countedSource(['e0', 'e1', 'e2'], 'git.commit');
    const outcomes: HybridOutput<string>[] = [];
    let error: unknown;
    const unhandled = await rxjsUnhandled(() => {
      source
        .pipe(
          hybridProcess<string>({
            immediate: (e) => e.id,
            batch: (events) => events.map((e) => e.id),
            batcher: customBatcher(() => throwError(() => new Error('batcher'))),
          }),
        )
        .subscribe({ next: (o) => outcomes.push(o), error: (e) => (error = e) });
    });
    expect(error).toMatchObject({ message: 'batcher' });
    expect(read.count).toBe(0);
    expect(outcomes).toHaveLength(0);
    // Was a ReferenceError (stopInput in its temporal dead zone), and the source was read on.
    expect(unhandled).toEqual([]);
  });

  it('refuses a batch emitted before the batcher was given any event: a ConfigError, the source not read', async () => {
    const stranger = createEvent({ id: 'x', type: 'tool.used', timestamp: 0 });
    const { source, read } = countedSource(['a', 'b'], 'tool.used');
    const outcomes: HybridOutput<string>[] = [];
    const batched: string[][] = [];
    let error: unknown;
    const unhandled = await rxjsUnhandled(() => {
      source
        .pipe(
          hybridProcess<string>({
            immediate: (e) => e.id,
            batch: (events) => {
              batched.push(events.map((e) => e.id));
              return events.map((e) => e.id);
            },
            // The empty batch at the end, once its input completes, comes after the refusal: not read.
            batcher: customBatcher((input) => input.pipe(bufferCount(2), startWith([stranger]), endWith([]))),
          }),
        )
        .subscribe({ next: (o) => outcomes.push(o), error: (e) => (error = e) });
    });
    // Was a TypeError (reading the event of an arrival that was not there) out of the batcher's subscribe.
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'hybridProcess: the batcher emitted a batch of 1 event when none of those given to it was waiting; ' +
        'a batch must be the oldest events given to it and not yet batched, in order',
    );
    expect(read.count).toBe(0);
    expect(outcomes).toEqual([]);
    expect(batched).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('refuses a batch that is not the events given to it, in order: each event given gets an outcome, then the error', async () => {
    const stranger = createEvent({ id: 'x', type: 'tool.used', timestamp: 0 });
    const cases: Array<[(input: Observable<Event>) => Observable<Event[]>, string]> = [
      [
        (input) =>
          input.pipe(
            bufferCount(2),
            map((batch) => [batch[0]!, stranger]),
          ),
        "a batch whose item #1 ({ id: 'x', type: 'tool.used', timestamp: 0, priority: 1, data: {…} }) is not the event given to it at that place",
      ],
      [
        (input) =>
          input.pipe(
            bufferCount(2),
            map((batch) => [...batch].reverse()),
          ),
        "a batch whose item #0 ({ id: 'b', type: 'tool.used', timestamp: 0, priority: 1, data: {…} }) is not the event given to it at that place",
      ],
      [
        (input) =>
          input.pipe(
            bufferCount(2),
            mergeMap((batch) => [batch, batch]),
          ),
        'a batch of 2 events when none of those given to it was waiting',
      ],
      [
        (input) =>
          input.pipe(
            bufferCount(2),
            map((batch) => [...batch, batch[0]!]),
          ),
        'a batch of 3 events when 2 of those given to it were waiting',
      ],
      [
        (input) =>
          input.pipe(
            bufferCount(1),
            map((batch) => [batch[0]!, batch[0]!]),
          ),
        'a batch of 2 events when 1 of those given to it was waiting',
      ],
      [
        (input) =>
          input.pipe(
            bufferCount(2),
            map(() => 'ab' as unknown as Event[]),
          ),
        "'ab', not an array of the events given to it",
      ],
    ];
    for (const [batches, misfit] of cases) {
      const seen: string[] = [];
      const unhandled = await rxjsUnhandled(() => {
        of(
          createEvent({ id: 'g', type: 'git.commit', timestamp: 0 }),
          createEvent({ id: 'a', type: 'tool.used', timestamp: 0 }),
          createEvent({ id: 'b', type: 'tool.used', timestamp: 0 }),
          createEvent({ id: 'c', type: 'tool.used', timestamp: 0 }),
        )
          .pipe(
            hybridProcess<string>({
              immediate: (e) => e.id,
              batch: (events) => events.map((e) => e.id),
              batcher: customBatcher(batches),
            }),
          )
          .subscribe({
            next: (o) =>
              seen.push(
                `${o.event.id}:${o.kind === 'error' ? (o.error as VibespecError).code : o.kind === 'result' ? o.result : o.kind}`,
              ),
            error: (e: Error) => seen.push(`error ${e.name}: ${e.message}`),
            complete: () => seen.push('complete'),
          });
      });
      const message =
        `hybridProcess: the batcher emitted ${misfit}; a batch must be the oldest events given to it and ` +
        'not yet batched, in order';
      // The duplicate's first copy is a right batch: a and b processed, then the copy refused. A batch
      // of one refused at a: b is not read.
      const batchedOutcomes = misfit.startsWith('a batch of 2 events when none')
        ? ['a:a', 'b:b']
        : misfit.endsWith('1 of those given to it was waiting')
          ? ['a:INVALID_CONFIG']
          : ['a:INVALID_CONFIG', 'b:INVALID_CONFIG'];
      // The source is left at the failure: c is not read.
      expect(seen).toEqual(['g:g', ...batchedOutcomes, `error ConfigError: ${message}`]);
      expect(unhandled).toEqual([]);
    }
  });

  it('skips an empty batch of a custom batcher (bufferTime on a quiet interval): batch() never gets []', () => {
    const batched: string[][] = [];
    const reported: number[] = [];
    const seen: string[] = [];
    const batcher = Object.assign(
      (input: Observable<Event>) =>
        input.pipe(
          bufferCount(2),
          concatMap((batch) => of([], batch)),
          startWith([]),
          endWith([]),
        ),
      {
        report: ({ size }: { size: number }) => reported.push(size),
        config: { maxSize: 2, timeoutMs: 1_000 },
        config$: of({ maxSize: 2, timeoutMs: 1_000 }),
      },
    ) as unknown as HybridProcessOptions<string>['batcher'];
    of(...['a', 'b', 'c'].map((id) => createEvent({ id, type: 'tool.used', timestamp: 0 })))
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (events) => {
            batched.push(events.map((e) => e.id));
            return events.map((e) => e.id.toUpperCase());
          },
          batcher,
        }),
      )
      .subscribe({
        next: (o) => seen.push(`${o.event.id}:${o.kind === 'result' ? o.result : o.kind}`),
        error: (e: Error) => seen.push(`error ${e.message}`),
        complete: () => seen.push('complete'),
      });
    // Was [[], [], ['a', 'b'], [], ['c'], []], each empty one reported to the policy as a batch of size 0.
    expect(batched).toEqual([['a', 'b'], ['c']]);
    expect(reported).toEqual([2, 1]);
    expect(seen).toEqual(['a:A', 'b:B', 'c:C', 'complete']);
  });

  it('does not subscribe load$ when the batcher fails at once: the output has already ended', () => {
    let loadSubscriptions = 0;
    const load$ = new Observable<{ cpuPercent: number }>(() => {
      loadSubscriptions++; // a systemLoad() starts a probe here
    });
    let error: unknown;
    of(createEvent({ id: 'a', type: 'git.commit', timestamp: 0 }))
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (events) => events.map((e) => e.id),
          batcher: customBatcher(() => throwError(() => new Error('batcher'))),
          load$,
        }),
      )
      .subscribe({ error: (e) => (error = e) });
    expect(error).toMatchObject({ message: 'batcher' });
    // Was 1: subscribed after the output had errored, then unsubscribed by its teardown.
    expect(loadSubscriptions).toBe(0);
  });
});

describe('hybridProcess property: nothing vanishes', () => {
  const eventArb = fc.record({
    at: fc.integer({ min: 0, max: 40 }),
    type: fc.constantFrom('tool.used', 'git.commit', 'message.displayed', 'x.aggregated', 'session.started'),
    priority: fc.constantFrom(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL),
    behaviour: fc.constantFrom('sync', 'throw', 'delay', 'fail-later', 'hang'),
    delay: fc.integer({ min: 0, max: 15 }),
  });

  it('every input yields exactly one outcome before the stream ends: complete, error, timeouts, a consumer ending the source', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 40 }),
        fc.record({
          immediate: fc.integer({ min: 1, max: 3 }),
          batched: fc.integer({ min: 1, max: 2 }),
          async: fc.integer({ min: 1, max: 2 }),
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('block', 'drop-oldest', 'drop-newest', 'error') as fc.Arbitrary<
          'block' | 'drop-oldest' | 'drop-newest' | 'error'
        >,
        fc.constantFrom('complete', 'error'),
        fc.constantFrom('ok', 'fail', 'slow', 'hang'),
        fc.record({
          immediate: fc.integer({ min: 1, max: 12 }),
          batched: fc.integer({ min: 1, max: 12 }),
          async: fc.integer({ min: 1, max: 12 }),
        }),
        // The consumer ends the source (re-entrantly) after this many outcomes, if set.
        fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
        (specs, concurrency, maxQueued, overflow, end, batchBehaviour, timeoutMs, stopAfter) => {
          const inputs = specs
            .map((spec, i) => ({
              ...spec,
              event: createEvent({ id: `e${i}`, type: spec.type, priority: spec.priority, timestamp: 0 }),
            }))
            .sort((x, y) => x.at - y.at);
          const behaviour = new Map(inputs.map((input) => [input.event, input]));
          const scheduler = new TestScheduler(() => undefined);
          const outcomes: HybridOutput<string>[] = [];
          let terminal: string | undefined;
          let outcomesAfterEnd = 0;
          const received: string[] = [];
          let stopped = false;
          scheduler.run(() => {
            const handler = (e: Event): Observable<string> | string => {
              const spec = behaviour.get(e)!;
              if (spec.behaviour === 'sync') return e.id;
              if (spec.behaviour === 'throw') throw new Error(e.id);
              if (spec.behaviour === 'delay') return timer(spec.delay, scheduler).pipe(map(() => e.id));
              if (spec.behaviour === 'hang') return NEVER;
              return timer(spec.delay, scheduler).pipe(mergeMap(() => throwError(() => new Error(e.id))));
            };
            const byTime = new Map<number, Event[]>();
            for (const { at, event } of inputs) byTime.set(at, [...(byTime.get(at) ?? []), event]);
            const items$ = merge(
              ...[...byTime].map(([at, list]) => timer(at, scheduler).pipe(mergeMap(() => of(...list)))),
            );
            const tail$ =
              end === 'complete'
                ? new Observable<never>((s) => s.complete())
                : timer(41, scheduler).pipe(mergeMap(() => throwError(() => new Error('end'))));
            const stop$ = new Subject<void>();
            concat(items$, tail$)
              .pipe(
                takeUntil(stop$),
                tap((event) => received.push(event.id)),
                hybridProcess<string>({
                  immediate: handler,
                  background: handler,
                  batch: (batch) =>
                    batchBehaviour === 'ok'
                      ? batch.map((e) => e.id)
                      : batchBehaviour === 'fail'
                        ? throwError(() => new Error('batch'))
                        : batchBehaviour === 'hang'
                          ? NEVER
                          : timer(7, scheduler).pipe(map(() => batch.map((e) => e.id))),
                  batcher: {
                    minSize: 1,
                    maxSize: 3,
                    maxSizeLimit: 3,
                    timeoutMs: 4,
                    minTimeoutMs: 1,
                    policy: fixedPolicy,
                    scheduler,
                  },
                  concurrency,
                  maxQueued,
                  overflow,
                  timeoutMs,
                  scheduler,
                }),
              )
              .subscribe({
                next: (o) => {
                  if (terminal !== undefined) outcomesAfterEnd++;
                  outcomes.push(o);
                  if (outcomes.length === stopAfter) {
                    stopped = true;
                    stop$.next();
                  }
                },
                error: () => (terminal = 'error'),
                complete: () => (terminal = 'complete'),
              });
          });
          if (stopped) expect(terminal).toBeDefined();
          else expect(terminal).toBe(end);
          expect(outcomesAfterEnd).toBe(0);
          const ids = outcomes.map((o) => o.event.id).sort();
          expect(ids).toEqual([...received].sort());
          if (!stopped) expect(received).toHaveLength(inputs.length);
          for (const outcome of outcomes) {
            if (outcome.kind === 'result') expect(outcome.result).toBe(outcome.event.id);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------

function collect<T>(
  source: Observable<Event>,
  operator: (s: Observable<Event>) => Observable<T>,
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const seen: T[] = [];
    operator(source).subscribe({ next: (x) => seen.push(x), error: reject, complete: () => resolve(seen) });
  });
}
