/**
 * A reference model of the bounded queue of `chainHooks` / `aggregateHooks`, for property tests: which
 * contexts run and which are rejected, and at which frame each yields its final record.
 */
import fc from 'fast-check';
import {
  EMPTY,
  from,
  map,
  merge,
  mergeMap,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  throwError,
  timer,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';

/** A context arriving at frame `at`, whose run takes `duration` (≥ 1) frames. */
export interface Arrival {
  readonly at: number;
  readonly duration: number;
}

/** What becomes of a context: rejected on arrival, or run; `end` is the frame of its final record. */
export interface Fate {
  readonly rejected: boolean;
  readonly end: number;
}

/** Arrival patterns: bursts (gap 0) and pauses, runs of 1 to 5 frames. */
export const arrivalsArbitrary: fc.Arbitrary<Arrival[]> = fc
  .array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), duration: fc.integer({ min: 1, max: 5 }) }), {
    maxLength: 14,
  })
  .map((specs) => {
    let at = 0;
    return specs.map(({ gap, duration }) => {
      at += gap;
      return { at, duration };
    });
  });

/** How the source ends: `gap` frames after its last arrival (or after 0), by completing or erroring. */
export interface Ending {
  readonly gap: number;
  readonly error: boolean;
}

/** Endings at the last arrival or a little later, half of them errors. */
export const endingArbitrary: fc.Arbitrary<Ending> = fc.record({
  gap: fc.integer({ min: 0, max: 3 }),
  error: fc.boolean(),
});

/** The frame at which the source ends. */
export function endOf(arrivals: readonly Arrival[], ending: Ending): number {
  return (arrivals.at(-1)?.at ?? 0) + ending.gap;
}

/** The error a source ends with when its `Ending` says `error`. */
export const SOURCE_ERROR = new Error('the source failed');

/**
 * The contexts `{ i }` arriving on `scheduler` as `arrivals` says, then the end (by default: complete
 * with the last arrival). Every arrival, and the end, is scheduled at subscription, so at a given frame
 * the arrivals come first, then the end, then the run ends due then (as in the model).
 */
export function arriving(
  arrivals: readonly Arrival[],
  scheduler: SchedulerLike,
  ending: Ending = { gap: 0, error: false },
): Observable<{ i: number }> {
  return merge(
    from(arrivals.map((arrival, i) => ({ arrival, i }))).pipe(
      mergeMap(({ arrival, i }) => timer(arrival.at, scheduler).pipe(map(() => ({ i })))),
    ),
    timer(endOf(arrivals, ending), scheduler).pipe(
      mergeMap(() => (ending.error ? throwError(() => SOURCE_ERROR) : EMPTY)),
    ),
  );
}

/**
 * The model: a context that finds a free run starts at once; else it waits if fewer than `maxQueued`
 * wait; else it is rejected at once. At a frame, the arrivals come first, then the runs that end then
 * (in the order they started), each starting the longest-waiting context.
 */
export function queueModel(arrivals: readonly Arrival[], concurrency: number, maxQueued: number): Fate[] {
  const fates = new Array<Fate>(arrivals.length);
  const active: Array<{ i: number; end: number; seq: number }> = [];
  const queue: number[] = [];
  let seq = 0;
  let next = 0;
  const start = (i: number, t: number) => active.push({ i, end: t + arrivals[i]!.duration, seq: seq++ });
  while (next < arrivals.length || active.length > 0) {
    const t = Math.min(
      ...(next < arrivals.length ? [arrivals[next]!.at] : []),
      ...active.map((run) => run.end),
    );
    while (next < arrivals.length && arrivals[next]!.at === t) {
      const i = next++;
      if (active.length < concurrency) start(i, t);
      else if (queue.length < maxQueued) queue.push(i);
      else fates[i] = { rejected: true, end: t };
    }
    const ending = active.filter((run) => run.end === t).sort((a, b) => a.seq - b.seq);
    for (const run of ending) {
      active.splice(active.indexOf(run), 1);
      fates[run.i] = { rejected: false, end: t };
      const waiting = queue.shift();
      if (waiting !== undefined) start(waiting, t);
    }
  }
  return fates;
}

/** What a queued operator emitted (each output with its frame) and how its output ended. */
export interface QueuedRun<O> {
  readonly outputs: ReadonlyArray<readonly [number, O]>;
  /** The frame of the end, and the error it carried (undefined for a completion); undefined if none. */
  readonly ended: readonly [number, unknown] | undefined;
}

/**
 * Runs `arriving(arrivals, …, ending)` through the operator `build` makes, in virtual time, and records
 * what comes out. `build` gets the run's `cold` and scheduler, to make hooks that take virtual time.
 */
export function runQueued<O>(
  arrivals: readonly Arrival[],
  ending: Ending,
  build: (
    cold: TestScheduler['createColdObservable'],
    scheduler: TestScheduler,
  ) => OperatorFunction<{ i: number }, O>,
): QueuedRun<O> {
  const scheduler = new TestScheduler((a, e) => expect(a).toStrictEqual(e));
  const outputs: Array<[number, O]> = [];
  let ended: [number, unknown] | undefined;
  scheduler.run(({ cold }) => {
    arriving(arrivals, scheduler, ending)
      .pipe(build(cold as TestScheduler['createColdObservable'], scheduler))
      .subscribe({
        next: (o) => outputs.push([scheduler.now(), o]),
        error: (error: unknown) => (ended = [scheduler.now(), error]),
        complete: () => (ended = [scheduler.now(), undefined]),
      });
  });
  return { outputs, ended };
}

/**
 * The source's end — a completion or an error alike — is forwarded once the last context has its final
 * record: an error cancels none of them.
 */
export function expectEndAfterLastRecord(
  { ended }: QueuedRun<unknown>,
  arrivals: readonly Arrival[],
  ending: Ending,
  fates: readonly Fate[],
): void {
  expect(ended).toBeDefined();
  expect(ended?.[0]).toBe(Math.max(endOf(arrivals, ending), ...fates.map((fate) => fate.end)));
  expect(ended?.[1]).toBe(ending.error ? SOURCE_ERROR : undefined);
}
