/**
 * The operators other than the window ones, correlate and pattern, when their consumer (the subscriber of
 * their output) throws, and pushes more input into the source before it throws (re-entrant): what it
 * pushed still comes out, then the output errors with its first exception — not thrown at the source,
 * nor at the scheduler that ran a timer.
 */
import { from, map, Observable, Subject, timer, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  adaptiveBatch,
  aggregateHooks,
  chainHooks,
  createEvent,
  type Event,
  EventFlowMetrics,
  type FunctionHook,
  fixedPolicy,
  type HookAggregationOutput,
  type HookChainOutput,
  type HookContext,
  type HybridOutput,
  hybridProcess,
  measure,
  Priority,
  ProcessingMode,
  persist,
} from '../../src/index.js';
import { ThrowingConsumer } from '../helpers/consumer.js';
import { E, letter } from '../helpers/persistWriter.js';

const batcher = (scheduler: VirtualTimeScheduler) =>
  adaptiveBatch<number>({
    minSize: 1,
    maxSize: 2,
    maxSizeLimit: 4,
    timeoutMs: 5,
    minTimeoutMs: 1,
    maxTimeoutMs: 10,
    policy: fixedPolicy,
    scheduler,
  });

describe('adaptiveBatch: a consumer that throws', () => {
  it('on a full batch, after pushing an item: the item comes out, then the error; the source is left', () => {
    // The exception went out at the source's next; the pushed item waited for its timer.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const consumer = new ThrowingConsumer<number[]>((batch) => {
      if (batch[0] !== 1) return false;
      input.next(10);
      return true;
    });
    input.pipe(batcher(scheduler)).subscribe(consumer);
    input.next(1);
    expect(() => input.next(2)).not.toThrow();
    expect(consumer.got).toEqual([[1, 2], [10], 'error consumer on [1,2]']);
    expect(input.observed).toBe(false);
  });

  it('on a batch of a source still inside subscribe: its error ends the output; what it pushes after is not read', () => {
    // The source's subscription is not returned yet when the consumer throws; it is left by the error.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const source = new Observable<number>((subscriber) => {
      const subscription = input.subscribe(subscriber);
      input.next(1);
      input.next(2);
      input.next(3);
      return subscription;
    });
    const consumer = new ThrowingConsumer<number[]>((batch) => {
      if (batch[0] === 1) {
        input.next(10); // before it throws: comes out
        return true;
      }
      if (batch[0] === 10) {
        input.next(20); // after: not read, though they would fill a batch
        input.next(21);
      }
      return false;
    });
    source.pipe(batcher(scheduler)).subscribe(consumer);
    expect(consumer.got).toEqual([[1, 2], [10], 'error consumer on [1,2]']);
    expect(input.observed).toBe(false);
  });

  it('on a batch its timer emitted: the output errors, the scheduler is not thrown at', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const consumer = new ThrowingConsumer<number[]>((batch) => batch[0] === 1);
    input.pipe(batcher(scheduler)).subscribe(consumer);
    input.next(1);
    expect(() => scheduler.flush()).not.toThrow();
    expect(consumer.got).toEqual([[1], 'error consumer on [1]']);
    expect(input.observed).toBe(false);
  });

  it('on a batch a configuration change re-cut: the output errors, setConfig is not thrown at', () => {
    // The exception went into the config subscription's observer, which RxJS reports asynchronously.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const operator = adaptiveBatch<number>({
      minSize: 1,
      maxSize: 3,
      maxSizeLimit: 4,
      timeoutMs: 5,
      minTimeoutMs: 1,
      maxTimeoutMs: 10,
      policy: fixedPolicy,
      scheduler,
    });
    const consumer = new ThrowingConsumer<number[]>((batch) => batch[0] === 1);
    input.pipe(operator).subscribe(consumer);
    input.next(1);
    input.next(2);
    expect(() => operator.setConfig({ maxSize: 1 })).not.toThrow();
    expect(consumer.got).toEqual([[1], [2], 'error consumer on [1]']);
    expect(input.observed).toBe(false);
  });

  it('on a re-cut chunk, while an item it pushed held a due batch: that batch still comes out, in order', () => {
    // The due batch was held by the push that found it due while the older chunks went out: the exception
    // on a chunk flushed the newer item and ended the output, and the due batch was emitted after the
    // error, to nobody — lost.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const operator = adaptiveBatch<number>({
      minSize: 1,
      maxSize: 4,
      maxSizeLimit: 4,
      timeoutMs: 5,
      minTimeoutMs: 1,
      maxTimeoutMs: 10,
      policy: fixedPolicy,
      scheduler,
    });
    const consumer = new ThrowingConsumer<number[]>((batch) => {
      if (batch[0] === 1) {
        input.next(10);
        // The consumer takes its time: 10's batch is due when 11 arrives.
        scheduler.frame += 5;
        input.next(11);
      }
      return batch[0] === 3;
    });
    input.pipe(operator).subscribe(consumer);
    input.next(1);
    input.next(2);
    input.next(3);
    expect(() => operator.setConfig({ maxSize: 2 })).not.toThrow();
    expect(consumer.got).toEqual([[1, 2], [3], [10], [11], 'error consumer on [3]']);
    expect(input.observed).toBe(false);
  });

  it('on the batch flushed at complete, after pushing an item: the item comes out, then the error', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const consumer = new ThrowingConsumer<number[]>((batch) => {
      if (batch[0] !== 1) return false;
      input.next(10);
      return true;
    });
    input.pipe(batcher(scheduler)).subscribe(consumer);
    input.next(1);
    expect(() => input.complete()).not.toThrow();
    // 10 was pushed into a completed Subject: not read (RxJS drops it).
    expect(consumer.got).toEqual([[1], 'error consumer on [1]']);
  });

  it('on the batch flushed before a source error: the source’s error ends the output', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<number>();
    const consumer = new ThrowingConsumer<number[]>((batch) => batch[0] === 1);
    input.pipe(batcher(scheduler)).subscribe(consumer);
    input.next(1);
    expect(() => input.error(new Error('source'))).not.toThrow();
    expect(consumer.got).toEqual([[1], 'error source']);
  });
});

describe('hybridProcess: a consumer that throws on an outcome', () => {
  const critical = (id: string) => createEvent({ id, type: 'git.commit', priority: Priority.CRITICAL });
  const bulk = (id: string) => createEvent({ id, type: 'tool.used' });
  /** Outcomes as `kind:id`, the end as it came. */
  const labels = (got: Array<HybridOutput<string> | string>) =>
    got.map((o) => (typeof o === 'string' ? o : `${o.kind}:${o.event.id}`));
  const consumerOn = (id: string, react?: () => void) =>
    new ThrowingConsumer<HybridOutput<string>>(
      (o) => {
        if (o.event.id !== id) return false;
        react?.();
        return true;
      },
      (o) => o.event.id,
    );

  it('of a synchronous handler, after pushing an event: its outcome, then the error; the source is left', () => {
    // The exception went out at the source's next and the output went on.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = consumerOn('a', () => input.next(critical('b')));
    input
      .pipe(hybridProcess<string>({ immediate: (e) => e.id, batch: (es) => es.map((e) => e.id), scheduler }))
      .subscribe(consumer);
    expect(() => input.next(critical('a'))).not.toThrow();
    expect(labels(consumer.got)).toEqual(['result:a', 'result:b', 'error consumer on a']);
    expect(input.observed).toBe(false);
  });

  it('of a promise handler: the events queued behind it still get theirs, then the error', async () => {
    // The exception rejected the handler's promise chain (unhandled); the slot was freed but the queue
    // not drained: b never got an outcome and the output never ended.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = consumerOn('a');
    input
      .pipe(
        hybridProcess<string>({
          immediate: async (e) => e.id,
          batch: (es) => es.map((e) => e.id),
          concurrency: { immediate: 1 },
          scheduler,
        }),
      )
      .subscribe(consumer);
    input.next(critical('a'));
    input.next(critical('b'));
    input.complete();
    await consumer.ended;
    expect(labels(consumer.got)).toEqual(['result:a', 'result:b', 'error consumer on a']);
  });

  it('of a batch: the batch’s other events still get theirs, then the error', () => {
    // The loop over the batch's outcomes stopped at the exception: b got none, and the output never ended.
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<Event>();
    const consumer = consumerOn('a');
    input
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (es) => es.map((e) => e.id),
          batcher: { minSize: 1, maxSize: 2, minTimeoutMs: 1, timeoutMs: 5 },
          scheduler,
        }),
      )
      .subscribe(consumer);
    input.next(bulk('a'));
    expect(() => input.next(bulk('b'))).not.toThrow();
    scheduler.flush();
    expect(labels(consumer.got)).toEqual(['result:a', 'result:b', 'error consumer on a']);
    expect(input.observed).toBe(false);
  });

  /**
   * A synchronous source: `q` (ASYNC, so an outcome is still owed when the consumer throws and the
   * output cannot end at once), then `ids`; counts the events pulled from it.
   */
  const counted = (ids: string[], make: (id: string) => Event) => {
    const source = {
      pulled: [] as string[],
      *events(): Generator<Event> {
        for (const id of ['q', ...ids]) {
          source.pulled.push(id);
          yield id === 'q' ? bulk(id) : make(id);
        }
      },
    };
    return source;
  };
  const select = (e: Event) =>
    e.id === 'q'
      ? ProcessingMode.ASYNC
      : e.type === 'tool.used'
        ? ProcessingMode.BATCHED
        : ProcessingMode.IMMEDIATE;

  it('of a synchronous handler, the source still inside subscribe: it is not read further', () => {
    // The source was read to its end: every later event got an error outcome carrying the exception.
    const scheduler = new VirtualTimeScheduler();
    const source = counted(['a', 'b', 'c', 'd'], critical);
    const consumer = consumerOn('a');
    from(source.events())
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (es) => es.map((e) => e.id),
          select,
          scheduler,
        }),
      )
      .subscribe(consumer);
    scheduler.flush();
    expect(source.pulled).toEqual(['q', 'a']);
    expect(labels(consumer.got)).toEqual(['result:a', 'result:q', 'error consumer on a']);
  });

  it('of a batch, the source still inside subscribe: the batch’s other events get theirs, the source is not read further', () => {
    const scheduler = new VirtualTimeScheduler();
    const source = counted(['a', 'b', 'c', 'd', 'e'], bulk);
    const consumer = consumerOn('a');
    from(source.events())
      .pipe(
        hybridProcess<string>({
          immediate: (e) => e.id,
          batch: (es) => es.map((e) => e.id),
          select,
          batcher: { minSize: 1, maxSize: 2, minTimeoutMs: 1, timeoutMs: 5 },
          scheduler,
        }),
      )
      .subscribe(consumer);
    scheduler.flush();
    expect(source.pulled).toEqual(['q', 'a', 'b']);
    expect(labels(consumer.got)).toEqual(['result:a', 'result:b', 'result:q', 'error consumer on a']);
  });
});

describe('measure: a consumer that throws on a value', () => {
  it('after pushing one: that one passes and is timed, then the error; the value is counted as an error', () => {
    // The exception went out at the source's next, the output went on, and the value was neither timed
    // nor counted.
    const metrics = new EventFlowMetrics({ now: () => 0 });
    const input = new Subject<Event>();
    const consumer = new ThrowingConsumer<Event>(
      (e) => {
        if (e.id !== 'a') return false;
        input.next(createEvent({ id: 'b', type: 'tool.used' }));
        return true;
      },
      (e) => e.id,
    );
    input.pipe(measure(metrics)).subscribe(consumer);
    expect(() => input.next(createEvent({ id: 'a', type: 'file.modified' }))).not.toThrow();
    expect(consumer.got.map((o) => (typeof o === 'string' ? o : o.id))).toEqual([
      'a',
      'b',
      'error consumer on a',
    ]);
    expect(input.observed).toBe(false);
    const summary = metrics.summary();
    expect([summary['file.modified']?.count, summary['file.modified']?.errors]).toEqual([0, 1]);
    expect([summary['tool.used']?.count, summary['tool.used']?.errors]).toEqual([1, 0]);
  });

  const typeFailing = (e: Event) => {
    if (e.id === 'a') throw new Error('type a');
    return e.type;
  };
  it.each([
    ['its type function', () => 0, typeFailing, 'type a'],
    [
      'the clock',
      () => Number.NaN,
      undefined,
      'measure: the clock (metrics.now) must give a finite number, got NaN',
    ],
  ])(
    'after %s failed on it: the output errors with that first failure, the source is not thrown at',
    (_, now, type, message) => {
      // The value went downstream unguarded: the exception went out at the source's next, the output went
      // on, and the failure of the type function or the clock was lost.
      const metrics = new EventFlowMetrics({ now });
      const input = new Subject<Event>();
      const consumer = new ThrowingConsumer<Event>(
        (e) => e.id === 'a',
        (e) => e.id,
      );
      input.pipe(measure(metrics, { type })).subscribe(consumer);
      expect(() => input.next(createEvent({ id: 'a', type: 'file.modified' }))).not.toThrow();
      expect(consumer.got.map((o) => (typeof o === 'string' ? o : o.id))).toEqual(['a', `error ${message}`]);
      expect(input.observed).toBe(false);
    },
  );
});

describe('chainHooks, aggregateHooks: a consumer that throws on an output', () => {
  /** A chain's result as `result:n` (its context's n), a step as `step`; an aggregate as `aggregate:count`. */
  const label = (o: HookChainOutput | HookAggregationOutput<number> | string) => {
    if (typeof o === 'string') return o;
    if (o.kind === 'result') return `result:${o.final_context.n}`;
    if (o.kind === 'aggregate') return `aggregate:${o.aggregate}`;
    return 'step';
  };
  const chain = (run: FunctionHook['run']) => chainHooks({ name: 'c', hooks: [{ name: 'h', run }] });

  it('chainHooks: a context it pushed before it threw still runs to its result, then the error', async () => {
    // RxJS errored the stream at once: the pushed context was cancelled, with no result.
    const input = new Subject<HookContext>();
    const consumer = new ThrowingConsumer<HookChainOutput>(
      (o) => {
        if (o.kind !== 'result' || o.final_context.n !== 1) return false;
        input.next({ n: 2 });
        return true;
      },
      () => 'result 1',
    );
    input.pipe(chain(() => ({}))).subscribe(consumer);
    expect(() => input.next({ n: 1 })).not.toThrow();
    await consumer.ended;
    expect(consumer.got.map(label)).toEqual([
      'step',
      'result:1',
      'step',
      'result:2',
      'error consumer on result 1',
    ]);
    expect(input.observed).toBe(false);
  });

  it('chainHooks: the waiting contexts still run to their results, then the error', async () => {
    const input = new Subject<HookContext>();
    const consumer = new ThrowingConsumer<HookChainOutput>(
      (o) => o.kind === 'result' && o.final_context.n === 1,
      () => 'result 1',
    );
    input.pipe(chain(async () => ({}))).subscribe(consumer);
    input.next({ n: 1 });
    input.next({ n: 2 });
    input.next({ n: 3 });
    await consumer.ended;
    expect(consumer.got.map(label)).toEqual([
      'step',
      'result:1',
      'step',
      'result:2',
      'step',
      'result:3',
      'error consumer on result 1',
    ]);
    expect(input.observed).toBe(false);
  });

  it('chainHooks: a source error held before the exception still ends the stream', async () => {
    const input = new Subject<HookContext>();
    const consumer = new ThrowingConsumer<HookChainOutput>(
      (o) => o.kind === 'result' && o.final_context.n === 1,
      () => 'result 1',
    );
    input.pipe(chain(async () => ({}))).subscribe(consumer);
    input.next({ n: 1 });
    input.next({ n: 2 });
    input.error(new Error('source'));
    await consumer.ended;
    expect(consumer.got.map(label)).toEqual(['step', 'result:1', 'step', 'result:2', 'error source']);
  });

  it('aggregateHooks: the waiting contexts still get their aggregates, then the error', async () => {
    const input = new Subject<HookContext>();
    let made = 0;
    const consumer = new ThrowingConsumer<HookAggregationOutput<number>>(
      (o) => o.kind === 'aggregate' && o.aggregate === 1,
      () => 'aggregate 1',
    );
    input.pipe(aggregateHooks([{ name: 'h', run: async () => ({}) }], () => ++made)).subscribe(consumer);
    input.next({ n: 1 });
    input.next({ n: 2 });
    input.complete();
    await consumer.ended;
    expect(consumer.got.map(label)).toEqual([
      'step',
      'aggregate:1',
      'step',
      'aggregate:2',
      'error consumer on aggregate 1',
    ]);
  });
});

describe('persist: a consumer that throws on a written event', () => {
  /** A writer whose writes take 1 ms on `scheduler`; records the batches by letter. */
  const slowWriter = (scheduler: VirtualTimeScheduler) => {
    const batches: string[] = [];
    const append = (events: Event[]) => {
      batches.push(events.map(letter).join(''));
      return timer(1, scheduler).pipe(map(() => undefined));
    };
    return { target: { append }, batches };
  };
  const letters = (got: Array<Event | string>) => got.map((o) => (typeof o === 'string' ? o : letter(o)));

  it('still emits the rest of its batch and writes what it pushed, then errors with its exception', () => {
    // The exception went into the write's observer (reported asynchronously by RxJS): b and c, written,
    // never went out, and the output completed as if nothing had happened.
    const scheduler = new VirtualTimeScheduler();
    const { target, batches } = slowWriter(scheduler);
    const input = new Subject<Event>();
    const consumer = new ThrowingConsumer<Event>((e) => {
      if (letter(e) !== 'a') return false;
      input.next(E.d!);
      return true;
    }, letter);
    input.pipe(persist(target, { scheduler, maxDelayMs: 0 })).subscribe(consumer);
    input.next(E.a!);
    input.next(E.b!);
    input.next(E.c!);
    expect(() => scheduler.flush()).not.toThrow();
    expect(batches).toEqual(['abc', 'd']);
    expect(letters(consumer.got)).toEqual(['a', 'b', 'c', 'd', 'error consumer on a']);
    expect(input.observed).toBe(false);
  });

  it('ends with the source’s error when it came first', () => {
    const scheduler = new VirtualTimeScheduler();
    const { target } = slowWriter(scheduler);
    const input = new Subject<Event>();
    const consumer = new ThrowingConsumer<Event>((e) => letter(e) === 'a', letter);
    input.pipe(persist(target, { scheduler, maxDelayMs: 0 })).subscribe(consumer);
    input.next(E.a!);
    input.next(E.b!);
    input.error(new Error('source'));
    expect(() => scheduler.flush()).not.toThrow();
    expect(letters(consumer.got)).toEqual(['a', 'b', 'error source']);
  });
});
