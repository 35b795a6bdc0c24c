/**
 * Internal: `mergeMap` with a bounded queue. Values that arrive while `concurrency` runs are active
 * wait in a queue of at most `maxQueued`; one more is a `BUFFER_OVERFLOW` error rather than unbounded
 * memory (invariant 4). With `concurrency` 1 it is `concatMap`.
 */
import { defer, mergeMap, type ObservableInput, type OperatorFunction, tap } from 'rxjs';
import { VibespecError } from '../errors.js';

export function boundedMergeMap<T, R>(
  where: string,
  project: (value: T) => ObservableInput<R>,
  concurrency: number,
  maxQueued: number,
): OperatorFunction<T, R> {
  return (source) =>
    defer(() => {
      // Values received but not yet started: mergeMap calls project when it starts a value.
      let waiting = 0;
      let active = 0;
      return source.pipe(
        tap(() => {
          if (active >= concurrency && waiting >= maxQueued) {
            throw new VibespecError(
              'BUFFER_OVERFLOW',
              `${where}: ${waiting} inputs are already waiting for a run to finish (maxQueued); slow the source down, raise maxQueued or concurrency`,
            );
          }
          waiting++;
        }),
        mergeMap((value) => {
          waiting--;
          active++;
          return defer(() => project(value)).pipe(
            // Upstream of mergeMap's own inner subscriber, so `active` drops before mergeMap starts the
            // next queued value.
            tap({
              complete: () => {
                active--;
              },
            }),
          );
        }, concurrency),
      );
    });
}
