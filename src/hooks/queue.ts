/**
 * Internal: the bounded queue of `chainHooks` / `aggregateHooks` — `mergeMap` whose queue has a limit
 * and never errors at it. Values that arrive while `concurrency` runs are active wait in a queue of at
 * most `maxQueued` (invariant 4); one more is neither queued nor run: `reject` turns it, at once, into
 * its final record (invariant 1: it is not lost, and the stream goes on). With `concurrency` 1 it is
 * `concatMap` plus those rejections.
 *
 * The source's error, like its completion, ends the input but not the runs: the running and waiting
 * values all run to their final records (timeouts and deadlines still apply), and only then is the
 * error forwarded (invariant 1, as `hybridProcess` does). A consumer that throws on a record ends the
 * input the same way, then its exception is forwarded. Unsubscribing still cancels everything at once.
 */
import {
  catchError,
  concat,
  connect,
  defer,
  EMPTY,
  filter,
  map,
  merge,
  mergeMap,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
  tap,
  throwError,
} from 'rxjs';
import { VibespecError } from '../errors.js';
import { createEvent, Priority } from '../event.js';
import { subscribeLinked } from '../operators/internal/linked.js';
import type { HookOverflowData, HookOverflowEvent } from './types.js';

/** Why a value was not run, given to `reject`. */
export interface Rejection {
  /** A `VibespecError` with code `BUFFER_OVERFLOW`. */
  readonly error: VibespecError;
  /** Values this subscription has rejected so far, this one included. */
  readonly total: number;
  readonly maxQueued: number;
  readonly concurrency: number;
}

export interface BoundedRunsConfig<T, R> {
  /** Names the operator (and its chain or aggregation) in the error message. */
  readonly where: string;
  /** The run of an admitted value. */
  readonly run: (value: T) => ObservableInput<R>;
  /** The final record of a value that arrives at a full queue. A throw errors the stream. */
  readonly reject: (value: T, rejection: Rejection) => R;
  readonly concurrency: number;
  readonly maxQueued: number;
}

type Admitted<T> = { readonly admitted: true; readonly value: T };
type Refused<T> = { readonly admitted: false; readonly value: T; readonly total: number };
type Admission<T> = Admitted<T> | Refused<T>;

/**
 * Internal: a starter of Observables one after the other, never one inside another's subscription. A
 * start asked for while another is under way waits for it; the outermost one runs them all in order.
 *
 * `mergeMap` / `concatMap` start a waiting value from the end of the inner Observable before it, so
 * inner Observables that complete at once (function hooks answering synchronously) each started the next
 * from inside their own end: some 200 deep the stack overflowed, an error RxJS loses (rxjs#7334), and
 * the stream hung with every later output lost. Each subscription of an operator makes its own.
 */
export function inTurns(): <X>(runOf: () => ObservableInput<X>) => Observable<X> {
  const starts: Array<() => void> = [];
  let starting = false;
  return <X>(runOf: () => ObservableInput<X>) =>
    new Observable<X>((subscriber) => {
      starts.push(() => {
        if (!subscriber.closed) defer(runOf).subscribe(subscriber);
      });
      if (starting) return;
      starting = true;
      try {
        while (starts.length > 0) starts.shift()!();
      } finally {
        starting = false;
      }
    });
}

export function boundedRuns<T, R>(config: BoundedRunsConfig<T, R>): OperatorFunction<T, R> {
  const { where, run, reject, concurrency, maxQueued } = config;
  return (source) =>
    defer(() => {
      // Values admitted but not yet started (mergeMap calls its project when it starts one), runs
      // active, and values rejected: per subscription.
      let waiting = 0;
      let active = 0;
      let rejected = 0;
      // The source's error (or the consumer's first exception), held until every admitted value has
      // yielded its final record.
      let failure: { readonly error: unknown } | undefined;
      // Ends the input as its completion does (the source unsubscribed): the consumer threw.
      let stopInput: (() => void) | undefined;
      // Runs are started one after the other, never one inside another: mergeMap starts a waiting value
      // from the end of the run before it, and runs that end at once overflowed the stack (`inTurns`).
      const inTurn = inTurns();
      const input = new Observable<T>((subscriber) => {
        stopInput = () => subscriber.complete();
        return source.subscribe(subscriber);
      });
      const records = input.pipe(
        // An error ends the input as a completion does (the source is unsubscribed, nothing more is
        // admitted), so mergeMap drains the runs and the queue before the error is forwarded (`end`).
        catchError((error: unknown) => {
          failure = { error };
          return EMPTY;
        }),
        // Admission is decided once, on arrival, before the value is split into its branch. A value
        // pushed re-entrantly (by a subscriber reacting to an output) arrives while the run that emitted
        // that output still counts as active, so it queues behind the values already waiting.
        map((value): Admission<T> => {
          if (active < concurrency || waiting < maxQueued) {
            waiting++;
            return { admitted: true, value };
          }
          return { admitted: false, value, total: ++rejected };
        }),
        connect((admissions) =>
          merge(
            admissions.pipe(
              filter((admission): admission is Refused<T> => !admission.admitted),
              map((admission) =>
                reject(admission.value, {
                  error: new VibespecError(
                    'BUFFER_OVERFLOW',
                    `${where}: ${maxQueued} contexts were already waiting for a run (maxQueued), so this one was not run; slow the source down, or raise maxQueued or concurrency`,
                  ),
                  total: admission.total,
                  maxQueued,
                  concurrency,
                }),
              ),
            ),
            admissions.pipe(
              filter((admission): admission is Admitted<T> => admission.admitted),
              mergeMap(({ value }) => {
                waiting--;
                active++;
                return inTurn(() => run(value)).pipe(
                  // Upstream of mergeMap's own inner subscriber, so `active` drops before mergeMap starts
                  // the next waiting value: no user code runs in between.
                  tap({
                    complete: () => {
                      active--;
                    },
                  }),
                );
              }, concurrency),
            ),
          ),
        ),
      );
      // Subscribed only once every record is out. Should a record's own making error the stream first
      // (an aggregator that throws), that error ends it at once and this one is never forwarded.
      const end = defer(() => {
        const held = failure;
        return held === undefined ? EMPTY : throwError(() => held.error);
      });
      const all = concat(records, end);
      // A consumer that throws on a record ends the input as the source's error does: every value
      // received (those it pushed before it threw included) still yields its final record, then its
      // exception — the first failure: a source error held before it wins — errors the stream.
      // (Thrown on, RxJS would error the stream at once, cancelling the running and waiting values.)
      // Linked to the subscriber before `all` starts, as RxJS's operators are: a subscriber leaving from
      // inside a record (take(1)) stops a synchronous source at once, rather than after it was read to
      // its end (every later value run for nobody).
      return new Observable<R>((subscriber) =>
        subscribeLinked(all, subscriber, {
          next(record) {
            try {
              subscriber.next(record);
            } catch (error) {
              failure ??= { error };
              stopInput?.();
            }
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      );
    });
}

/** Where a rejected context would have run, for its `hooks.overflow` event. */
export interface OverflowPlace {
  readonly chain?: string;
  readonly aggregation?: string;
  readonly hooks: readonly string[];
  readonly scheduler: SchedulerLike;
  readonly sessionId: string | undefined;
}

/** The `hooks.overflow` event of a rejected context, stamped on the scheduler. */
export function overflowEvent(rejection: Rejection, place: OverflowPlace): HookOverflowEvent {
  const event = createEvent<HookOverflowData>({
    type: 'hooks.overflow',
    priority: Priority.HIGH,
    timestamp: place.scheduler.now(),
    data: {
      ...(place.chain !== undefined ? { chain: place.chain } : {}),
      ...(place.aggregation !== undefined ? { aggregation: place.aggregation } : {}),
      hooks: [...place.hooks],
      code: 'BUFFER_OVERFLOW',
      error: rejection.error.message,
      max_queued: rejection.maxQueued,
      concurrency: rejection.concurrency,
      total: rejection.total,
    },
    ...(place.sessionId === undefined ? {} : { sessionId: place.sessionId }),
  });
  // Its type is 'hooks.overflow'. The cast is on a name, not on the literal: Stryker mutates nothing
  // inside an `as` expression (stryker-js#6227).
  return event as HookOverflowEvent;
}
