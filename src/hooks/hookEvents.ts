import { filter, map, type OperatorFunction } from 'rxjs';
import type { HookAggregationOutput, HookChainOutput, HookEvent, HookStep } from './types.js';

/**
 * Keeps the `hook.completed` / `hook.failed` / `hook.timed_out` event of every step of chain and
 * aggregation runs, and drops the rest: the way hook runs join the event pipeline (metrics, store).
 *
 * ```
 * source:  --s--s--r--|     s = step, r = chain result or aggregate
 * result:  --e--e-----|     e = step.event
 * ```
 *
 * ## Example
 * ```ts
 * const runs$ = contexts$.pipe(chainHooks(chain), share());
 * runs$.pipe(hookEvents(), persist(store)).subscribe();
 * ```
 *
 * @return an operator from `HookChainOutput`s / `HookAggregationOutput`s to their events.
 */
export function hookEvents(): OperatorFunction<HookChainOutput | HookAggregationOutput<unknown>, HookEvent> {
  return (source) =>
    source.pipe(
      filter((output): output is HookStep => output.kind === 'step'),
      map((step) => step.event),
    );
}
