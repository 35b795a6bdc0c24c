import { defer, from, isObservable, map, Observable, of, type SchedulerLike, Subscription, take } from 'rxjs';
import { HookError, readFields, rejectUnknownKeys } from '../errors.js';
import { createEvent, Priority } from '../event.js';
import { cancellable, checkScheduler, MAX_TIMER_MS } from '../operators/internal/eventTime.js';
import { isRecord } from '../streams/payload.js';
import { runCommand } from './command.js';
import {
  checkContext,
  checkHook,
  isCommandHook,
  RUN_OPTION_KEYS,
  type RunDefaults,
  runDefaults,
} from './options.js';
import { forMessage, parseAnswer, type RawOutcome, toHookError, unreadable } from './outcome.js';
import type {
  CommandDetail,
  ErrorPolicy,
  FunctionHook,
  Hook,
  HookContext,
  HookEvent,
  HookEventData,
  HookEventType,
  HookResult,
  HookRunOptions,
  HookStatus,
  HookStep,
} from './types.js';

/**
 * Whether `ms` is a timeout to arm (a finite delay a timer can hold), rather than "no timeout": a longer
 * timer fires at once in Node (setTimeout's 32-bit limit).
 */
export function isTimer(ms: number): boolean {
  return Number.isFinite(ms) && ms <= MAX_TIMER_MS;
}

/** Where a step runs: its chain or aggregation, and its position there. */
export interface StepPlace {
  readonly chain?: string;
  readonly aggregation?: string;
  readonly index: number;
  /** An aggregation's deadline, in ms from the start: the hook is timed out then if it has not answered. */
  readonly deadlineMs?: number;
}

const EVENT_TYPE: Record<HookStatus, HookEventType> = {
  completed: 'hook.completed',
  blocked: 'hook.failed',
  failed: 'hook.failed',
  timed_out: 'hook.timed_out',
};

// Symbol.observable where a polyfill defines it; RxJS also looks for the '@@observable' key.
const OBSERVABLE: symbol | undefined = (Symbol as { observable?: symbol }).observable;

/** Whether `from()` accepts the value; anything else a function hook returns is its answer itself. */
function isObservableInput(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<PropertyKey, unknown>;
  return (
    isObservable(value) ||
    Array.isArray(value) ||
    typeof v.then === 'function' ||
    typeof v[Symbol.asyncIterator] === 'function' ||
    typeof v[Symbol.iterator] === 'function' ||
    typeof v.getReader === 'function' ||
    typeof v['@@observable'] === 'function' ||
    (OBSERVABLE !== undefined && typeof v[OBSERVABLE] === 'function')
  );
}

/** A function hook's outcome: its first answer, validated; a throw or an error is a failure. */
function runFunction(hook: FunctionHook, context: HookContext, place: StepPlace): Observable<RawOutcome> {
  return new Observable<RawOutcome>((subscriber) => {
    const controller = new AbortController();
    let answered = false;
    const answer = (outcome: RawOutcome) => {
      answered = true;
      subscriber.next(outcome);
      subscriber.complete();
    };
    let input: unknown;
    try {
      // A shallow copy: a hook that mutates its argument does not change what the next hooks see.
      input = hook.run(
        { ...context },
        {
          signal: controller.signal,
          hook: hook.name,
          index: place.index,
          ...(place.chain !== undefined ? { chain: place.chain } : {}),
          ...(place.aggregation !== undefined ? { chain: place.aggregation } : {}),
        },
      );
    } catch (error) {
      answer({ ok: false, error: toHookError(hook.name, error) });
      return;
    }
    let answers: Observable<unknown> | undefined;
    try {
      if (isObservableInput(input)) answers = from(input as Observable<unknown>);
    } catch (error) {
      // Looking at the answer threw (a `then` getter, a proxy trap).
      answer(unreadable(hook.name, error));
      return;
    }
    if (answers === undefined) {
      // A plain result (or undefined) returned synchronously.
      answer(parseAnswer(hook.name, input));
      return;
    }
    const subscription = answers.pipe(take(1)).subscribe({
      next: (value) => answer(parseAnswer(hook.name, value)),
      error: (error: unknown) => answer({ ok: false, error: toHookError(hook.name, error) }),
      complete: () => {
        if (!answered) answer({ ok: true, result: {} });
      },
    });
    return () => {
      try {
        subscription.unsubscribe();
      } catch {
        // The answer's own teardown threw (an UnsubscriptionError). The step is already decided
        // (answered, timed out, cut by the deadline or cancelled): thrown on, it would error the whole
        // run (a chain, every context of chainHooks) or reach the caller of unsubscribe().
      }
      if (!answered) controller.abort();
    };
  });
}

function defined<T extends Record<string, unknown>>(fields: T): T {
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    if (fields[key] !== undefined) out[key] = fields[key];
  }
  return out as T;
}

/**
 * Internal: the `sessionId` of a run's events: the run's option, or else the context's `session_id`.
 * A context of `null` or `undefined` (from untyped code) has none: read as a record, it threw, erroring
 * an aggregation's run and a rejection (a runHookChain copies its context, so it ran as `{}`).
 */
export function sessionIdOf(
  defaults: RunDefaults,
  context: HookContext | null | undefined,
): string | undefined {
  if (defaults.sessionId !== undefined) return defaults.sessionId;
  const id = context?.session_id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/**
 * Internal: runs one hook and emits its step (once), then completes. Never errors: every way a hook
 * can go wrong is a step. Unsubscribing before the step cancels the hook (and kills a command's group).
 */
export function runStep(
  hook: Hook,
  context: HookContext,
  place: StepPlace,
  defaults: RunDefaults,
): Observable<HookStep> {
  return defer(() => {
    const { scheduler } = defaults;
    const start = scheduler.now();
    const ownTimeoutMs = hook.timeoutMs ?? defaults.timeoutMs;
    const byDeadline = place.deadlineMs !== undefined && place.deadlineMs < ownTimeoutMs;
    const timeoutMs = byDeadline ? place.deadlineMs! : ownTimeoutMs;
    const policy: ErrorPolicy = hook.errorPolicy ?? defaults.errorPolicy;
    const command = isCommandHook(hook);
    // A running command's process, for a step that ends before the process does (a timeout).
    let running: (() => CommandDetail) | undefined;

    let source: Observable<RawOutcome>;
    if (command) {
      let input: string | undefined;
      let problem: unknown;
      try {
        // The shallow copy a function hook is given (and a chain's command hooks): a context's own
        // `toJSON` (a Date, a class instance) gave the hook a JSON string, not the object it is.
        input = JSON.stringify({ ...context });
      } catch (error) {
        problem = error;
      }
      source =
        input === undefined
          ? of({
              ok: false,
              error: new HookError(
                'HOOK_FAILED',
                `hook "${hook.name}" was not started: its context is not JSON-serialisable${problem instanceof Error ? ` (${problem.message})` : ''}`,
                { hook: hook.name, cause: problem },
              ),
            })
          : runCommand(hook, input, hook.maxOutputBytes ?? defaults.maxOutputBytes, (snapshot) => {
              running = snapshot;
            });
    } else {
      source = runFunction(hook, context, place);
    }

    if (isTimer(timeoutMs)) {
      source = withTimeout(
        source,
        timeoutMs,
        scheduler,
        () => ({
          ok: false,
          error: new HookError(
            'HOOK_TIMEOUT',
            byDeadline
              ? `hook "${hook.name}" did not answer by the deadline of its aggregation (${timeoutMs} ms)`
              : `hook "${hook.name}" did not answer within ${timeoutMs} ms`,
            { hook: hook.name },
          ),
        }),
        `hook "${hook.name}"'s timeout`,
      );
    }

    return source.pipe(
      map((outcome) => {
        const detail = outcome.process ?? running?.();
        const end = scheduler.now();
        const sessionId = sessionIdOf(defaults, context);
        return toStep({ hook, command, outcome, detail, place, policy, start, end, sessionId });
      }),
    );
  });
}

/**
 * Why `result` blocks, or `undefined` when it does not. Claude Code's JSON forms of a block:
 * `decision: 'block'` (with `reason`), and in `hookSpecificOutput` a PreToolUse hook's
 * `permissionDecision: 'deny'` (with `permissionDecisionReason`) or a PermissionRequest hook's
 * `decision: { behavior: 'deny' }` (with `message`).
 */
function blockReason(result: HookResult): string | undefined {
  if (result.decision === 'block') return result.reason ?? 'blocked';
  const specific = result.hookSpecificOutput;
  if (!isRecord(specific)) return undefined;
  if (specific.permissionDecision === 'deny') {
    return typeof specific.permissionDecisionReason === 'string'
      ? specific.permissionDecisionReason
      : 'denied';
  }
  const decision = specific.decision;
  if (isRecord(decision) && decision.behavior === 'deny') {
    return typeof decision.message === 'string' ? decision.message : 'denied';
  }
  return undefined;
}

interface StepInput {
  readonly hook: Hook;
  readonly command: boolean;
  readonly outcome: RawOutcome;
  readonly detail: CommandDetail | undefined;
  readonly place: StepPlace;
  readonly policy: ErrorPolicy;
  readonly start: number;
  readonly end: number;
  readonly sessionId: string | undefined;
}

function toStep({
  hook,
  command,
  outcome,
  detail,
  place,
  policy,
  start,
  end,
  sessionId,
}: StepInput): HookStep {
  let status: HookStatus;
  let error: HookError | undefined;
  let reason: string | undefined;
  if (outcome.ok) {
    const blocks = blockReason(outcome.result);
    if (blocks !== undefined) {
      status = 'blocked';
      reason = blocks;
      error = new HookError('HOOK_BLOCKED', `hook "${hook.name}" blocks: ${forMessage(reason)}`, {
        hook: hook.name,
      });
    } else {
      status = 'completed';
    }
  } else {
    error = outcome.error;
    if (error.code === 'HOOK_BLOCKED') {
      status = 'blocked';
      reason = outcome.reason ?? error.message;
    } else {
      status = error.code === 'HOOK_TIMEOUT' ? 'timed_out' : 'failed';
    }
  }

  const hookKind = command ? 'command' : 'function';
  const made = createEvent<HookEventData>({
    type: EVENT_TYPE[status],
    priority: status === 'completed' ? Priority.NORMAL : Priority.HIGH,
    timestamp: end,
    data: defined<HookEventData>({
      hook: hook.name,
      chain: place.chain,
      aggregation: place.aggregation,
      index: place.index,
      hook_kind: hookKind,
      status,
      duration_ms: end - start,
      code: error?.code,
      error: error?.message,
      reason,
      score: outcome.ok ? outcome.result.score : undefined,
      pid: detail?.pid,
      exit_code: detail?.exit_code,
      signal: detail?.signal,
    }),
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  // Its type is EVENT_TYPE[status]. The cast is on a name, not on the literal: Stryker mutates nothing
  // inside an `as` expression (stryker-js#6227).
  const event = made as HookEvent;

  const base = {
    kind: 'step' as const,
    hook: hook.name,
    index: place.index,
    hook_kind: hookKind,
    ...(place.chain !== undefined ? { chain: place.chain } : {}),
    ...(place.aggregation !== undefined ? { aggregation: place.aggregation } : {}),
    duration_ms: end - start,
    event,
    ...(detail !== undefined ? { process: detail } : {}),
  } as const;
  if (status === 'completed' && outcome.ok) return { ...base, status, result: outcome.result };
  if (status === 'blocked') {
    return outcome.ok
      ? { ...base, status, reason: reason!, error: error!, result: outcome.result }
      : { ...base, status, reason: reason!, error: error! };
  }
  return { ...base, status: status as 'failed' | 'timed_out', error: error!, policy };
}

/**
 * Runs one hook, function or command, on `context` and emits its step, then completes. The
 * single-hook form of `runHookChain`: same timeout, validation and events, no chain.
 *
 * ```
 * hook:    ----r|            (answers r after 4 frames)
 * result:  ----(s|)          s = { kind: 'step', status: 'completed', result: r, event: hook.completed … }
 *
 * hook:    ---------r|       with timeoutMs = 5
 * hook subscriptions:  ^----!
 * result:  -----(t|)         t = { status: 'timed_out', error: HookError(HOOK_TIMEOUT) … }
 * ```
 *
 * ## Examples
 * ```ts
 * runHook({ name: 'lint', command: 'npx', args: ['eslint-hook'] }, { files }).subscribe((step) => {
 *   if (step.status !== 'completed') console.error(step.error.message);
 * });
 * ```
 *
 * @param hook a function hook (`{ name, run }`) or a command hook (`{ name, command, args? … }`).
 * @param context what the hook is given (as JSON on stdin for a command hook): an object; `null` or
 *   `undefined` is the empty context `{}`.
 * @param options scheduler, default timeout, output cap, session id of the event.
 * @return an Observable of exactly one `HookStep`; it never errors.
 * @throws ConfigError at once when the hook or an option is malformed, a command hook has an unknown
 *   field, an option's name is unknown (named with the nearest known one), or the context is not an
 *   object whose data is in its own fields: a string, a number, an array, a function, a boxed
 *   primitive, an `ArrayBuffer`, a typed array or `DataView`, an `arguments` object, a `Map`, `Set`,
 *   `WeakMap`, `WeakSet`, `Date`, `RegExp`, `Promise`, `WeakRef` or `FinalizationRegistry`, a `Map`,
 *   `Set` or `Array` iterator, a generator object (each of which a hook saw as `{}` or as index fields).
 */
export function runHook(hook: Hook, context: object, options?: HookRunOptions): Observable<HookStep> {
  checkHook('runHook', hook, 0);
  rejectUnknownKeys('runHook', options, RUN_OPTION_KEYS);
  options = readFields(options, RUN_OPTION_KEYS);
  checkScheduler('runHook', options?.scheduler);
  const defaults = runDefaults('runHook', options);
  // No context (null or undefined, from JavaScript) is the empty one, as runHookChain takes it; it made
  // the run error (its session id read from it) once the hook had run, and a command hook read `null`.
  return runStep(hook, checkContext('runHook', context), { index: 0 }, defaults);
}

/**
 * `source` (one outcome, then complete), or `timedOut()` if no outcome came within `ms` on `scheduler`;
 * `source` is then unsubscribed (the hook cancelled). An answer due at the very time of the timeout
 * counts as an answer, whenever it was scheduled: once due, the timeout gives way (a zero delay) to what
 * else is due at that time, so an answer put on the scheduler after the timer was (a hook waiting in two
 * stages, 1 ms then 2 ms, with timeoutMs 3; a delayed answer) is not timed out at its own due time,
 * as it was with RxJS's `timeout`. The scheduler runs plain closures: a user scheduler that calls the
 * work as `work(state)`, without its action as `this`, times out as any other (RxJS's `timeout` called
 * `this.unsubscribe()` there, a TypeError thrown out of the scheduler's timer).
 */
function withTimeout(
  source: Observable<RawOutcome>,
  ms: number,
  scheduler: SchedulerLike,
  timedOut: () => RawOutcome,
  where: string,
): Observable<RawOutcome> {
  return new Observable<RawOutcome>((subscriber) => {
    const timer = new Subscription();
    const answer = source.subscribe({
      next: (outcome) => {
        timer.unsubscribe();
        subscriber.next(outcome);
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        timer.unsubscribe();
        subscriber.complete();
      },
    });
    if (!subscriber.closed) {
      // A scheduler that cannot arm a timer (its schedule() throws or gives no Subscription) fails the run;
      // the hook it started is stopped first (a command's process group is killed).
      const arm = (work: () => void, delay?: number) => {
        try {
          timer.add(cancellable(scheduler.schedule(work, delay), where));
        } catch (error) {
          answer.unsubscribe();
          subscriber.error(error);
        }
      };
      arm(
        () =>
          arm(() => {
            answer.unsubscribe();
            subscriber.next(timedOut());
            subscriber.complete();
          }),
        ms,
      );
    }
    return () => {
      timer.unsubscribe();
      answer.unsubscribe();
    };
  });
}
