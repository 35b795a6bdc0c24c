import { concat, defer, map, merge, type Observable, type OperatorFunction, of, tap } from 'rxjs';
import { ConfigError, optionKeys, readFields, rejectUnknownKeys } from '../errors.js';
import { checkScheduler } from '../operators/internal/eventTime.js';
import {
  checkContext,
  checkCount,
  checkDuration,
  checkHooks,
  checkName,
  checkPositiveInteger,
  contextChecked,
  DEFAULT_MAX_QUEUED,
  DEFAULT_TIMEOUT_MS,
  isCommandHook,
  type RunDefaults,
  runDefaults,
} from './options.js';
import { boundedRuns, overflowEvent, type Rejection } from './queue.js';
import { isTimer, runStep, sessionIdOf } from './runHook.js';
import type {
  Hook,
  HookAggregationOutput,
  HookAggregationResult,
  HookAggregator,
  HookContext,
  HookRunOptions,
  HookStep,
  NotRunStep,
} from './types.js';

/** Options of `runHookAggregation`. */
export interface RunHookAggregationOptions extends Omit<HookRunOptions, 'errorPolicy'> {
  /** The aggregation's name, in its result and in every step's event (`aggregation`). Default `'aggregation'`. */
  name?: string | undefined;
  /**
   * When, in ms after the run starts (on the scheduler), the hooks still running are cancelled and
   * recorded as `timed_out`, and what has arrived is aggregated. A hook's own `timeoutMs` still
   * applies when it is shorter. Default 60,000; `Infinity` (or any value above 2,147,483,647 ms, the
   * longest timer Node can hold) to wait for every hook.
   */
  deadlineMs?: number | undefined;
}

/** Options of `aggregateHooks`. */
export interface AggregateHooksOptions extends RunHookAggregationOptions {
  /** How many aggregation runs may be active at once. Default 1 (runs never overlap). */
  concurrency?: number | undefined;
  /**
   * Most contexts waiting for a run. A context that arrives when that many wait is not run: it yields
   * at once an aggregate of `not_run` steps with `error` (code `BUFFER_OVERFLOW`), and the stream goes
   * on. Default 10,000; `Infinity` for no limit.
   */
  maxQueued?: number | undefined;
}

const RUN_AGGREGATION_FIELDS = {
  scheduler: true,
  timeoutMs: true,
  maxOutputBytes: true,
  sessionId: true,
  name: true,
  deadlineMs: true,
} as const;
const RUN_AGGREGATION_KEYS = optionKeys<RunHookAggregationOptions>(RUN_AGGREGATION_FIELDS);
const AGGREGATE_HOOKS_KEYS = optionKeys<AggregateHooksOptions>({
  ...RUN_AGGREGATION_FIELDS,
  concurrency: true,
  maxQueued: true,
});

interface PreparedAggregation<R> {
  readonly name: string;
  readonly hooks: readonly Hook[];
  readonly aggregator: HookAggregator<R>;
  readonly deadlineMs: number;
  readonly defaults: RunDefaults;
}

function prepareAggregation<R>(
  where: string,
  hooks: readonly Hook[],
  aggregator: HookAggregator<R>,
  options: RunHookAggregationOptions | undefined,
): PreparedAggregation<R> {
  if (typeof aggregator !== 'function') throw new ConfigError(`${where}: aggregator must be a function`);
  const name = options?.name === undefined ? 'aggregation' : checkName(where, options.name, 'name');
  checkScheduler(where, options?.scheduler);
  return {
    name,
    hooks: checkHooks(`${where} "${name}"`, hooks, true),
    aggregator,
    deadlineMs: checkDuration(where, 'deadlineMs', options?.deadlineMs, DEFAULT_TIMEOUT_MS),
    defaults: runDefaults(where, options),
  };
}

function runPreparedAggregation<R>(
  prepared: PreparedAggregation<R>,
  context: HookContext,
): Observable<HookAggregationOutput<R>> {
  return defer(() => {
    const { name, hooks, aggregator, defaults } = prepared;
    const start = defaults.scheduler.now();
    const deadlineMs = isTimer(prepared.deadlineMs) ? prepared.deadlineMs : undefined;
    const steps = new Array<HookStep>(hooks.length);
    // Every hook starts now, with the same deadline: each one still running then times out (and is
    // cancelled) at the deadline, so the aggregate follows at once.
    // No context (null or undefined, from JavaScript) is the empty one, as runHook and runHookChain take
    // it: a command hook read 'null' on stdin, or was not started (undefined is no JSON).
    const given = context ?? {};
    const runs = hooks.map((hook, index) =>
      runStep(
        hook,
        given,
        { aggregation: name, index, ...(deadlineMs === undefined ? {} : { deadlineMs }) },
        defaults,
      ).pipe(
        tap((step) => {
          steps[index] = step;
        }),
      ),
    );
    const final = defer(() => {
      const result: HookAggregationResult<R> = {
        kind: 'aggregate',
        aggregation: name,
        // A throwing aggregator errors the run: defer turns the throw into an error notification.
        aggregate: aggregator(steps),
        results: steps,
        timed_out: steps.filter((step) => step.status === 'timed_out').map((step) => step.hook),
        duration_ms: defaults.scheduler.now() - start,
      };
      return of(result);
    });
    return concat(merge(...runs), final);
  });
}

/**
 * The final record of a context the queue had no room for: every hook `not_run`, aggregated all the
 * same, so that an aggregator's verdict covers it (`validationResult` does not pass it). An aggregator
 * that throws errors the stream, as it does for a run.
 */
function rejectedAggregation<R>(
  prepared: PreparedAggregation<R>,
  context: HookContext,
  rejection: Rejection,
): HookAggregationResult<R> {
  const { name, hooks, aggregator, defaults } = prepared;
  const steps = hooks.map(
    (hook, index): NotRunStep => ({
      kind: 'step',
      status: 'not_run',
      hook: hook.name,
      index,
      hook_kind: isCommandHook(hook) ? 'command' : 'function',
      aggregation: name,
      duration_ms: 0,
      error: rejection.error,
    }),
  );
  return {
    kind: 'aggregate',
    aggregation: name,
    aggregate: aggregator(steps),
    results: steps,
    timed_out: [],
    duration_ms: 0,
    error: rejection.error,
    context: { ...context },
    event: overflowEvent(rejection, {
      aggregation: name,
      hooks: hooks.map((hook) => hook.name),
      scheduler: defaults.scheduler,
      sessionId: sessionIdOf(defaults, context),
    }),
  };
}

/**
 * Runs hooks in parallel on one context and combines their answers with `aggregator`. Emits each
 * hook's step as it ends (arrival order), then `{ kind: 'aggregate', aggregate, results, timed_out }`
 * where `results` is in hook order. At `deadlineMs` the hooks still running are cancelled (a command
 * hook's process group is killed) and recorded as `timed_out` steps, and what has arrived is
 * aggregated. Failures are recorded, never thrown; the aggregator sees every step and decides (see
 * `reviewSummary`, `validationResult`). An aggregator that throws errors the Observable.
 *
 * ```
 * hooks:     a, b, c; deadlineMs = 5
 * a:         --x|
 * b:         ----y|
 * c:         --------z|      (cancelled at the deadline)
 * c subs:    ^----!
 * result:    --A-B(CR|)      A, B = completed steps, C = timed_out step, R = aggregate
 * ```
 *
 * ## Examples
 * ```ts
 * runHookAggregation([compliance, reviewer, uiEnhancer], { diff }, reviewSummary, { deadlineMs: 20_000 })
 *   .pipe(filter((o) => o.kind === 'aggregate'))
 *   .subscribe((r) => console.log(r.aggregate.overall_score, r.timed_out));
 * ```
 *
 * @param hooks function and command hooks, with distinct names.
 * @param context what every hook is given: an object (`null` or `undefined` is `{}`).
 * @param aggregator combines the steps (in hook order) into the aggregate.
 * @param options `name`, `deadlineMs` (60,000), `scheduler`, and the hook defaults `timeoutMs`,
 *   `maxOutputBytes`, `sessionId`.
 * @return an Observable of `HookStep`s then one `HookAggregationResult`, then complete.
 * @throws ConfigError at once when a hook or an option is malformed, or two hooks share a name, or
 *   an option's name is unknown (named with the nearest known one), or the context is not an object
 *   of fields (a string, an array, a `Map`, a `Date`: see `runHook`).
 */
export function runHookAggregation<R>(
  hooks: readonly Hook[],
  context: object,
  aggregator: HookAggregator<R>,
  options?: RunHookAggregationOptions,
): Observable<HookAggregationOutput<R>> {
  rejectUnknownKeys('runHookAggregation', options, RUN_AGGREGATION_KEYS);
  options = readFields(options, RUN_AGGREGATION_KEYS);
  const prepared = prepareAggregation('runHookAggregation', hooks, aggregator, options);
  return runPreparedAggregation(prepared, checkContext('runHookAggregation', context));
}

/**
 * Runs the hooks in parallel on each incoming context and aggregates their answers: the operator form
 * of `runHookAggregation`. For each context in turn: its steps as they end, then its aggregate; at the
 * deadline, the hooks still running are cancelled and recorded as timed out. Runs do not overlap
 * unless `concurrency` > 1.
 *
 * Every context yields exactly one aggregate. One that arrives while `maxQueued` contexts already
 * wait is not run: its aggregate, emitted at once, has one `not_run` step per hook (the aggregator
 * sees them, so `validationResult` fails it and `reviewSummary` lists every hook as missing), `error`
 * (a `VibespecError` with code `BUFFER_OVERFLOW`), `context` (the one not run) and `event` (a
 * `hooks.overflow` event, kept by `hookEvents()`). The queued and running contexts go on as if it had
 * not come.
 *
 * A context that is not an object of fields (a string, an array, a `Map`, a `Date`: see `runHook`; `null`
 * or `undefined` is `{}`) is the source's
 * error, a `ConfigError`: it yields nothing, and the contexts before it run to their aggregates.
 *
 * The source's completion waits for the active and queued runs, and so does its error: no context is
 * taken after it, the running and waiting ones are aggregated (deadlines and timeouts still apply),
 * and then the error is forwarded — at once if none runs or waits. Unsubscribing cancels everything at
 * once instead (killing running command hooks). An aggregator that throws meanwhile errors the stream
 * at once with its own error, as it always does. A consumer that throws on an output ends the input as
 * the source's error does: every context taken is still aggregated, then its exception (the source's
 * error if that came first) errors the stream.
 *
 * ```
 * hooks:     a (answers after 1 frame), b (after 3 frames); deadlineMs = 2
 * source:    -c-----|
 * result:    --A(BR)|        A = a's step, B = b timed out at the deadline, R = aggregate
 *
 * hooks:     a (answers after 2 frames); maxQueued 0: c runs, d finds no free run and no room to wait
 * source:    -cd|
 * result:    --X(AR|)        X = d's aggregate, every hook not_run, at once; then c's
 *
 * hooks:     a (answers after 4 frames); the source fails while c runs and d waits
 * source:    -cd#
 * result:    -----(AR)(AR#)  c's step and aggregate, then d's, then the error
 * ```
 *
 * ## Examples
 * ```ts
 * subagentStops$.pipe(
 *   map((event) => event.data),
 *   aggregateHooks([specGuardian, compliance], validationResult, { deadlineMs: 30_000 }),
 *   filter((o) => o.kind === 'aggregate'),
 * ).subscribe((r) => (r.aggregate.passed ? accept() : reject(r.aggregate.reasons)));
 * ```
 *
 * @param hooks function and command hooks, with distinct names.
 * @param aggregator combines the steps (in hook order) into the aggregate.
 * @param options those of `runHookAggregation`, plus `concurrency` (1) and `maxQueued` (10,000).
 * @return an operator from contexts to `HookAggregationOutput`s.
 * @throws ConfigError at once when a hook or an option is malformed, or two hooks share a name, or
 *   an option's name is unknown (named with the nearest known one).
 */
export function aggregateHooks<R, C extends object = HookContext>(
  hooks: readonly Hook[],
  aggregator: HookAggregator<R>,
  options?: AggregateHooksOptions,
): OperatorFunction<C, HookAggregationOutput<R>> {
  rejectUnknownKeys('aggregateHooks', options, AGGREGATE_HOOKS_KEYS);
  options = readFields(options, AGGREGATE_HOOKS_KEYS);
  const prepared = prepareAggregation('aggregateHooks', hooks, aggregator, options);
  const concurrency = checkPositiveInteger('aggregateHooks', 'concurrency', options?.concurrency, 1);
  const maxQueued = checkCount('aggregateHooks', 'maxQueued', options?.maxQueued, DEFAULT_MAX_QUEUED);
  const where = `aggregateHooks "${prepared.name}"`;
  const runs = boundedRuns<C, HookAggregationOutput<R>>({
    where,
    run: (context) => runPreparedAggregation(prepared, context as HookContext),
    reject: (context, rejection) => rejectedAggregation(prepared, context as HookContext, rejection),
    concurrency,
    maxQueued,
  });
  // A context that is not an object is the source's error: the contexts before it are still run.
  return (source) => runs(source.pipe(map(contextChecked<C>(where))));
}
