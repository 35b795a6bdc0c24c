import type { OperatorFunction } from 'rxjs';
import { checkCount, checkPositiveInteger, DEFAULT_MAX_QUEUED } from './options.js';
import { boundedMergeMap } from './queue.js';
import { prepareChain, runPreparedChain } from './runHookChain.js';
import type { HookChain, HookChainOutput, HookContext, HookRunOptions } from './types.js';

/** Options of `chainHooks`. */
export interface ChainHooksOptions extends HookRunOptions {
  /**
   * How many chain runs may be active at once. Default 1: runs never overlap, a context waits for the
   * run before it to end (as `concatMap`), and the outputs of one run are never interleaved with
   * another's. Above 1 runs overlap (as `mergeMap`): tell their outputs apart by the result's
   * `final_context` or the steps' events.
   */
  concurrency?: number;
  /**
   * Most contexts waiting for a run to end. One more errors the stream with `BUFFER_OVERFLOW` rather
   * than holding an unbounded queue. Default 10,000; `Infinity` for no limit.
   */
  maxQueued?: number;
}

/**
 * Runs a hook chain on each incoming context: the operator form of `runHookChain`. Emits, for every
 * context in turn, its steps and then its `HookChainResult`. Runs do not overlap unless
 * `concurrency` > 1.
 *
 * The source's completion waits for the active and queued runs; its error is forwarded at once and
 * cancels them (killing running command hooks), as does unsubscribing.
 *
 * ```
 * chain:    [h], h answers after 4 frames
 * source:   -ab|
 * h:         ----x|              (run for a)
 * h:             ----x|          (run for b: starts when the run for a ends)
 * result:   -----(SR)(SR|)       S = step, R = chain result
 * ```
 *
 * ## Examples
 * ```ts
 * // One pre-commit chain run per commit request, in order; the hook events go to the store.
 * const runs$ = commits$.pipe(chainHooks(preCommit), share());
 * runs$.pipe(hookEvents(), persist(store)).subscribe();
 * runs$.pipe(filter((o) => o.kind === 'result')).subscribe(report);
 * ```
 *
 * @param chain `{ name, hooks }`.
 * @param options the run defaults of `runHookChain`, plus `concurrency` (1) and `maxQueued` (10,000).
 * @return an operator from contexts to `HookChainOutput`s.
 * @throws ConfigError at once when the chain, a hook or an option is malformed.
 */
export function chainHooks<C extends object = HookContext>(
  chain: HookChain,
  options?: ChainHooksOptions,
): OperatorFunction<C, HookChainOutput> {
  const prepared = prepareChain('chainHooks', chain, options);
  const concurrency = checkPositiveInteger('chainHooks', 'concurrency', options?.concurrency, 1);
  const maxQueued = checkCount('chainHooks', 'maxQueued', options?.maxQueued, DEFAULT_MAX_QUEUED);
  return boundedMergeMap(
    'chainHooks',
    (context: C) => runPreparedChain(prepared, context as HookContext),
    concurrency,
    maxQueued,
  );
}
