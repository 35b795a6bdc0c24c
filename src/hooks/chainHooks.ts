import { map, type OperatorFunction } from 'rxjs';
import { optionKeys, readFields, rejectUnknownKeys } from '../errors.js';
import { checkCount, checkPositiveInteger, contextChecked, DEFAULT_MAX_QUEUED } from './options.js';
import { boundedRuns, overflowEvent, type Rejection } from './queue.js';
import { sessionIdOf } from './runHook.js';
import { type PreparedChain, prepareChain, runPreparedChain } from './runHookChain.js';
import type { HookChain, HookChainOutput, HookChainResult, HookContext, HookRunOptions } from './types.js';

/** Options of `chainHooks`. */
export interface ChainHooksOptions extends HookRunOptions {
  /**
   * How many chain runs may be active at once. Default 1: runs never overlap, a context waits for the
   * run before it to end (as `concatMap`), and the steps of one run are never interleaved with another
   * run's outputs — only a rejection (below) may come between them. Above 1 runs overlap (as
   * `mergeMap`): tell their outputs apart by the result's `final_context` or the steps' events.
   */
  concurrency?: number | undefined;
  /**
   * Most contexts waiting for a run to end. A context that arrives when that many wait is not run:
   * it yields at once a result with outcome `rejected` (code `BUFFER_OVERFLOW`), and the stream goes
   * on. Default 10,000; `Infinity` for no limit.
   */
  maxQueued?: number | undefined;
}

const OPTION_KEYS = optionKeys<ChainHooksOptions>({
  scheduler: true,
  timeoutMs: true,
  errorPolicy: true,
  maxOutputBytes: true,
  sessionId: true,
  concurrency: true,
  maxQueued: true,
});

/** The final record of a context the queue had no room for: no hook ran. */
function rejectedChain(chain: PreparedChain, context: HookContext, rejection: Rejection): HookChainResult {
  const { name, hooks, defaults } = chain;
  const skipped = hooks.map((hook) => hook.name);
  return {
    kind: 'result',
    chain_name: name,
    outcome: 'rejected',
    results: [],
    final_context: { ...context },
    skipped,
    duration_ms: 0,
    error: rejection.error,
    event: overflowEvent(rejection, {
      chain: name,
      hooks: skipped,
      scheduler: defaults.scheduler,
      sessionId: sessionIdOf(defaults, context),
    }),
  };
}

/**
 * Runs a hook chain on each incoming context: the operator form of `runHookChain`. Emits, for every
 * context in turn, its steps and then its `HookChainResult`. Runs do not overlap unless
 * `concurrency` > 1.
 *
 * Every context yields exactly one result. One that arrives while `maxQueued` contexts already wait
 * is not run: its result, emitted at once, has outcome `rejected`, no steps, every hook in `skipped`,
 * `error` (a `VibespecError` with code `BUFFER_OVERFLOW`) and `event` (a `hooks.overflow` event, kept
 * by `hookEvents()`). The queued and running contexts go on as if it had not come.
 *
 * A context that is not an object of fields (a string, an array, a `Map`, a `Date`: see `runHook`; `null`
 * or `undefined` is `{}`) is the source's
 * error, a `ConfigError`: it yields nothing, and the contexts before it run to their results.
 *
 * The source's completion waits for the active and queued runs, and so does its error: no context is
 * taken after it, the running and waiting ones run to their results (each hook's timeout still
 * applies), and then the error is forwarded — at once if none runs or waits. Unsubscribing cancels
 * everything at once instead (killing running command hooks): the queued contexts never run. A consumer
 * that throws on an output ends the input as the source's error does: every context taken still runs to
 * its result, then its exception (the source's error if that came first) errors the stream.
 *
 * ```
 * chain:    [h], h answers after 4 frames
 * source:   -ab|
 * h:         ----x|              (run for a)
 * h:             ----x|          (run for b: starts when the run for a ends)
 * result:   -----(SR)(SR|)       S = step, R = chain result
 *
 * the source fails while a runs and b, c wait
 * source:   -abc#
 * result:   -----(SR)(SR)(SR#)   every context's result, then the error
 *
 * maxQueued 1: a runs, b waits, c finds the queue full
 * source:   -abc|
 * result:   ---X-(SR)(SR|)       X = c's result, outcome 'rejected', at once
 * ```
 *
 * ## Examples
 * ```ts
 * // One pre-commit chain run per commit request, in order; the hook events go to the store.
 * const runs$ = commits$.pipe(chainHooks(preCommit), share());
 * runs$.pipe(hookEvents(), persist(store)).subscribe();
 * runs$.pipe(filter((o) => o.kind === 'result')).subscribe((r) =>
 *   r.outcome === 'rejected' ? retryLater(r.final_context) : report(r),
 * );
 * ```
 *
 * @param chain `{ name, hooks }`.
 * @param options the run defaults of `runHookChain`, plus `concurrency` (1) and `maxQueued` (10,000).
 * @return an operator from contexts to `HookChainOutput`s.
 * @throws ConfigError at once when the chain, a hook or an option is malformed, a command hook has an
 *   unknown field, or an option's name is unknown (named with the nearest known one).
 */
export function chainHooks<C extends object = HookContext>(
  chain: HookChain,
  options?: ChainHooksOptions,
): OperatorFunction<C, HookChainOutput> {
  rejectUnknownKeys('chainHooks', options, OPTION_KEYS);
  options = readFields(options, OPTION_KEYS);
  const prepared = prepareChain('chainHooks', chain, options);
  const concurrency = checkPositiveInteger('chainHooks', 'concurrency', options?.concurrency, 1);
  const maxQueued = checkCount('chainHooks', 'maxQueued', options?.maxQueued, DEFAULT_MAX_QUEUED);
  const where = `chainHooks "${prepared.name}"`;
  const runs = boundedRuns<C, HookChainOutput>({
    where,
    run: (context) => runPreparedChain(prepared, context as HookContext),
    reject: (context, rejection) => rejectedChain(prepared, context as HookContext, rejection),
    concurrency,
    maxQueued,
  });
  // A context that is not an object is the source's error: the contexts before it are still run.
  return (source) => runs(source.pipe(map(contextChecked<C>(where))));
}
