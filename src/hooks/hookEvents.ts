import { filter, map, type OperatorFunction } from 'rxjs';
import type { HookAggregationOutput, HookChainOutput, HookEvent, HookOverflowEvent } from './types.js';

/**
 * Keeps the events of chain and aggregation runs and drops the rest: the `hook.completed` /
 * `hook.failed` / `hook.timed_out` event of every step, and the `hooks.overflow` event of every result
 * or aggregate whose context was rejected because the queue was full (`chainHooks` / `aggregateHooks`
 * with `maxQueued` contexts waiting). The way hook runs join the event pipeline (metrics, store).
 *
 * ```
 * source:  --s--s--r--x--|     s = step, r = chain result or aggregate, x = a rejected one
 * result:  --e--e-----o--|     e = step.event, o = x.event (hooks.overflow)
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
export function hookEvents(): OperatorFunction<
  HookChainOutput | HookAggregationOutput<unknown>,
  HookEvent | HookOverflowEvent
> {
  return (source) =>
    source.pipe(
      // A step always has its event; a result or an aggregate has one only when it was rejected.
      map((output) => output.event),
      filter((event): event is HookEvent | HookOverflowEvent => event !== undefined),
    );
}
