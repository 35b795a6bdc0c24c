import fc from 'fast-check';
import {
  connect,
  defer,
  from,
  ignoreElements,
  map,
  mergeMap,
  NEVER,
  Observable,
  of,
  Subject,
  switchMap,
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
  aggregateHooks,
  ConfigError,
  chainHooks,
  type FunctionHook,
  type HookChainOutput,
  type HookChainResult,
  type HookContext,
  HookError,
  type HookResult,
  type HookRunInfo,
  type HookStep,
  hookEvents,
  Priority,
  runHook,
  runHookAggregation,
  runHookChain,
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
import { atOnceScheduler, thislessScheduler } from '../helpers/schedulers.js';
import { rxjsUnhandled } from '../helpers/unhandled.js';

/** `hook:status` for a step, `chain:outcome` for a chain result: what the marble diagrams compare. */
const label = (output: HookChainOutput): string =>
  output.kind === 'step' ? `${output.hook}:${output.status}` : `${output.chain_name}:${output.outcome}`;

const fn = (name: string, run: FunctionHook['run'], extra: Partial<FunctionHook> = {}): FunctionHook => ({
  name,
  run,
  ...extra,
});

const ok: HookResult = {};

/** The step of hook `name`, with its error if it has one. */
function stepOf(outputs: HookChainOutput[], name: string): HookStep & { error?: HookError } {
  const step = outputs.find((o) => o.kind === 'step' && o.hook === name);
  if (step?.kind !== 'step') throw new Error(`no step of ${name}`);
  return step;
}

/** The outputs of chain `c` whose one hook `a` throws `thrown`. */
function throwingChain(thrown: unknown): Promise<HookChainOutput[]> {
  return collect(
    runHookChain(
      {
        name: 'c',
        hooks: [
          fn('a', () => {
            throw thrown;
          }),
        ],
      },
      {},
    ),
  );
}

function resultOf(outputs: HookChainOutput[]): HookChainResult {
  const last = outputs.at(-1);
  if (last?.kind !== 'result') throw new Error('no chain result');
  return last;
}

describe('runHookChain', () => {
  it(
    'runs the hooks one after the other and ends with the chain result',
    marbles((m) => {
      const a = m.cold('--x|', { x: ok });
      const b = m.cold('  ---y|', { y: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a), fn('b', () => b)] };
      // prettier-ignore
      const expected = '--a--(br|)';
      m.expect(runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(map(label))).toBeObservable(
        expected,
        {
          a: 'a:completed',
          b: 'b:completed',
          r: 'c:completed',
        },
      );
      m.expect(a).toHaveSubscriptions('^-!');
      m.expect(b).toHaveSubscriptions('--^--!');
    }),
  );

  it(
    'propagates the context: each hook sees the updates of the hooks before it, in order',
    marbles((m) => {
      const seen: Array<[string, HookContext]> = [];
      const hook = (name: string, updates: Record<string, unknown>, delay: string) =>
        fn(name, (context) => {
          seen.push([name, context]);
          return m.cold(delay, { x: { context_updates: updates } });
        });
      const chain = {
        name: 'c',
        hooks: [
          hook('a', { a: 1, shared: 'a' }, '-x|'),
          hook('b', { b: 2, shared: 'b' }, '--x|'),
          hook('c', {}, 'x|'),
        ],
      };
      const outputs: HookChainOutput[] = [];
      const initial = { start: true };
      runHookChain(chain, initial, { scheduler: m.scheduler }).subscribe((o) => outputs.push(o));
      m.flush();
      expect(seen).toEqual([
        ['a', { start: true }],
        ['b', { start: true, a: 1, shared: 'a' }],
        ['c', { start: true, a: 1, shared: 'b', b: 2 }],
      ]);
      const result = resultOf(outputs);
      expect(result.final_context).toEqual({ start: true, a: 1, shared: 'b', b: 2 });
      expect(result.results.map((s) => s.hook)).toEqual(['a', 'b', 'c']);
      expect(result.duration_ms).toBe(3);
      expect(initial).toEqual({ start: true });
    }),
  );

  it('gives each hook its own copy of the context', async () => {
    const chain = {
      name: 'c',
      hooks: [
        fn('mutator', (context) => {
          (context as HookContext).injected = true;
          return of(ok);
        }),
        fn('reader', (context) => of({ context_updates: { sawInjected: 'injected' in context } })),
      ],
    };
    const outputs = await collect(runHookChain(chain, {}));
    expect(resultOf(outputs).final_context).toEqual({ sawInjected: false });
  });

  it('tells a function hook its name and place: the chain and index in a chain, no chain key in a single run', async () => {
    const infos: HookRunInfo[] = [];
    const record = (name: string) =>
      fn(name, (_context, info) => {
        infos.push(info);
        return ok;
      });
    await collect(runHookChain({ name: 'c', hooks: [record('a'), record('b')] }, {}));
    await collect(runHook(record('alone'), {}));
    expect(infos.map(({ signal, ...place }) => [signal instanceof AbortSignal, place])).toStrictEqual([
      [true, { hook: 'a', index: 0, chain: 'c' }],
      [true, { hook: 'b', index: 1, chain: 'c' }],
      [true, { hook: 'alone', index: 0 }],
    ]);
  });

  it(
    'honours stop_chain: later hooks are never subscribed and are listed as skipped',
    marbles((m) => {
      const a = m.cold('-x|', { x: ok });
      const b = m.cold(' -y|', { y: { stop_chain: true, context_updates: { b: 1 } } });
      const c = m.cold('x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a), fn('b', () => b), fn('c', () => c)] };
      const outputs: HookChainOutput[] = [];
      const run = runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(tap((o) => outputs.push(o)));
      m.expect(run.pipe(map(label))).toBeObservable('-a(br|)', {
        a: 'a:completed',
        b: 'b:completed',
        r: 'c:stopped',
      });
      m.expect(c).toHaveSubscriptions([]);
      m.flush();
      const result = resultOf(outputs);
      expect(result.skipped).toEqual(['c']);
      expect(result.stopped_by).toEqual({ hook: 'b', index: 1, reason: 'stop_chain' });
      expect(result.final_context).toEqual({ b: 1 });
    }),
  );

  it(
    "honours Claude Code's continue: false as a stop, with its stopReason",
    marbles((m) => {
      const chain = {
        name: 'c',
        hooks: [
          fn('a', () => m.cold('x|', { x: { continue: false, stopReason: 'done here' } })),
          fn('b', () => of(ok)),
        ],
      };
      const outputs: HookChainOutput[] = [];
      runHookChain(chain, {}, { scheduler: m.scheduler }).subscribe((o) => outputs.push(o));
      m.flush();
      expect(outputs.map(label)).toEqual(['a:completed', 'c:stopped']);
      expect(resultOf(outputs).stopped_by?.reason).toBe('done here');
    }),
  );

  it('runs a long chain of hooks that answer at once to its result', () => {
    // concatMap starts each hook from the end of the one before it: hooks answering at once each started
    // the next from inside their own end, and some 300 deep the stack overflowed, an error RxJS loses:
    // the run hung without a result.
    const clock = new VirtualTimeScheduler();
    const hooks = Array.from({ length: 3_000 }, (_, i) =>
      fn(`h${i}`, () => (i === 0 ? timer(1, clock).pipe(map(() => ok)) : { context_updates: { last: i } })),
    );
    const results: HookChainResult[] = [];
    let completed = false;
    runHookChain({ name: 'c', hooks }, {}, { scheduler: clock }).subscribe({
      next: (o) => {
        if (o.kind === 'result') results.push(o);
      },
      complete: () => {
        completed = true;
      },
    });
    clock.flush();
    expect(results.map((r) => [r.outcome, r.results.length, r.final_context.last])).toEqual([
      ['completed', 3_000, 2_999],
    ]);
    expect(completed).toBe(true);
  });

  it('counts an answer due at the very time of the timeout, one put on the scheduler after the timer too', () => {
    // A hook that waits in two stages (1 ms, then 2 ms) answers at 3, its timeoutMs: RxJS's timeout,
    // whose timer was on the scheduler first, timed it out at 3, while an answer due at 3 from the hook's
    // start completed. Both complete now; an answer due after the timeout does not.
    const clock = new VirtualTimeScheduler();
    const twoStages = () => timer(1, clock).pipe(switchMap(() => timer(2, clock).pipe(map(() => ok))));
    const hooks = [
      fn('a', twoStages, { timeoutMs: 3 }),
      fn('b', () => timer(3, clock).pipe(map(() => ok)), { timeoutMs: 3 }),
      fn('c', () => timer(1, clock).pipe(switchMap(() => timer(3, clock).pipe(map(() => ok)))), {
        timeoutMs: 3,
      }),
    ];
    const outputs: string[] = [];
    runHookChain({ name: 'c', hooks }, {}, { scheduler: clock }).subscribe((o) =>
      outputs.push(`${label(o)}@${clock.now()}`),
    );
    clock.flush();
    expect(outputs).toEqual(['a:completed@3', 'b:completed@6', 'c:timed_out@9', 'c:failed@9']);
  });

  it('answers and times out on a user scheduler that calls the work without its action as this, leaving no timer', () => {
    const clock = new VirtualTimeScheduler();
    const scheduler = thislessScheduler(clock);
    const twoStages = () => timer(1, clock).pipe(switchMap(() => timer(2, clock).pipe(map(() => ok))));
    const hooks = [
      fn('early', () => timer(2, clock).pipe(map(() => ok)), { timeoutMs: 3 }),
      fn('tie', twoStages, { timeoutMs: 3 }),
      fn('late', () => NEVER, { timeoutMs: 3 }),
    ];
    const outputs: string[] = [];
    const errors: unknown[] = [];
    runHookChain({ name: 'c', hooks }, {}, { scheduler, errorPolicy: 'fail-open' }).subscribe({
      next: (o) => outputs.push(`${label(o)}@${clock.now()}`),
      error: (error: unknown) => errors.push(error),
    });
    clock.flush();
    expect(outputs).toEqual(['early:completed@2', 'tie:completed@5', 'late:timed_out@8', 'c:completed@8']);
    expect(errors).toEqual([]);
    expect(scheduler.pending()).toBe(0);
  });

  it('arms no timeout for a hook that answers synchronously', () => {
    // A scheduler that runs every action at once shows any timer put on it: one armed after the answer
    // would run (and time out a step already out) at once.
    const scheduler = atOnceScheduler();
    const steps: string[] = [];
    runHook(
      fn('quick', () => ({ score: 1 }), { timeoutMs: 3 }),
      {},
      { scheduler },
    ).subscribe((step) => steps.push(step.status));
    expect(steps).toEqual(['completed']);
    expect(scheduler.ran()).toBe(0);
  });

  it('times a hook out on a user scheduler that calls the work without its action as this', () => {
    // RxJS's timeout calls this.unsubscribe() from its timer: a TypeError there, thrown out of the
    // scheduler's timer after the step went out (uncaught: the process crashed).
    const clock = new VirtualTimeScheduler();
    const scheduler = thislessScheduler(clock);
    const steps: string[] = [];
    const errors: unknown[] = [];
    runHook(
      fn('slow', () => NEVER, { timeoutMs: 3 }),
      {},
      { scheduler },
    ).subscribe({
      next: (step) => steps.push(`${step.status}@${clock.now()}`),
      error: (error: unknown) => errors.push(error),
    });
    clock.flush();
    expect(steps).toEqual(['timed_out@3']);
    expect(errors).toEqual([]);
    expect(scheduler.pending()).toBe(0);
  });

  it(
    'times a hook out on the scheduler, cancels it, and fails the chain (fail-closed by default)',
    marbles((m) => {
      const a = m.cold('------x|', { x: ok });
      const b = m.cold('x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a, { timeoutMs: 3 }), fn('b', () => b)] };
      const outputs: HookChainOutput[] = [];
      const run = runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(tap((o) => outputs.push(o)));
      m.expect(run.pipe(map(label))).toBeObservable('---(tr|)', { t: 'a:timed_out', r: 'c:failed' });
      m.expect(a).toHaveSubscriptions('^--!');
      m.expect(b).toHaveSubscriptions([]);
      m.flush();
      const step = outputs[0] as HookStep;
      expect(step.status).toBe('timed_out');
      if (step.status !== 'timed_out') return;
      expect(step.error).toBeInstanceOf(HookError);
      expect(step.error.code).toBe('HOOK_TIMEOUT');
      expect(step.duration_ms).toBe(3);
      expect(step.policy).toBe('fail-closed');
      expect(resultOf(outputs).stopped_by).toEqual({ hook: 'a', index: 0, reason: step.error.message });
    }),
  );

  it(
    'times out a hook whose answer throws as it is unsubscribed: its signal aborted, the chain goes on',
    marbles((m) => {
      // An answer whose teardown throws: the timeout's unsubscribe raised an UnsubscriptionError, which
      // errored the run (and, in chainHooks, every context running or waiting with it).
      const signals: AbortSignal[] = [];
      const throwsOnTeardown: FunctionHook['run'] = (_context, { signal }) => {
        signals.push(signal);
        return new Observable<HookResult>(() => () => {
          throw new Error('teardown failed');
        });
      };
      const chain = {
        name: 'c',
        hooks: [fn('a', throwsOnTeardown, { timeoutMs: 3, errorPolicy: 'fail-open' }), fn('b', () => of(ok))],
      };
      m.expect(runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(map(label))).toBeObservable(
        '---(tbr|)',
        { t: 'a:timed_out', b: 'b:completed', r: 'c:completed' },
      );
      const runs = m
        .hot('-xy|', { x: {}, y: {} })
        .pipe(
          chainHooks(
            { name: 'c', hooks: [fn('a', throwsOnTeardown, { timeoutMs: 4 })] },
            { scheduler: m.scheduler },
          ),
        );
      m.expect(runs.pipe(map(label))).toBeObservable('-----(tr)(tr|)', { t: 'a:timed_out', r: 'c:failed' });
      m.flush();
      expect(signals.map((signal) => signal.aborted)).toEqual([true, true, true]);
    }),
  );

  it('unsubscribes without throwing from a running hook whose answer throws as it is unsubscribed', () => {
    const signals: AbortSignal[] = [];
    const hook = fn('a', (_context, { signal }) => {
      signals.push(signal);
      return new Observable<HookResult>(() => () => {
        throw new Error('teardown failed');
      });
    });
    const subscription = runHookChain({ name: 'c', hooks: [hook] }, {}).subscribe();
    expect(() => subscription.unsubscribe()).not.toThrow();
    expect(signals.map((signal) => signal.aborted)).toEqual([true]);
  });

  it(
    'uses the run default timeout when the hook has none, and no timeout for Infinity',
    marbles((m) => {
      const slow = () => m.cold('-----x|', { x: ok });
      const withDefault = { name: 'd', hooks: [fn('a', slow)] };
      const withInfinity = { name: 'i', hooks: [fn('a', slow, { timeoutMs: Number.POSITIVE_INFINITY })] };
      m.expect(
        runHookChain(withDefault, {}, { scheduler: m.scheduler, timeoutMs: 2 }).pipe(map(label)),
      ).toBeObservable('--(tr|)', { t: 'a:timed_out', r: 'd:failed' });
      m.expect(
        runHookChain(withInfinity, {}, { scheduler: m.scheduler, timeoutMs: 2 }).pipe(map(label)),
      ).toBeObservable('-----(ar|)', { a: 'a:completed', r: 'i:completed' });
    }),
  );

  it('arms no timer for a timeoutMs above 2147483647 ms (no timeout), one up to it', () => {
    // Node fires a longer timer after 1 ms: such a timeout would time every hook out at once.
    for (const [timeoutMs, delays] of [
      [2_147_483_648, []],
      [1e12, []],
      [2_147_483_647, [2_147_483_647]],
    ] as const) {
      const scheduler = new TestScheduler(() => undefined);
      const hook = fn('a', () => NEVER);
      const subscription = runHookChain(
        { name: 'c', hooks: [hook] },
        {},
        { scheduler, timeoutMs },
      ).subscribe();
      expect(scheduler.actions.map((action) => action.delay)).toEqual(delays);
      subscription.unsubscribe();
    }
  });

  it(
    'fail-open: records the error and goes on with the next hook',
    marbles((m) => {
      const a = m.cold('-#', undefined, new Error('scanner crashed'));
      const b = m.cold(' -y|', { y: { context_updates: { b: true } } });
      const chain = { name: 'c', hooks: [fn('a', () => a, { errorPolicy: 'fail-open' }), fn('b', () => b)] };
      const outputs: HookChainOutput[] = [];
      const run = runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(tap((o) => outputs.push(o)));
      m.expect(run.pipe(map(label))).toBeObservable('-a(br|)', {
        a: 'a:failed',
        b: 'b:completed',
        r: 'c:completed',
      });
      m.expect(b).toHaveSubscriptions('-^!');
      m.flush();
      const failed = outputs[0] as HookStep;
      if (failed.status !== 'failed') throw new Error('expected a failed step');
      expect(failed.policy).toBe('fail-open');
      expect(failed.error.code).toBe('HOOK_FAILED');
      expect(failed.error.message).toContain('scanner crashed');
      expect((failed.error.cause as Error).message).toBe('scanner crashed');
      expect(resultOf(outputs).final_context).toEqual({ b: true });
    }),
  );

  it(
    'fail-closed: stops the chain at the failure, and the result says why',
    marbles((m) => {
      const a = m.cold('-#', undefined, new Error('scanner crashed'));
      const b = m.cold('x|', { x: ok });
      const chain = {
        name: 'c',
        hooks: [fn('a', () => a, { errorPolicy: 'fail-closed' }), fn('b', () => b)],
      };
      const outputs: HookChainOutput[] = [];
      const run = runHookChain(chain, {}, { scheduler: m.scheduler, errorPolicy: 'fail-open' }).pipe(
        tap((o) => outputs.push(o)),
      );
      m.expect(run.pipe(map(label))).toBeObservable('-(ar|)', { a: 'a:failed', r: 'c:failed' });
      m.expect(b).toHaveSubscriptions([]);
      m.flush();
      const result = resultOf(outputs);
      expect(result.outcome).toBe('failed');
      expect(result.skipped).toEqual(['b']);
      expect(result.stopped_by?.hook).toBe('a');
      expect(result.stopped_by?.reason).toContain('scanner crashed');
    }),
  );

  it(
    'applies the run default policy to hooks without one',
    marbles((m) => {
      const chain = {
        name: 'c',
        hooks: [
          fn('a', () => m.cold('-#')),
          fn('b', () => m.cold('-#')),
          fn('c', () => m.cold('-x|', { x: ok })),
        ],
      };
      m.expect(
        runHookChain(chain, {}, { scheduler: m.scheduler, errorPolicy: 'fail-open' }).pipe(map(label)),
      ).toBeObservable('-ab(cr|)', { a: 'a:failed', b: 'b:failed', c: 'c:completed', r: 'c:completed' });
    }),
  );

  it(
    "a block (decision: 'block') stops the chain even under fail-open",
    marbles((m) => {
      const b = m.cold('x|', { x: ok });
      const chain = {
        name: 'c',
        hooks: [
          fn(
            'a',
            () =>
              m.cold('-x|', {
                x: { decision: 'block', reason: 'secrets in diff', context_updates: { k: 1 } },
              }),
            {
              errorPolicy: 'fail-open',
            },
          ),
          fn('b', () => b),
        ],
      };
      const outputs: HookChainOutput[] = [];
      const run = runHookChain(chain, {}, { scheduler: m.scheduler, errorPolicy: 'fail-open' }).pipe(
        tap((o) => outputs.push(o)),
      );
      m.expect(run.pipe(map(label))).toBeObservable('-(ar|)', { a: 'a:blocked', r: 'c:blocked' });
      m.expect(b).toHaveSubscriptions([]);
      m.flush();
      const step = outputs[0] as HookStep;
      if (step.status !== 'blocked') throw new Error('expected a blocked step');
      expect(step.reason).toBe('secrets in diff');
      expect(step.error.code).toBe('HOOK_BLOCKED');
      expect(step.result?.decision).toBe('block');
      expect(step.event.type).toBe('hook.failed');
      expect(step.event.data.code).toBe('HOOK_BLOCKED');
      expect(resultOf(outputs).stopped_by?.reason).toBe('secrets in diff');
      expect(resultOf(outputs).final_context).toEqual({ k: 1 });
    }),
  );

  it('a function hook may block by throwing a HOOK_BLOCKED HookError', async () => {
    const chain = {
      name: 'c',
      hooks: [
        fn('a', () => {
          throw new HookError('HOOK_BLOCKED', 'no', { hook: 'a' });
        }),
      ],
    };
    const outputs = await collect(runHookChain(chain, {}));
    expect(outputs.map(label)).toEqual(['a:blocked', 'c:blocked']);
  });

  it('a HookError of another code that a function hook throws is a failure (HOOK_FAILED, the error its cause)', async () => {
    // Not a timeout (nothing timed out: no hook.timed_out), nor a step that names the inner hook.
    const thrown = [
      new HookError('HOOK_TIMEOUT', 'slow inside', { hook: 'inner' }),
      new HookError('HOOK_INVALID_OUTPUT', 'bad inside', { hook: 'inner' }),
      new HookError('HOOK_FAILED', 'inner failed', { hook: 'inner' }),
    ];
    for (const error of thrown) {
      const chain = {
        name: 'c',
        errorPolicy: 'fail-open' as const,
        hooks: [
          fn('a', () => {
            throw error;
          }),
        ],
      };
      const outputs = await collect(runHookChain(chain, {}));
      expect(outputs.map(label)).toEqual(['a:failed', 'c:failed']);
      const step = stepOf(outputs, 'a');
      expect(step.error?.code).toBe('HOOK_FAILED');
      expect(step.error?.hook).toBe('a');
      expect(step.error?.cause).toBe(error);
      expect(step.event.type).toBe('hook.failed');
    }
    // Thrown from a Promise (a rejection) alike.
    const rejected = await collect(
      runHookChain({ name: 'c', hooks: [fn('a', async () => Promise.reject(thrown[0]))] }, {}),
    );
    expect(stepOf(rejected, 'a').error?.code).toBe('HOOK_FAILED');
  });

  it('a HOOK_FAILED HookError for the hook itself is kept as it is; one of another code for that hook is wrapped', async () => {
    // Documented (toHookError): HOOK_FAILED of this hook kept; another code (HOOK_TIMEOUT when nothing
    // timed out) would pass for what did not happen, even when it names this hook.
    const own = new HookError('HOOK_FAILED', 'a failed its own way', { hook: 'a' });
    for (const run of [
      () => {
        throw own;
      },
      () => throwError(() => own),
    ] as const) {
      const outputs = await collect(runHookChain({ name: 'c', hooks: [fn('a', run)] }, {}));
      expect(outputs.map(label)).toEqual(['a:failed', 'c:failed']);
      expect(stepOf(outputs, 'a').error).toBe(own);
    }
    for (const code of ['HOOK_TIMEOUT', 'HOOK_INVALID_OUTPUT'] as const) {
      const thrown = new HookError(code, 'named after a', { hook: 'a' });
      const outputs = await throwingChain(thrown);
      expect(outputs.map(label)).toEqual(['a:failed', 'c:failed']);
      const step = stepOf(outputs, 'a');
      expect(step.error?.code).toBe('HOOK_FAILED');
      expect(step.error?.cause).toBe(thrown);
      expect(step.event.type).toBe('hook.failed');
    }
  });

  it('a thrown proxy whose getPrototypeOf trap throws is a HOOK_FAILED failure, its cause the proxy (toHookError is total)', async () => {
    // It looks like a HOOK_BLOCKED HookError by its fields, but is not one.
    const thrown = new Proxy(
      { code: 'HOOK_BLOCKED', hook: 'a', message: 'fake' },
      {
        getPrototypeOf() {
          throw new Error('no prototype');
        },
      },
    );
    const outputs = await throwingChain(thrown);
    expect(outputs.map(label)).toEqual(['a:failed', 'c:failed']);
    const step = stepOf(outputs, 'a');
    expect(step.error).toBeInstanceOf(HookError);
    expect(step.error?.code).toBe('HOOK_FAILED');
    expect(step.error?.cause).toBe(thrown);
  });

  it('accepts every kind of answer, and validates it', async () => {
    const chain = {
      name: 'c',
      errorPolicy: 'fail-open',
      hooks: [
        fn('plain', () => ({ score: 1 })),
        fn('promise', async () => ({ score: 2 })),
        fn('undefined', () => undefined),
        fn('empty', () => []),
        fn('first-of-many', () => of({ score: 3 }, { score: 4 })),
        fn('async-iterable', async function* () {
          yield { score: 5 };
        }),
        fn('invalid', () => ({ score: 'high' }) as unknown as HookResult),
        fn('not-an-object', () => of(42 as unknown as HookResult)),
        fn('throws', () => {
          throw new TypeError('bad');
        }),
        fn('rejects', () => Promise.reject(new Error('nope'))),
        fn('non-error', () => throwError(() => 'a string')),
      ],
    };
    const outputs = await collect(runHookChain(chain, {}, { errorPolicy: 'fail-open' }));
    const steps = resultOf(outputs).results;
    const summary = steps.map((s) =>
      s.status === 'completed'
        ? `${s.hook}:${String(s.result.score)}`
        : `${s.hook}:${s.status}:${s.error.code}`,
    );
    expect(summary).toEqual([
      'plain:1',
      'promise:2',
      'undefined:undefined',
      'empty:undefined',
      'first-of-many:3',
      'async-iterable:5',
      'invalid:failed:HOOK_INVALID_OUTPUT',
      'not-an-object:failed:HOOK_INVALID_OUTPUT',
      'throws:failed:HOOK_FAILED',
      'rejects:failed:HOOK_FAILED',
      'non-error:failed:HOOK_FAILED',
    ]);
    const invalid = steps[6]!;
    if (invalid.status !== 'failed') throw new Error('expected failed');
    expect(invalid.error.issues?.[0]?.path).toEqual(['score']);
    expect(invalid.error.message).toContain('score');
  });

  it("takes the first value of any answer from() accepts: an async iterable, an iterable, a ReadableStream, an '@@observable' interop, a stream-like with only getReader", async () => {
    // Objects that are nothing else: read as a plain result, each would be an empty answer ({}).
    const asyncIterable = {
      async *[Symbol.asyncIterator]() {
        yield { score: 6 };
        yield { score: 0 };
      },
    };
    const iterable = {
      *[Symbol.iterator]() {
        yield { score: 9 };
        yield { score: 0 };
      },
    };
    const stream = new ReadableStream<HookResult>({
      start(controller) {
        controller.enqueue({ score: 7 });
        controller.enqueue({ score: 0 });
        controller.close();
      },
    });
    const interop = { '@@observable': () => of({ score: 8 }, { score: 0 }) };
    // What from() also reads as a stream: an object with only getReader (a polyfill's stream, with no
    // async iterator).
    const inner = new ReadableStream<HookResult>({
      start(controller) {
        controller.enqueue({ score: 5 });
        controller.close();
      },
    });
    const streamLike = { getReader: () => inner.getReader() };
    const chain = {
      name: 'c',
      hooks: [
        fn('async-iterable', () => asyncIterable as unknown as HookResult),
        fn('iterable', () => iterable as unknown as HookResult),
        fn('readable-stream', () => stream as unknown as HookResult),
        fn('interop', () => interop as unknown as HookResult),
        fn('stream-like', () => streamLike as unknown as HookResult),
      ],
    };
    const steps = resultOf(await collect(runHookChain(chain, {}))).results;
    expect(steps.map((s) => (s.status === 'completed' ? s.result.score : s.status))).toEqual([6, 9, 7, 8, 5]);
  });

  it("reads a PermissionRequest deny as Claude Code does: reason 'denied' without a string message, no block for an allow or without a decision object", async () => {
    // One chain each: a block ends its chain.
    const hooks = [
      fn('numeric-message', () => ({ hookSpecificOutput: { decision: { behavior: 'deny', message: 42 } } })),
      fn('allow', () => ({ hookSpecificOutput: { decision: { behavior: 'allow', message: 'fine' } } })),
      fn('null-decision', () => ({ hookSpecificOutput: { decision: null } })),
      fn('string-decision', () => ({ hookSpecificOutput: { decision: 'deny' } })),
    ];
    const steps = await Promise.all(
      hooks.map(
        async (hook) => resultOf(await collect(runHookChain({ name: 'c', hooks: [hook] }, {}))).results[0]!,
      ),
    );
    expect(steps.map((s) => (s.status === 'blocked' ? `blocked:${s.reason}` : s.status))).toEqual([
      'blocked:denied',
      'completed',
      'completed',
      'completed',
    ]);
  });

  it('fails a hook whose thrown value cannot be converted to a string, and the chain goes on', async () => {
    const bare = Object.assign(Object.create(null) as object, { code: 'E_ODD' });
    const loud = {
      toString() {
        throw new Error('no text');
      },
    };
    const chain = {
      name: 'c',
      hooks: [
        fn('throws-bare', () => {
          throw bare;
        }),
        fn('throws-loud', () => {
          throw loud;
        }),
        fn('errors-bare', () => throwError(() => bare)),
        fn('after', () => ({ score: 1 })),
      ],
    };
    const outputs = await collect(runHookChain(chain, {}, { errorPolicy: 'fail-open' }));
    expect(outputs.map(label)).toEqual([
      'throws-bare:failed',
      'throws-loud:failed',
      'errors-bare:failed',
      'after:completed',
      'c:completed',
    ]);
    const failed = resultOf(outputs).results.slice(0, 3);
    expect(failed.map((s) => (s.status === 'failed' ? s.error.code : s.status))).toEqual([
      'HOOK_FAILED',
      'HOOK_FAILED',
      'HOOK_FAILED',
    ]);
    const first = failed[0]!;
    if (first.status !== 'failed') throw new Error('expected failed');
    // Named by its tag, and kept as the cause.
    expect(first.error.message).toBe('hook "throws-bare" failed: [object Object]');
    expect(first.error.cause).toBe(bare);
    expect(first.event.data.error).toBe('hook "throws-bare" failed: [object Object]');
  });

  it("quotes at most 1,000 characters of a function hook's thrown message, as a command hook's stderr, and keeps it whole in the cause", async () => {
    const long = `${'a'.repeat(1_000)}${'b'.repeat(2_000)}`;
    const getter = {
      get score(): number {
        throw new Error(long);
      },
    };
    const chain = {
      name: 'c',
      hooks: [
        fn('throws', () => {
          throw new Error(long);
        }),
        fn('rejects', () => Promise.reject(long)),
        fn('unreadable', () => getter),
        fn('exact', () => {
          throw new Error('e'.repeat(1_000));
        }),
      ],
    };
    const steps = resultOf(await collect(runHookChain(chain, {}, { errorPolicy: 'fail-open' }))).results;
    const errors = steps.map((s) => (s.status === 'failed' ? s.error : undefined));
    expect(errors.map((e) => e?.message)).toEqual([
      `hook "throws" failed: ${'a'.repeat(1_000)}…`,
      `hook "rejects" failed: ${'a'.repeat(1_000)}…`,
      `hook "unreadable" answered something that cannot be read: ${'a'.repeat(1_000)}…`,
      `hook "exact" failed: ${'e'.repeat(1_000)}`,
    ]);
    expect(steps[0]!.event.data.error).toBe(`hook "throws" failed: ${'a'.repeat(1_000)}…`);
    expect((errors[0]!.cause as Error).message).toBe(long);
    expect(errors[1]!.cause).toBe(long);
  });

  it("quotes at most 1,000 characters of zod's issues of an answer that is no HookResult, and keeps them whole in issues", async () => {
    // zod names a value's class, and the text of a symbol key in a record: the message was 3,000
    // characters and more, where a thrown message or a command hook's stderr is cut at 1,000.
    const long = 'C'.repeat(3_000);
    const Named = { [long]: class {} }[long]!;
    const updates: Record<symbol, unknown> = { [Symbol('s'.repeat(2_000))]: 1 };
    const chain = {
      name: 'c',
      hooks: [
        fn('named', () => ({ score: new Named() as never })),
        fn('symbol', () => ({ context_updates: updates as never })),
      ],
    };
    const steps = resultOf(await collect(runHookChain(chain, {}, { errorPolicy: 'fail-open' }))).results;
    const prefix = (hook: string) => `hook "${hook}" answered something that is not a HookResult: `;
    const issues = [`score: Invalid input: expected number, received ${long}`];
    for (const [i, step] of steps.entries()) {
      if (step.status !== 'failed') throw new Error(`step ${i} is ${step.status}`);
      const error = step.error;
      expect(error.code).toBe('HOOK_INVALID_OUTPUT');
      const whole = error.issues!.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
      if (i === 0) expect(whole).toEqual(issues);
      expect(whole.join('; ').length).toBeGreaterThan(2_000);
      expect(error.message).toBe(`${prefix(step.hook)}${whole.join('; ').slice(0, 1_000)}…`);
      expect(step.event.data.error).toBe(error.message);
      expect(error.cause).toBeInstanceOf(Error);
    }
    expect(steps.map((step) => step.hook)).toEqual(['named', 'symbol']);
  });

  it('fails at once, without an unhandled error, a hook whose promise rejects with such a value', async () => {
    // The rejection is a microtask, the timeout a timer: the step comes from the rejection whatever
    // the timeout (it is there only so that a run that missed the rejection ends).
    const chain = {
      name: 'c',
      hooks: [fn('rejects-bare', () => Promise.reject(Object.create(null)), { timeoutMs: 1_000 })],
    };
    let outputs: HookChainOutput[] = [];
    const unhandled = await rxjsUnhandled(async () => {
      outputs = await collect(runHookChain(chain, {}));
    });
    expect(outputs.map(label)).toEqual(['rejects-bare:failed', 'c:failed']);
    expect(unhandled).toEqual([]);
  });

  it('fails with HOOK_INVALID_OUTPUT a hook whose answer throws while it is read', async () => {
    const getter = {
      get score(): number {
        throw new Error('getter');
      },
    };
    const thenGetter = Object.defineProperty({}, 'then', {
      get() {
        throw new Error('then');
      },
    });
    const chain = {
      name: 'c',
      hooks: [
        fn('sync-getter', () => getter),
        fn('async-getter', async () => getter),
        fn('then-getter', () => thenGetter as unknown as HookResult),
      ],
    };
    const outputs = await collect(runHookChain(chain, {}, { errorPolicy: 'fail-open' }));
    const steps = resultOf(outputs).results;
    expect(steps.map((s) => (s.status === 'failed' ? `${s.hook}:${s.error.code}` : s.status))).toEqual([
      'sync-getter:HOOK_INVALID_OUTPUT',
      'async-getter:HOOK_INVALID_OUTPUT',
      'then-getter:HOOK_INVALID_OUTPUT',
    ]);
    expect(steps[0]!.status === 'failed' && steps[0]!.error.message).toBe(
      'hook "sync-getter" answered something that cannot be read: getter',
    );
    const first = steps[0]!;
    if (first.status !== 'failed') throw new Error('expected failed');
    expect(first.error.hook).toBe('sync-getter');
    expect((first.error.cause as Error).message).toBe('getter');
  });

  it('reads a null answer as the empty result, and gives a plain answer no __proto__ key of its own', async () => {
    const chain = {
      name: 'c',
      hooks: [
        fn('null', () => null as unknown as HookResult),
        fn('plain', () => ({ score: 1, metrics: { loc: 2 } })),
      ],
    };
    const steps = resultOf(await collect(runHookChain(chain, {}))).results;
    expect(steps.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(steps[0]!.status === 'completed' && steps[0]!.result).toEqual({});
    const plain = steps[1]!;
    if (plain.status !== 'completed') throw new Error('expected completed');
    expect(Object.keys(plain.result)).toEqual(['score', 'metrics']);
    expect(Object.hasOwn(plain.result, '__proto__')).toBe(false);
  });

  it('keeps unknown result keys, and a __proto__ key as an own field (as parseEvent does), never applied', async () => {
    // It was dropped, in the answer, its context_updates and its metrics, unlike in an event's data.
    const answer = JSON.parse(
      '{"__proto__":{"top":1},"systemMessage":"hi","context_updates":{"__proto__":{"polluted":1},"a":1},' +
        '"metrics":{"__proto__":3,"loc":2}}',
    );
    const outputs = await collect(runHookChain({ name: 'c', hooks: [fn('a', () => answer)] }, { b: 0 }));
    const step = outputs[0] as HookStep;
    if (step.status !== 'completed') throw new Error('expected completed');
    const result = step.result as Record<string, unknown>;
    expect(result.systemMessage).toBe('hi');
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(result, '__proto__')?.value).toEqual({ top: 1 });
    expect(Object.getOwnPropertyDescriptor(step.result.metrics, '__proto__')?.value).toBe(3);
    expect(Object.keys(step.result.metrics!)).toEqual(['__proto__', 'loc']);
    expect(Object.getPrototypeOf(step.result.context_updates)).toBe(Object.prototype);
    const final = resultOf(outputs).final_context;
    expect(Object.keys(final)).toEqual(['b', '__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(final, '__proto__')?.value).toEqual({ polluted: 1 });
    expect(Object.getPrototypeOf(final)).toBe(Object.prototype);
    expect(final.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // As an event's data keeps it: the step's result reads back from JSON as it was answered.
    expect(JSON.parse(JSON.stringify(step.result))).toEqual(JSON.parse(JSON.stringify(answer)));
  });

  it(
    'attaches a hook.* event to every step, stamped on the scheduler',
    marbles((m) => {
      const chain = {
        name: 'review',
        hooks: [
          fn('a', () => m.cold('--x|', { x: { score: 7 } })),
          fn('b', () => m.cold('-#', undefined, new Error('x')), { errorPolicy: 'fail-open' }),
          fn('c', () => m.cold('-----x|'), { timeoutMs: 2 }),
        ],
      };
      const events = runHookChain(
        chain,
        { session_id: 'sess-9' },
        { scheduler: m.scheduler, errorPolicy: 'fail-open' },
      ).pipe(
        hookEvents(),
        map((e) => ({
          type: e.type,
          timestamp: e.timestamp,
          priority: e.priority,
          sessionId: e.sessionId,
          data: e.data,
        })),
      );
      m.expect(events).toBeObservable('--ab-(c|)', {
        a: {
          type: 'hook.completed',
          timestamp: 2,
          priority: Priority.NORMAL,
          sessionId: 'sess-9',
          data: {
            hook: 'a',
            chain: 'review',
            index: 0,
            hook_kind: 'function',
            status: 'completed',
            duration_ms: 2,
            score: 7,
          },
        },
        b: {
          type: 'hook.failed',
          timestamp: 3,
          priority: Priority.HIGH,
          sessionId: 'sess-9',
          data: {
            hook: 'b',
            chain: 'review',
            index: 1,
            hook_kind: 'function',
            status: 'failed',
            duration_ms: 1,
            code: 'HOOK_FAILED',
            error: 'hook "b" failed: x',
          },
        },
        c: {
          type: 'hook.timed_out',
          timestamp: 5,
          priority: Priority.HIGH,
          sessionId: 'sess-9',
          data: {
            hook: 'c',
            chain: 'review',
            index: 2,
            hook_kind: 'function',
            status: 'timed_out',
            duration_ms: 2,
            code: 'HOOK_TIMEOUT',
            error: 'hook "c" did not answer within 2 ms',
          },
        },
      });
    }),
  );

  it('runs two hooks of the same name one after the other (only an aggregation needs distinct names)', async () => {
    const twice = fn('a', (ctx) => ({ context_updates: { n: ((ctx.n as number | undefined) ?? 0) + 1 } }));
    const result = resultOf(await collect(runHookChain({ name: 'c', hooks: [twice, twice] }, {})));
    expect(result.outcome).toBe('completed');
    expect(result.results.map((s) => `${s.hook}#${s.index}`)).toEqual(['a#0', 'a#1']);
    expect(result.final_context).toEqual({ n: 2 });
  });

  it('takes the events sessionId from the options first', async () => {
    const outputs = await collect(
      runHookChain(
        { name: 'c', hooks: [fn('a', () => ok)] },
        { session_id: 'from-context' },
        { sessionId: 'given' },
      ),
    );
    expect((outputs[0] as HookStep).event.sessionId).toBe('given');
    const none = await collect(runHookChain({ name: 'c', hooks: [fn('a', () => ok)] }, { session_id: '' }));
    expect((none[0] as HookStep).event.sessionId).toBeUndefined();
  });

  it(
    'emits the result at once for an empty chain',
    marbles((m) => {
      m.expect(
        runHookChain({ name: 'c', hooks: [] }, { a: 1 }, { scheduler: m.scheduler }).pipe(map(label)),
      ).toBeObservable('(r|)', { r: 'c:completed' });
    }),
  );

  it(
    'never emits while a hook never answers and has no timeout',
    marbles((m) => {
      const a = m.cold('-');
      const chain = { name: 'c', hooks: [fn('a', () => a, { timeoutMs: Number.POSITIVE_INFINITY })] };
      m.expect(runHookChain(chain, {}, { scheduler: m.scheduler })).toBeObservable('-');
      m.expect(a).toHaveSubscriptions('^');
    }),
  );

  it(
    'cancels the running hook on early unsubscribe, and aborts its signal',
    marbles((m) => {
      const a = m.cold('-x|', { x: ok });
      const b = m.cold(' -----y|', { y: ok });
      let signal: AbortSignal | undefined;
      const chain = {
        name: 'c',
        hooks: [
          fn('a', () => a),
          fn('b', (_context, info) => {
            signal = info.signal;
            return b;
          }),
        ],
      };
      const unsub = '   ---!';
      m.expect(runHookChain(chain, {}, { scheduler: m.scheduler }).pipe(map(label)), unsub).toBeObservable(
        '-a-',
        {
          a: 'a:completed',
        },
      );
      m.expect(b).toHaveSubscriptions('-^-!');
      m.flush();
      expect(signal?.aborted).toBe(true);
    }),
  );

  it('does not abort the signal of a hook that answered', async () => {
    let signal: AbortSignal | undefined;
    await collect(
      runHookChain(
        {
          name: 'c',
          hooks: [
            fn('a', (_c, info) => {
              signal = info.signal;
              return of(ok);
            }),
          ],
        },
        {},
      ),
    );
    expect(signal?.aborted).toBe(false);
  });

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const a = m.cold('----x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a)] };
      const result = of({}).pipe(
        mergeMap((context) => runHookChain(chain, context, { scheduler: m.scheduler })),
        mergeMap((o) => of(label(o))),
      );
      m.expect(result, '--!').toBeObservable('--');
      m.expect(a).toHaveSubscriptions('^-!');
    }),
  );

  it('runs a long chain of synchronous hooks without growing the stack', async () => {
    const hooks = Array.from({ length: 5_000 }, (_, i) =>
      fn(`h${i}`, (context) => of({ context_updates: { n: (context.n as number) + 1 } })),
    );
    const outputs = await collect(runHookChain({ name: 'long', hooks }, { n: 0 }));
    expect(resultOf(outputs).final_context).toEqual({ n: 5_000 });
  });

  it('is cold and re-runnable: each subscription is a fresh run', async () => {
    let runs = 0;
    const chain = {
      name: 'c',
      hooks: [fn('a', (context) => of({ context_updates: { run: ++runs, saw: context.run ?? null } }))],
    };
    const run = runHookChain(chain, {});
    expect(resultOf(await collect(run)).final_context).toEqual({ run: 1, saw: null });
    expect(resultOf(await collect(run)).final_context).toEqual({ run: 2, saw: null });
  });

  it('handles a subscriber that re-enters the chain from a step', () => {
    const seen: string[] = [];
    const chain = { name: 'c', hooks: [fn('a', () => of(ok)), fn('b', () => of(ok))] };
    const run = runHookChain(chain, {});
    let nested = false;
    run.subscribe((o) => {
      seen.push(`outer ${label(o)}`);
      if (!nested) {
        nested = true;
        run.subscribe((inner) => seen.push(`inner ${label(inner)}`));
      }
    });
    expect(seen).toEqual([
      'outer a:completed',
      'inner a:completed',
      'inner b:completed',
      'inner c:completed',
      'outer b:completed',
      'outer c:completed',
    ]);
  });

  it('names the function, the chain and the field in its ConfigError messages', () => {
    const good = fn('a', () => ok);
    const cases: Array<[() => unknown, string]> = [
      [() => runHookChain(null as never, {}), 'runHookChain: chain must be { name, hooks }'],
      [
        () => runHookChain({ name: '', hooks: [] }, {}),
        'runHookChain: chain.name must be a non-empty string',
      ],
      [
        () => runHookChain({ name: 'c', hooks: [{ name: 'a' } as never] }, {}),
        'runHookChain "c": hook "a" must have either a run function or a command, not neither',
      ],
      [
        () => runHookChain({ name: 'c', hooks: [good] }, {}, { timeOutMs: 1 } as never),
        'runHookChain: unknown option "timeOutMs" (did you mean "timeoutMs"?); known: scheduler, timeoutMs, errorPolicy, maxOutputBytes, sessionId',
      ],
      [() => chainHooks(null as never), 'chainHooks: chain must be { name, hooks }'],
      [
        () => chainHooks({ name: 'c', hooks: [{ name: 'a' } as never] }),
        'chainHooks "c": hook "a" must have either a run function or a command, not neither',
      ],
      [
        () => chainHooks({ name: 'c', hooks: [good] }, { concurency: 2 } as never),
        'chainHooks: unknown option "concurency" (did you mean "concurrency"?); known: scheduler, timeoutMs, errorPolicy, maxOutputBytes, sessionId, concurrency, maxQueued',
      ],
      [
        () => chainHooks({ name: 'c', hooks: [good] }, { concurrency: 0 }),
        'chainHooks: concurrency must be a positive integer (or Infinity), got 0',
      ],
      [
        () => chainHooks({ name: 'c', hooks: [good] }, { maxQueued: -1 }),
        'chainHooks: maxQueued must be a non-negative integer (or Infinity), got -1',
      ],
    ];
    for (const [call, message] of cases) expect(call).toThrow(new ConfigError(message));
  });

  it('checks the chain and options at construction', () => {
    const good = fn('a', () => ok);
    const bad: unknown[] = [
      [{ name: '', hooks: [] }, {}],
      [{ name: 'c', hooks: 'x' }, {}],
      [{ name: 'c', hooks: [{ name: 'a' }] }, {}],
      [{ name: 'c', hooks: [{ name: 'a', run: () => ok, command: 'x' }] }, {}],
      [{ name: 'c', hooks: [{ run: () => ok }] }, {}],
      [{ name: 'c', hooks: [{ name: 'a', command: '' }] }, {}],
      [{ name: 'c', hooks: [{ name: 'a', command: 'x', args: [1] }] }, {}],
      [{ name: 'c', hooks: [{ name: 'a', command: 'x', env: { A: 1 } }] }, {}],
      [{ name: 'c', hooks: [{ name: 'a', command: 'x', maxOutputBytes: 0 }] }, {}],
      [{ name: 'c', hooks: [{ ...good, timeoutMs: 0 }] }, {}],
      [{ name: 'c', hooks: [{ ...good, timeoutMs: Number.NaN }] }, {}],
      [{ name: 'c', hooks: [{ ...good, errorPolicy: 'ignore' }] }, {}],
      [{ name: 'c', hooks: [good] }, { timeoutMs: -1 }],
      [{ name: 'c', hooks: [good] }, { errorPolicy: 'open' }],
      [{ name: 'c', hooks: [good] }, { maxOutputBytes: 1.5 }],
      [{ name: 'c', hooks: [good] }, { sessionId: '' }],
      [null, {}],
      [undefined, {}],
    ];
    for (const [chain, options] of bad as Array<[never, never]>) {
      expect(() => runHookChain(chain, {}, options)).toThrow(ConfigError);
    }
    // A hole of a sparse array (`[a, , b]`) was skipped by the check and ran as an undefined hook,
    // erroring the run with a TypeError.
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const sparse = [good, , good] as never;
    expect(() => runHookChain({ name: 'c', hooks: sparse }, {})).toThrow(
      new ConfigError('runHookChain "c": hook #1 must be an object, got undefined'),
    );
    expect(() => chainHooks({ name: 'c', hooks: sparse })).toThrow(
      new ConfigError('chainHooks "c": hook #1 must be an object, got undefined'),
    );
    try {
      runHookChain({ name: 'c', hooks: [{ ...good, timeoutMs: 0 }] }, {});
    } catch (error) {
      expect((error as VibespecError).code).toBe('INVALID_CONFIG');
      expect((error as Error).message).toContain('hook "a"');
    }
  });
});

describe('a context that is not an object', () => {
  const seen: unknown[] = [];
  const hook = fn('f', (context) => {
    seen.push(context);
    return {};
  });
  const refused = (where: string, shown: string) =>
    new ConfigError(
      `${where}: the context must be an object (or null or undefined, read as {}), got ${shown}`,
    );
  /** Each of the three runners refuses `context`, an object whose data a hook would not see, naming `kind`. */
  const expectHidden = (context: unknown, kind: string) => {
    const calls = [
      ['runHook', () => runHook(hook, context as never)],
      ['runHookChain', () => runHookChain({ name: 'c', hooks: [hook] }, context as never)],
      ['runHookAggregation', () => runHookAggregation([hook], context as never, validationResult)],
    ] as const;
    for (const [where, call] of calls) {
      expect(call).toThrow(
        new ConfigError(
          `${where}: the context must be an object whose data is in its own fields (a plain object, a class ` +
            `instance), not ${kind}: a hook is given the context's own fields and would see none of its data`,
        ),
      );
    }
  };

  it('is refused with a ConfigError at the call: a function hook was given it spread, a command hook as JSON', () => {
    for (const [context, shown] of [
      ['ab', "'ab'"],
      [['a', 'b'], "['a', 'b']"],
      [5, '5'],
      [() => ({}), undefined],
    ] as const) {
      const calls = [
        ['runHook', () => runHook(hook, context as never)],
        ['runHookChain', () => runHookChain({ name: 'c', hooks: [hook] }, context as never)],
        ['runHookAggregation', () => runHookAggregation([hook], context as never, validationResult)],
      ] as const;
      for (const [where, call] of calls) {
        if (shown === undefined) expect(call).toThrow(ConfigError);
        else expect(call).toThrow(refused(where, shown));
      }
    }
    expect(seen).toEqual([]);
  });

  it('null and undefined are still the empty context, and an object (a class instance too) is taken', async () => {
    seen.length = 0;
    class Ctx {
      files = ['a.ts'];
    }
    await collect(runHook(hook, null as never));
    await collect(runHookChain({ name: 'c', hooks: [hook] }, undefined as never));
    await collect(runHookAggregation([hook], new Ctx(), validationResult));
    expect(seen).toEqual([{}, {}, { files: ['a.ts'] }]);
  });

  it('a built-in object whose data is in no own field is refused with a ConfigError naming it: a hook saw {} or index fields', () => {
    // Each was taken: a function hook was given `{}` for a Map or a Date, `{ 0: 'a', 1: 'b' }` for
    // new String('ab') or a Uint8Array (the index fields an array is refused for).
    seen.length = 0;
    class Registry extends Map<string, number> {}
    const slotted: Array<[unknown, string]> = [
      [new String('ab'), 'a String object'],
      [new Number(5), 'a Number object'],
      [new Boolean(false), 'a Boolean object'],
      [Object(Symbol('s')), 'a Symbol object'],
      [Object(1n), 'a BigInt object'],
      [new ArrayBuffer(2), 'an ArrayBuffer'],
      [new SharedArrayBuffer(2), 'a SharedArrayBuffer'],
      [new Uint8Array([1, 2]), 'a typed array'],
      [Buffer.from('ab'), 'a typed array'],
      [new Float64Array(2), 'a typed array'],
      [new DataView(new ArrayBuffer(2)), 'a DataView'],
      [
        (function (..._args: unknown[]) {
          // biome-ignore lint/complexity/noArguments: an arguments object is what is tested
          return arguments;
        })('a', 'b'),
        'an arguments object',
      ],
      [new Map([['a', 1]]), 'a Map'],
      [new Registry([['a', 1]]), 'a Map'],
      [new Set([1]), 'a Set'],
      [new WeakMap(), 'a WeakMap'],
      [new WeakSet(), 'a WeakSet'],
      [new Date(0), 'a Date'],
      [/x/g, 'a RegExp'],
      [Promise.resolve({ n: 1 }), 'a Promise'],
    ];
    for (const [context, kind] of slotted) expectHidden(context, kind);
    expect(seen).toEqual([]);
  });

  it('a WeakRef, a FinalizationRegistry, an iterator or a generator object is refused too: a hook saw {}', () => {
    seen.length = 0;
    function* generate() {
      yield 1;
    }
    async function* generateLater() {
      yield 1;
    }
    class Ref extends WeakRef<object> {}
    const items = [1, 2];
    const values = items.values();
    const refused: Array<[object, string]> = [
      [new WeakRef({}), 'a WeakRef'],
      [new Ref({}), 'a WeakRef'],
      [new FinalizationRegistry(() => {}), 'a FinalizationRegistry'],
      [new Map([['a', 1]]).entries(), 'a Map iterator'],
      [new Set([1]).values(), 'a Set iterator'],
      [values, 'an Array iterator'],
      [new Uint8Array(2).keys(), 'an Array iterator'],
      [
        (function (this: unknown, ..._: unknown[]) {
          // biome-ignore lint/complexity/noArguments: an arguments object's iterator is an Array iterator
          return arguments[Symbol.iterator]();
        })(1),
        'an Array iterator',
      ],
      [generate(), 'a generator object'],
      [generateLater(), 'a generator object'],
    ];
    for (const [context, kind] of refused) expectHidden(context, kind);
    expect(seen).toEqual([]);
  });

  it('an object made to look like a generator or a WeakRef is taken as its own fields', async () => {
    seen.length = 0;
    const lookalikes = [
      Object.assign(Object.create(WeakRef.prototype) as object, { n: 2 }),
      { [Symbol.toStringTag]: 'Generator', n: 3 },
      { [Symbol.toStringTag]: 'Array Iterator', n: 4 },
      new Proxy([].values(), { ownKeys: () => [] }),
    ];
    for (const context of lookalikes) await collect(runHook(hook, context as never));
    expect(seen).toEqual([
      { n: 2 },
      { [Symbol.toStringTag]: 'Generator', n: 3 },
      { [Symbol.toStringTag]: 'Array Iterator', n: 4 },
      {},
    ]);
  });

  it('a plain object or a class instance is checked without a throwing brand check (each throw captured a stack: tens of µs per run)', async () => {
    seen.length = 0;
    const derefs: unknown[] = [];
    const deref = WeakRef.prototype.deref;
    WeakRef.prototype.deref = function (this: WeakRef<object>) {
      derefs.push(this);
      return deref.call(this);
    };
    try {
      class Context {
        n = 2;
      }
      const plain = { n: 1 };
      for (const context of [plain, new Context(), Object.create(null) as object]) {
        await collect(runHook(hook, context as never));
      }
      // Was each of the three contexts (deref called for every object, and a TypeError thrown for each).
      expect(derefs).toEqual([]);
      const ref = new WeakRef({});
      expectHidden(ref, 'a WeakRef');
      expect(derefs.length).toBeGreaterThan(0);
      expect(derefs.every((receiver) => receiver === ref)).toBe(true);
      // A proxy in the chain: its prototype is not asked, so every throwing check runs.
      const behindProxy = Object.create(new Proxy({}, {})) as object;
      derefs.length = 0;
      await collect(runHook(hook, behindProxy as never));
      expect(derefs).toEqual([behindProxy]);
    } finally {
      WeakRef.prototype.deref = deref;
    }
    // Given another prototype, a WeakRef is taken as its own fields (documented).
    await collect(runHook(hook, Object.setPrototypeOf(new WeakRef({}), Object.prototype) as never));
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, {}, {}, {}]);
  });

  it('every built-in iterator is refused, named for its kind: a String, RegExp String or Segmenter iterator too', () => {
    seen.length = 0;
    const segments = new Intl.Segmenter().segment('ab');
    const arrayIteratorPrototype = Object.getPrototypeOf([].values()) as object;
    const refused: Array<[object, string]> = [
      ['ab'[Symbol.iterator](), 'a String iterator'],
      ['aa'.matchAll(/a/g), 'a RegExp String iterator'],
      [segments[Symbol.iterator](), 'a Segmenter iterator'],
      [segments, "an Intl.Segmenter's segments"],
      // Told by its prototype, as nothing else tells an Array iterator without advancing it.
      [Object.assign(Object.create(arrayIteratorPrototype) as object, { n: 1 }), 'an Array iterator'],
    ];
    // Each reached a hook as {}: taken at the call.
    for (const [context, kind] of refused) expectHidden(context, kind);
    expect(seen).toEqual([]);
  });

  const iteratorGlobal = (globalThis as { Iterator?: { from: (it: object) => object } }).Iterator;
  it.runIf(iteratorGlobal !== undefined)(
    'an iterator helper or an Iterator.from wrapper is refused (Node 22)',
    () => {
      const helper = ([1, 2].values() as unknown as { map: (f: (x: number) => number) => object }).map(
        (x) => x,
      );
      expectHidden(helper, 'an iterator helper');
      expectHidden(
        iteratorGlobal!.from({ next: () => ({ done: true, value: undefined }) }),
        'an Iterator.from wrapper',
      );
    },
  );

  it('a refused iterator is not advanced, and the array behind it is not read', () => {
    const read: PropertyKey[] = [];
    const items = new Proxy([1, 2], {
      get: (target, key, receiver) => {
        read.push(key);
        return Reflect.get(target, key, receiver);
      },
    });
    const values = items.values();
    read.length = 0; // its 'values'
    expectHidden(values, 'an Array iterator');
    // Was ['length', '0', 'length', '1', 'length'] read, 1 and 2 taken: each runner's check called next().
    expect(read).toEqual([]);
    expect([...values]).toEqual([1, 2]);
    const chars = 'ab'[Symbol.iterator]();
    expectHidden(chars, 'a String iterator');
    expect([...chars]).toEqual(['a', 'b']);
  });

  it('a proxy is taken as its traps show it, none of them run at the call (a proxy of a Map too)', async () => {
    seen.length = 0;
    const trapped: string[] = [];
    const counting = <T extends object>(target: T): T =>
      new Proxy(
        target,
        new Proxy({} as ProxyHandler<T>, {
          // Every trap the handler is asked for is recorded, and then does what no trap would.
          get: (_, trap: string) => {
            trapped.push(trap);
            return undefined;
          },
        }),
      );
    const plain = counting({ n: 1 });
    const map = counting(new Map([['a', 1]]));
    const values = counting([1].values());
    const steps = [runHook(hook, plain), runHook(hook, map as never), runHook(hook, values as never)];
    // Checked at the call: no trap asked for (asking the prototype would have run getPrototypeOf).
    expect(trapped).toEqual([]);
    for (const step of steps) await collect(step);
    // The hook's reading of each ran its traps; a proxy of a Map shows no field, as its traps say.
    expect(trapped).toContain('ownKeys');
    expect(seen).toEqual([{ n: 1 }, {}, {}]);
  });

  it('an object whose data is in its own fields is taken, whatever its prototype or toStringTag', async () => {
    seen.length = 0;
    class Tagged {
      files = ['a.ts'];
      get [Symbol.toStringTag]() {
        return 'Map';
      }
    }
    const bare = Object.assign(Object.create(null) as object, { n: 1 });
    const proxied = new Proxy({ n: 2 }, {});
    const failure = Object.assign(new Error('gone'), { code: 'ENOENT' });
    for (const context of [new Tagged(), bare, proxied, { [Symbol.toStringTag]: 'Date', n: 3 }, failure]) {
      await collect(runHook(hook, context as never));
    }
    // An Error is taken as its own enumerable fields: its message is none.
    expect(seen).toEqual([
      { files: ['a.ts'] },
      { n: 1 },
      { n: 2 },
      { [Symbol.toStringTag]: 'Date', n: 3 },
      { code: 'ENOENT' },
    ]);
  });

  it('a revoked proxy is refused with a ConfigError, not the TypeError of asking whether it is an array', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const calls = [
      ['runHook', () => runHook(hook, proxy)],
      ['runHookChain', () => runHookChain({ name: 'c', hooks: [hook] }, proxy)],
      ['runHookAggregation', () => runHookAggregation([hook], proxy, validationResult)],
    ] as const;
    for (const [where, call] of calls) {
      expect(call).toThrow(refused(where, '(a value that cannot be converted to a string)'));
    }
  });

  it('chainHooks, aggregateHooks: is the source error, once the contexts before it have their results', async () => {
    seen.length = 0;
    const chained = await collectAll(
      from([{ n: 1 }, 'ab', { n: 2 }] as never[]).pipe(chainHooks({ name: 'c', hooks: [hook] })),
    );
    expect(chained.values.map(label)).toEqual(['f:completed', 'c:completed']);
    expect(chained.error).toEqual(refused('chainHooks "c"', "'ab'"));
    const aggregated = await collectAll(
      from([{ n: 3 }, ['x']] as never[]).pipe(aggregateHooks([hook], validationResult, { name: 'v' })),
    );
    expect(aggregated.values.map((o) => o.kind)).toEqual(['step', 'aggregate']);
    expect(aggregated.error).toEqual(refused('aggregateHooks "v"', "['x']"));
    expect(seen).toEqual([{ n: 1 }, { n: 3 }]);
    const mapped = await collectAll(
      from([{ n: 4 }, new Map([['n', 5]])] as never[]).pipe(chainHooks({ name: 'c', hooks: [hook] })),
    );
    expect(mapped.values.map(label)).toEqual(['f:completed', 'c:completed']);
    expect((mapped.error as Error).message).toMatch(/^chainHooks "c": the context must be .*, not a Map: /);
    const dated = await collectAll(
      from([new Date(0)] as never[]).pipe(aggregateHooks([hook], validationResult, { name: 'v' })),
    );
    expect(dated.values).toEqual([]);
    expect(dated.error).toBeInstanceOf(ConfigError);
    expect((dated.error as Error).message).toMatch(
      /^aggregateHooks "v": the context must be .*, not a Date: /,
    );
    expect(seen).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
  });
});

describe('a name with a character that shows as nothing', () => {
  const named = (name: string) => fn(name, () => ({}));
  const hidden = (where: string, what: string, escaped: string, kind: string, code: string, shown: string) =>
    new ConfigError(
      `${where}: ${what} '${escaped}' has ${kind} (U+${code}): it would read as '${shown}'; a name must be ` +
        'made of characters that show',
    );

  it('is refused for a hook, naming the character: it read as a reserved name or as another hook', () => {
    // Each was taken: its step, its event's data.hook and its results read as the name shown.
    const cases: Array<[string, string, string, string, string]> = [
      ['rejected\u200b', 'rejected\\u{200B}', 'an invisible character', '200B', 'rejected'],
      ['lint\u2060', 'lint\\u{2060}', 'an invisible character', '2060', 'lint'],
      ['\u200ftest', '\\u{200F}test', 'an invisible character', '200F', 'test'],
      ['\u202eenil', '\\u{202E}enil', 'an invisible character', '202E', 'enil'],
      ['lint\ufeff', 'lint\\u{FEFF}', 'an invisible character', 'FEFF', 'lint'],
      ['li\u00adnt', 'li\\u{00AD}nt', 'an invisible character', '00AD', 'lint'],
      ['lint\u200d', 'lint\\u{200D}', 'an invisible character', '200D', 'lint'],
      ['lint\ufe0f', 'lint\\u{FE0F}', 'an invisible character', 'FE0F', 'lint'],
      // A keycap is one with nothing after it: with a joiner it is none, its selector hidden too.
      ['1\ufe0f\u20e3\u200d', '1\\u{FE0F}\u20e3\\u{200D}', 'an invisible character', 'FE0F', '1\u20e3'],
      ['lint\u3164', 'lint\\u{3164}', 'an invisible character', '3164', 'lint'],
      ['lint\ud800', 'lint\\u{D800}', 'a lone surrogate', 'D800', 'lint'],
      ['li\nnt', 'li\\u{000A}nt', 'a control character', '000A', 'lint'],
      ['lint\u2028', 'lint\\u{2028}', 'a control character', '2028', 'lint'],
    ];
    for (const [name, escaped, kind, code, shown] of cases) {
      const what = "hook #0's name";
      expect(() => runHook(named(name), {})).toThrow(hidden('runHook', what, escaped, kind, code, shown));
      expect(() => runHookChain({ name: 'c', hooks: [named(name)] }, {})).toThrow(
        hidden('runHookChain "c"', what, escaped, kind, code, shown),
      );
      expect(() => runHookAggregation([named(name)], {}, validationResult)).toThrow(
        hidden('runHookAggregation "aggregation"', what, escaped, kind, code, shown),
      );
    }
    // Two hooks that read as one were two distinct names, two results under the same shown name.
    expect(() => aggregateHooks([named('lint'), named('lint\u2060')], validationResult)).toThrow(
      hidden(
        'aggregateHooks "aggregation"',
        "hook #1's name",
        'lint\\u{2060}',
        'an invisible character',
        '2060',
        'lint',
      ),
    );
  });

  it('is refused for a chain or an aggregation', () => {
    expect(() => runHookChain({ name: 'pre\u200bcommit', hooks: [named('a')] }, {})).toThrow(
      hidden(
        'runHookChain',
        'chain.name',
        'pre\\u{200B}commit',
        'an invisible character',
        '200B',
        'precommit',
      ),
    );
    expect(() => chainHooks({ name: 'c\u2060', hooks: [named('a')] })).toThrow(ConfigError);
    expect(() => aggregateHooks([named('a')], validationResult, { name: 'v\u200b' })).toThrow(
      hidden('aggregateHooks', 'name', 'v\\u{200B}', 'an invisible character', '200B', 'v'),
    );
  });

  it("takes any name whose characters show: an emoji's joiners and selectors are part of it", async () => {
    const names = ['👨‍👩‍👧 review', '❤️', '1️⃣ first', '🏴󠁧󠁢󠁥󠁮󠁧󠁿', 'проверка', '検査', 'pre-commit: lint', 'a.b_c'];
    const steps = await collect(runHookChain({ name: '✅ ✔︎', hooks: names.map(named) }, {}));
    expect(steps.filter((o) => o.kind === 'step').map((o) => (o as HookStep).hook)).toEqual(names);
  });
});

describe('chainHooks', () => {
  const slowChain = (m: {
    cold: (marbles: string, values?: Record<string, HookResult>) => Observable<HookResult>;
  }) => {
    const a = m.cold('--x|', { x: ok });
    return { a, chain: { name: 'c', hooks: [fn('a', () => a)] } };
  };

  it('runs a long queue of runs that end at once to its end: every result in order, then complete', () => {
    // mergeMap starts the next waiting context from the end of the run before it, so runs that end at
    // once (a function hook answering synchronously) each started the next from inside their own end:
    // some 200 deep the stack overflowed, an error RxJS loses, and the stream hung, every later result
    // lost and no completion.
    const clock = new VirtualTimeScheduler();
    const hook = fn('a', (context) => (context.n === 0 ? timer(1, clock).pipe(map(() => ok)) : ok));
    const contexts = new Subject<HookContext>();
    const done: unknown[] = [];
    let completed = false;
    contexts.pipe(chainHooks({ name: 'c', hooks: [hook] }, { scheduler: clock })).subscribe({
      next: (o) => {
        if (o.kind === 'result' && o.outcome === 'completed') done.push(o.final_context.n);
      },
      complete: () => {
        completed = true;
      },
    });
    for (let n = 0; n < 5_000; n++) contexts.next({ n });
    contexts.complete();
    clock.flush();
    expect(done).toEqual(Array.from({ length: 5_000 }, (_, n) => n));
    expect(completed).toBe(true);
  });

  it(
    'runs the chain once per context, one run at a time',
    marbles((m) => {
      const a = m.cold('----x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a)] };
      const source = m.cold('-ab|', { a: {}, b: {} });
      const subs = '         ^--!';
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label))).toBeObservable(
        '-----(ar)(ar|)',
        { a: 'a:completed', r: 'c:completed' },
      );
      // The run for b starts when the run for a ends, at frame 5.
      m.expect(a).toHaveSubscriptions(['-^---!', '-----^---!']);
      m.expect(source).toHaveSubscriptions(subs);
    }),
  );

  it(
    'passes each context to its own run, in order',
    marbles((m) => {
      const chain = {
        name: 'c',
        hooks: [
          fn('a', (context) =>
            m.cold('-x|', { x: { context_updates: { doubled: (context.n as number) * 2 } } }),
          ),
        ],
      };
      const source = m.cold('ab|', { a: { n: 1 }, b: { n: 2 } });
      const finals = source.pipe(
        chainHooks(chain, { scheduler: m.scheduler }),
        mergeMap((o) => (o.kind === 'result' ? of(o.final_context) : [])),
      );
      m.expect(finals).toBeObservable('-a(b|)', { a: { n: 1, doubled: 2 }, b: { n: 2, doubled: 4 } });
    }),
  );

  it(
    'overlaps runs up to concurrency',
    marbles((m) => {
      const a = m.cold('----x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a)] };
      const source = m.cold('abc|', { a: {}, b: {}, c: {} });
      const frames: Array<[number, string]> = [];
      source
        .pipe(chainHooks(chain, { scheduler: m.scheduler, concurrency: 2 }))
        .subscribe((o) => frames.push([m.scheduler.now(), label(o)]));
      // Two runs at once; the third starts when the first ends.
      m.expect(a).toHaveSubscriptions(['^---!', '-^---!', '----^---!']);
      m.flush();
      expect(frames).toEqual([
        [4, 'a:completed'],
        [4, 'c:completed'],
        [5, 'a:completed'],
        [5, 'c:completed'],
        [8, 'a:completed'],
        [8, 'c:completed'],
      ]);
    }),
  );

  it(
    'completes when the source is empty',
    marbles((m) => {
      const source = m.cold<HookContext>('|');
      const { chain } = slowChain(m);
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }))).toBeObservable('|');
      m.expect(source).toHaveSubscriptions('(^!)');
    }),
  );

  it(
    'never emits from never',
    marbles((m) => {
      const source = m.cold<HookContext>('-');
      const { chain } = slowChain(m);
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }))).toBeObservable('-');
      m.expect(source).toHaveSubscriptions('^');
    }),
  );

  it(
    'on a source error, lets the running and the queued contexts finish, then forwards the error',
    marbles((m) => {
      const h = m.cold('----x|', { x: ok });
      const seen: unknown[] = [];
      const chain = {
        name: 'c',
        hooks: [
          fn('h', (context) => {
            seen.push(context.id);
            return h;
          }),
        ],
      };
      // a runs from 1 to 5; b and c wait; the source fails at 4, while a runs.
      const source = m.cold('-abc#', { a: { id: 'a' }, b: { id: 'b' }, c: { id: 'c' } }, new Error('source'));
      const subs = '         ^---!';
      const finals: unknown[] = [];
      const run = source.pipe(
        chainHooks(chain, { scheduler: m.scheduler }),
        tap((o) => o.kind === 'result' && finals.push(o.final_context.id)),
        map(label),
      );
      // prettier-ignore
      const expected = '-----(SR)(SR)(SR#)';
      m.expect(run).toBeObservable(expected, { S: 'h:completed', R: 'c:completed' }, new Error('source'));
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(h).toHaveSubscriptions(['-^---!', '-----^---!', '---------^---!']);
      m.flush();
      expect(seen).toEqual(['a', 'b', 'c']);
      expect(finals).toEqual(['a', 'b', 'c']);
    }),
  );

  it(
    'keeps the per-hook timeouts while the error waits',
    marbles((m) => {
      const answers = m.cold('----x|', { x: ok });
      const hangs = m.cold('-');
      // a answers; b never does, and times out 4 frames after its run starts (at 5).
      const chain = {
        name: 'c',
        hooks: [fn('h', (context) => (context.id === 'a' ? answers : hangs), { timeoutMs: 4 })],
      };
      const source = m.cold('-ab#', { a: { id: 'a' }, b: { id: 'b' } }, new Error('source'));
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label))).toBeObservable(
        '-----(SR)(TF#)',
        { S: 'h:completed', R: 'c:completed', T: 'h:timed_out', F: 'c:failed' },
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('^--!');
      m.expect(hangs).toHaveSubscriptions('-----^---!');
    }),
  );

  it(
    'forwards a source error at once when no context runs or waits',
    marbles((m) => {
      const { a, chain } = slowChain(m);
      const source = m.cold('a------#', { a: {} }, new Error('source'));
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label))).toBeObservable(
        '--(ar)-#',
        { a: 'a:completed', r: 'c:completed' },
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('^------!');
      m.expect(a).toHaveSubscriptions('^-!');
    }),
  );

  it(
    'forwards an immediate source error at once',
    marbles((m) => {
      const source = m.cold<HookContext>('#', undefined, new Error('source'));
      const { a, chain } = slowChain(m);
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }))).toBeObservable(
        '#',
        undefined,
        new Error('source'),
      );
      m.expect(source).toHaveSubscriptions('(^!)');
      m.expect(a).toHaveSubscriptions([]);
    }),
  );

  it(
    'cancels everything on unsubscribe while the error waits: the running hook, the queue, the error',
    marbles((m) => {
      const h = m.cold('----x|', { x: ok });
      const signals = new Map<unknown, AbortSignal>();
      const chain = {
        name: 'c',
        hooks: [
          fn('h', (context, info) => {
            signals.set(context.id, info.signal);
            return h;
          }),
        ],
      };
      const source = m.cold('-abc#', { a: { id: 'a' }, b: { id: 'b' }, c: { id: 'c' } }, new Error('source'));
      // b runs from 5; the consumer leaves at 7.
      const unsub = '        -------!';
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label)), unsub).toBeObservable(
        '-----(SR)',
        { S: 'h:completed', R: 'c:completed' },
      );
      m.expect(source).toHaveSubscriptions('^---!');
      m.expect(h).toHaveSubscriptions(['-^---!', '-----^-!']);
      m.flush();
      // c never ran; b's run was cancelled, a's was not.
      expect([...signals.keys()]).toEqual(['a', 'b']);
      expect(signals.get('a')?.aborted).toBe(false);
      expect(signals.get('b')?.aborted).toBe(true);
    }),
  );

  it('serves a subscriber that errors the source re-entrantly, and drops what it pushes after', () => {
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const chain = { name: 'c', hooks: [fn('a', (context) => of({ context_updates: { ran: context.n } }))] };
    input.pipe(chainHooks(chain)).subscribe({
      next: (o) => {
        seen.push(
          o.kind === 'step' ? `step ${String(o.event.data.status)}` : `result ${String(o.final_context.ran)}`,
        );
        if (o.kind !== 'step' || seen.length > 1) return;
        // While 1's run still counts as active, reacting to its step: 2 waits, then the source fails;
        // 3 comes after the error, and the source (an errored Subject) never passes it on.
        input.next({ n: 2 });
        input.error(new Error('source'));
        input.next({ n: 3 });
      },
      error: (error: Error) => seen.push(`error ${error.message}`),
      complete: () => seen.push('complete'),
    });
    input.next({ n: 1 });
    expect(seen).toEqual(['step completed', 'result 1', 'step completed', 'result 2', 'error source']);
  });

  it(
    'cancels the rest when the subscriber unsubscribes re-entrantly while the error waits',
    marbles((m) => {
      const h = m.cold('---x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('h', () => h)] };
      const source = m.cold('-ab#', { a: { id: 'a' }, b: { id: 'b' } }, new Error('source'));
      const seen: string[] = [];
      const subscription = source.pipe(chainHooks(chain, { scheduler: m.scheduler })).subscribe({
        next: (o) => {
          seen.push(label(o));
          if (o.kind === 'result') subscription.unsubscribe();
        },
        error: () => seen.push('error'),
        complete: () => seen.push('complete'),
      });
      // The source fails at 3; the consumer leaves on a's result (at 4): b never runs, and the error is
      // never forwarded.
      m.expect(source).toHaveSubscriptions('^--!');
      m.expect(h).toHaveSubscriptions('-^--!');
      m.flush();
      expect(seen).toEqual(['h:completed', 'c:completed']);
    }),
  );

  it(
    'gives up the waiting contexts at the source error with the documented takeUntil recipe',
    marbles((m) => {
      const h = m.cold('----x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('h', () => h)] };
      const source = m.cold('-abc#', { a: {}, b: {}, c: {} }, new Error('source'));
      const run = source.pipe(
        connect((shared) =>
          shared.pipe(
            chainHooks(chain, { scheduler: m.scheduler }),
            takeUntil(shared.pipe(ignoreElements())),
          ),
        ),
      );
      m.expect(run).toBeObservable('----#', undefined, new Error('source'));
      m.expect(h).toHaveSubscriptions('-^--!');
    }),
  );

  it(
    'waits for the running chain when the source completes',
    marbles((m) => {
      const { chain } = slowChain(m);
      const source = m.cold('a|', { a: {} });
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label))).toBeObservable(
        '--(ar|)',
        {
          a: 'a:completed',
          r: 'c:completed',
        },
      );
    }),
  );

  it(
    'unsubscribes from the source and the running hook on early unsubscribe',
    marbles((m) => {
      const { a, chain } = slowChain(m);
      const source = m.hot('  -a---b---|', { a: {}, b: {} });
      const subs = '          ^------!';
      const unsub = '         -------!';
      m.expect(source.pipe(chainHooks(chain, { scheduler: m.scheduler }), map(label)), unsub).toBeObservable(
        '---(ar)-',
        { a: 'a:completed', r: 'c:completed' },
      );
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(a).toHaveSubscriptions(['-^-!', '-----^-!']);
    }),
  );

  it(
    'keeps unsubscription chains unbroken through mergeMap',
    marbles((m) => {
      const { a, chain } = slowChain(m);
      const source = m.hot('  -a---b---|', { a: {}, b: {} });
      const subs = '          ^------!';
      const result = source.pipe(
        mergeMap((x) => of(x)),
        chainHooks(chain, { scheduler: m.scheduler }),
        mergeMap((x) => of(label(x))),
      );
      m.expect(result, '-------!').toBeObservable('---(ar)-', { a: 'a:completed', r: 'c:completed' });
      m.expect(source).toHaveSubscriptions(subs);
      m.expect(a).toHaveSubscriptions(['-^-!', '-----^-!']);
    }),
  );

  it('stops a synchronous source when the subscriber leaves from inside an output (take)', () => {
    // The subscriber left during the source's emission, yet the source was read to its end: every
    // context after the first ran its hooks for nobody.
    const ran: unknown[] = [];
    const hook = fn('h', (context) => {
      ran.push(context.n);
      return ok;
    });
    const chain = { name: 'c', hooks: [hook] };
    const seen: string[] = [];
    from([{ n: 1 }, { n: 2 }, { n: 3 }])
      .pipe(chainHooks(chain), take(1))
      .subscribe((o) => seen.push(label(o)));
    expect(seen).toEqual(['h:completed']);
    expect(ran).toEqual([1]);
  });

  it('handles contexts pushed re-entrantly from a result, in order', () => {
    const input = new Subject<HookContext>();
    const seen: unknown[] = [];
    const chain = { name: 'c', hooks: [fn('a', (context) => of({ context_updates: { seen: context.n } }))] };
    input.pipe(chainHooks(chain)).subscribe((o) => {
      if (o.kind !== 'result') return;
      seen.push(o.final_context.seen);
      if (o.final_context.n === 1) input.next({ n: 3 });
    });
    input.next({ n: 1 });
    input.next({ n: 2 });
    expect(seen).toEqual([1, 3, 2]);
  });

  it(
    'rejects a context that finds the queue full at once, and runs the queued ones as before',
    marbles((m) => {
      const h = m.cold('----x|', { x: ok });
      const chain = { name: 'c', hooks: [fn('h', () => h)] };
      // a runs, b waits, c finds the queue full; d comes when there is room again (b runs from 5 to 9).
      const source = m.cold('-abc---d|', {
        a: { id: 'a' },
        b: { id: 'b' },
        c: { id: 'c', session_id: 'sess-1' },
        d: { id: 'd' },
      });
      const subs = '         ^-------!';
      const outputs: Array<[number, HookChainOutput]> = [];
      const run = source.pipe(
        chainHooks(chain, { scheduler: m.scheduler, maxQueued: 1 }),
        tap((o) => outputs.push([m.scheduler.now(), o])),
      );
      // prettier-ignore
      const expected = '---X-(SR)(SR)(SR|)';
      m.expect(run.pipe(map(label))).toBeObservable(expected, {
        X: 'c:rejected',
        S: 'h:completed',
        R: 'c:completed',
      });
      m.expect(source).toHaveSubscriptions(subs);
      // c is never run; the run for a is not disturbed by it.
      m.expect(h).toHaveSubscriptions(['-^---!', '-----^---!', '---------^---!']);
      m.flush();

      const results = outputs.flatMap(([, o]) => (o.kind === 'result' ? [o] : []));
      expect(results.map((r) => `${String(r.final_context.id)}:${r.outcome}`)).toEqual([
        'c:rejected',
        'a:completed',
        'b:completed',
        'd:completed',
      ]);
      const rejected = results[0]!;
      expect(rejected).toStrictEqual({
        kind: 'result',
        chain_name: 'c',
        outcome: 'rejected',
        results: [],
        final_context: { id: 'c', session_id: 'sess-1' },
        skipped: ['h'],
        duration_ms: 0,
        error: rejected.error,
        event: rejected.event,
      });
      expect(rejected.error).toBeInstanceOf(VibespecError);
      expect(rejected.error?.code).toBe('BUFFER_OVERFLOW');
      expect(rejected.error?.message).toContain('chainHooks "c"');
      expect(rejected.event).toStrictEqual({
        id: rejected.event?.id,
        type: 'hooks.overflow',
        timestamp: 3,
        priority: Priority.HIGH,
        sessionId: 'sess-1',
        data: {
          chain: 'c',
          hooks: ['h'],
          code: 'BUFFER_OVERFLOW',
          error: rejected.error?.message,
          max_queued: 1,
          concurrency: 1,
          total: 1,
        },
      });
    }),
  );

  it(
    'may emit a rejection between the steps of the running chain, which goes on',
    marbles((m) => {
      const a = m.cold('--x|', { x: ok });
      const b = m.cold('  --y|', { y: ok });
      const chain = { name: 'c', hooks: [fn('a', () => a), fn('b', () => b)] };
      const source = m.cold('-x--y|', { x: { id: 'x' }, y: { id: 'y' } });
      // maxQueued 0: y arrives while x's chain runs, with no room to wait.
      m.expect(
        source.pipe(chainHooks(chain, { scheduler: m.scheduler, maxQueued: 0 }), map(label)),
      ).toBeObservable('---AX(BR|)', {
        A: 'a:completed',
        X: 'c:rejected',
        B: 'b:completed',
        R: 'c:completed',
      });
      m.expect(a).toHaveSubscriptions('-^-!');
      m.expect(b).toHaveSubscriptions('---^-!');
      m.expect(source).toHaveSubscriptions('^----!');
    }),
  );

  it(
    'counts rejections per subscription and gives hookEvents() their hooks.overflow events, in order',
    marbles((m) => {
      const chain = { name: 'c', hooks: [fn('h', () => m.cold('---x|', { x: ok }))] };
      const operator = chainHooks(chain, { scheduler: m.scheduler, maxQueued: 0, sessionId: 'run' });
      const source = m.cold('-abc|', { a: {}, b: {}, c: {} });
      const events = source.pipe(
        operator,
        hookEvents(),
        map((e) => (e.type === 'hooks.overflow' ? `overflow#${e.data.total}@${e.timestamp}` : e.type)),
      );
      m.expect(events).toBeObservable('--xy(e|)', {
        x: 'overflow#1@2',
        y: 'overflow#2@3',
        e: 'hook.completed',
      });
      // A second subscription counts from 1 again.
      m.expect(
        source.pipe(
          operator,
          hookEvents(),
          map((e) => e.type),
        ),
      ).toBeObservable('--xy(e|)', {
        x: 'hooks.overflow',
        y: 'hooks.overflow',
        e: 'hook.completed',
      });
    }),
  );

  it('keeps running after rejections: a context pushed re-entrantly is queued or rejected in order', () => {
    const input = new Subject<HookContext>();
    const seen: string[] = [];
    const chain = { name: 'c', hooks: [fn('a', () => of(ok))] };
    let error: unknown;
    input.pipe(chainHooks(chain, { maxQueued: 1 })).subscribe({
      next: (o) => {
        if (o.kind !== 'result') return;
        seen.push(`${String(o.final_context.n)}:${o.outcome}`);
        // While 1's run still counts as active: 2 takes the one place in the queue, 3 finds it full.
        if (o.final_context.n === 1) {
          input.next({ n: 2 });
          input.next({ n: 3 });
        }
        // Reacting to the rejection: the queue is still full, so 4 is rejected too.
        if (o.final_context.n === 3) input.next({ n: 4 });
        // Reacting to 2's result: 2 still runs, the queue is empty again, so 5 waits and then runs.
        if (o.final_context.n === 2 && o.outcome === 'completed') input.next({ n: 5 });
      },
      error: (e) => (error = e),
    });
    input.next({ n: 1 });
    input.next({ n: 6 });
    expect(error).toBeUndefined();
    expect(seen).toEqual([
      '1:completed',
      '3:rejected',
      '4:rejected',
      '2:completed',
      '5:completed',
      '6:completed',
    ]);
  });

  it('accepts a context whenever a run slot is free, even with maxQueued 0', () => {
    const input = new Subject<HookContext>();
    const chain = { name: 'c', hooks: [fn('a', () => of(ok))] };
    const results: string[] = [];
    let error: unknown;
    input.pipe(chainHooks(chain, { maxQueued: 0 })).subscribe({
      next: (o) => results.push(label(o)),
      error: (e) => (error = e),
    });
    input.next({});
    input.next({});
    expect(error).toBeUndefined();
    expect(results).toEqual(['a:completed', 'c:completed', 'a:completed', 'c:completed']);
  });

  it('rejects a null or undefined context (untyped code) as any other, and goes on', () => {
    // Reading its session_id for the overflow event threw: the stream errored, the running context lost.
    const input = new Subject<HookContext>();
    const chain = { name: 'c', hooks: [fn('a', () => NEVER, { timeoutMs: Number.POSITIVE_INFINITY })] };
    const outputs: HookChainOutput[] = [];
    let error: unknown;
    input.pipe(chainHooks(chain, { maxQueued: 0 })).subscribe({
      next: (o) => outputs.push(o),
      error: (e) => (error = e),
    });
    input.next({ session_id: 's1' });
    input.next(null as unknown as HookContext);
    input.next(undefined as unknown as HookContext);
    input.next({ session_id: 's2' });
    expect(error).toBeUndefined();
    expect(
      outputs.map((o) => (o.kind === 'result' ? [o.outcome, o.final_context, o.event?.sessionId] : o)),
    ).toEqual([
      ['rejected', {}, undefined],
      ['rejected', {}, undefined],
      ['rejected', { session_id: 's2' }, 's2'],
    ]);
  });

  it('can be reused on two sources without sharing state', () => {
    const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
    scheduler.run(({ cold, expectObservable }) => {
      const chain = { name: 'c', hooks: [fn('a', () => cold('-x|', { x: ok }))] };
      const operator = chainHooks(chain, { scheduler });
      expectObservable(cold('a|', { a: {} }).pipe(operator, map(label))).toBe('-(ar|)', {
        a: 'a:completed',
        r: 'c:completed',
      });
      expectObservable(cold('-a|', { a: {} }).pipe(operator, map(label))).toBe('--(ar|)', {
        a: 'a:completed',
        r: 'c:completed',
      });
    });
  });

  it('checks its options at construction', () => {
    const chain = { name: 'c', hooks: [] };
    expect(() => chainHooks(chain, { concurrency: 0 })).toThrow(ConfigError);
    expect(() => chainHooks(chain, { concurrency: 1.5 })).toThrow(ConfigError);
    expect(() => chainHooks(chain, { maxQueued: -1 })).toThrow(ConfigError);
    expect(() =>
      chainHooks(chain, { concurrency: Number.POSITIVE_INFINITY, maxQueued: Number.POSITIVE_INFINITY }),
    ).not.toThrow();
  });
});

/** The values of `source` and the error it ends with (undefined when it completes). */
function collectAll<T>(source: Observable<T>): Promise<{ values: T[]; error: unknown }> {
  return new Promise((resolve) => {
    const values: T[] = [];
    source.subscribe({
      next: (v) => values.push(v),
      error: (error: unknown) => resolve({ values, error }),
      complete: () => resolve({ values, error: undefined }),
    });
  });
}

function collect<T>(source: Observable<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const values: T[] = [];
    defer(() => source).subscribe({
      next: (v) => values.push(v),
      error: reject,
      complete: () => resolve(values),
    });
  });
}

describe('runHookChain property: the chain is the sequential fold of its hooks', () => {
  type Behaviour = 'answer' | 'stop' | 'block' | 'fail' | 'hang';
  const spec = fc.record({
    behaviour: fc.constantFrom<Behaviour>('answer', 'answer', 'answer', 'stop', 'block', 'fail', 'hang'),
    delay: fc.integer({ min: 0, max: 3 }),
    updates: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer()),
    policy: fc.constantFrom<'fail-open' | 'fail-closed' | undefined>('fail-open', 'fail-closed', undefined),
  });

  it('matches a reference model: statuses, final context, outcome, skipped, events', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 8 }),
        fc.constantFrom<'fail-open' | 'fail-closed'>('fail-open', 'fail-closed'),
        (specs, runPolicy) => {
          const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
          const outputs: HookChainOutput[] = [];
          scheduler.run(({ cold }) => {
            const hooks = specs.map((s, i) =>
              fn(
                `h${i}`,
                () => {
                  const wait = '-'.repeat(s.delay);
                  switch (s.behaviour) {
                    case 'answer':
                      return cold(`${wait}x|`, { x: { context_updates: s.updates } });
                    case 'stop':
                      return cold(`${wait}x|`, { x: { context_updates: s.updates, stop_chain: true } });
                    case 'block':
                      return cold(`${wait}x|`, { x: { context_updates: s.updates, decision: 'block' } });
                    case 'fail':
                      return cold(`${wait}#`, undefined, new Error('boom'));
                    default:
                      return NEVER;
                  }
                },
                { timeoutMs: 5, ...(s.policy === undefined ? {} : { errorPolicy: s.policy }) },
              ),
            );
            runHookChain({ name: 'p', hooks }, { init: 1 }, { scheduler, errorPolicy: runPolicy }).subscribe(
              (o) => outputs.push(o),
            );
          });

          // The reference: a plain loop.
          let context: Record<string, unknown> = { init: 1 };
          const statuses: string[] = [];
          let outcome = 'completed';
          for (const s of specs) {
            const status = {
              answer: 'completed',
              stop: 'completed',
              block: 'blocked',
              fail: 'failed',
              hang: 'timed_out',
            }[s.behaviour];
            statuses.push(status);
            if (s.behaviour === 'answer' || s.behaviour === 'stop' || s.behaviour === 'block') {
              context = { ...context, ...s.updates };
            }
            if (s.behaviour === 'stop') outcome = 'stopped';
            if (s.behaviour === 'block') outcome = 'blocked';
            if (
              (s.behaviour === 'fail' || s.behaviour === 'hang') &&
              (s.policy ?? runPolicy) === 'fail-closed'
            ) {
              outcome = 'failed';
            }
            if (outcome !== 'completed') break;
          }

          const result = resultOf(outputs);
          expect(outputs.length).toBe(statuses.length + 1);
          expect(result.results).toEqual(outputs.slice(0, -1));
          expect(result.results.map((s) => s.status)).toEqual(statuses);
          expect(result.final_context).toEqual(context);
          expect(result.outcome).toBe(outcome);
          expect([...result.results.map((s) => s.hook), ...result.skipped]).toEqual(
            specs.map((_, i) => `h${i}`),
          );
          for (const step of result.results) {
            expect(step.event.type).toBe(
              step.status === 'completed'
                ? 'hook.completed'
                : step.status === 'timed_out'
                  ? 'hook.timed_out'
                  : 'hook.failed',
            );
            expect(step.event.data.status).toBe(step.status);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('chainHooks property: every context yields exactly one final record', () => {
  it('runs or rejects each context as the queue model says, at the frame it says, and loses none, also when the source errors', () => {
    fc.assert(
      fc.property(
        arrivalsArbitrary,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        endingArbitrary,
        (arrivals, concurrency, maxQueued, ending) => {
          const run = runQueued(arrivals, ending, (cold, scheduler) => {
            const hook = fn('h', (context) => {
              const duration = arrivals[context.i as number]!.duration;
              return cold(`${'-'.repeat(duration)}x|`, { x: ok });
            });
            return chainHooks({ name: 'c', hooks: [hook] }, { scheduler, concurrency, maxQueued });
          });
          const { outputs } = run;

          const fates = queueModel(arrivals, concurrency, maxQueued);
          const records = outputs.flatMap(([at, o]) => (o.kind === 'result' ? [{ at, o }] : []));
          // Exactly one final record per context, none invented.
          expect(records.map(({ o }) => o.final_context.i).sort((a, b) => Number(a) - Number(b))).toEqual(
            arrivals.map((_, i) => i),
          );
          for (const { at, o } of records) {
            const fate = fates[o.final_context.i as number]!;
            expect(o.outcome).toBe(fate.rejected ? 'rejected' : 'completed');
            expect(at).toBe(fate.end);
            expect(o.error?.code).toBe(fate.rejected ? 'BUFFER_OVERFLOW' : undefined);
            expect(o.results.length).toBe(fate.rejected ? 0 : 1);
          }
          // One step per context run, and nothing else.
          const ran = fates.filter((fate) => !fate.rejected).length;
          expect(outputs.length).toBe(records.length + ran);
          // The overflow events count this subscription's rejections, in order.
          const totals = records.flatMap(({ o }) => (o.event === undefined ? [] : [o.event.data.total]));
          expect(totals).toEqual(totals.map((_, k) => k + 1));
          expectEndAfterLastRecord(run, arrivals, ending, fates);
        },
      ),
      { numRuns: 300 },
    );
  });
});
