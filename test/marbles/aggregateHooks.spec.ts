import fc from 'fast-check';
import {
  from,
  lastValueFrom,
  map,
  mergeMap,
  NEVER,
  Observable,
  of,
  Subject,
  switchMap,
  take,
  tap,
  timer,
  toArray,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedStep,
  aggregateHooks,
  ConfigError,
  type FunctionHook,
  type HookAggregationOutput,
  type HookAggregationResult,
  type HookContext,
  type HookResult,
  type HookStep,
  hookEvents,
  Priority,
  type ReviewSummary,
  reviewSummary,
  runHookAggregation,
  type ValidationResult,
  VibespecError,
  validationResult,
} from '../../src/index.js';
import {
  arrivalsArbitrary,
  endingArbitrary,
  expectEndAfterLastRecord,
  queueModel,
  runQueued,
} from '../helpers/hookQueue.js';
import { marbles } from '../helpers/marbles.js';

const label = (output: HookAggregationOutput<unknown>): string =>
  output.kind === 'step' ? `${output.hook}:${output.status}` : `${output.aggregation}:aggregate`;

const fn = (name: string, run: FunctionHook['run'], extra: Partial<FunctionHook> = {}): FunctionHook => ({
  name,
  run,
  ...extra,
});

const names = (steps: readonly AggregatedStep[]) => steps.map((step) => `${step.hook}:${step.status}`);

function aggregateOf<R>(outputs: HookAggregationOutput<R>[]): HookAggregationResult<R> {
  const last = outputs.at(-1);
  if (last?.kind !== 'aggregate') throw new Error('no aggregate');
  return last;
}

describe('runHookAggregation', () => {
  it('aggregates an answer due at the very time of the deadline, one put on the scheduler after the timer too', () => {
    // a waits in two stages (1 ms, then 2 ms) and answers at the deadline: RxJS's timeout, whose timer
    // was on the scheduler first, timed it out, while b, due then from its start, completed.
    const clock = new VirtualTimeScheduler();
    const hooks = [
      fn('a', () => timer(1, clock).pipe(switchMap(() => timer(2, clock).pipe(map(() => ({ score: 1 })))))),
      fn('b', () => timer(3, clock).pipe(map(() => ({ score: 3 })))),
      fn('c', () => NEVER),
    ];
    const outputs: HookAggregationOutput<ReviewSummary>[] = [];
    runHookAggregation(hooks, {}, reviewSummary, { deadlineMs: 3, scheduler: clock }).subscribe((o) =>
      outputs.push(o),
    );
    clock.flush();
    const result = aggregateOf(outputs);
    expect(result.results.map((step) => step.status)).toEqual(['completed', 'completed', 'timed_out']);
    expect(result.aggregate.overall_score).toBe(2);
    expect(result.duration_ms).toBe(3);
  });

  it(
    'aggregates what arrived by the deadline, and times out and cancels the rest',
    marbles((m) => {
      const a = m.cold('--x|', { x: { score: 80 } });
      const b = m.cold('----y|', { y: { score: 60 } });
      const c = m.cold('--------z|', { z: { score: 0 } });
      const hooks = [fn('a', () => a), fn('b', () => b), fn('c', () => c)];
      const outputs: HookAggregationOutput<ReviewSummary>[] = [];
      const run = runHookAggregation(hooks, {}, reviewSummary, {
        name: 'review',
        deadlineMs: 5,
        scheduler: m.scheduler,
      }).pipe(tap((o) => outputs.push(o)));
      m.expect(run.pipe(map(label))).toBeObservable('--a-b(cr|)', {
        a: 'a:completed',
        b: 'b:completed',
        c: 'c:timed_out',
        r: 'review:aggregate',
      });
      m.expect(a).toHaveSubscriptions('^-!');
      m.expect(b).toHaveSubscriptions('^---!');
      m.expect(c).toHaveSubscriptions('^----!');
      m.flush();
      const result = aggregateOf(outputs);
      expect(result.timed_out).toEqual(['c']);
      expect(result.duration_ms).toBe(5);
      expect(result.aggregate.overall_score).toBe(70);
      const timedOut = result.results[2]!;
      if (timedOut.status !== 'timed_out') throw new Error('expected timed_out');
      expect(timedOut.error.code).toBe('HOOK_TIMEOUT');
      expect(timedOut.error.message).toContain('deadline');
      expect(timedOut.duration_ms).toBe(5);
      expect(result.aggregate.missing).toEqual([
        { hook: 'c', status: 'timed_out', reason: timedOut.error.message },
      ]);
    }),
  );

  it(
    'cuts at the deadline a hook whose answer throws as it is unsubscribed, and aggregates',
    marbles((m) => {
      // The deadline's unsubscribe raised the answer's UnsubscriptionError, which errored the run.
      const signals: AbortSignal[] = [];
      const a = fn('a', (_context, { signal }) => {
        signals.push(signal);
        return new Observable<HookResult>(() => () => {
          throw new Error('teardown failed');
        });
      });
      const b = fn('b', () => m.cold('-y|', { y: { score: 1 } }));
      const run = runHookAggregation([a, b], {}, (steps) => names(steps), {
        deadlineMs: 3,
        scheduler: m.scheduler,
      });
      m.expect(run.pipe(map((o) => (o.kind === 'step' ? label(o) : o.aggregate.join())))).toBeObservable(
        '-b-(ar|)',
        { a: 'a:timed_out', b: 'b:completed', r: 'a:timed_out,b:completed' },
      );
      m.flush();
      expect(signals.map((signal) => signal.aborted)).toEqual([true]);
    }),
  );

  it(
    'aggregates as soon as every hook answered, with results in hook order',
    marbles((m) => {
      const hooks = [fn('a', () => m.cold('---x|', { x: {} })), fn('b', () => m.cold('-y|', { y: {} }))];
      const outputs: HookAggregationOutput<readonly AggregatedStep[]>[] = [];
      const run = runHookAggregation(hooks, {}, (steps) => steps, {
        scheduler: m.scheduler,
        deadlineMs: 10,
      }).pipe(tap((o) => outputs.push(o)));
      m.expect(run.pipe(map(label))).toBeObservable('-b-(ar|)', {
        a: 'a:completed',
        b: 'b:completed',
        r: 'aggregation:aggregate',
      });
      m.flush();
      const result = aggregateOf(outputs);
      expect(names(result.results)).toEqual(['a:completed', 'b:completed']);
      expect(names(result.aggregate)).toEqual(['a:completed', 'b:completed']);
      expect(result.timed_out).toEqual([]);
    }),
  );

  it(
    "applies a hook's own timeout when it is shorter than the deadline",
    marbles((m) => {
      const a = m.cold('-----x|', { x: {} });
      const hooks = [fn('a', () => a, { timeoutMs: 2 }), fn('b', () => m.cold('----y|', { y: {} }))];
      const outputs: HookAggregationOutput<unknown>[] = [];
      const run = runHookAggregation(hooks, {}, () => null, { scheduler: m.scheduler, deadlineMs: 10 }).pipe(
        tap((o) => outputs.push(o)),
      );
      m.expect(run.pipe(map(label))).toBeObservable('--a-(br|)', {
        a: 'a:timed_out',
        b: 'b:completed',
        r: 'aggregation:aggregate',
      });
      m.expect(a).toHaveSubscriptions('^-!');
      m.flush();
      const step = outputs[0] as HookStep;
      if (step.status !== 'timed_out') throw new Error('expected timed_out');
      expect(step.error.message).toBe('hook "a" did not answer within 2 ms');
    }),
  );

  it(
    'records a failed hook and still aggregates the others',
    marbles((m) => {
      const hooks = [
        fn('a', () => m.cold('-#', undefined, new Error('crash'))),
        fn('b', () => m.cold('--y|', { y: {} })),
      ];
      m.expect(
        runHookAggregation(hooks, {}, validationResult, { scheduler: m.scheduler }).pipe(
          map((o) => (o.kind === 'aggregate' ? `passed=${o.aggregate.passed}` : label(o))),
        ),
      ).toBeObservable('-a(br|)', { a: 'a:failed', b: 'b:completed', r: 'passed=false' });
    }),
  );

  it(
    'waits for every hook with an Infinity deadline',
    marbles((m) => {
      const hooks = [fn('a', () => m.cold('-------x|', { x: {} }), { timeoutMs: Number.POSITIVE_INFINITY })];
      m.expect(
        runHookAggregation(hooks, {}, () => 1, {
          scheduler: m.scheduler,
          deadlineMs: Number.POSITIVE_INFINITY,
        }).pipe(map(label)),
      ).toBeObservable('-------(ar|)', { a: 'a:completed', r: 'aggregation:aggregate' });
    }),
  );

  it(
    'errors when the aggregator throws',
    marbles((m) => {
      const hooks = [fn('a', () => m.cold('--x|', { x: {} }))];
      const run = runHookAggregation(
        hooks,
        {},
        () => {
          throw new Error('bad aggregator');
        },
        { scheduler: m.scheduler },
      );
      m.expect(run.pipe(map(label))).toBeObservable(
        '--(a#)',
        { a: 'a:completed' },
        new Error('bad aggregator'),
      );
    }),
  );

  it(
    'aggregates at once when there are no hooks',
    marbles((m) => {
      m.expect(
        runHookAggregation([], {}, validationResult, { scheduler: m.scheduler }).pipe(
          map((o) => (o.kind === 'aggregate' ? o.aggregate : null)),
        ),
      ).toBeObservable('(r|)', { r: { passed: true, passed_hooks: [], failed_hooks: [], reasons: [] } });
    }),
  );

  it(
    'names the aggregation in every step event',
    marbles((m) => {
      const hooks = [fn('a', () => m.cold('-x|', { x: { score: 3 } })), fn('b', () => m.cold('-----x|'))];
      const events = runHookAggregation(hooks, { session_id: 's' }, () => null, {
        name: 'validation',
        scheduler: m.scheduler,
        deadlineMs: 3,
      }).pipe(
        hookEvents(),
        map((e) =>
          e.type === 'hooks.overflow'
            ? 'never: nothing was rejected'
            : `${e.type}@${e.timestamp}:${e.data.aggregation}/${e.data.hook}/${e.data.chain}/${e.sessionId}`,
        ),
      );
      m.expect(events).toBeObservable('-a-(b|)', {
        a: 'hook.completed@1:validation/a/undefined/s',
        b: 'hook.timed_out@3:validation/b/undefined/s',
      });
    }),
  );

  it(
    'cancels every running hook on early unsubscribe',
    marbles((m) => {
      const a = m.cold('-x|', { x: {} });
      const b = m.cold('------y|', { y: {} });
      const run = runHookAggregation([fn('a', () => a), fn('b', () => b)], {}, () => null, {
        scheduler: m.scheduler,
      });
      m.expect(run.pipe(map(label)), '---!').toBeObservable('-a-', { a: 'a:completed' });
      m.expect(a).toHaveSubscriptions('^!');
      m.expect(b).toHaveSubscriptions('^--!');
    }),
  );

  it('runs the hooks in parallel on the same context', async () => {
    const seen: HookContext[] = [];
    const hook = (name: string) =>
      fn(name, (context) => {
        seen.push(context);
        return { context_updates: { [name]: true } };
      });
    await lastValueFrom(runHookAggregation([hook('a'), hook('b')], { x: 1 }, () => null));
    expect(seen).toEqual([{ x: 1 }, { x: 1 }]);
  });

  it('names the function, the aggregation and the field in its ConfigError messages', () => {
    const a = fn('a', () => ({}));
    const cases: Array<[() => unknown, string]> = [
      [() => runHookAggregation([a], {}, 'x' as never), 'runHookAggregation: aggregator must be a function'],
      [
        () => runHookAggregation([a], {}, () => 1, { name: '' }),
        'runHookAggregation: name must be a non-empty string',
      ],
      [
        () => runHookAggregation([{ name: 'a' } as never], {}, () => 1, { name: 'r' }),
        'runHookAggregation "r": hook "a" must have either a run function or a command, not neither',
      ],
      [
        () => runHookAggregation([a], {}, () => 1, { deadlineMs: 0 }),
        'runHookAggregation: deadlineMs must be a positive number of ms (or Infinity), got 0',
      ],
      [
        () => runHookAggregation([a], {}, () => 1, { deadline: 1 } as never),
        'runHookAggregation: unknown option "deadline" (did you mean "deadlineMs"?); known: scheduler, timeoutMs, maxOutputBytes, sessionId, name, deadlineMs',
      ],
      [() => aggregateHooks([a], 'x' as never), 'aggregateHooks: aggregator must be a function'],
      [
        () => aggregateHooks([{ name: 'a' } as never], () => 1),
        'aggregateHooks "aggregation": hook "a" must have either a run function or a command, not neither',
      ],
      [
        () => aggregateHooks([a], () => 1, { maxQueue: 1 } as never),
        'aggregateHooks: unknown option "maxQueue" (did you mean "maxQueued"?); known: scheduler, timeoutMs, maxOutputBytes, sessionId, name, deadlineMs, concurrency, maxQueued',
      ],
      [
        () => aggregateHooks([a], () => 1, { concurrency: 1.5 }),
        'aggregateHooks: concurrency must be a positive integer (or Infinity), got 1.5',
      ],
      [
        () => aggregateHooks([a], () => 1, { maxQueued: 0.5 }),
        'aggregateHooks: maxQueued must be a non-negative integer (or Infinity), got 0.5',
      ],
    ];
    for (const [call, message] of cases) expect(call).toThrow(new ConfigError(message));
  });

  it('gives a rejected context a not_run step of the kind of each hook', () => {
    // The context of the run is not JSON: its command hook fails without a process being started, and
    // the function hook keeps the run active, so the next context is rejected.
    const hooks = [fn('wait', () => NEVER), { name: 'scan', command: 'scan-hook' }];
    const input = new Subject<HookContext>();
    const outputs: HookAggregationOutput<readonly AggregatedStep[]>[] = [];
    const subscription = input
      .pipe(aggregateHooks(hooks, (steps) => steps, { maxQueued: 0 }))
      .subscribe((o) => outputs.push(o));
    input.next({ n: 1n });
    input.next({ n: 2 });
    subscription.unsubscribe();
    const rejected = aggregateOf(outputs);
    expect(rejected.results.map((step) => [step.hook, step.status, step.hook_kind])).toEqual([
      ['wait', 'not_run', 'function'],
      ['scan', 'not_run', 'command'],
    ]);
  });

  it('checks its arguments at construction', () => {
    const a = fn('a', () => ({}));
    expect(() => runHookAggregation([a, fn('a', () => ({}))], {}, () => null)).toThrow(ConfigError);
    expect(() => runHookAggregation([a], {}, () => null, { deadlineMs: 0 })).toThrow(ConfigError);
    expect(() => runHookAggregation([a], {}, () => null, { deadlineMs: Number.NaN })).toThrow(ConfigError);
    expect(() => runHookAggregation([a], {}, () => null, { name: '' })).toThrow(ConfigError);
    expect(() => runHookAggregation([a], {}, 'x' as never)).toThrow(ConfigError);
    expect(() => runHookAggregation([{ name: 'x' } as never], {}, () => null)).toThrow(ConfigError);
    // A hole of a sparse array was skipped by the check and ran as an undefined hook (a TypeError).
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const sparse = [a, , fn('b', () => ({}))] as never;
    expect(() => runHookAggregation(sparse, {}, () => null)).toThrow(
      new ConfigError('runHookAggregation "aggregation": hook #1 must be an object, got undefined'),
    );
    expect(() => aggregateHooks(sparse, () => null)).toThrow(
      new ConfigError('aggregateHooks "aggregation": hook #1 must be an object, got undefined'),
    );
  });
});

describe('aggregateHooks', () => {
  const twoHooks = (m: {
    cold: (marbles: string, values?: Record<string, HookResult>) => Observable<HookResult>;
  }) => {
    const a = m.cold('-x|', { x: {} });
    const b = m.cold('---y|', { y: {} });
    return { a, b, hooks: [fn('a', () => a), fn('b', () => b)] };
  };

  it('runs a long queue of runs that end at once to its end: every aggregate in order, then complete', () => {
    // As for chainHooks: each run that ended at once started the next from inside its own end, and some
    // 200 deep the stack overflowed; RxJS lost the error and the stream hung.
    const clock = new VirtualTimeScheduler();
    const hook = fn('a', (context) => (context.n === 0 ? timer(1, clock).pipe(map(() => ({}))) : {}));
    const contexts = new Subject<Record<string, unknown>>();
    const done: unknown[] = [];
    let completed = false;
    contexts
      .pipe(aggregateHooks([hook], (steps) => (steps[0] as HookStep).event.sessionId, { scheduler: clock }))
      .subscribe({
        next: (o) => {
          if (o.kind === 'aggregate') done.push(o.aggregate);
        },
        complete: () => {
          completed = true;
        },
      });
    for (let n = 0; n < 5_000; n++) contexts.next({ n, session_id: `s${n}` });
    contexts.complete();
    clock.flush();
    expect(done).toEqual(Array.from({ length: 5_000 }, (_, n) => `s${n}`));
    expect(completed).toBe(true);
  });

  it(
    'aggregates once per context, one run at a time, with the deadline per run',
    marbles((m) => {
      const a = m.cold('----x|', { x: {} });
      const b = m.cold('-------y|', { y: {} });
      const hooks = [fn('a', () => a), fn('b', () => b)];
      const source = m.cold('-cd---|', { c: {}, d: {} });
      const subs = '         ^-----!';
      m.expect(
        source.pipe(
          aggregateHooks(hooks, () => null, { scheduler: m.scheduler, deadlineMs: 5 }),
          map(label),
        ),
      ).toBeObservable('-----a(br)a(br|)', {
        a: 'a:completed',
        b: 'b:timed_out',
        r: 'aggregation:aggregate',
      });
      // The run for d starts when the run for c ends, at its deadline (frame 6).
      m.expect(a).toHaveSubscriptions(['-^---!', '------^---!']);
      m.expect(b).toHaveSubscriptions(['-^----!', '------^----!']);
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'overlaps runs up to concurrency',
    marbles((m) => {
      const { a, hooks } = twoHooks(m);
      const source = m.cold('cd|', { c: {}, d: {} });
      const frames: Array<[number, string]> = [];
      source
        .pipe(aggregateHooks(hooks, () => null, { scheduler: m.scheduler, concurrency: 2 }))
        .subscribe((o) => frames.push([m.scheduler.now(), label(o)]));
      m.expect(a).toHaveSubscriptions(['^!', '-^!']);
      m.flush();
      expect(frames).toEqual([
        [1, 'a:completed'],
        [2, 'a:completed'],
        [3, 'b:completed'],
        [3, 'aggregation:aggregate'],
        [4, 'b:completed'],
        [4, 'aggregation:aggregate'],
      ]);
    }),
  );

  it(
    'completes when the source is empty',
    marbles((m) => {
      const source = m.cold<HookContext>('|');
      m.expect(
        source.pipe(aggregateHooks(twoHooks(m).hooks, () => null, { scheduler: m.scheduler })),
      ).toBeObservable('|');
      m.expect(source).toHaveSubscriptions('(^!)');
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<HookContext>('-');
      m.expect(
        source.pipe(aggregateHooks(twoHooks(m).hooks, () => null, { scheduler: m.scheduler })),
      ).toBeObservable('-');
      m.expect(source).toHaveSubscriptions('^');
    }),
  );

  it(
    'on a source error, lets the running and the queued contexts finish, then forwards the error',
    marbles((m) => {
      const a = m.cold('----x|', { x: {} });
      const b = m.cold('-----y|', { y: {} });
      const contexts: unknown[] = [];
      const hooks = [
        fn('a', (context) => {
          contexts.push(context.id);
          return a;
        }),
        fn('b', () => b),
      ];
      // c runs from 1 to 6; d and e wait; the source fails at 4, while c runs.
      const source = m.cold('-cde#', { c: { id: 'c' }, d: { id: 'd' }, e: { id: 'e' } }, new Error('source'));
      const subs = '         ^---!';
      let aggregations = 0;
      const aggregator = () => ++aggregations;
      m.expect(
        source.pipe(aggregateHooks(hooks, aggregator, { scheduler: m.scheduler }), map(label)),
      ).toBeObservable(
        '-----a(br)a(br)a(br#)',
        { a: 'a:completed', b: 'b:completed', r: 'aggregation:aggregate' },
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(a).toHaveSubscriptions(['-^---!', '------^---!', '-----------^---!']);
      m.expect(b).toHaveSubscriptions(['-^----!', '------^----!', '-----------^----!']);
      m.flush();
      expect(contexts).toEqual(['c', 'd', 'e']);
      expect(aggregations).toBe(3);
    }),
  );

  it(
    'keeps the deadline while the error waits',
    marbles((m) => {
      const a = m.cold('----x|', { x: {} });
      const b = m.cold('-------y|', { y: {} });
      const hooks = [fn('a', () => a), fn('b', () => b)];
      const source = m.cold('-cd#', { c: {}, d: {} }, new Error('source'));
      m.expect(
        source.pipe(
          aggregateHooks(hooks, () => null, { scheduler: m.scheduler, deadlineMs: 5 }),
          map(label),
        ),
      ).toBeObservable(
        '-----a(br)a(br#)',
        { a: 'a:completed', b: 'b:timed_out', r: 'aggregation:aggregate' },
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('^--!');
      m.expect(b).toHaveSubscriptions(['-^----!', '------^----!']);
    }),
  );

  it(
    'forwards a source error at once when no context runs or waits',
    marbles((m) => {
      const { b, hooks } = twoHooks(m);
      const source = m.cold('c------#', { c: {} }, new Error('source'));
      m.expect(
        source.pipe(
          aggregateHooks(hooks, () => null, { scheduler: m.scheduler }),
          map(label),
        ),
      ).toBeObservable(
        '-a-(br)#',
        { a: 'a:completed', b: 'b:completed', r: 'aggregation:aggregate' },
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('^------!');
      m.expect(b).toHaveSubscriptions('^--!');
    }),
  );

  it(
    'forwards an immediate source error at once',
    marbles((m) => {
      const { a, hooks } = twoHooks(m);
      const source = m.cold<HookContext>('#', undefined, new Error('source'));
      m.expect(source.pipe(aggregateHooks(hooks, () => null, { scheduler: m.scheduler }))).toBeObservable(
        '#',
        undefined,
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('(^!)');
      m.expect(a).toHaveSubscriptions([]);
    }),
  );

  it(
    'cancels everything on unsubscribe while the error waits: the running hooks, the queue, the error',
    marbles((m) => {
      const a = m.cold('----x|', { x: {} });
      const b = m.cold('-----y|', { y: {} });
      const signals: AbortSignal[] = [];
      const hooks = [
        fn('a', (_context, info) => {
          signals.push(info.signal);
          return a;
        }),
        fn('b', () => b),
      ];
      const source = m.cold('-cde#', { c: {}, d: {}, e: {} }, new Error('source'));
      // d runs from 6; the consumer leaves at 8.
      const unsub = '        --------!';
      m.expect(
        source.pipe(
          aggregateHooks(hooks, () => null, { scheduler: m.scheduler }),
          map(label),
        ),
        unsub,
      ).toBeObservable('-----a(br)', { a: 'a:completed', b: 'b:completed', r: 'aggregation:aggregate' });
      m.expect(source).toHaveSubscriptions('^---!');
      m.expect(a).toHaveSubscriptions(['-^---!', '------^-!']);
      m.expect(b).toHaveSubscriptions(['-^----!', '------^-!']);
      m.flush();
      // e never ran; d's run was cancelled, c's was not.
      expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);
    }),
  );

  it(
    'forwards the error of an aggregator that throws while the source error waits, in its place',
    marbles((m) => {
      const hooks = [fn('a', () => m.cold('----x|', { x: {} })), fn('b', () => m.cold('-----y|', { y: {} }))];
      let aggregations = 0;
      const aggregator = () => {
        if (++aggregations === 2) throw new Error('cannot aggregate');
        return aggregations;
      };
      // c runs from 1 to 6, d from 6 to 11, e waits; the source fails at 4. d's aggregator throws: the
      // stream errors with that error at once, as it always does, and e is never run.
      const source = m.cold('-cde#', { c: {}, d: {}, e: {} }, new Error('source'));
      m.expect(
        source.pipe(aggregateHooks(hooks, aggregator, { scheduler: m.scheduler }), map(label)),
      ).toBeObservable(
        '-----a(br)a(b#)',
        { a: 'a:completed', b: 'b:completed', r: 'aggregation:aggregate' },
        new Error('cannot aggregate'),
      );
      m.expect(source).toHaveSubscriptions('^---!');
      m.flush();
      expect(aggregations).toBe(2);
    }),
  );

  it('serves a subscriber that errors the source re-entrantly, then forwards the error', () => {
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const hooks = [fn('a', (context) => ({ score: context.n as number }))];
    input.pipe(aggregateHooks(hooks, reviewSummary)).subscribe({
      next: (o) => {
        seen.push(o.kind === 'step' ? `step ${o.status}` : `aggregate ${String(o.aggregate.overall_score)}`);
        if (o.kind !== 'step' || seen.length > 1) return;
        // While 1's run still counts as active, reacting to its step: 2 waits, then the source fails.
        input.next({ n: 2 });
        input.error(new Error('source'));
      },
      error: (error: Error) => seen.push(`error ${error.message}`),
      complete: () => seen.push('complete'),
    });
    input.next({ n: 1 });
    expect(seen).toEqual(['step completed', 'aggregate 1', 'step completed', 'aggregate 2', 'error source']);
  });

  it('stops a synchronous source when the subscriber leaves from inside an output (take)', () => {
    // The subscriber left during the source's emission, yet the source was read to its end: every
    // context after the first ran its hook for nobody.
    const ran: unknown[] = [];
    const hook = fn('h', (context) => {
      ran.push(context.n);
      return {};
    });
    const seen: string[] = [];
    from([{ n: 1 }, { n: 2 }, { n: 3 }])
      .pipe(
        aggregateHooks([hook], () => null),
        take(1),
      )
      .subscribe((o) => seen.push(label(o)));
    expect(seen).toEqual(['h:completed']);
    expect(ran).toEqual([1]);
  });

  it(
    'unsubscribes from the source and the running hooks on early unsubscribe',
    marbles((m) => {
      const { b, hooks } = twoHooks(m);
      const source = m.hot('  c-----|', { c: {} });
      const subs = '          ^-!';
      m.expect(
        source.pipe(
          aggregateHooks(hooks, () => null, { scheduler: m.scheduler }),
          map(label),
        ),
        '--!',
      ).toBeObservable('-a-', { a: 'a:completed' });
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(b).toHaveSubscriptions('^-!');
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const { b, hooks } = twoHooks(m);
      const source = m.hot('  c-----|', { c: {} });
      const subs = '          ^-!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        aggregateHooks(hooks, () => null, { scheduler: m.scheduler }),
        mergeMap((x) => of(label(x))),
      );
      m.expect(result, '--!').toBeObservable('-a-', { a: 'a:completed' });
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(b).toHaveSubscriptions('^-!');
    }),
  );

  it('runs and rejects a null or undefined context (untyped code) as any other, and goes on', () => {
    // Reading its session_id for the steps' events threw: the stream errored, every context lost.
    const input = new Subject<HookContext>();
    const hooks = [fn('a', (context) => ({ score: Object.keys(context).length }))];
    const outputs: HookAggregationOutput<ReviewSummary>[] = [];
    let error: unknown;
    input.pipe(aggregateHooks(hooks, reviewSummary, { maxQueued: 0 })).subscribe({
      next: (o) => outputs.push(o),
      error: (e) => (error = e),
    });
    input.next(null as unknown as HookContext);
    input.next(undefined as unknown as HookContext);
    input.next({ session_id: 's', n: 1 });
    expect(error).toBeUndefined();
    const aggregates = outputs.filter((o) => o.kind === 'aggregate');
    expect(aggregates.map((o) => o.aggregate.overall_score)).toEqual([0, 0, 2]);
    expect(outputs.map((o) => (o.kind === 'step' ? o.event.sessionId : 'aggregate'))).toEqual([
      undefined,
      'aggregate',
      undefined,
      'aggregate',
      's',
      'aggregate',
    ]);
    // A rejection too: a context that finds the one run slot taken.
    const slow = new Subject<HookContext>();
    const never = [fn('a', () => NEVER, { timeoutMs: Number.POSITIVE_INFINITY })];
    const rejected: HookAggregationOutput<ReviewSummary>[] = [];
    slow
      .pipe(aggregateHooks(never, reviewSummary, { maxQueued: 0, deadlineMs: Number.POSITIVE_INFINITY }))
      .subscribe({
        next: (o) => rejected.push(o),
        error: (e) => (error = e),
      });
    slow.next({});
    slow.next(null as unknown as HookContext);
    expect(error).toBeUndefined();
    expect(rejected.map((o) => (o.kind === 'aggregate' ? [o.error?.code, o.context] : o.kind))).toEqual([
      ['BUFFER_OVERFLOW', {}],
    ]);
  });

  it('handles contexts pushed re-entrantly from an aggregate, in order', () => {
    const input = new Subject<HookContext>();
    const seen: unknown[] = [];
    const hooks = [fn('a', (context) => ({ score: context.n as number }))];
    input.pipe(aggregateHooks(hooks, reviewSummary)).subscribe((o) => {
      if (o.kind !== 'aggregate') return;
      seen.push(o.aggregate.overall_score);
      if (o.aggregate.overall_score === 1) input.next({ n: 3 });
    });
    input.next({ n: 1 });
    input.next({ n: 2 });
    expect(seen).toEqual([1, 3, 2]);
  });

  it(
    'rejects a context that finds the queue full at once, with every hook not_run, and runs the queued ones',
    marbles((m) => {
      const a = m.cold('----x|', { x: { passed: true } });
      const b = m.cold('-----y|', { y: { passed: true } });
      const hooks = [fn('a', () => a), fn('b', () => b, { timeoutMs: Number.POSITIVE_INFINITY })];
      // p runs, q waits, r finds the queue full; s comes when there is room again (q runs from 6 to 11).
      const source = m.cold('-pqr---s|', {
        p: { id: 'p' },
        q: { id: 'q' },
        r: { id: 'r', session_id: 'sess-2' },
        s: { id: 's' },
      });
      const outputs: HookAggregationOutput<ValidationResult>[] = [];
      const run = source.pipe(
        aggregateHooks(hooks, validationResult, {
          name: 'validation',
          scheduler: m.scheduler,
          maxQueued: 1,
          deadlineMs: 10,
        }),
        tap((o) => outputs.push(o)),
      );
      const verdict = (o: HookAggregationOutput<ValidationResult>) =>
        o.kind === 'step' ? label(o) : o.aggregate.passed ? 'passed' : `failed:${o.error?.code}`;
      // prettier-ignore
      const expected = '---X-A(BV)A(BV)A(BV|)';
      m.expect(run.pipe(map(verdict))).toBeObservable(expected, {
        X: 'failed:BUFFER_OVERFLOW',
        A: 'a:completed',
        B: 'b:completed',
        V: 'passed',
      });
      m.expect(source).toHaveSubscriptions('^-------!');
      // r is never run; the run for p is not disturbed by it.
      m.expect(a).toHaveSubscriptions(['-^---!', '------^---!', '-----------^---!']);
      m.expect(b).toHaveSubscriptions(['-^----!', '------^----!', '-----------^----!']);
      m.flush();

      const rejected = outputs[0]!;
      if (rejected.kind !== 'aggregate') throw new Error('expected the rejection first');
      const error = rejected.error!;
      expect(error).toBeInstanceOf(VibespecError);
      expect(error.code).toBe('BUFFER_OVERFLOW');
      expect(error.message).toContain('aggregateHooks "validation"');
      const notRun = (hook: string, index: number) => ({
        kind: 'step',
        status: 'not_run',
        hook,
        index,
        hook_kind: 'function',
        aggregation: 'validation',
        duration_ms: 0,
        error,
      });
      expect(rejected).toStrictEqual({
        kind: 'aggregate',
        aggregation: 'validation',
        aggregate: {
          passed: false,
          passed_hooks: [],
          failed_hooks: ['a', 'b'],
          reasons: [
            { hook: 'a', status: 'not_run', reason: error.message },
            { hook: 'b', status: 'not_run', reason: error.message },
          ],
        },
        results: [notRun('a', 0), notRun('b', 1)],
        timed_out: [],
        duration_ms: 0,
        error,
        context: { id: 'r', session_id: 'sess-2' },
        event: rejected.event,
      });
      expect(rejected.event).toStrictEqual({
        id: rejected.event?.id,
        type: 'hooks.overflow',
        timestamp: 3,
        priority: Priority.HIGH,
        sessionId: 'sess-2',
        data: {
          aggregation: 'validation',
          hooks: ['a', 'b'],
          code: 'BUFFER_OVERFLOW',
          error: error.message,
          max_queued: 1,
          concurrency: 1,
          total: 1,
        },
      });
      // The others ran, and carry no rejection.
      const ran = outputs.filter((o) => o.kind === 'aggregate').slice(1);
      expect(ran.map((o) => [o.error, o.context, o.event])).toEqual([
        [undefined, undefined, undefined],
        [undefined, undefined, undefined],
        [undefined, undefined, undefined],
      ]);
    }),
  );

  it(
    'lets reviewSummary list every hook of a rejected context as missing, and hookEvents() keep its event',
    marbles((m) => {
      const hooks = [fn('compliance', () => m.cold('--x|', { x: { score: 9 } })), fn('reviewer', () => ({}))];
      const source = m.cold('-ab|', { a: {}, b: {} });
      const outputs: HookAggregationOutput<ReviewSummary>[] = [];
      const run = source.pipe(
        aggregateHooks(hooks, reviewSummary, { scheduler: m.scheduler, maxQueued: 0 }),
        tap((o) => outputs.push(o)),
      );
      m.expect(
        run.pipe(
          hookEvents(),
          map((e) => e.type),
        ),
      ).toBeObservable('-rx(c|)', {
        r: 'hook.completed',
        x: 'hooks.overflow',
        c: 'hook.completed',
      });
      m.flush();
      const rejected = outputs.find((o) => o.kind === 'aggregate' && o.error !== undefined);
      if (rejected?.kind !== 'aggregate') throw new Error('expected a rejected aggregate');
      expect(rejected.aggregate.overall_score).toBeNull();
      expect(rejected.aggregate.missing.map((entry) => `${entry.hook}:${entry.status}`)).toEqual([
        'compliance:not_run',
        'reviewer:not_run',
      ]);
      const kept = outputs.filter((o) => o.kind === 'aggregate' && o.error === undefined);
      expect(kept.map((o) => (o.kind === 'aggregate' ? o.aggregate.overall_score : null))).toEqual([9]);
    }),
  );

  it('keeps running after rejections: a context pushed re-entrantly is queued or rejected in order', () => {
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const hooks = [fn('a', (context) => ({ score: context.n as number }))];
    let error: unknown;
    input.pipe(aggregateHooks(hooks, reviewSummary, { maxQueued: 1 })).subscribe({
      next: (o) => {
        if (o.kind !== 'aggregate') return;
        const n = o.context?.n ?? o.aggregate.overall_score;
        seen.push(`${String(n)}:${o.error === undefined ? 'ran' : 'rejected'}`);
        // While 1's run still counts as active: 2 takes the one place in the queue, 3 finds it full.
        if (n === 1) {
          input.next({ n: 2 });
          input.next({ n: 3 });
        }
        if (n === 3) input.next({ n: 4 });
        if (n === 2 && o.error === undefined) input.next({ n: 5 });
      },
      error: (e) => (error = e),
    });
    input.next({ n: 1 });
    input.next({ n: 6 });
    expect(error).toBeUndefined();
    expect(seen).toEqual(['1:ran', '3:rejected', '4:rejected', '2:ran', '5:ran', '6:ran']);
  });

  it(
    'errors the stream when the aggregator throws on a rejected context, as on a run',
    marbles((m) => {
      const aggregator = (steps: readonly AggregatedStep[]) => {
        if (steps.some((step) => step.status === 'not_run')) throw new Error('cannot aggregate');
        return steps.length;
      };
      const hooks = [fn('a', () => m.cold('---x|', { x: {} }))];
      const source = m.cold('-ab|', { a: {}, b: {} });
      m.expect(
        source.pipe(aggregateHooks(hooks, aggregator, { scheduler: m.scheduler, maxQueued: 0 }), map(label)),
      ).toBeObservable('--#', undefined, new Error('cannot aggregate'));
      m.expect(source).toHaveSubscriptions('^-!');
    }),
  );

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const operator = aggregateHooks([fn('a', () => cold('-x|', { x: { score: 1 } }))], reviewSummary, {
        scheduler,
      });
      const scores = map((o: HookAggregationOutput<ReviewSummary>) =>
        o.kind === 'aggregate' ? `score ${o.aggregate.overall_score}` : label(o),
      );
      expectObservable(cold('c|', { c: {} }).pipe(operator, scores)).toBe('-(as|)', {
        a: 'a:completed',
        s: 'score 1',
      });
      expectObservable(cold('-c|', { c: {} }).pipe(operator, scores)).toBe('--(as|)', {
        a: 'a:completed',
        s: 'score 1',
      });
    });
  });

  it('checks its options at construction', () => {
    expect(() => aggregateHooks([], () => null, { concurrency: 0 })).toThrow(ConfigError);
    expect(() => aggregateHooks([], () => null, { maxQueued: 1.5 })).toThrow(ConfigError);
    expect(() => aggregateHooks([], () => null, { deadlineMs: -5 })).toThrow(ConfigError);
  });
});

/** Runs function hooks answering `results` (or failing, for an Error) and returns the aggregate. */
async function aggregate<R>(
  results: Record<string, HookResult | Error | 'never'>,
  aggregator: (steps: readonly AggregatedStep[]) => R,
): Promise<R> {
  const hooks = Object.entries(results).map(([name, result]) =>
    fn(name, () => {
      if (result instanceof Error) throw result;
      return result === 'never' ? NEVER : result;
    }),
  );
  const scheduler = new TestScheduler(() => {});
  let outputs: HookAggregationOutput<R>[] = [];
  // Virtual time, so the hooks that never answer time out at the deadline without waiting for it.
  scheduler.run(() => {
    runHookAggregation(hooks, {}, aggregator, { scheduler, deadlineMs: 100 })
      .pipe(toArray())
      .subscribe((all) => {
        outputs = all;
      });
  });
  return aggregateOf(outputs).aggregate;
}

describe('reviewSummary', () => {
  it("is the seed's review aggregation: mean score, concatenated findings, metrics per hook that gave some", async () => {
    const summary = await aggregate(
      {
        compliance: {
          score: 90,
          critical_issues: ['missing licence header'],
          recommendations: ['add SPDX'],
          metrics: { rules: 12 },
        },
        reviewer: {
          score: 70,
          critical_issues: [{ file: 'a.ts', message: 'unsafe cast' }],
          positive_findings: ['good names'],
        },
        'ui-enhancer': { recommendations: ['contrast'], metrics: { components: 3 } },
      },
      reviewSummary,
    );
    // Strict: the reviewer gave no metrics, so it has no key in them (not one holding undefined).
    expect(summary).toStrictEqual({
      overall_score: 80,
      scored_hooks: 2,
      critical_issues: ['missing licence header', { file: 'a.ts', message: 'unsafe cast' }],
      recommendations: ['add SPDX', 'contrast'],
      positive_findings: ['good names'],
      metrics: { compliance: { rules: 12 }, 'ui-enhancer': { components: 3 } },
      missing: [],
    });
  });

  it('concatenates findings of any length (a command hook may answer up to 1 MiB of them)', async () => {
    const many = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
    const summary = await aggregate(
      {
        a: { critical_issues: many(500_000, 'c'), recommendations: many(500_000, 'r') },
        b: { critical_issues: ['last'], positive_findings: many(500_000, 'p') },
      },
      reviewSummary,
    );
    expect(summary.critical_issues).toHaveLength(500_001);
    expect(summary.critical_issues[0]).toBe('c0');
    expect(summary.critical_issues.at(-1)).toBe('last');
    expect(summary.recommendations).toHaveLength(500_000);
    expect(summary.positive_findings).toHaveLength(500_000);
  });

  it('keeps the metrics of a hook named __proto__ as an own key of a plain object', async () => {
    // A computed key: a literal `__proto__: …` would set the prototype of the record.
    const summary = await aggregate(
      { ['__proto__']: { metrics: { loc: 12 } }, b: { metrics: { loc: 3 } } },
      reviewSummary,
    );
    expect(Object.keys(summary.metrics)).toEqual(['__proto__', 'b']);
    expect(Object.getOwnPropertyDescriptor(summary.metrics, '__proto__')?.value).toEqual({ loc: 12 });
    expect(Object.getPrototypeOf(summary.metrics)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(summary.metrics))).toEqual(
      JSON.parse('{"__proto__":{"loc":12},"b":{"loc":3}}'),
    );
  });

  it('gives a finite mean of finite scores whose sum overflows', async () => {
    // The sum of two scores of Number.MAX_VALUE is Infinity: the mean was Infinity (null in JSON).
    const max = Number.MAX_VALUE;
    const high = await aggregate({ a: { score: max }, b: { score: max }, c: {} }, reviewSummary);
    expect(high.overall_score).toBe(max);
    expect(high.scored_hooks).toBe(2);
    const low = await aggregate({ a: { score: -max }, b: { score: -max } }, reviewSummary);
    expect(low.overall_score).toBe(-max);
    const three = await aggregate({ a: { score: max }, b: { score: max }, c: { score: 0 } }, reviewSummary);
    expect(three.overall_score! / max).toBeCloseTo(2 / 3, 12);
    // Each share of three (or 9, 11, 12 …) scores of Number.MAX_VALUE is rounded up: their sum overflowed.
    for (const n of [3, 9, 11, 12]) {
      const scores = Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, { score: max }]));
      const all = await aggregate(scores, reviewSummary);
      expect(all.overall_score).toBe(max);
      expect(all.scored_hooks).toBe(n);
      const negative = Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, { score: -max }]));
      expect((await aggregate(negative, reviewSummary)).overall_score).toBe(-max);
    }
    // Ordinary scores keep their plain mean, the sum over the count, to the last bit (the sum of the
    // shares would give 2.333333333333333).
    expect(
      (await aggregate({ a: { score: 1 }, b: { score: 2 }, c: { score: 4 } }, reviewSummary)).overall_score,
    ).toBe(7 / 3);
  });

  it('gives a null score when no hook scored, and lists the hooks that gave nothing', async () => {
    const summary = await aggregate(
      {
        a: { recommendations: ['x'] },
        b: new Error('down'),
        c: 'never',
        d: { decision: 'block', reason: 'no', score: 10 },
      },
      reviewSummary,
    );
    // A block that answered with a result still counts: its findings matter most.
    expect(summary.overall_score).toBe(10);
    expect(summary.missing.map((entry) => `${entry.hook}:${entry.status}`)).toEqual([
      'b:failed',
      'c:timed_out',
    ]);
    expect(summary.missing[0]!.reason).toContain('down');
    expect((await aggregate({ a: {} }, reviewSummary)).overall_score).toBeNull();
    expect((await aggregate({}, reviewSummary)).overall_score).toBeNull();
  });
});

describe('validationResult', () => {
  it('passes only if every validator passed', async () => {
    expect(await aggregate({ 'spec-guardian': { passed: true }, compliance: {} }, validationResult)).toEqual({
      passed: true,
      passed_hooks: ['spec-guardian', 'compliance'],
      failed_hooks: [],
      reasons: [],
    });
    const result: ValidationResult = await aggregate(
      { 'spec-guardian': { passed: false, reason: 'spec drift in api.md' }, compliance: { passed: true } },
      validationResult,
    );
    expect(result).toEqual({
      passed: false,
      passed_hooks: ['compliance'],
      failed_hooks: ['spec-guardian'],
      reasons: [{ hook: 'spec-guardian', status: 'completed', reason: 'spec drift in api.md' }],
    });
  });

  it('fails a validator on critical issues unless it says passed: true', async () => {
    const result = await aggregate(
      {
        a: { critical_issues: ['no tests', { message: 'no docs' }, { code: 7 }] },
        b: { critical_issues: ['minor'], passed: true },
        c: { passed: false },
      },
      validationResult,
    );
    expect(result.passed).toBe(false);
    expect(result.passed_hooks).toEqual(['b']);
    expect(result.reasons).toEqual([
      { hook: 'a', status: 'completed', reason: 'critical issues: no tests; no docs; {"code":7}' },
      { hook: 'c', status: 'completed', reason: 'passed: false' },
    ]);
  });

  it('fails a validator on critical issues that JSON cannot hold, without erroring', async () => {
    const cycle: Record<string, unknown> = { rule: 'cycle' };
    cycle.self = cycle;
    const loud = {
      toJSON() {
        throw new Error('no JSON');
      },
    };
    const result = await aggregate(
      {
        big: { critical_issues: [{ line: 10n, rule: 'no-eval' }, 7n] },
        cyclic: { critical_issues: [cycle] },
        odd: { critical_issues: [loud, Object.create(null)] },
      },
      validationResult,
    );
    expect(result).toEqual({
      passed: false,
      passed_hooks: [],
      failed_hooks: ['big', 'cyclic', 'odd'],
      reasons: [
        { hook: 'big', status: 'completed', reason: 'critical issues: {"line":"10","rule":"no-eval"}; "7"' },
        { hook: 'cyclic', status: 'completed', reason: 'critical issues: [object Object]' },
        { hook: 'odd', status: 'completed', reason: 'critical issues: [object Object]; {}' },
      ],
    });
  });

  it("describes an issue that is a function by its text, not by a message it carries (only an object's message is read)", async () => {
    const issue = Object.assign(() => 'lint', { message: 'not this' });
    const result = await aggregate({ a: { critical_issues: [issue] } }, validationResult);
    expect(result.reasons).toEqual([
      { hook: 'a', status: 'completed', reason: `critical issues: ${String(issue)}` },
    ]);
    expect(result.reasons[0]!.reason).not.toContain('not this');
  });

  it('keeps aggregateHooks running over such a validator', async () => {
    const hooks = [fn('guard', () => ({ critical_issues: [{ line: 10n }] }))];
    const outputs = await lastValueFrom(
      of({ diff: 'x' }, { diff: 'y' }).pipe(aggregateHooks(hooks, validationResult), toArray()),
    );
    expect(outputs.map((o) => (o.kind === 'aggregate' ? o.aggregate.passed : o.status))).toEqual([
      'completed',
      false,
      'completed',
      false,
    ]);
  });

  it('does not count a blocked, failed or timed-out validator as a pass', async () => {
    const result = await aggregate(
      { a: { decision: 'block', reason: 'forbidden file' }, b: new Error('crashed'), c: 'never', d: {} },
      validationResult,
    );
    expect(result.passed).toBe(false);
    expect(result.passed_hooks).toEqual(['d']);
    expect(result.failed_hooks).toEqual(['a', 'b', 'c']);
    expect(result.reasons.map((r) => r.status)).toEqual(['blocked', 'failed', 'timed_out']);
    expect(result.reasons[0]!.reason).toBe('forbidden file');
    expect(result.reasons[1]!.reason).toContain('crashed');
    expect(result.reasons[2]!.reason).toContain('deadline');
  });
});

describe('reviewSummary and validationResult called by hand', () => {
  it('refuse steps that are not an array of steps with a ConfigError naming the aggregator, not a TypeError', () => {
    for (const [aggregator, name] of [
      [reviewSummary, 'reviewSummary'],
      [validationResult, 'validationResult'],
    ] as const) {
      const call = (steps: unknown) => () => aggregator(steps as readonly AggregatedStep[]);
      expect(call(null)).toThrow(new ConfigError(`${name}: the steps must be an array, got null`));
      expect(call(undefined)).toThrow(ConfigError);
      expect(call('steps')).toThrow(`${name}: the steps must be an array, got 'steps'`);
      expect(call([null])).toThrow(
        new ConfigError(
          `${name}: step 0 must be a hook step (with a status: completed, blocked, failed, timed_out or not_run), got null`,
        ),
      );
      expect(call([{ hook: 'a', status: 'done' }])).toThrow(ConfigError);
      // A function is no step, even one carrying a step's fields (its status read all the same).
      const lookalike = Object.assign(() => undefined, {
        kind: 'step',
        hook: 'a',
        status: 'completed',
        result: {},
      });
      expect(call([lookalike])).toThrow(
        `${name}: step 0 must be a hook step (with a status: completed, blocked, failed, timed_out or not_run), got `,
      );
      // A completed step carries its result (a run gives {} for a hook that answered nothing): one
      // without is refused, not read as a TypeError (validationResult) or as a hook that gave none.
      for (const result of [undefined, null, 'ok']) {
        expect(call([{ kind: 'step', hook: 'a', status: 'completed', result }])).toThrow(
          new ConfigError(
            `${name}: step 0 is completed, so it must carry its result (an object: {} for a hook that answered nothing), got ${result === 'ok' ? "'ok'" : String(result)}`,
          ),
        );
      }
      expect(call([{ kind: 'step', hook: 'a', status: 'completed', result: {} }])).not.toThrow();
      // An empty list is still the empty aggregate.
      expect(call([])).not.toThrow();
    }
  });
});

describe('reviewSummary and validationResult on steps kept through JSON', () => {
  it('fail a failed, timed-out or blocked validator whose error lost its message, and give a text reason', async () => {
    const steps = await aggregate(
      { f: new Error('down'), t: 'never', b: { decision: 'block', reason: 'no' }, ok: {} },
      (all) => all,
    );
    const kept = JSON.parse(JSON.stringify(steps)) as AggregatedStep[];
    // An Error's message is no enumerable field: JSON keeps the error's name, code and hook only.
    expect(kept.map((step) => (step.status === 'completed' ? 'none' : step.error.message))).toEqual([
      undefined,
      undefined,
      undefined,
      'none',
    ]);
    // The failed and timed-out validators passed (their reason undefined).
    expect(validationResult(kept)).toEqual({
      passed: false,
      passed_hooks: ['ok'],
      failed_hooks: ['f', 't', 'b'],
      reasons: [
        { hook: 'f', status: 'failed', reason: 'HOOK_FAILED' },
        { hook: 't', status: 'timed_out', reason: 'HOOK_TIMEOUT' },
        { hook: 'b', status: 'blocked', reason: 'no' },
      ],
    });
    expect(validationResult(kept.filter((step) => step.hook === 'f')).passed).toBe(false);
    expect(reviewSummary(kept).missing).toEqual([
      { hook: 'f', status: 'failed', reason: 'HOOK_FAILED' },
      { hook: 't', status: 'timed_out', reason: 'HOOK_TIMEOUT' },
    ]);
    // With no error, an error without a code, or a block without a reason: the status is the reason.
    const bare = [
      { kind: 'step', hook: 'x', status: 'failed' },
      { kind: 'step', hook: 'y', status: 'blocked', error: { name: 'HookError' } },
      { kind: 'step', hook: 'z', status: 'timed_out', error: null },
      { kind: 'step', hook: 'n', status: 'not_run', error: { code: 'BUFFER_OVERFLOW' } },
    ] as unknown as AggregatedStep[];
    expect(validationResult(bare)).toEqual({
      passed: false,
      passed_hooks: [],
      failed_hooks: ['x', 'y', 'z', 'n'],
      reasons: [
        { hook: 'x', status: 'failed', reason: 'failed' },
        { hook: 'y', status: 'blocked', reason: 'blocked' },
        { hook: 'z', status: 'timed_out', reason: 'timed_out' },
        { hook: 'n', status: 'not_run', reason: 'BUFFER_OVERFLOW' },
      ],
    });
    // A block's reason comes first, then its error's message.
    const blocked = [
      {
        kind: 'step',
        hook: 'y',
        status: 'blocked',
        error: { message: 'by exit code 2', code: 'HOOK_BLOCKED' },
      },
    ] as unknown as AggregatedStep[];
    expect(validationResult(blocked).reasons).toEqual([
      { hook: 'y', status: 'blocked', reason: 'by exit code 2' },
    ]);
  });
});

describe('runHookAggregation property: the deadline splits the hooks', () => {
  it('completes the hooks that answer before the deadline, times out the rest, aggregates once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 10 }),
        (delays, deadlineMs) => {
          const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
          const outputs: Array<[number, HookAggregationOutput<number>]> = [];
          let calls = 0;
          scheduler.run(({ cold }) => {
            // undefined: a hook that never answers.
            const hooks = delays.map((delay, i) =>
              fn(`h${i}`, () => (delay === undefined ? NEVER : cold(`${'-'.repeat(delay)}x|`, { x: {} }))),
            );
            runHookAggregation(hooks, {}, () => ++calls, {
              scheduler,
              deadlineMs,
            }).subscribe((o) => outputs.push([scheduler.now(), o]));
          });
          // An answer due at the very frame of the deadline counts: the hook was subscribed before the timer.
          const answers = (delay: number | undefined) => delay !== undefined && delay <= deadlineMs;
          const [end, last] = outputs.at(-1)!;
          if (last.kind !== 'aggregate') throw new Error('expected the aggregate last');
          expect(calls).toBe(1);
          expect(outputs.length).toBe(delays.length + 1);
          expect(last.results.map((s) => s.hook)).toEqual(delays.map((_, i) => `h${i}`));
          expect(last.results.map((s) => s.status)).toEqual(
            delays.map((d) => (answers(d) ? 'completed' : 'timed_out')),
          );
          expect(last.timed_out).toEqual(delays.flatMap((d, i) => (answers(d) ? [] : [`h${i}`])));
          // The aggregate comes as soon as the last answer, and never after the deadline.
          const latest = Math.max(0, ...delays.map((d) => (answers(d) ? d! : deadlineMs)));
          expect(end).toBe(latest);
          expect(last.duration_ms).toBe(latest);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('aggregateHooks property: every context yields exactly one aggregate', () => {
  it('runs or rejects each context as the queue model says, at the frame it says, and loses none, also when the source errors', () => {
    fc.assert(
      fc.property(
        arrivalsArbitrary,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        endingArbitrary,
        (arrivals, concurrency, maxQueued, ending) => {
          let aggregations = 0;
          const run = runQueued(arrivals, ending, (cold, scheduler) => {
            // Two hooks: one takes the whole run, one answers at once; each answers with its context's i.
            const hooks = ['slow', 'fast'].map((name) =>
              fn(name, (context) => {
                const wait = name === 'slow' ? arrivals[context.i as number]!.duration : 0;
                return cold(`${'-'.repeat(wait)}x|`, { x: { metrics: { i: context.i } } });
              }),
            );
            const aggregator = (steps: readonly AggregatedStep[]) => {
              aggregations++;
              return steps.map((step) => step.status);
            };
            return aggregateHooks(hooks, aggregator, { scheduler, concurrency, maxQueued });
          });
          const { outputs } = run;

          const fates = queueModel(arrivals, concurrency, maxQueued);
          const records = outputs.flatMap(([at, o]) => (o.kind === 'aggregate' ? [{ at, o }] : []));
          const idOf = (o: HookAggregationResult<string[]>): number => {
            if (o.context !== undefined) return o.context.i as number;
            const step = o.results[0]!;
            if (step.status !== 'completed') throw new Error(`unexpected ${step.status}`);
            return step.result.metrics?.i as number;
          };
          // Exactly one aggregate per context, none invented, and the aggregator called once for each.
          expect(records.map(({ o }) => idOf(o)).sort((a, b) => a - b)).toEqual(arrivals.map((_, i) => i));
          expect(aggregations).toBe(arrivals.length);
          for (const { at, o } of records) {
            const fate = fates[idOf(o)]!;
            expect(at).toBe(fate.end);
            expect(o.aggregate).toEqual(fate.rejected ? ['not_run', 'not_run'] : ['completed', 'completed']);
            expect(o.error?.code).toBe(fate.rejected ? 'BUFFER_OVERFLOW' : undefined);
            expect(o.event?.type).toBe(fate.rejected ? 'hooks.overflow' : undefined);
          }
          // Two steps per context run, and nothing else.
          const ran = fates.filter((fate) => !fate.rejected).length;
          expect(outputs.length).toBe(records.length + 2 * ran);
          expectEndAfterLastRecord(run, arrivals, ending, fates);
        },
      ),
      { numRuns: 300 },
    );
  });
});
