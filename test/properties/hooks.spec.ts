/**
 * Hooks, model-based: random function hooks (answering at once or after a few frames, with a result,
 * nothing, a block, a stop, a malformed or unreadable answer; throwing, erroring, never answering)
 * run through `runHook`, `runHookChain` / `chainHooks` and `runHookAggregation` / `aggregateHooks`,
 * with contexts arriving at random frames on a TestScheduler, are checked against a plain model of what
 * docs/hooks.md promises: each hook's step (status, code, reason, timing, event), a chain's fold
 * (outcome, final context, stopped_by, skipped), an aggregation's deadline and hook-order results,
 * the bounded queue (exactly one final record per context, at the frame it is due, rejections at
 * once), the concurrency limit (never more hooks running than it allows), the source's end (held
 * until the last record), the context each hook is given (and that mutating it changes nothing),
 * `hookEvents()`, the overflow events' running total, an aggregator that throws (the stream errors
 * there, the other runs cancelled), and cancellation on unsubscribe — at a frame or from inside next
 * (nothing left running, every unanswered hook's signal aborted, what came out a prefix of the full
 * run, no hook called after). A last property runs hooks that answer through Promises and async
 * iterables (microtasks, no timers) through the operators.
 *
 * Undocumented, so not asserted: the order of two outputs due at the same frame from different runs
 * (concurrency > 1) or from different hooks of an aggregation; the `reason` of reviewSummary's
 * `missing`. (A thrown `HookError` of a code other than `HOOK_BLOCKED` is a `HOOK_FAILED` failure, as
 * docs/hooks.md says: test/marbles/chainHooks.spec.ts.) Which run a step belongs to is told by its
 * event's sessionId (the contexts' `session_id`).
 */
import fc from 'fast-check';
import {
  from,
  lastValueFrom,
  NEVER,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  Subject,
  type Subscription,
  take,
  toArray,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedStep,
  aggregateHooks,
  chainHooks,
  type FunctionHook,
  type HookAggregationOutput,
  type HookChainOutput,
  HookError,
  type HookOverflowEvent,
  type HookResult,
  type HookStep,
  hookEvents,
  Priority,
  type ReviewSummary,
  reviewSummary,
  runHook,
  runHookAggregation,
  runHookChain,
  validationResult,
} from '../../src/index.js';
import { type Arrival, arriving, type Ending, endOf, SOURCE_ERROR } from '../helpers/hookQueue.js';

// ---------------------------------------------------------------------------------------------------
// Hooks and what the docs say becomes of them
// ---------------------------------------------------------------------------------------------------

type Kind =
  | 'value' // a HookResult (see `answer`)
  | 'nothing' // undefined / null, or an Observable that completes without a value: {}
  | 'throw' // run() throws: failed HOOK_FAILED
  | 'error' // an error notification: failed HOOK_FAILED
  | 'blockError' // throws / errors a HookError HOOK_BLOCKED: blocked, reason = its message
  | 'never' // never answers: timed out
  | 'invalid' // not a HookResult: failed HOOK_INVALID_OUTPUT
  | 'unreadable'; // a getter that throws while it is read: failed HOOK_INVALID_OUTPUT

type Answer = 'plain' | 'stop' | 'continueFalse' | 'block' | 'deny';
type Thrown = 'error' | 'string' | 'nullProto';

interface HookSpec {
  readonly kind: Kind;
  /** Answered from run() itself (frame 0), or through an Observable after `delay` frames (0: at once). */
  readonly sync: boolean;
  readonly delay: number;
  readonly answer: Answer;
  readonly updates: Readonly<Record<string, number>>;
  readonly score: number | undefined;
  readonly passed: boolean | undefined;
  readonly withReason: boolean;
  readonly thrown: Thrown;
  readonly invalid: 0 | 1 | 2 | 3;
  /** 'array': the answer as the first item of an array, `from()`'s first value. */
  readonly wrap: 'none' | 'array';
  readonly timeoutMs: number | undefined;
  readonly policy: 'fail-open' | 'fail-closed' | undefined;
  readonly mutate: boolean;
  /** The answer's critical_issues (also its recommendations, reversed), and whether it has metrics. */
  readonly issues: readonly string[] | undefined;
  readonly metrics: boolean;
}

const hookSpec: fc.Arbitrary<HookSpec> = fc.record({
  kind: fc.constantFrom<Kind>(
    'value',
    'value',
    'value',
    'value',
    'nothing',
    'throw',
    'error',
    'blockError',
    'never',
    'invalid',
    'unreadable',
  ),
  sync: fc.boolean(),
  delay: fc.integer({ min: 0, max: 5 }),
  answer: fc.constantFrom<Answer>('plain', 'plain', 'plain', 'stop', 'continueFalse', 'block', 'deny'),
  updates: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 9 }), { maxKeys: 2 }),
  score: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  passed: fc.option(fc.boolean(), { nil: undefined }),
  withReason: fc.boolean(),
  thrown: fc.constantFrom<Thrown>('error', 'string', 'nullProto'),
  invalid: fc.constantFrom<0 | 1 | 2 | 3>(0, 1, 2, 3),
  wrap: fc.constantFrom<'none' | 'array'>('none', 'none', 'array'),
  timeoutMs: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  policy: fc.constantFrom<'fail-open' | 'fail-closed' | undefined>('fail-open', 'fail-closed', undefined),
  mutate: fc.boolean(),
  issues: fc.option(fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 2 }), { nil: undefined }),
  metrics: fc.boolean(),
});

function resultOf(spec: HookSpec): HookResult {
  const result: Record<string, unknown> = { context_updates: { ...spec.updates } };
  if (spec.score !== undefined) result.score = spec.score;
  if (spec.passed !== undefined) result.passed = spec.passed;
  if (spec.issues !== undefined) {
    result.critical_issues = [...spec.issues];
    result.recommendations = [...spec.issues].reverse();
  }
  if (spec.metrics) result.metrics = { delay: spec.delay, updates: Object.keys(spec.updates).length };
  switch (spec.answer) {
    case 'stop':
      result.stop_chain = true;
      break;
    case 'continueFalse':
      result.continue = false;
      if (spec.withReason) result.stopReason = 'enough';
      break;
    case 'block':
      result.decision = 'block';
      if (spec.withReason) result.reason = 'no way';
      break;
    case 'deny':
      result.hookSpecificOutput = {
        permissionDecision: 'deny',
        ...(spec.withReason ? { permissionDecisionReason: 'denied here' } : {}),
      };
      break;
    default:
  }
  return result as HookResult;
}

function thrownOf(spec: HookSpec): { value: unknown; text: string } {
  switch (spec.thrown) {
    case 'error':
      return { value: new Error('boom'), text: 'boom' };
    case 'string':
      return { value: 'bad string', text: 'bad string' };
    default:
      return { value: Object.create(null), text: '[object Object]' };
  }
}

function invalidOf(spec: HookSpec): unknown {
  return [{ score: 'high' }, { context_updates: 5 }, 42, { stop_chain: 'yes', score: Number.NaN }][
    spec.invalid
  ];
}

function unreadableAnswer(): unknown {
  return {
    get score(): number {
      throw new Error('getter trap');
    },
  };
}

/** What the docs say the hook's step is. */
interface ExpectedStep {
  readonly status: 'completed' | 'blocked' | 'failed' | 'timed_out';
  /** Frames from the hook's start to its step. */
  readonly after: number;
  readonly code?: string;
  readonly reason?: string;
  readonly result?: HookResult;
  /** A text the error's message contains. */
  readonly message?: string;
  readonly policy: 'fail-open' | 'fail-closed';
}

/**
 * The step the docs promise for `spec`, started with the run's `timeoutMs` and (aggregation) deadline.
 * `answerAt` is when the answer is due; the timeout is min(own timeoutMs, deadline); an answer due at
 * the very time of the timeout counts as an answer.
 */
function expectedStep(
  spec: HookSpec,
  name: string,
  runTimeoutMs: number,
  runPolicy: 'fail-open' | 'fail-closed',
  deadlineMs?: number,
): ExpectedStep {
  const policy = spec.policy ?? runPolicy;
  const own = spec.timeoutMs ?? runTimeoutMs;
  const byDeadline = deadlineMs !== undefined && deadlineMs < own;
  const limit = byDeadline ? deadlineMs : own;
  const answerAt = immediate(spec) ? 0 : spec.kind === 'never' ? Number.POSITIVE_INFINITY : spec.delay;
  if (answerAt > limit) {
    return {
      status: 'timed_out',
      after: limit,
      code: 'HOOK_TIMEOUT',
      message: byDeadline ? 'deadline' : `within ${limit} ms`,
      policy,
    };
  }
  const at = { after: answerAt, policy };
  switch (spec.kind) {
    case 'value': {
      const result = resultOf(spec);
      if (spec.answer === 'block') {
        const reason = spec.withReason ? 'no way' : 'blocked';
        return { ...at, status: 'blocked', code: 'HOOK_BLOCKED', reason, result, message: reason };
      }
      if (spec.answer === 'deny') {
        const reason = spec.withReason ? 'denied here' : 'denied';
        return { ...at, status: 'blocked', code: 'HOOK_BLOCKED', reason, result, message: reason };
      }
      return { ...at, status: 'completed', result };
    }
    case 'nothing':
      return { ...at, status: 'completed', result: {} };
    case 'throw':
    case 'error':
      return {
        ...at,
        status: 'failed',
        code: 'HOOK_FAILED',
        message: `hook "${name}" failed: ${thrownOf(spec).text}`,
      };
    case 'blockError':
      return { ...at, status: 'blocked', code: 'HOOK_BLOCKED', reason: 'not on my watch' };
    case 'invalid':
    case 'unreadable':
      return { ...at, status: 'failed', code: 'HOOK_INVALID_OUTPUT', message: `hook "${name}"` };
    default:
      throw new Error('unreachable: a hook that never answers always times out here');
  }
}

/** Whether the hook answers within its call to run() (no Observable, or one that emits at once). */
function immediate(spec: HookSpec): boolean {
  return spec.kind === 'throw' || spec.kind === 'unreadable' || (spec.sync && spec.kind !== 'never');
}

/** One call of a hook's run(): which context, when, and whether its signal was aborted. */
interface Call {
  readonly ctx: number;
  readonly hook: string;
  readonly at: number;
  readonly signal: AbortSignal;
  /** The context it was given (a copy taken before the hook mutates it), and its info's place. */
  readonly seen: Record<string, unknown>;
  readonly place: { chain?: string; index: number };
  answered: boolean;
}

/** Counts the hooks running (subscribed, not yet answered or cancelled), and the most at once. */
class Probe {
  running = 0;
  maxRunning = 0;
  readonly calls: Call[] = [];
  /** Called at every call of a hook's run(), when set. */
  onCall: ((call: Call) => void) | undefined;
  constructor(readonly scheduler: TestScheduler) {}

  /** `answers` wrapped to count it as running while subscribed. */
  track<T>(call: Call, answers: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      const subscription = answers.subscribe({
        next: (value) => {
          call.answered = true;
          subscriber.next(value);
        },
        error: (error: unknown) => {
          call.answered = true;
          subscriber.error(error);
        },
        complete: () => {
          call.answered = true;
          subscriber.complete();
        },
      });
      return () => {
        this.running--;
        subscription.unsubscribe();
      };
    });
  }
}

/** The function hook `name` that behaves, for the context `{ i }`, as `specs[i]` says. */
function makeHook(
  name: string,
  specs: readonly HookSpec[],
  probe: Probe,
  cold: TestScheduler['createColdObservable'],
): FunctionHook {
  // A hook's own timeoutMs and policy cannot depend on the context: take the first context's.
  const first = specs[0]!;
  return {
    name,
    ...(first.timeoutMs === undefined ? {} : { timeoutMs: first.timeoutMs }),
    ...(first.policy === undefined ? {} : { errorPolicy: first.policy }),
    run: (context, info) => {
      const ctx = context.i as number;
      const spec = specs[ctx]!;
      const call: Call = {
        ctx,
        hook: name,
        at: probe.scheduler.now(),
        signal: info.signal,
        seen: { ...context },
        place: { ...(info.chain === undefined ? {} : { chain: info.chain }), index: info.index },
        answered: false,
      };
      probe.calls.push(call);
      probe.onCall?.(call);
      // Mutating the context given changes nothing for the next hooks (it is a shallow copy).
      if (spec.mutate) Object.assign(context, { a: 'mutated', z: true });
      const wrap = (value: unknown): unknown => (spec.wrap === 'array' ? [value, { score: 99 }] : value);
      const later = (marble: string, value?: unknown, error?: unknown): Observable<unknown> =>
        probe.track(
          call,
          cold(`${'-'.repeat(spec.delay)}${marble}`, value === undefined ? undefined : { x: value }, error),
        );
      switch (spec.kind) {
        case 'value':
          if (spec.sync) {
            call.answered = true;
            return wrap(resultOf(spec)) as HookResult;
          }
          return later('x|', resultOf(spec)) as Observable<HookResult>;
        case 'nothing':
          if (spec.sync) {
            call.answered = true;
            return spec.delay % 2 === 0 ? undefined : null;
          }
          return later('|') as Observable<HookResult>;
        case 'throw':
          call.answered = true;
          throw thrownOf(spec).value;
        case 'error':
          if (spec.sync) {
            call.answered = true;
            throw thrownOf(spec).value;
          }
          return later('#', undefined, thrownOf(spec).value) as Observable<HookResult>;
        case 'blockError': {
          const error = new HookError('HOOK_BLOCKED', 'not on my watch', { hook: name });
          if (spec.sync) {
            call.answered = true;
            throw error;
          }
          return later('#', undefined, error) as Observable<HookResult>;
        }
        case 'never':
          return probe.track(call, NEVER) as Observable<HookResult>;
        case 'invalid':
          if (spec.sync) {
            call.answered = true;
            return wrap(invalidOf(spec)) as HookResult;
          }
          return later('x|', invalidOf(spec)) as Observable<HookResult>;
        default:
          call.answered = true;
          return unreadableAnswer() as HookResult;
      }
    },
  };
}

/** The specs with every hook's own timeoutMs and policy those of its first context's spec. */
function normalise(matrix: HookSpec[][]): HookSpec[][] {
  if (matrix.length === 0) return matrix;
  const hooks = matrix[0]!.length;
  return matrix.map((row) =>
    row.slice(0, hooks).map((spec, h) => ({
      ...spec,
      timeoutMs: matrix[0]![h]!.timeoutMs,
      policy: matrix[0]![h]!.policy,
    })),
  );
}

/** A matrix of specs: `contexts` rows of the same number of hooks. */
const specMatrix = (contexts: fc.Arbitrary<number>, minHooks: number, maxHooks: number) =>
  fc
    .tuple(contexts, fc.integer({ min: minHooks, max: maxHooks }))
    .chain(([n, h]) =>
      fc.array(fc.array(hookSpec, { minLength: h, maxLength: h }), { minLength: n, maxLength: n }),
    )
    .map(normalise);

// ---------------------------------------------------------------------------------------------------
// Chain and aggregation models
// ---------------------------------------------------------------------------------------------------

interface ChainModel {
  readonly steps: Array<
    ExpectedStep & { hook: string; index: number; at: number; before: Record<string, unknown> }
  >;
  readonly outcome: string;
  readonly final: Record<string, unknown>;
  readonly stoppedBy?: { hook: string; index: number; reason: string };
  readonly skipped: string[];
  readonly duration: number;
  /** Every hook that ran answered within its call: the run ends within its start. */
  readonly sync: boolean;
}

/**
 * The chain as docs/hooks.md describes it: a sequential fold, ending early on a stop, a block or a
 * fail-closed failure.
 */
function chainModel(
  row: readonly HookSpec[],
  names: readonly string[],
  initial: Record<string, unknown>,
  runTimeoutMs: number,
  runPolicy: 'fail-open' | 'fail-closed',
): ChainModel {
  let context = { ...initial };
  let t = 0;
  const steps: ChainModel['steps'] = [];
  let outcome = 'completed';
  let stoppedBy: ChainModel['stoppedBy'];
  for (let index = 0; index < row.length; index++) {
    const name = names[index]!;
    const step = expectedStep(row[index]!, name, runTimeoutMs, runPolicy);
    t += step.after;
    steps.push({ ...step, hook: name, index, at: t, before: context });
    const updates = step.result?.context_updates;
    if (updates !== undefined) context = { ...context, ...updates };
    let reason: string | undefined;
    if (step.status === 'completed') {
      if (step.result?.stop_chain === true) [outcome, reason] = ['stopped', 'stop_chain'];
      else if (step.result?.continue === false)
        [outcome, reason] = ['stopped', step.result.stopReason ?? 'continue: false'];
    } else if (step.status === 'blocked') {
      [outcome, reason] = ['blocked', step.reason];
    } else if (step.policy === 'fail-closed') {
      outcome = 'failed';
    }
    if (outcome !== 'completed') {
      stoppedBy = { hook: name, index, reason: reason ?? '' };
      break;
    }
  }
  return {
    steps,
    outcome,
    final: context,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    skipped: names.slice(steps.length),
    duration: t,
    sync: row.slice(0, steps.length).every(immediate),
  };
}

/** The bounded queue, with runs that may take no time (all their hooks answer at once). */
interface Fate {
  readonly rejected: boolean;
  readonly start: number;
  readonly end: number;
}

/**
 * A context finding fewer than `concurrency` runs active starts at once; else it waits if fewer than
 * `maxQueued` wait; else it is rejected at once. At a frame the arrivals come first (a run that takes
 * no time ends within its arrival), then the runs due then end, each starting the longest-waiting
 * context (which may end at once too). Also the most runs active at once.
 */
function queueModel(
  arrivals: readonly number[],
  durations: readonly number[],
  syncs: readonly boolean[],
  concurrency: number,
  maxQueued: number,
): { fates: Fate[]; maxActive: number } {
  const fates = new Array<Fate>(arrivals.length);
  const active: Array<{ i: number; end: number }> = [];
  const queue: number[] = [];
  let maxActive = 0;
  const start = (i: number, t: number) => {
    const end = t + durations[i]!;
    fates[i] = { rejected: false, start: t, end };
    if (syncs[i]) {
      // Every hook answered within its call: the run is over before the next value arrives.
      maxActive = Math.max(maxActive, active.length + 1);
      return;
    }
    active.push({ i, end });
    maxActive = Math.max(maxActive, active.length);
  };
  let next = 0;
  while (next < arrivals.length || active.length > 0) {
    const t = Math.min(...(next < arrivals.length ? [arrivals[next]!] : []), ...active.map((run) => run.end));
    while (next < arrivals.length && arrivals[next] === t) {
      const i = next++;
      if (active.length < concurrency) start(i, t);
      else if (queue.length < maxQueued) queue.push(i);
      else fates[i] = { rejected: true, start: t, end: t };
    }
    // Then the runs due now end, each starting the longest-waiting context (which may end now too).
    for (
      let due = active.find((r) => r.end === t);
      due !== undefined;
      due = active.find((r) => r.end === t)
    ) {
      active.splice(active.indexOf(due), 1);
      while (active.length < concurrency && queue.length > 0) start(queue.shift()!, t);
    }
  }
  return { fates, maxActive };
}

const arrivalTimes = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 7 }).map((gaps) => {
  let at = 0;
  return gaps.map((gap) => (at += gap));
});

const ending: fc.Arbitrary<Ending> = fc.record({ gap: fc.integer({ min: 0, max: 3 }), error: fc.boolean() });

interface Recorded<O> {
  readonly outputs: Array<readonly [number, O]>;
  ended: readonly [number, unknown] | undefined;
}

/**
 * The source's end, completion or error alike, went out after the last record: at the later of the
 * source's end and the last run's end.
 */
function expectEndedAfterLastRecord(
  run: Recorded<unknown>,
  times: readonly number[],
  end: Ending,
  fates: readonly Fate[],
): void {
  expect(run.ended).toEqual([
    Math.max(
      endOf(
        times.map((at) => ({ at, duration: 1 })),
        end,
      ),
      ...fates.map((f) => f.end),
    ),
    end.error ? SOURCE_ERROR : undefined,
  ]);
}

/**
 * Runs the contexts `{ i, session_id: 's<i>' }` arriving at `times` through `operator`, on a
 * TestScheduler; unsubscribes at `cutAt` when given. Returns the outputs with their frames.
 */
function runContexts<O>(
  times: readonly number[],
  end: Ending,
  cutAt: number | undefined,
  build: (
    scheduler: TestScheduler,
    probe: Probe,
    cold: TestScheduler['createColdObservable'],
  ) => OperatorFunction<Record<string, unknown>, O>,
  leaveAfter?: number,
): { run: Recorded<O>; probe: Probe; cutProbe: { running: number }; callsAt: number[] } {
  const callsAt: number[] = [];
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const probe = new Probe(scheduler);
  const run: Recorded<O> = { outputs: [], ended: undefined };
  const cutProbe = { running: -1 };
  let left = false;
  scheduler.run(({ cold }) => {
    const arrivals: Arrival[] = times.map((at) => ({ at, duration: 1 }));
    const source = arriving(arrivals, scheduler, end);
    const contexts = new Observable<Record<string, unknown>>((subscriber) =>
      source.subscribe({
        next: ({ i }) => subscriber.next({ i, session_id: `s${i}` }),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
    let subscription: Subscription | undefined;
    subscription = contexts
      .pipe(build(scheduler, probe, cold as TestScheduler['createColdObservable']))
      .subscribe({
        next: (o) => {
          run.outputs.push([scheduler.now(), o]);
          callsAt.push(probe.calls.length);
          // Unsubscribing from inside next, reacting to an output (never synchronous at subscription).
          if (run.outputs.length === leaveAfter) {
            left = true;
            subscription!.unsubscribe();
            cutProbe.running = probe.running;
          }
        },
        error: (error: unknown) => (run.ended = [scheduler.now(), error]),
        complete: () => (run.ended = [scheduler.now(), undefined]),
      });
    if (cutAt !== undefined) {
      scheduler.schedule(() => {
        subscription!.unsubscribe();
        cutProbe.running = probe.running;
      }, cutAt);
    }
  });
  expect(left).toBe(leaveAfter !== undefined && leaveAfter <= run.outputs.length);
  return { run, probe, cutProbe, callsAt };
}

/** The context of a step: its event's sessionId, `s<i>`. */
const ctxOfStep = (step: { event: { sessionId?: string } }): number => Number(step.event.sessionId!.slice(1));

function expectStepAsModelled(
  step: Extract<HookChainOutput, { kind: 'step' }>,
  expected: ExpectedStep & { hook: string; index: number },
  startFrame: number,
  frame: number,
  place: { chain?: string; aggregation?: string },
): void {
  expect(step.hook).toBe(expected.hook);
  expect(step.index).toBe(expected.index);
  expect(step.hook_kind).toBe('function');
  expect(step.status).toBe(expected.status);
  expect(step.duration_ms).toBe(expected.after);
  expect(frame).toBe(startFrame + expected.after);
  if (place.chain !== undefined) expect(step.chain).toBe(place.chain);
  if (place.aggregation !== undefined) expect(step.aggregation).toBe(place.aggregation);
  // Its event: type by status, priority, time of the end, duration, code, reason, score.
  const { event } = step;
  expect(event.type).toBe(
    {
      completed: 'hook.completed',
      blocked: 'hook.failed',
      failed: 'hook.failed',
      timed_out: 'hook.timed_out',
    }[expected.status],
  );
  expect(event.priority).toBe(expected.status === 'completed' ? Priority.NORMAL : Priority.HIGH);
  expect(event.timestamp).toBe(frame);
  expect(event.data).toMatchObject({
    hook: expected.hook,
    index: expected.index,
    hook_kind: 'function',
    status: expected.status,
    duration_ms: expected.after,
    ...place,
  });
  expect(event.data.code).toBe(expected.code);
  if (step.status === 'completed') {
    expect(step.result).toEqual(expected.result);
    expect(event.data.score).toBe(expected.result?.score);
    expect(event.data.error).toBeUndefined();
    return;
  }
  expect(step.error).toBeInstanceOf(HookError);
  expect(step.error.code).toBe(expected.code);
  expect(step.error.hook).toBe(expected.hook);
  expect(event.data.error).toBe(step.error.message);
  if (expected.message !== undefined) expect(step.error.message).toContain(expected.message);
  if (step.status === 'blocked') {
    expect(step.reason).toBe(expected.reason);
    expect(event.data.reason).toBe(expected.reason);
    if (expected.result !== undefined) expect(step.result).toEqual(expected.result);
  } else {
    expect(step.policy).toBe(expected.policy);
  }
}

/** Every hook call that had not answered when it was cancelled has its signal aborted; no other. */
function expectSignals(probe: Probe): void {
  for (const call of probe.calls) expect(call.signal.aborted).toBe(!call.answered);
}

/**
 * What holds for both operators: `hookEvents()` keeps the steps' events and the rejections' overflow
 * events, in order; the overflow events count this subscription's rejections; and a subscriber that
 * unsubscribes from its next, on its `leave`-th output, got exactly the full run's first outputs, and
 * left nothing running, every unanswered hook aborted, no hook called after it left.
 */
function expectCommon<O extends HookChainOutput | HookAggregationOutput<unknown>>(
  full: ReturnType<typeof runContexts<O>>,
  leave: number | undefined,
  rerun: (leaveAfter: number) => ReturnType<typeof runContexts<O>>,
): void {
  const outputs = full.run.outputs.map(([, o]) => o);
  const events: unknown[] = [];
  from(outputs)
    .pipe(hookEvents())
    .subscribe((event) => events.push(event));
  expect(events).toEqual(outputs.flatMap((o) => (o.event === undefined ? [] : [o.event])));
  const totals = outputs.flatMap((o) =>
    o.kind !== 'step' && o.event !== undefined ? [(o.event as HookOverflowEvent).data.total] : [],
  );
  expect(totals).toEqual(totals.map((_, k) => k + 1));
  if (leave === undefined || leave > outputs.length) return;
  const cut = rerun(leave);
  expect(cut.run.outputs.map(([at, o]) => [at, labelOf(o)])).toEqual(
    full.run.outputs.slice(0, leave).map(([at, o]) => [at, labelOf(o)]),
  );
  expect(cut.run.ended).toBeUndefined();
  expect(cut.cutProbe.running).toBe(0);
  expect(cut.probe.running).toBe(0);
  expect(cut.probe.calls.length).toBe(full.callsAt[leave - 1]);
  expectSignals(cut.probe);
}

function labelOf(o: HookChainOutput | HookAggregationOutput<unknown>): string {
  if (o.kind === 'step') return `${ctxOfStep(o)}:${o.hook}:${o.status}`;
  if (o.kind === 'result') return `${o.final_context.i}:${o.outcome}`;
  return `agg:${o.results.map((r) => r.status)}`;
}

// ---------------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------------

describe('chainHooks / runHookChain property: a model of the docs', () => {
  const scenario = fc.record({
    times: arrivalTimes,
    matrixSeed: specMatrix(fc.constant(7), 0, 4),
    concurrency: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Number.POSITIVE_INFINITY)),
    maxQueued: fc.integer({ min: 0, max: 3 }),
    runTimeoutMs: fc.integer({ min: 1, max: 7 }),
    runPolicy: fc.constantFrom<'fail-open' | 'fail-closed'>('fail-open', 'fail-closed'),
    end: ending,
    cut: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    leave: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  });

  it('steps, results, queue, concurrency, source end and cancellation as docs/hooks.md says', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { times, concurrency, maxQueued, runTimeoutMs, runPolicy, end } = s;
        const matrix = s.matrixSeed;
        const names = matrix[0]!.map((_, h) => `h${h}`);
        const options = { concurrency, maxQueued, timeoutMs: runTimeoutMs, errorPolicy: runPolicy };
        const build =
          (chainName: string) =>
          (scheduler: TestScheduler, probe: Probe, cold: TestScheduler['createColdObservable']) =>
            chainHooks(
              {
                name: chainName,
                hooks: names.map((name, h) =>
                  makeHook(
                    name,
                    matrix.map((row) => row[h]!),
                    probe,
                    cold,
                  ),
                ),
              },
              { ...options, scheduler },
            );
        const full = runContexts(times, end, undefined, build('c'));
        const { run, probe } = full;

        const models = times.map((_, i) =>
          chainModel(matrix[i]!, names, { i, session_id: `s${i}` }, runTimeoutMs, runPolicy),
        );
        const { fates, maxActive } = queueModel(
          times,
          models.map((m) => m.duration),
          models.map((m) => m.sync),
          concurrency,
          maxQueued,
        );

        // Exactly one result per context, none invented; each at its frame, with its outcome.
        const results = run.outputs.flatMap(([at, o]) => (o.kind === 'result' ? [{ at, o }] : []));
        expect(results.map(({ o }) => o.final_context.i).sort()).toEqual(times.map((_, i) => i).sort());
        for (const { at, o } of results) {
          const i = o.final_context.i as number;
          const fate = fates[i]!;
          const model = models[i]!;
          expect(at).toBe(fate.end);
          expect(o.chain_name).toBe('c');
          if (fate.rejected) {
            expect(o.outcome).toBe('rejected');
            expect(o.results).toEqual([]);
            expect(o.skipped).toEqual(names);
            expect(o.final_context).toEqual({ i, session_id: `s${i}` });
            expect(o.duration_ms).toBe(0);
            expect(o.error?.code).toBe('BUFFER_OVERFLOW');
            expect(o.event?.type).toBe('hooks.overflow');
            expect(o.event?.timestamp).toBe(at);
            expect(o.event?.sessionId).toBe(`s${i}`);
            expect(o.event?.data).toMatchObject({ chain: 'c', hooks: names, code: 'BUFFER_OVERFLOW' });
            continue;
          }
          expect(o.outcome).toBe(model.outcome);
          expect(o.final_context).toEqual(model.final);
          expect(o.stopped_by?.hook).toBe(model.stoppedBy?.hook);
          expect(o.stopped_by?.index).toBe(model.stoppedBy?.index);
          if (model.stoppedBy !== undefined && model.outcome !== 'failed') {
            expect(o.stopped_by?.reason).toBe(model.stoppedBy.reason);
          }
          if (model.outcome === 'failed') {
            expect(o.stopped_by?.reason).toBe((o.results.at(-1) as { error: HookError }).error.message);
          }
          expect(o.skipped).toEqual(model.skipped);
          expect(o.duration_ms).toBe(model.duration);
          expect(o.error).toBeUndefined();
          expect(o.event).toBeUndefined();
          expect(o.results.length).toBe(model.steps.length);
        }

        // Every step: its context's, in chain order, before its result, as the model says.
        const seen = new Map<number, number>();
        for (const [at, o] of run.outputs) {
          if (o.kind === 'result') {
            const i = o.final_context.i as number;
            expect(seen.get(i) ?? 0).toBe(fates[i]!.rejected ? 0 : models[i]!.steps.length);
            seen.set(i, -1);
            continue;
          }
          const i = ctxOfStep(o);
          const k = seen.get(i) ?? 0;
          expect(k).toBeGreaterThanOrEqual(0); // no step after its result
          const model = models[i]!;
          expectStepAsModelled(
            o,
            model.steps[k]!,
            fates[i]!.start + model.steps[k]!.at - model.steps[k]!.after,
            at,
            {
              chain: 'c',
            },
          );
          seen.set(i, k + 1);
          // The result's results are these very steps.
        }
        for (const { o } of results) {
          const i = o.final_context.i as number;
          expect(o.results).toEqual(
            run.outputs.flatMap(([, x]) => (x.kind === 'step' && ctxOfStep(x) === i ? [x] : [])),
          );
        }
        // With concurrency 1 the runs do not overlap: a run's outputs are contiguous but for rejections.
        if (concurrency === 1) {
          const order = run.outputs.flatMap(([, o]) =>
            o.kind === 'result' && o.outcome === 'rejected'
              ? []
              : [o.kind === 'step' ? ctxOfStep(o) : (o.final_context.i as number)],
          );
          const runs = order.filter((i, k) => k === 0 || order[k - 1] !== i);
          expect(new Set(runs).size).toBe(runs.length);
        }

        // Hooks called: exactly the steps the model runs, each at its start; skipped hooks never.
        const expectedCalls = times.flatMap((_, i) =>
          fates[i]!.rejected
            ? []
            : models[i]!.steps.map((step) => `${i}:${step.hook}@${fates[i]!.start + step.at - step.after}`),
        );
        expect(probe.calls.map((c) => `${c.ctx}:${c.hook}@${c.at}`).sort()).toEqual(expectedCalls.sort());
        // Never more hooks running than runs allowed (a chain runs one hook at a time).
        expect(probe.maxRunning).toBeLessThanOrEqual(concurrency);
        expect(maxActive).toBeLessThanOrEqual(concurrency);
        expect(probe.running).toBe(0);
        expectSignals(probe);

        // The source's end, completion or error alike, after the last record.
        expectEndedAfterLastRecord(run, times, end, fates);

        // Each hook saw its context as the hooks before it left it (a hook's own mutation changes nothing).
        for (const call of probe.calls) {
          const step = models[call.ctx]!.steps.find((x) => x.hook === call.hook)!;
          expect(call.seen).toEqual(step.before);
          expect(call.place).toEqual({ chain: 'c', index: step.index });
        }
        expectCommon(full, s.leave, (leaveAfter) =>
          runContexts(times, end, undefined, build('c'), leaveAfter),
        );

        // Cancellation: unsubscribing at a frame leaves nothing running, aborts every unanswered hook,
        // and what came out is a prefix of the full run's outputs (all those due before that frame).
        if (s.cut !== undefined) {
          const cutAt = s.cut;
          const cut = runContexts(times, end, cutAt, build('c'));
          const label = ([at, o]: readonly [number, HookChainOutput]) => `${at}:${labelOf(o)}`;
          const full = run.outputs.map(label);
          const part = cut.run.outputs.map(label);
          expect(full.slice(0, part.length)).toEqual(part);
          expect(part.length).toBeGreaterThanOrEqual(run.outputs.filter(([at]) => at < cutAt).length);
          expect(cut.run.outputs.every(([at]) => at <= cutAt)).toBe(true);
          if (run.ended![0] > cutAt) expect(cut.run.ended).toBeUndefined();
          expect(cut.probe.running).toBe(0);
          if (cut.cutProbe.running >= 0) expect(cut.cutProbe.running).toBe(0);
          expect(cut.probe.calls.every((c) => c.at <= cutAt)).toBe(true);
          expectSignals(cut.probe);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('runHookChain: one chain run is the same fold, each step at its frame', () => {
    fc.assert(
      fc.property(
        specMatrix(fc.constant(1), 0, 5),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom<'fail-open' | 'fail-closed'>('fail-open', 'fail-closed'),
        fc.constantFrom<unknown>('s0', '', undefined, 7),
        fc.option(fc.constant('run-session'), { nil: undefined }),
        (matrix, runTimeoutMs, runPolicy, sessionField, sessionOption) => {
          const names = matrix[0]!.map((_, h) => `h${h}`);
          const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
          const probe = new Probe(scheduler);
          const outputs: Array<[number, HookChainOutput]> = [];
          let completedAt: number | undefined;
          const initial: Record<string, unknown> = {
            i: 0,
            a: -1,
            ...(sessionField === undefined ? {} : { session_id: sessionField }),
          };
          const before = { ...initial };
          scheduler.run(({ cold }) => {
            const hooks = names.map((name, h) =>
              makeHook(name, [matrix[0]![h]!], probe, cold as TestScheduler['createColdObservable']),
            );
            runHookChain({ name: 'one', hooks }, initial, {
              scheduler,
              timeoutMs: runTimeoutMs,
              errorPolicy: runPolicy,
              ...(sessionOption === undefined ? {} : { sessionId: sessionOption }),
            }).subscribe({
              next: (o) => outputs.push([scheduler.now(), o]),
              complete: () => (completedAt = scheduler.now()),
            });
          });
          const model = chainModel(matrix[0]!, names, initial, runTimeoutMs, runPolicy);
          expect(outputs.length).toBe(model.steps.length + 1);
          model.steps.forEach((step, k) => {
            const [at, o] = outputs[k]!;
            if (o.kind !== 'step') throw new Error('expected a step');
            expectStepAsModelled(o, step, step.at - step.after, at, { chain: 'one' });
          });
          const [at, result] = outputs.at(-1)!;
          if (result.kind !== 'result') throw new Error('expected the result last');
          expect(at).toBe(model.duration);
          expect(completedAt).toBe(model.duration);
          expect(result.outcome).toBe(model.outcome);
          expect(result.final_context).toEqual(model.final);
          expect(result.skipped).toEqual(model.skipped);
          expect(initial).toEqual(before); // never mutated
          // The events' sessionId: the run's option, else the context's session_id if a non-empty string.
          const sessionId = sessionOption ?? (sessionField === 's0' ? 's0' : undefined);
          for (const [, o] of outputs) if (o.kind === 'step') expect(o.event.sessionId).toBe(sessionId);
          expect(probe.running).toBe(0);
          expectSignals(probe);
        },
      ),
      { numRuns: 150 },
    );
  });
});

type LogEntry =
  | { readonly type: 'in'; readonly i: number }
  | { readonly type: 'call'; readonly call: Call }
  | {
      readonly type: 'out';
      readonly o: HookChainOutput | HookAggregationOutput<unknown>;
      readonly at: number;
    }
  | { readonly type: 'done'; readonly o: HookChainOutput | HookAggregationOutput<unknown> };

/** The context a final record is for (a rejected aggregate carries it; a run's steps tell it). */
function ctxOfRecord(o: HookChainOutput | HookAggregationOutput<unknown>): number {
  if (o.kind === 'result') return o.final_context.i as number;
  if (o.kind === 'aggregate') {
    if (o.context !== undefined) return o.context.i as number;
    return ctxOfStep(o.results[0] as { event: { sessionId?: string } });
  }
  return ctxOfStep(o);
}

/**
 * A subscriber that pushes contexts re-entrantly, on some of its outputs (ids after the arrivals', up
 * to 7 contexts in all): docs/hooks.md says it is served in order — the run that emitted the output
 * still counts as active, so the pushed context waits behind those already waiting, or is rejected if
 * there is no room. Checked by replaying the log of arrivals, hook calls and outputs: each context is
 * admitted or rejected as the counts then say, the runs start in admission order (never more than
 * `concurrency` at once), each context gets one record, and a run's steps are its model's.
 */
describe('chainHooks / aggregateHooks property: contexts pushed re-entrantly', () => {
  const scenario = fc.record({
    times: arrivalTimes,
    matrix: specMatrix(fc.constant(7), 1, 3),
    concurrency: fc.integer({ min: 1, max: 3 }),
    maxQueued: fc.integer({ min: 0, max: 2 }),
    runTimeoutMs: fc.integer({ min: 1, max: 7 }),
    pushOn: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    aggregate: fc.boolean(),
  });

  it('admits, rejects and starts them in order, each context one record', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { times, matrix, concurrency, maxQueued, runTimeoutMs } = s;
        const names = matrix[0]!.map((_, h) => `h${h}`);
        const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
        const probe = new Probe(scheduler);
        const log: LogEntry[] = [];
        probe.onCall = (call) => log.push({ type: 'call', call });
        let next = times.length;
        scheduler.run(({ cold }) => {
          const hooks = names.map((name, h) =>
            makeHook(
              name,
              matrix.map((row) => row[h]!),
              probe,
              cold as TestScheduler['createColdObservable'],
            ),
          );
          const pushed = new Subject<{ i: number }>();
          const contexts = new Observable<Record<string, unknown>>((subscriber) => {
            const forward = ({ i }: { i: number }) => {
              log.push({ type: 'in', i });
              subscriber.next({ i, session_id: `s${i}` });
            };
            const arrivals = arriving(
              times.map((at) => ({ at, duration: 1 })),
              scheduler,
            ).subscribe(forward);
            const more = pushed.subscribe(forward);
            return () => {
              arrivals.unsubscribe();
              more.unsubscribe();
            };
          });
          const options = { concurrency, maxQueued, timeoutMs: runTimeoutMs, scheduler };
          const operator: OperatorFunction<
            Record<string, unknown>,
            HookChainOutput | HookAggregationOutput<unknown>
          > = s.aggregate
            ? aggregateHooks(hooks, (steps) => steps.length, { ...options, name: 'agg' })
            : chainHooks({ name: 'c', hooks }, { ...options, errorPolicy: 'fail-closed' });
          let outputs = 0;
          contexts.pipe(operator).subscribe((o) => {
            log.push({ type: 'out', o, at: scheduler.now() });
            if (s.pushOn[outputs++] === true && next < 7) pushed.next({ i: next++ });
            log.push({ type: 'done', o });
          });
        });

        // Replay the log against the rule. A context takes a free run as it is admitted, or else waits;
        // a run's hooks are called when it starts, which is at once unless another run is being started
        // then (a context pushed from inside a synchronous run starts once that run's start returns).
        const waiting: number[] = [];
        const starting: number[] = [];
        const active = new Set<number>();
        const rejected = new Set<number>();
        const startedAt = new Map<number, number>();
        const records = new Map<number, HookChainOutput | HookAggregationOutput<unknown>>();
        const steps = new Map<number, Array<[number, HookChainOutput | HookAggregationOutput<unknown>]>>();
        const take = (i: number) => {
          active.add(i);
          starting.push(i);
          expect(active.size).toBeLessThanOrEqual(concurrency);
        };
        for (const entry of log) {
          if (entry.type === 'in') {
            if (active.size < concurrency) take(entry.i);
            else if (waiting.length < maxQueued) waiting.push(entry.i);
            else rejected.add(entry.i);
          } else if (entry.type === 'call') {
            const { ctx, at } = entry.call;
            if (startedAt.has(ctx)) continue;
            // Runs start in the order they were taken, the longest-waiting context first.
            expect(starting[0]).toBe(ctx);
            starting.shift();
            startedAt.set(ctx, at);
          } else if (entry.o.kind === 'step') {
            if (entry.type === 'out') {
              const i = ctxOfRecord(entry.o);
              steps.set(i, [...(steps.get(i) ?? []), [entry.at, entry.o]]);
            }
          } else {
            const i = ctxOfRecord(entry.o);
            if (entry.type === 'out') {
              expect(records.has(i)).toBe(false);
              records.set(i, entry.o);
            } else if (!rejected.has(i)) {
              // The run ends once its record is handled (pushes made meanwhile saw it active); the
              // longest-waiting context takes it.
              active.delete(i);
              while (active.size < concurrency && waiting.length > 0) take(waiting.shift()!);
            }
          }
        }
        // Every context, arrived or pushed, has exactly one record; rejected exactly as the rule says.
        expect([...records.keys()].sort()).toEqual(Array.from({ length: next }, (_, i) => i).sort());
        expect(waiting).toEqual([]);
        expect(starting).toEqual([]);
        for (const [i, o] of records) {
          const isRejected =
            o.kind === 'result' ? o.outcome === 'rejected' : o.kind === 'aggregate' && o.error !== undefined;
          expect(isRejected).toBe(rejected.has(i));
          if (isRejected) {
            expect(steps.get(i)).toBeUndefined();
            continue;
          }
          const start = startedAt.get(i)!;
          const emitted = steps.get(i) ?? [];
          if (o.kind === 'result') {
            const model = chainModel(
              matrix[i]!,
              names,
              { i, session_id: `s${i}` },
              runTimeoutMs,
              'fail-closed',
            );
            expect(o.outcome).toBe(model.outcome);
            expect(
              emitted.map(([at, step]) => [at, (step as HookStep).hook, (step as HookStep).status]),
            ).toEqual(model.steps.map((step) => [start + step.at, step.hook, step.status]));
          } else {
            const model = aggregationModel(matrix[i]!, names, runTimeoutMs, 60_000);
            expect(o.kind === 'aggregate' && o.results.map((step) => step.status)).toEqual(
              model.steps.map((step) => step.status),
            );
            expect(emitted.length).toBe(names.length);
          }
        }
        expect(probe.running).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});

describe('runHook property: one hook, one step', () => {
  it('emits the modelled step (index 0, no chain or aggregation) at its frame, then completes', () => {
    fc.assert(
      fc.property(hookSpec, fc.integer({ min: 1, max: 7 }), (spec, runTimeoutMs) => {
        const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
        const probe = new Probe(scheduler);
        const outputs: Array<[number, HookStep]> = [];
        let completedAt: number | undefined;
        scheduler.run(({ cold }) => {
          const hook = makeHook('solo', [spec], probe, cold as TestScheduler['createColdObservable']);
          runHook(hook, { i: 0, session_id: 's0' }, { scheduler, timeoutMs: runTimeoutMs }).subscribe({
            next: (step) => outputs.push([scheduler.now(), step]),
            complete: () => (completedAt = scheduler.now()),
          });
        });
        const expected = expectedStep(spec, 'solo', runTimeoutMs, 'fail-closed');
        expect(outputs.length).toBe(1);
        const [at, step] = outputs[0]!;
        expectStepAsModelled(step, { ...expected, hook: 'solo', index: 0 }, 0, at, {});
        expect(completedAt).toBe(at);
        expect(step.chain).toBeUndefined();
        expect(step.aggregation).toBeUndefined();
        expect(step.event.data.chain).toBeUndefined();
        expect(step.event.data.aggregation).toBeUndefined();
        expect(probe.calls.map((call) => call.place)).toEqual([{ index: 0 }]);
        expect(probe.running).toBe(0);
        expectSignals(probe);
      }),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Aggregations
// ---------------------------------------------------------------------------------------------------

interface AggregationModel {
  readonly steps: Array<ExpectedStep & { hook: string; index: number }>;
  readonly duration: number;
  readonly timedOut: string[];
  readonly passed: boolean;
  readonly sync: boolean;
}

function aggregationModel(
  row: readonly HookSpec[],
  names: readonly string[],
  runTimeoutMs: number,
  deadlineMs: number,
): AggregationModel {
  const steps = row.map((spec, index) => ({
    ...expectedStep(spec, names[index]!, runTimeoutMs, 'fail-closed', deadlineMs),
    hook: names[index]!,
    index,
  }));
  return {
    steps,
    duration: Math.max(0, ...steps.map((step) => step.after)),
    timedOut: steps.filter((step) => step.status === 'timed_out').map((step) => step.hook),
    // validationResult: a validator passes when it completed and its result does not say otherwise:
    // `passed: false` fails it; without `passed`, a non-empty `critical_issues` fails it.
    passed: steps.every(
      (step) =>
        step.status === 'completed' &&
        step.result?.passed !== false &&
        (step.result?.passed !== undefined || (step.result?.critical_issues ?? []).length === 0),
    ),
    sync: row.every(immediate),
  };
}

const AGGREGATOR_ERROR = new Error('the aggregator failed');

/**
 * `reviewSummary` as docs/hooks.md says: over the hooks that gave a result (completed, or blocked with a
 * JSON result), the mean score (null without any), the issues and recommendations concatenated in hook
 * order, the metrics per hook; the others listed in `missing` with their status.
 */
function expectReview(review: ReviewSummary, steps: ReadonlyArray<ExpectedStep & { hook: string }>): void {
  const gave = steps.filter((step) => step.status !== 'failed' && step.status !== 'timed_out' && step.result);
  const scores = gave.flatMap((step) => (step.result!.score === undefined ? [] : [step.result!.score]));
  expect(review.scored_hooks).toBe(scores.length);
  if (scores.length === 0) expect(review.overall_score).toBeNull();
  else expect(review.overall_score).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / scores.length, 9);
  expect(review.critical_issues).toEqual(gave.flatMap((step) => step.result!.critical_issues ?? []));
  expect(review.recommendations).toEqual(gave.flatMap((step) => step.result!.recommendations ?? []));
  expect(review.positive_findings).toEqual([]);
  expect(review.metrics).toEqual(
    Object.fromEntries(
      gave.flatMap((step) => (step.result!.metrics === undefined ? [] : [[step.hook, step.result!.metrics]])),
    ),
  );
  expect(review.missing.map((m) => [m.hook, m.status])).toEqual(
    steps.filter((step) => !gave.includes(step)).map((step) => [step.hook, step.status]),
  );
}

describe('aggregateHooks / runHookAggregation property: a model of the docs', () => {
  const scenario = fc.record({
    times: arrivalTimes,
    matrix: specMatrix(fc.constant(7), 1, 4),
    concurrency: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Number.POSITIVE_INFINITY)),
    maxQueued: fc.integer({ min: 0, max: 3 }),
    runTimeoutMs: fc.integer({ min: 1, max: 7 }),
    deadlineMs: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constant(Number.POSITIVE_INFINITY)),
    end: ending,
    cut: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    leave: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    throwAt: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
  });

  it('steps, aggregates, queue, concurrency, source end and cancellation as docs/hooks.md says', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { times, matrix, concurrency, maxQueued, runTimeoutMs, deadlineMs, end } = s;
        const names = matrix[0]!.map((_, h) => `h${h}`);
        let aggregatorCalls = 0;
        /** Makes the operator; its aggregator throws on its `throwAt`-th call when given. */
        const buildThrowing =
          (throwAt?: number) =>
          (scheduler: TestScheduler, probe: Probe, cold: TestScheduler['createColdObservable']) => {
            let calls = 0;
            const aggregator = (steps: readonly AggregatedStep[]) => {
              aggregatorCalls++;
              if (++calls === throwAt) throw AGGREGATOR_ERROR;
              return {
                verdict: validationResult(steps),
                review: reviewSummary(steps),
                statuses: steps.map((step) => step.status),
              };
            };
            return aggregateHooks(
              names.map((name, h) =>
                makeHook(
                  name,
                  matrix.map((row) => row[h]!),
                  probe,
                  cold,
                ),
              ),
              aggregator,
              { name: 'agg', concurrency, maxQueued, timeoutMs: runTimeoutMs, deadlineMs, scheduler },
            );
          };
        const build = buildThrowing();
        const full = runContexts(times, end, undefined, build);
        const aggregated = aggregatorCalls;
        const { run, probe } = full;
        for (const call of probe.calls) {
          expect(call.seen).toEqual({ i: call.ctx, session_id: `s${call.ctx}` });
          expect(call.place).toEqual({ chain: 'agg', index: names.indexOf(call.hook) });
        }
        expectCommon(full, s.leave, (leaveAfter) => runContexts(times, end, undefined, build, leaveAfter));

        const models = times.map((_, i) => aggregationModel(matrix[i]!, names, runTimeoutMs, deadlineMs));
        const { fates } = queueModel(
          times,
          models.map((m) => m.duration),
          models.map((m) => m.sync),
          concurrency,
          maxQueued,
        );
        type Aggregate = Extract<
          HookAggregationOutput<{
            verdict: ReturnType<typeof validationResult>;
            review: ReviewSummary;
            statuses: string[];
          }>,
          { kind: 'aggregate' }
        >;
        const aggregates: Array<{ at: number; o: Aggregate; i: number }> = [];
        const stepsOf = new Map<
          number,
          Array<[number, Extract<HookAggregationOutput<unknown>, { kind: 'step' }>]>
        >();
        for (const [at, o] of run.outputs) {
          if (o.kind === 'step') {
            const i = ctxOfStep(o);
            expect(aggregates.some((a) => a.i === i)).toBe(false); // no step after its aggregate
            stepsOf.set(i, [...(stepsOf.get(i) ?? []), [at, o]]);
            continue;
          }
          const first = o.results[0]!;
          const i =
            o.context !== undefined
              ? (o.context.i as number)
              : first.status === 'not_run'
                ? -1
                : ctxOfStep(first);
          aggregates.push({ at, o, i });
        }
        // Exactly one aggregate per context; the aggregator called once for each.
        expect(aggregates.map((a) => a.i).sort()).toEqual(times.map((_, i) => i).sort());
        expect(aggregated).toBe(times.length);
        for (const { at, o, i } of aggregates) {
          const fate = fates[i]!;
          const model = models[i]!;
          expect(at).toBe(fate.end);
          expect(o.aggregation).toBe('agg');
          if (fate.rejected) {
            expect(o.results.map((step) => step.status)).toEqual(names.map(() => 'not_run'));
            expect(o.results.map((step) => step.hook)).toEqual(names);
            expect(o.aggregate.verdict.passed).toBe(false);
            expect(o.aggregate.review.missing.map((m) => [m.hook, m.status])).toEqual(
              names.map((name) => [name, 'not_run']),
            );
            expect(o.aggregate.review.overall_score).toBeNull();
            expect(o.timed_out).toEqual([]);
            expect(o.duration_ms).toBe(0);
            expect(o.error?.code).toBe('BUFFER_OVERFLOW');
            expect(o.context).toEqual({ i, session_id: `s${i}` });
            expect(o.event?.type).toBe('hooks.overflow');
            expect(o.event?.data).toMatchObject({
              aggregation: 'agg',
              hooks: names,
              code: 'BUFFER_OVERFLOW',
            });
            expect(stepsOf.get(i)).toBeUndefined();
            continue;
          }
          // The steps in hook order, each as modelled; emitted in the order they ended.
          const emitted = stepsOf.get(i) ?? [];
          expect(emitted.length).toBe(names.length);
          const frames = emitted.map(([frame]) => frame);
          expect(frames).toEqual([...frames].sort((a, b) => a - b));
          expect(o.results.map((step) => step.hook)).toEqual(names);
          expect(new Set(o.results)).toEqual(new Set(emitted.map(([, step]) => step)));
          for (const [frame, step] of emitted) {
            expectStepAsModelled(
              step as Extract<HookChainOutput, { kind: 'step' }>,
              {
                ...model.steps[step.index]!,
                policy: (step as { policy?: 'fail-open' }).policy ?? 'fail-closed',
              },
              fate.start,
              frame,
              { aggregation: 'agg' },
            );
          }
          expect(o.aggregate.statuses).toEqual(model.steps.map((step) => step.status));
          expect(o.aggregate.verdict.passed).toBe(model.passed);
          expectReview(o.aggregate.review, model.steps);
          expect(o.timed_out).toEqual(model.timedOut);
          expect(o.duration_ms).toBe(model.duration);
          expect(o.error).toBeUndefined();
          expect(o.context).toBeUndefined();
          expect(o.event).toBeUndefined();
        }
        // Every hook of every run context called once, at its start; at most concurrency × hooks running.
        const expectedCalls = times.flatMap((_, i) =>
          fates[i]!.rejected ? [] : names.map((name) => `${i}:${name}@${fates[i]!.start}`),
        );
        expect(probe.calls.map((c) => `${c.ctx}:${c.hook}@${c.at}`).sort()).toEqual(expectedCalls.sort());
        expect(probe.maxRunning).toBeLessThanOrEqual(concurrency * names.length);
        expect(probe.running).toBe(0);
        expectSignals(probe);
        expectEndedAfterLastRecord(run, times, end, fates);

        // An aggregator that throws errors the stream at once, with its error, where that aggregate was
        // due; every other context is cancelled: nothing left running, the unanswered hooks aborted.
        const aggregateAt = run.outputs.flatMap(([, o], k) => (o.kind === 'aggregate' ? [k] : []));
        if (s.throwAt !== undefined && s.throwAt <= aggregateAt.length) {
          const k = aggregateAt[s.throwAt - 1]!;
          const failed = runContexts(times, end, undefined, buildThrowing(s.throwAt));
          expect(failed.run.outputs.map(([at, o]) => [at, labelOf(o)])).toEqual(
            run.outputs.slice(0, k).map(([at, o]) => [at, labelOf(o)]),
          );
          expect(failed.run.ended).toEqual([run.outputs[k]![0], AGGREGATOR_ERROR]);
          expect(failed.probe.running).toBe(0);
          expectSignals(failed.probe);
          expect(failed.probe.calls.length).toBe(full.callsAt[k]);
        }

        if (s.cut !== undefined) {
          const cutAt = s.cut;
          const cut = runContexts(times, end, cutAt, build);
          const label = ([at, o]: readonly [number, HookAggregationOutput<unknown>]) => `${at}:${labelOf(o)}`;
          const full = run.outputs.map(label);
          const part = cut.run.outputs.map(label);
          expect(full.slice(0, part.length)).toEqual(part);
          expect(part.length).toBeGreaterThanOrEqual(run.outputs.filter(([at]) => at < cutAt).length);
          if (run.ended![0] > cutAt) expect(cut.run.ended).toBeUndefined();
          expect(cut.probe.running).toBe(0);
          if (cut.cutProbe.running >= 0) expect(cut.cutProbe.running).toBe(0);
          expect(cut.probe.calls.every((c) => c.at <= cutAt)).toBe(true);
          expectSignals(cut.probe);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('runHookAggregation property: one aggregation, cut or not', () => {
  it('each step at its frame, the aggregate after the last; an unsubscribe leaves none running', () => {
    fc.assert(
      fc.property(
        specMatrix(fc.constant(1), 1, 5),
        fc.integer({ min: 1, max: 7 }),
        fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
        (matrix, runTimeoutMs, deadlineMs, cutAt) => {
          const names = matrix[0]!.map((_, h) => `h${h}`);
          const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
          const probe = new Probe(scheduler);
          const outputs: Array<[number, HookAggregationOutput<string[]>]> = [];
          let completedAt: number | undefined;
          let runningAtCut = -1;
          scheduler.run(({ cold }) => {
            const hooks = names.map((name, h) =>
              makeHook(name, [matrix[0]![h]!], probe, cold as TestScheduler['createColdObservable']),
            );
            const subscription = runHookAggregation(
              hooks,
              { i: 0, session_id: 's0' },
              (steps) => steps.map((step) => step.status),
              { name: 'one', scheduler, timeoutMs: runTimeoutMs, deadlineMs },
            ).subscribe({
              next: (o) => outputs.push([scheduler.now(), o]),
              complete: () => (completedAt = scheduler.now()),
            });
            if (cutAt !== undefined) {
              scheduler.schedule(() => {
                subscription.unsubscribe();
                runningAtCut = probe.running;
              }, cutAt);
            }
          });
          const model = aggregationModel(matrix[0]!, names, runTimeoutMs, deadlineMs);
          expect(probe.running).toBe(0);
          if (runningAtCut >= 0) expect(runningAtCut).toBe(0);
          expectSignals(probe);
          expect(probe.calls.map((c) => `${c.hook}@${c.at}`)).toEqual(names.map((name) => `${name}@0`));
          // Cut before the end: the steps due before the cut came out, no aggregate, no completion. A
          // timeout due at the cut's frame gives way to it (the answers due then were scheduled before it).
          const cut =
            cutAt !== undefined &&
            (cutAt < model.duration ||
              (cutAt === model.duration &&
                model.steps.some((step) => step.status === 'timed_out' && step.after === cutAt)));
          for (const [at, o] of outputs) {
            if (o.kind !== 'step') continue;
            const step = model.steps[o.index]!;
            expectStepAsModelled(
              o as Extract<HookChainOutput, { kind: 'step' }>,
              { ...step, policy: (o as { policy?: 'fail-open' }).policy ?? 'fail-closed' },
              0,
              at,
              { aggregation: 'one' },
            );
          }
          const stepCount = outputs.filter(([, o]) => o.kind === 'step').length;
          if (cut) {
            expect(completedAt).toBeUndefined();
            expect(outputs.some(([, o]) => o.kind === 'aggregate')).toBe(false);
            expect(stepCount).toBeGreaterThanOrEqual(model.steps.filter((step) => step.after < cutAt).length);
            expect(stepCount).toBeLessThanOrEqual(model.steps.filter((step) => step.after <= cutAt).length);
            return;
          }
          expect(stepCount).toBe(names.length);
          const [at, last] = outputs.at(-1)!;
          if (last.kind !== 'aggregate') throw new Error('expected the aggregate last');
          expect(at).toBe(model.duration);
          expect(completedAt).toBe(model.duration);
          expect(last.aggregate).toEqual(model.steps.map((step) => step.status));
          expect(last.results).toEqual(
            names.map((name) => outputs.find(([, o]) => o.kind === 'step' && o.hook === name)![1]),
          );
          expect(last.timed_out).toEqual(model.timedOut);
          expect(last.duration_ms).toBe(model.duration);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Hooks answering through Promises and async iterables
// ---------------------------------------------------------------------------------------------------

type AsyncKind = 'resolve' | 'reject' | 'asyncThrow' | 'iterable' | 'emptyIterable' | 'sync' | 'syncThrow';

describe('chainHooks / aggregateHooks property: Promise and async-iterable answers', () => {
  const asyncHook = fc.record({
    kind: fc.constantFrom<AsyncKind>(
      'resolve',
      'resolve',
      'reject',
      'asyncThrow',
      'iterable',
      'emptyIterable',
      'sync',
      'syncThrow',
    ),
    updates: fc.dictionary(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 9 }), { maxKeys: 2 }),
    stop: fc.boolean(),
    policy: fc.constantFrom<'fail-open' | 'fail-closed'>('fail-open', 'fail-closed'),
  });
  type AsyncSpec = typeof asyncHook extends fc.Arbitrary<infer S> ? S : never;

  const answerOf = (spec: AsyncSpec): HookResult => ({
    context_updates: spec.updates,
    ...(spec.stop ? { stop_chain: true } : {}),
  });
  const hooksOf = (specs: readonly AsyncSpec[]): FunctionHook[] =>
    specs.map((spec, h) => ({
      name: `h${h}`,
      errorPolicy: spec.policy,
      run: (): HookResult | ObservableInput<HookResult> => {
        switch (spec.kind) {
          case 'resolve':
            return Promise.resolve(answerOf(spec));
          case 'reject':
            return Promise.reject(new Error('rejected'));
          case 'asyncThrow':
            return (async () => {
              await null;
              throw new Error('async throw');
            })();
          case 'iterable':
            return (async function* () {
              yield answerOf(spec);
              yield { score: 99 };
            })();
          case 'emptyIterable':
            return (async function* (): AsyncGenerator<HookResult> {})();
          case 'sync':
            return answerOf(spec);
          default:
            throw new Error('sync throw');
        }
      },
    }));
  const statusOf = (spec: AsyncSpec) =>
    spec.kind === 'reject' || spec.kind === 'asyncThrow' || spec.kind === 'syncThrow'
      ? 'failed'
      : 'completed';
  const updatesOf = (spec: AsyncSpec) =>
    spec.kind === 'emptyIterable' || statusOf(spec) === 'failed' ? {} : spec.updates;

  it('chains: every context one result, the fold as modelled, steps before their result', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(asyncHook, { maxLength: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(0, 1, 2, Number.POSITIVE_INFINITY),
        async (specs, n, concurrency, maxQueued) => {
          const contexts = Array.from({ length: n }, (_, i) => ({ i, session_id: `s${i}` }));
          // No timer is armed (timeoutMs Infinity): nothing here depends on the wall clock.
          const outputs = await lastValueFrom(
            from(contexts).pipe(
              chainHooks(
                { name: 'async', hooks: hooksOf(specs) },
                { concurrency, maxQueued, timeoutMs: Infinity },
              ),
              toArray(),
            ),
          );
          // The model: fold, and which contexts the synchronous burst rejects.
          let context: Record<string, unknown> = {};
          const statuses: string[] = [];
          let outcome = 'completed';
          for (const spec of specs) {
            const status = statusOf(spec);
            statuses.push(status);
            context = { ...context, ...updatesOf(spec) };
            if (status === 'failed' && spec.policy === 'fail-closed') outcome = 'failed';
            else if (status === 'completed' && spec.stop && spec.kind !== 'emptyIterable')
              outcome = 'stopped';
            if (outcome !== 'completed') break;
          }
          const takesTime = specs.slice(0, statuses.length).some((spec) => !spec.kind.startsWith('sync'));
          const rejected = contexts.map((_, i) => takesTime && i >= concurrency + maxQueued);
          const results = outputs.flatMap((o) => (o.kind === 'result' ? [o] : []));
          expect(results.map((r) => r.final_context.i).sort()).toEqual(contexts.map((c) => c.i));
          for (const r of results) {
            const i = r.final_context.i as number;
            if (rejected[i]) {
              expect(r.outcome).toBe('rejected');
              continue;
            }
            expect(r.outcome).toBe(outcome);
            expect(r.results.map((step) => step.status)).toEqual(statuses);
            expect(r.final_context).toEqual({ i, session_id: `s${i}`, ...context });
            // Its steps came out before it.
            const at = outputs.indexOf(r);
            for (const step of r.results) expect(outputs.indexOf(step)).toBeLessThan(at);
          }
          expect(outputs.length).toBe(
            results.length + contexts.filter((_, i) => !rejected[i]).length * statuses.length,
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('aggregations: every context one aggregate, each hook its status, in hook order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(asyncHook, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        async (specs, n, concurrency) => {
          const contexts = Array.from({ length: n }, (_, i) => ({ i }));
          const source = new Subject<{ i: number }>();
          const done = lastValueFrom(
            source.pipe(
              aggregateHooks(hooksOf(specs), (steps) => steps.map((step) => step.status), {
                concurrency,
                timeoutMs: Infinity,
                deadlineMs: Infinity,
              }),
              toArray(),
            ),
          );
          for (const context of contexts) source.next(context);
          source.complete();
          const outputs = await done;
          const aggregates = outputs.flatMap((o) => (o.kind === 'aggregate' ? [o] : []));
          expect(aggregates.length).toBe(n);
          for (const a of aggregates) {
            expect(a.aggregate).toEqual(specs.map(statusOf));
            expect(a.results.map((step) => step.hook)).toEqual(specs.map((_, h) => `h${h}`));
            expect(a.timed_out).toEqual([]);
          }
          expect(outputs.length).toBe(n * (specs.length + 1));
        },
      ),
      { numRuns: 100 },
    );
  });
});

/**
 * Runs `scheduler`'s actions one at a time, letting Promises settle before each (their answers come in
 * microtasks, before the clock moves on), until `done()`.
 */
async function stepUntil(scheduler: VirtualTimeScheduler, done: () => boolean): Promise<void> {
  for (let idle = 0; !done(); ) {
    await new Promise((resolve) => setImmediate(resolve));
    if (done()) return;
    const action = scheduler.actions.shift();
    if (action === undefined) {
      if (++idle > 20) throw new Error('nothing scheduled, and not done');
      continue;
    }
    scheduler.frame = action.delay;
    const error: unknown = action.execute(action.state, action.delay);
    if (error) throw error;
  }
}

type ClockKind = 'resolve' | 'reject' | 'hang' | 'late' | 'iterable' | 'sync';

describe('chainHooks property: Promise answers and timeouts on a virtual clock', () => {
  const clockHook = fc.record({
    kind: fc.constantFrom<ClockKind>('resolve', 'resolve', 'reject', 'hang', 'late', 'iterable', 'sync'),
    updates: fc.dictionary(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 9 }), { maxKeys: 2 }),
    policy: fc.constantFrom<'fail-open' | 'fail-closed'>('fail-open', 'fail-closed'),
  });

  it('a Promise never settled, or settled once aborted, times out at its timeoutMs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(clockHook, { maxLength: 4 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        async (specs, n, concurrency) => {
          const scheduler = new VirtualTimeScheduler();
          const calls: Array<{ kind: ClockKind; signal: AbortSignal }> = [];
          const hooks: FunctionHook[] = specs.map((spec, h) => ({
            name: `h${h}`,
            errorPolicy: spec.policy,
            run: (_context, { signal }): HookResult | ObservableInput<HookResult> => {
              calls.push({ kind: spec.kind, signal });
              const answer: HookResult = { context_updates: spec.updates };
              switch (spec.kind) {
                case 'resolve':
                  return Promise.resolve(answer);
                case 'reject':
                  return Promise.reject(new Error('rejected'));
                case 'hang':
                  return new Promise<HookResult>(() => {});
                case 'late':
                  // Answers once cancelled: too late, the step is already timed out.
                  return new Promise<HookResult>((resolve) =>
                    signal.addEventListener('abort', () => resolve({ stop_chain: true, ...answer })),
                  );
                case 'iterable':
                  return (async function* () {
                    await null;
                    yield answer;
                  })();
                default:
                  return answer;
              }
            },
          }));
          const outputs: HookChainOutput[] = [];
          let done = false;
          from(Array.from({ length: n }, (_, i) => ({ i })))
            .pipe(chainHooks({ name: 'clock', hooks }, { concurrency, timeoutMs: 5, scheduler }))
            .subscribe({ next: (o) => outputs.push(o), complete: () => (done = true) });
          await stepUntil(scheduler, () => done);

          let context: Record<string, unknown> = {};
          const statuses: string[] = [];
          let outcome = 'completed';
          for (const spec of specs) {
            const status =
              spec.kind === 'reject'
                ? 'failed'
                : spec.kind === 'hang' || spec.kind === 'late'
                  ? 'timed_out'
                  : 'completed';
            statuses.push(status);
            if (status === 'completed') context = { ...context, ...spec.updates };
            else if (spec.policy === 'fail-closed') outcome = 'failed';
            if (outcome !== 'completed') break;
          }
          const duration = 5 * statuses.filter((status) => status === 'timed_out').length;
          const results = outputs.flatMap((o) => (o.kind === 'result' ? [o] : []));
          expect(results.map((r) => r.final_context.i).sort()).toEqual(
            Array.from({ length: n }, (_, i) => i),
          );
          for (const r of results) {
            expect(r.outcome).toBe(outcome);
            expect(r.results.map((step) => step.status)).toEqual(statuses);
            expect(r.final_context).toEqual({ i: r.final_context.i, ...context });
            expect(r.duration_ms).toBe(duration);
            for (const step of r.results) {
              if (step.status === 'timed_out') expect(step.error.code).toBe('HOOK_TIMEOUT');
              if (step.status === 'failed') expect(step.error.code).toBe('HOOK_FAILED');
            }
          }
          expect(outputs.length).toBe(n * (statuses.length + 1));
          // The signal is aborted for the hooks cancelled by their timeout, and for no other.
          for (const call of calls)
            expect(call.signal.aborted).toBe(call.kind === 'hang' || call.kind === 'late');
          expect(calls.length).toBe(n * statuses.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('chainHooks / aggregateHooks property: take(k) on a synchronous source', () => {
  it('stops the source at once: the outputs before, no hook called after, nothing left running', () => {
    fc.assert(
      fc.property(
        specMatrix(fc.constant(7), 1, 3).map((matrix) =>
          // Every hook answers within its call: the whole run is synchronous.
          matrix.map((row) =>
            row.map((spec) => ({ ...spec, sync: true, kind: spec.kind === 'never' ? 'value' : spec.kind })),
          ),
        ),
        fc.integer({ min: 0, max: 7 }),
        fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.integer({ min: 0, max: 2 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 20 }),
        (matrix, n, concurrency, maxQueued, aggregate, leave) => {
          const names = matrix[0]!.map((_, h) => `h${h}`);
          const run = (leaveAfter: number | undefined) => {
            const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
            const probe = new Probe(scheduler);
            const outputs: string[] = [];
            const callsAt: number[] = [];
            const hooks = names.map((name, h) =>
              makeHook(
                name,
                matrix.map((row) => row[h]!),
                probe,
                scheduler.createColdObservable.bind(scheduler) as TestScheduler['createColdObservable'],
              ),
            );
            const options = { concurrency, maxQueued, scheduler };
            const operator: OperatorFunction<
              Record<string, unknown>,
              HookChainOutput | HookAggregationOutput<unknown>
            > = aggregate
              ? aggregateHooks(hooks, (steps) => steps.length, { ...options, name: 'agg' })
              : chainHooks({ name: 'c', hooks }, options);
            // take(k): leaves from inside the k-th output, as a subscriber's own unsubscribe would.
            from(Array.from({ length: n }, (_, i) => ({ i, session_id: `s${i}` })))
              .pipe(operator, take(leaveAfter ?? Number.POSITIVE_INFINITY))
              .subscribe((o) => {
                outputs.push(labelOf(o));
                callsAt.push(probe.calls.length);
              });
            return { outputs, callsAt, probe };
          };
          const full = run(undefined);
          // Without leaving: every context one record (a synchronous run never leaves one waiting).
          expect(full.outputs.filter((label) => !/^\d+:h\d+:/.test(label)).length).toBe(n);
          if (leave > full.outputs.length) return;
          const cut = run(leave);
          expect(cut.outputs).toEqual(full.outputs.slice(0, leave));
          expect(cut.probe.calls.length).toBe(full.callsAt[leave - 1]);
          expect(cut.probe.running).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
